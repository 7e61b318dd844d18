"""A cache outage never turns into a 500, against a real private redis-server.

Each test starts its own redis-server on a free port, points the Django cache at it (with the
project's socket timeouts, config.settings.cache_url_config), then freezes it (SIGSTOP: it
accepts connections and never answers) or kills it. Limits that guard guessable secrets or send
mail fail closed (503 + Retry-After); refresh and Google sign-in fail open. Without redis-server
on PATH the Redis tests skip, unless REQUIRE_REDIS_SERVER=1 (CI), which makes them fail.
"""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
import redis
from django.core import mail
from django.core.cache import caches
from rest_framework.test import APIClient

from accounts import google as google_module
from accounts.models import RefreshFamily
from config.settings import cache_url_config
from infra import ratelimit

from .factories import PASSWORD, UserFactory
from .test_google import CLIENT_ID, GOOGLE_KEY, credential

pytestmark = pytest.mark.django_db

# A request during a frozen Redis waits one socket timeout (0.5 s), not the OS default.
FROZEN_BUDGET_SECONDS = 2.0
# Google sign-in meets three: its (fail-open) limit, the JWKS cache read and the cache write.
GOOGLE_FROZEN_BUDGET_SECONDS = 3.0
# Without the timeouts a frozen Redis would hold the test forever: thaw it after this long, so
# the test fails on its clock instead of hanging.
WATCHDOG_SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server: no persistence, loopback only."""

    def __init__(self, executable: str):
        self.executable = executable
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._watchdog: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> None:
        # Another xdist worker may take a "free" port between the check and redis-server's bind:
        # then redis-server exits and another port is tried (unless restarting on a given one).
        for _ in range(1 if port else 5):
            candidate = port or _free_port()
            command = [self.executable, "--port", str(candidate), "--save", "", "--appendonly", "no"]
            process = subprocess.Popen(
                [*command, "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._ready(process, candidate):
                self.process, self.port = process, candidate
                return
            process.kill()
            process.wait()
        pytest.fail("redis-server did not start")

    @staticmethod
    def _ready(process: subprocess.Popen, port: int) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self.thaw)
        self._watchdog.daemon = True
        self._watchdog.start()

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.process is not None:
            self.thaw()
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start(port=self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


@pytest.fixture
def redis_server():
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("REQUIRE_REDIS_SERVER") == "1":
            pytest.fail("redis-server is not on PATH, and REQUIRE_REDIS_SERVER=1")
        pytest.skip("redis-server is not on PATH (set REQUIRE_REDIS_SERVER=1 to make this a failure)")
    server = RedisServer(executable)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_cache(redis_server, settings):
    """The Django cache on the private server, configured as production configures a Redis URL."""
    settings.CACHES = {"default": cache_url_config(redis_server.url)}  # resets django's cache handler
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    caches["default"].set("warm", 1)  # a pooled connection exists, as on a running server
    yield redis_server
    for pool in caches["default"]._cache._pools.values():
        pool.disconnect()


OUTAGES = ["frozen", "dead"]


class Outage:
    def __init__(self, kind: str, server: RedisServer):
        self.kind, self.server = kind, server

    def start(self):
        if self.kind == "frozen":
            self.server.freeze()
        else:
            self.server.kill()

    def end(self):
        if self.kind == "frozen":
            self.server.thaw()
        else:
            self.server.restart()


@pytest.fixture(params=OUTAGES)
def outage(request, redis_cache):
    """Redis frozen (SIGSTOP: connections accepted, never answered) or dead (killed)."""
    return Outage(request.param, redis_cache)


def post(client, path, body, **extra):
    return client.post(path, body, format="json", **extra)


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_service_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable" and body["status"] == 503
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def user():
    return UserFactory(username="ada", email="ada@example.com")


def login(client, username="ada", password=PASSWORD):
    return post(client, "/api/v1/auth/login", {"username": username, "password": password})


# --- fail closed ---


def test_login_answers_503_while_redis_is_down(client, user, outage):
    outage.start()
    # The right password: failing open would log in without counting the attempt.
    response, elapsed = timed(lambda: login(client))
    assert_service_unavailable(response)
    assert elapsed < FROZEN_BUDGET_SECONDS


def test_forgot_password_answers_503_and_sends_no_mail_while_redis_is_down(client, user, outage):
    outage.start()
    response, elapsed = timed(lambda: post(client, "/api/v1/auth/forgot-password", {"email": "ada@example.com"}))
    assert_service_unavailable(response)
    assert elapsed < FROZEN_BUDGET_SECONDS
    assert mail.outbox == []


CLOSED_ENDPOINTS = [
    ("/api/v1/auth/register", {"username": "u", "email": "u@example.com", "password": "a-long-pass-1"}),
    ("/api/v1/auth/verify-email", {"email": "ada@example.com", "code": "123456"}),
    ("/api/v1/auth/resend-verification", {"email": "ada@example.com"}),
    ("/api/v1/auth/reset-password", {"email": "ada@example.com", "code": "123456", "new_password": "x" * 12}),
    ("/api/v1/auth/second-factor", {"ticket": "t" * 40, "code": "123456"}),
]


@pytest.mark.parametrize("path,body", CLOSED_ENDPOINTS, ids=[p.rsplit("/", 1)[-1] for p, _ in CLOSED_ENDPOINTS])
def test_limits_guarding_codes_and_mail_answer_503_while_redis_is_dead(client, user, redis_cache, path, body):
    redis_cache.kill()
    assert_service_unavailable(post(client, path, body))
    assert mail.outbox == []


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/change-password", "/api/v1/invitations/accept", "/api/v1/auth/reauthenticate"]
)
def test_signed_in_password_and_invitation_checks_answer_503_while_redis_is_dead(as_user, user, redis_cache, path):
    api = as_user(user)
    redis_cache.kill()
    body = {"current_password": PASSWORD, "new_password": "x" * 12, "token": "t" * 40, "password": PASSWORD}
    assert_service_unavailable(api.post(path, body, format="json"))
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_admin_login_answers_503_while_redis_is_dead(redis_cache):
    from django.test import Client

    UserFactory(username="root", is_staff=True, is_superuser=True)
    redis_cache.kill()
    browser = Client(raise_request_exception=False)
    response = browser.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 503, response.status_code
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in browser.session


# --- fail open ---


def test_refresh_keeps_working_while_redis_is_down(client, user, outage):
    pair = login(client).json()
    outage.start()
    response, elapsed = timed(lambda: post(client, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}))
    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"] != pair["refresh_token"]
    assert elapsed < FROZEN_BUDGET_SECONDS


def test_google_sign_in_keeps_working_while_redis_is_down(client, settings, tmp_path, outage):
    _serve_google_keys(settings, tmp_path, GOOGLE_KEY)
    outage.start()
    response, elapsed = timed(lambda: post(client, "/api/v1/auth/google", {"credential": credential()}))
    assert response.status_code == 200, response.content
    assert "access_token" in response.json()
    assert elapsed < GOOGLE_FROZEN_BUDGET_SECONDS


def test_google_keys_are_fetched_when_the_cache_is_dead(settings, tmp_path, redis_cache):
    _serve_google_keys(settings, tmp_path, GOOGLE_KEY)
    redis_cache.kill()
    assert set(google_module._fetch_jwks()) == {"k1"}
    assert set(google_module._fetch_jwks(force=True)) == {"k1"}


def test_a_fail_open_limit_logs_a_warning_without_the_token_or_the_address(client, user, redis_cache, caplog):
    pair = login(client).json()
    redis_cache.kill()
    with caplog.at_level(logging.WARNING, logger="ghostflow.ratelimit"):
        response = post(
            client, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, REMOTE_ADDR="198.51.100.23"
        )
    assert response.status_code == 200
    messages = [r.getMessage() for r in caplog.records if r.name == "ghostflow.ratelimit"]
    assert messages and all("'refresh'" in m and "open" in m for m in messages)
    logged = " ".join(messages)
    assert pair["refresh_token"] not in logged and "198.51.100.23" not in logged


def _serve_google_keys(settings, tmp_path, key):
    import jwt

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "certs.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    settings.GOOGLE_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_JWKS_URL = jwks.as_uri()


# --- probes ---


def test_readyz_answers_503_with_the_cache_down_and_the_database_ok(client, outage):
    outage.start()
    response, elapsed = timed(lambda: client.get("/readyz"))
    assert_service_unavailable(response)
    body = response.json()
    assert (body["database"], body["cache"]) == ("ok", "down")
    assert elapsed < FROZEN_BUDGET_SECONDS


def test_healthz_stays_200_while_redis_is_down(client, outage):
    outage.start()
    response, elapsed = timed(lambda: client.get("/healthz"))
    assert response.status_code == 200
    assert elapsed < FROZEN_BUDGET_SECONDS


# --- recovery ---


def test_everything_works_again_once_redis_is_back(client, user, outage):
    outage.start()
    assert login(client).status_code == 503
    outage.end()
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "cache": "ok"}
    pair = login(client).json()
    assert post(client, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}).status_code == 200
    assert post(client, "/api/v1/auth/forgot-password", {"email": "ada@example.com"}).status_code == 202
    assert len(mail.outbox) == 1
    # The limits count in Redis again.
    counters = outage.server.client().keys("*")
    assert any(b":rl:login:ip:" in key for key in counters)
    assert any(b":rl:refresh:ip:" in key for key in counters)


# --- the policy and the configuration (no redis-server needed) ---


def test_each_limit_fails_open_or_closed_as_decided():
    from django.conf import settings

    policy = {scope: ratelimit.fails_open(scope) for scope in settings.RATE_LIMITS}
    # Open: limits in front of strong checks (refresh, google; leaked-key reports, whose signature
    # is checked first) and the public, read-only Content API.
    assert {scope for scope, is_open in policy.items() if is_open} == {
        "refresh",
        "google",
        "secret_scanning",
        "content_api",
        "content_api_key",
    }
    assert ratelimit.fails_open("a-scope-nobody-listed") is False


def test_only_cache_errors_are_caught(monkeypatch, rf):
    class BrokenCache:
        def add(self, *args, **kwargs):
            raise TypeError("a bug, not an outage")

    monkeypatch.setattr(ratelimit, "cache", BrokenCache())
    with pytest.raises(TypeError):
        ratelimit.check(rf.post("/api/v1/auth/refresh"), "refresh")


@pytest.mark.parametrize(
    "error", [redis.exceptions.ConnectionError(), redis.exceptions.TimeoutError(), ConnectionRefusedError()]
)
def test_a_cache_error_is_a_503_for_closed_limits_and_nothing_for_open_ones(monkeypatch, rf, error):
    class DeadCache:
        def add(self, *args, **kwargs):
            raise error

    monkeypatch.setattr(ratelimit, "cache", DeadCache())
    ratelimit.check(rf.post("/api/v1/auth/refresh"), "refresh")
    with pytest.raises(ratelimit.CacheUnavailable) as refused:
        ratelimit.check(rf.post("/api/v1/auth/login"), "login")
    assert (refused.value.status_code, refused.value.code, refused.value.wait) == (503, "service_unavailable", 5)


def test_redis_cache_urls_get_short_socket_timeouts(settings):
    timeout = settings.CACHE_TIMEOUT_SECONDS
    assert cache_url_config("redis://cache:6379/1")["OPTIONS"] == {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }
    assert cache_url_config("rediss://cache:6379/1?socket_timeout=2")["OPTIONS"]["socket_timeout"] == 2
    assert "OPTIONS" not in cache_url_config("locmemcache://x")
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):  # TEST_CACHE_URL=redis://...
        assert settings.CACHES["default"]["OPTIONS"]["socket_timeout"] == timeout


def test_account_keys_casefold_what_is_typed():
    assert ratelimit._account_key(" Straße@Example.com ") == ratelimit._account_key("STRASSE@example.com")


def test_giving_back_a_successful_attempt_never_fails_while_the_cache_is_down(monkeypatch):
    class DeadCache:
        def decr(self, *args, **kwargs):
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    attempt = ratelimit.Attempt("login", [("rl:login:account:x:0", 60.0)])
    monkeypatch.setattr(ratelimit, "cache", DeadCache())
    attempt.succeeded()  # the login itself succeeded: a lost give-back is no reason to fail it


def test_second_factor_checks_answer_503_while_redis_is_dead(as_user, user, redis_cache):
    """The per-account count of second-factor guesses fails closed, for a valid ticket too."""
    import pyotp

    from .factories import enrol_totp

    secret, _ = enrol_totp(user)
    ticket = login(APIClient()).json()["ticket"]
    api = as_user(user)
    redis_cache.kill()
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert_service_unavailable(post(APIClient(), "/api/v1/auth/second-factor", {"ticket": ticket, "code": code}))
    assert_service_unavailable(api.post("/api/v1/me/second-factors/totp/disable", {"code": code}, format="json"))
    assert RefreshFamily.objects.filter(user=user).count() == 1  # only as_user's
