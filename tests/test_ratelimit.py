"""Per-IP and per-account limits: 429 with Retry-After, shared through the cache."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import caches
from django.test import RequestFactory, override_settings

from audit.models import Action, AuditEvent
from infra import ratelimit

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def post(client, path, body, **extra):
    return client.post(path, body, format="json", **extra)


@pytest.fixture
def tight(settings):
    # Windows are fixed and aligned to the clock: freeze it mid-window so no test straddles two.
    traveller = time_machine.travel(datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC), tick=False)
    traveller.start()
    settings.RATE_LIMITS = {
        "login": {"ip": "5/m", "account": "3/m"},
        "refresh": {"ip": "3/m"},
        "register": {"ip": "2/m"},
        "verify_email": {"ip": "3/m", "account": "2/m"},
        "resend_verification": {"ip": "3/m", "account": "2/m"},
        "forgot_password": {"ip": "3/m", "account": "1/m"},
        "reset_password": {"ip": "3/m"},
        "change_password": {"ip": "5/m", "account": "2/m"},
    }
    yield
    traveller.stop()


ENDPOINTS = [
    ("/api/v1/auth/login", {"username": "x", "password": "y"}, 5),
    ("/api/v1/auth/refresh", {"refresh_token": "x"}, 3),
    ("/api/v1/auth/register", {"username": "u", "email": "u@example.com", "password": "short"}, 2),
    ("/api/v1/auth/verify-email", {"email": "a@example.com", "code": "123456"}, 3),
    ("/api/v1/auth/resend-verification", {"email": "a@example.com"}, 3),
    ("/api/v1/auth/forgot-password", {"email": "a@example.com"}, 3),
    ("/api/v1/auth/reset-password", {"email": "a@example.com", "code": "123456", "new_password": "x" * 12}, 3),
]


@pytest.mark.parametrize("path,body,allowed", ENDPOINTS, ids=[e[0].rsplit("/", 1)[-1] for e in ENDPOINTS])
def test_each_endpoint_answers_429_after_its_limit(client, tight, path, body, allowed):
    def body_for(i):
        # different accounts each time, so only the per-IP limit is in play
        return {k: (f"{i}{v}" if k in ("username", "email") else v) for k, v in body.items()}

    for i in range(allowed):
        assert post(client, path, body_for(i)).status_code != 429
    response = post(client, path, body_for(allowed))
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert response.json()["retry_after"] == int(response["Retry-After"])
    assert AuditEvent.objects.filter(action=Action.RATE_LIMITED).exists()


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/auth/verify-email", {"email": "a@example.com", "code": "123456"}),
        ("/api/v1/auth/resend-verification", {"email": "a@example.com"}),
    ],
)
def test_per_account_limits_hold_across_ips(client, tight, path, body):
    for i in range(2):
        assert post(client, path, body, REMOTE_ADDR=f"192.0.2.{i}").status_code != 429
    assert post(client, path, body, REMOTE_ADDR="192.0.2.99").status_code == 429


def test_a_spoofed_forwarded_for_does_not_reset_the_ip_limit(client, tight):
    for i in range(5):
        post(client, "/api/v1/auth/login", {"username": f"u{i}", "password": "y"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = post(client, "/api/v1/auth/login", {"username": "z", "password": "y"}, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(client, tight, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(5):
        post(client, "/api/v1/auth/login", {"username": f"u{i}", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert (
        post(
            client, "/api/v1/auth/login", {"username": "z", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.1"
        ).status_code
        == 429
    )
    assert (
        post(
            client, "/api/v1/auth/login", {"username": "z", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.2"
        ).status_code
        == 401
    )


def test_an_ipv6_subscriber_is_one_client_for_the_per_ip_limits_by_its_64(client, tight):
    """Counting whole IPv6 addresses gave each /64 (one subscriber) 2^64 budgets."""
    for i in range(2):
        body = {"username": f"u{i}", "email": f"u{i}@example.com", "password": "short"}
        assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}").status_code != 429
    body = {"username": "u9", "email": "u9@example.com", "password": "short"}
    assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR="2001:db8:1:3::1").status_code != 429


def test_ipv4_mapped_addresses_are_counted_as_the_ipv4_clients_they_carry(client, tight):
    """A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d: by /64 they were all one client."""
    for i in range(2):
        body = {"username": f"u{i}", "email": f"u{i}@example.com", "password": "short"}
        assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR="::ffff:198.51.100.1").status_code != 429
    body = {"username": "u9", "email": "u9@example.com", "password": "short"}
    assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR="198.51.100.1").status_code == 429  # the same one
    assert post(client, "/api/v1/auth/register", body, REMOTE_ADDR="::ffff:198.51.100.2").status_code != 429


def test_failed_logins_lock_the_account_from_any_ip_but_successes_do_not_count(client, tight):
    UserFactory(username="target")
    for i in range(3):
        assert (
            post(
                client, "/api/v1/auth/login", {"username": "target", "password": PASSWORD}, REMOTE_ADDR=f"192.0.2.{i}"
            ).status_code
            == 200
        )
    for i in range(3):
        post(
            client,
            "/api/v1/auth/login",
            {"username": "target", "password": "wrong-pass-1"},
            REMOTE_ADDR=f"203.0.113.{i}",
        )
    response = post(
        client, "/api/v1/auth/login", {"username": "target", "password": PASSWORD}, REMOTE_ADDR="192.0.2.200"
    )
    assert response.status_code == 429


def test_the_forgot_password_account_budget_limits_mails_not_answers(client, tight):
    from django.core import mail

    UserFactory(email="victim@example.com")
    answers = {
        post(
            client, "/api/v1/auth/forgot-password", {"email": "victim@example.com"}, REMOTE_ADDR=f"198.51.100.{i}"
        ).status_code
        for i in range(3)
    }
    assert answers == {202}
    assert len(mail.outbox) == 1


def test_limits_are_shared_across_two_cache_clients(tight, settings):
    """Two app servers = two cache clients on one store (Redis in production, a named
    local-memory store here): a limit counted by one is enforced by the other."""
    request = RequestFactory().post("/api/v1/auth/login", REMOTE_ADDR="192.0.2.77")
    server_a, server_b = caches.create_connection("default"), caches.create_connection("default")
    assert server_a is not server_b
    prefix = caches["default"].key_prefix
    server_a.key_prefix = server_b.key_prefix = prefix
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ratelimit, "cache", server_a)
        for _ in range(5):
            ratelimit.check(request, "login")
        mp.setattr(ratelimit, "cache", server_b)
        with pytest.raises(ratelimit.RateLimited):
            ratelimit.check(request, "login")


@override_settings(RATE_LIMITS_ENABLED=False)
def test_limits_can_be_switched_off_for_load_tests(client, tight):
    for _ in range(8):
        assert post(client, "/api/v1/auth/login", {"username": "x", "password": "y"}).status_code == 401


@pytest.mark.parametrize("rate", ["10", "x/m", "5/y", "/m"])
def test_a_bad_rate_string_is_refused(rate):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(rate)


def test_rates_parse():
    assert ratelimit.parse_rate("10/5m") == (10, 300)
    assert ratelimit.parse_rate("3/h") == (3, 3600)
    assert ratelimit.parse_rate("7/30s") == (7, 30)


def test_every_configured_limit_is_declared_by_a_view(settings, api_views):
    from integrations import content

    declared = {getattr(view, "rate_limit", None) for _, view in api_views} - {None}
    assert declared | set(content.RATE_LIMIT_SCOPES) == set(settings.RATE_LIMITS)
