"""The login lockout counts what was typed, never the account it resolves to: a locked identifier
answers the same (status, body, headers, SQL, hashing) whether or not it names an account, and
locking one identifier says nothing about any other. One client locks an identifier for itself;
only many clients together lock it for its owner."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/login"
ATTACKER = "203.0.113.5"
OWNER = "198.51.100.7"


class CountingHasher(MD5PasswordHasher):
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def frozen():
    # Windows are fixed and aligned to the clock: freeze it mid-window, so every answer of a
    # sequence says the same Retry-After.
    with time_machine.travel(datetime(2026, 11, 22, 12, 3, 30, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def frank():
    return UserFactory(username="frank", email="frank@example.com")


def login(client, identifier, password="wrong-password-1", ip=ATTACKER, field="username"):
    return client.post(URL, {field: identifier, "password": password}, format="json", REMOTE_ADDR=ip)


def _shape(sql: str) -> str:
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b[0-9a-f]{32}\b|\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"%s|\bNULL\b", "?", sql)
    return re.sub(r"\?::\w+", "?", sql)


def observed(client, identifier) -> tuple:
    """Everything a caller can see of one failed attempt, and the work it cost."""
    CountingHasher.calls = 0
    with CaptureQueriesContext(connection) as queries:
        response = login(client, identifier)
    headers = {name: value for name, value in response.items() if name.lower() != "x-request-id"}
    shapes = [_shape(query["sql"]) for query in queries.captured_queries]
    return response.status_code, response.content, headers, shapes, CountingHasher.calls


def test_a_locked_username_says_nothing_about_which_email_is_its_account(client, frank):
    for _ in range(10):
        assert login(client, "frank").status_code == 401
    assert login(client, "frank").status_code == 429
    # frank's own address and an address nobody has answer alike: neither is locked.
    own, other = login(client, "frank@example.com"), login(client, "ghost@example.com")
    assert own.status_code == other.status_code == 401
    assert own.content == other.content


@override_settings(PASSWORD_HASHERS=["tests.test_login_lockout.CountingHasher"])
@pytest.mark.parametrize("existing, unknown", [("frank@example.com", "ghost@example.com"), ("frank", "ghost")])
def test_an_existing_and_an_unknown_identifier_answer_alike_through_a_lockout(client, frank, existing, unknown):
    sequences = {}
    for identifier in (existing, unknown):
        sequences[identifier] = [observed(client, identifier) for _ in range(12)]
    assert [answer[0] for answer in sequences[existing]] == [401] * 10 + [429] * 2
    assert sequences[existing] == sequences[unknown]
    # A refused attempt looks nothing up and hashes nothing.
    locked = sequences[existing][-1]
    assert locked[4] == 0 and not any("accounts_user" in shape for shape in locked[3])


def test_one_client_locks_an_identifier_for_itself_only(client, frank):
    for _ in range(25):  # 10 counted; the 15 refused ones add nothing to the shared count
        login(client, "frank", ip=ATTACKER)
    assert login(client, "frank", PASSWORD, ip=ATTACKER).status_code == 429
    assert login(client, "frank", PASSWORD, ip=OWNER).status_code == 200


def test_many_clients_together_lock_the_identifier_for_everyone(client, frank):
    for source in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        for _ in range(10):
            assert login(client, "frank", ip=source).status_code == 401
    response = login(client, "frank", PASSWORD, ip=OWNER)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    # Only that identifier: the owner's e-mail still logs in.
    assert login(client, "frank@example.com", PASSWORD, ip=OWNER).status_code == 200


def test_an_ipv6_client_is_one_source_across_its_64(client, frank):
    for n in range(10):
        login(client, "frank", ip=f"2001:db8::{n + 1:x}")
    assert login(client, "frank", PASSWORD, ip="2001:db8::ffff").status_code == 429
    assert login(client, "frank", PASSWORD, ip="2001:db8:0:1::1").status_code == 200


def test_ipv4_mapped_clients_are_each_their_own_source(client, frank):
    """::ffff:a.b.c.d is the IPv4 client it carries; by /64 every such client was one source, so
    ten failures from one locked the identifier for every IPv4 user."""
    for _ in range(10):
        login(client, "frank", ip="::ffff:198.51.100.1")
    assert login(client, "frank", PASSWORD, ip="198.51.100.1").status_code == 429  # the same client
    assert login(client, "frank", PASSWORD, ip="::ffff:203.0.113.77").status_code == 200


def test_the_email_body_field_shares_the_lock_of_the_same_address_as_username(client, frank):
    for n in range(10):
        login(client, "frank@example.com", field="email" if n % 2 else "username")
    assert login(client, "frank@example.com", PASSWORD, field="email").status_code == 429
    assert login(client, "FRANK@example.com", PASSWORD, field="username").status_code == 429
