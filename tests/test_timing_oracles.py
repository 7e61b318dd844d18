"""Whether an address has an account must not show in the *work* an answer costs.

Wall-clock assertions are flaky; instead these tests pin that the existing-account path and the
unknown-address path run the same SQL statements and the same hashing. bench/timing_oracles.py
measures the resulting timing distributions.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import codes
from accounts.models import OneTimeCode

from .factories import UserFactory

pytestmark = pytest.mark.django_db

EXISTING = "someone@example.com"
UNKNOWN = "nobody@example.com"


@pytest.fixture
def someone():
    user = UserFactory(username="someone", email=EXISTING, email_verified_at=None)
    codes.issue(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL)
    codes.issue(user=user, purpose=OneTimeCode.Purpose.RESET_PASSWORD, with_token=True)
    return user


@pytest.fixture
def hashing(monkeypatch):
    """Counts the keyed hashes computed (codes._hash is the only hashing on these paths)."""
    calls = []
    original = codes._hash

    def counting(*args):
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(codes, "_hash", counting)
    return calls


def _shape(sql: str) -> str:
    """The statement without its values: literals and ids differ, the work must not."""
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)  # savepoint names
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b[0-9a-f]{32}\b|\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"%s|\bNULL\b", "?", sql)  # an unknown account inserts NULL where the other has an id
    return re.sub(r"\?::\w+", "?", sql)


def work(client, hashing, path, body):
    hashing.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, body, format="json")
    return response, [_shape(q["sql"]) for q in queries.captured_queries], list(hashing)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/verify-email", {"code": "000000"}),
        ("/api/v1/auth/reset-password", {"code": "000000", "new_password": "a-fine-new-passphrase"}),
        ("/api/v1/auth/reset-password", {"token": "x" * 43, "new_password": "a-fine-new-passphrase"}),
    ],
)
def test_a_wrong_code_costs_the_same_work_for_an_existing_and_an_unknown_address(client, someone, hashing, path, body):
    known, known_sql, known_hashes = work(client, hashing, path, {"email": EXISTING, **body})
    unknown, unknown_sql, unknown_hashes = work(client, hashing, path, {"email": UNKNOWN, **body})
    assert known.status_code == unknown.status_code == 400
    assert known.json() == unknown.json()
    assert known_sql == unknown_sql
    assert known_hashes == unknown_hashes == ["code", "token"]


def test_an_account_without_a_live_code_costs_the_same_as_an_unknown_address(client, hashing):
    UserFactory(username="someone", email=EXISTING, email_verified_at=None)  # no code issued
    body = {"code": "000000"}
    _, known_sql, known_hashes = work(client, hashing, "/api/v1/auth/verify-email", {"email": EXISTING, **body})
    _, unknown_sql, unknown_hashes = work(client, hashing, "/api/v1/auth/verify-email", {"email": UNKNOWN, **body})
    assert known_sql == unknown_sql and known_hashes == unknown_hashes


@pytest.mark.parametrize("path", ["/api/v1/auth/forgot-password", "/api/v1/auth/resend-verification"])
def test_mail_requests_do_no_account_work_before_answering(
    client, someone, hashing, settings, django_capture_on_commit_callbacks, path
):
    # Production's queue: the account work runs in the worker, after the answer.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    answers = []
    for email in (EXISTING, UNKNOWN):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response, sql, hashes = work(client, hashing, path, {"email": email})
        answers.append((response.status_code, response.content, sql, hashes, len(queued)))
    assert answers[0] == answers[1]
    status, _, sql, hashes, queued = answers[0]
    # Only the request transaction's own bookkeeping: no account look-up, no write.
    assert status == 202 and hashes == [] and queued == 1
    assert [statement for statement in sql if not statement.startswith(("SAVEPOINT", "RELEASE"))] == []


def test_a_right_reset_code_with_a_password_too_close_to_the_username_leaves_the_code_usable(client):
    from django.core import mail

    UserFactory(username="quentinblake", email=EXISTING)
    client.post("/api/v1/auth/forgot-password", {"email": EXISTING}, format="json")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    body = {"email": EXISTING, "code": code}
    refused = client.post("/api/v1/auth/reset-password", {**body, "new_password": "quentinblake1"}, format="json")
    assert refused.status_code == 400 and "new_password" in refused.json()["errors"]
    accepted = client.post(
        "/api/v1/auth/reset-password", {**body, "new_password": "a-fine-new-passphrase"}, format="json"
    )
    assert accepted.status_code == 200
