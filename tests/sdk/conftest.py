"""Fixtures for the SDK and `gf` tests: a live server of this project (pytest-django's
`live_server`, a real HTTP server on a thread of the test process), people and a team in it, and
a counter of the refreshes the server receives."""

import threading
from dataclasses import dataclass

import pytest
from django.core.signals import request_started

from access.scopes import Role
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Every test logs in from 127.0.0.1 through the live server, and the server's thread counts in
    the cache's default namespace (the per-test prefix of tests/conftest.py is set on the test's
    thread only), so per-IP limits would add up across tests. The test that wants a 429 turns
    them back on with its own limits."""
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture(autouse=True)
def _no_nagle_on_the_live_server(monkeypatch):
    """Django's development server writes an answer's headers and body in two sends; with Nagle's
    algorithm on, the body waits for the client's delayed ACK of the headers (40 ms), so every
    request took 50 ms instead of 5. socketserver turns Nagle off per connection on request."""
    from django.core.servers.basehttp import WSGIRequestHandler

    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True, raising=False)


@dataclass
class World:
    url: str  # the live server, e.g. http://localhost:41234
    team: object
    owner: object  # username "ada", owner of Acme
    member: object  # username "bob", member of Acme
    password: str


@pytest.fixture
def world(live_server):
    team = TeamFactory(name="Acme")
    owner = MembershipFactory(team=team, role=Role.OWNER, user=UserFactory(username="ada")).user
    member = MembershipFactory(team=team, role=Role.MEMBER, user=UserFactory(username="bob")).user
    return World(url=live_server.url, team=team, owner=owner, member=member, password=PASSWORD)


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """`gf`'s config directory, the test's own, and none of the caller's GF_* settings."""
    for name in ("GF_API_KEY", "GF_ADMIN_KEY", "GF_TEAM_ID", "GF_BASE_URL", "GF_DEBUG", "GF_KEYRING"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "gf"
    monkeypatch.setenv("GF_CONFIG_DIR", str(directory))
    monkeypatch.setenv("GF_KEYRING", "0")
    return directory


class RequestCounter:
    """Counts the requests the live server receives, by path (Django's request_started signal:
    the server itself tells what it got; nothing is intercepted)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.paths: list[str] = []

    def __call__(self, sender, environ=None, **kwargs):
        if environ is not None:
            with self._lock:
                self.paths.append(environ.get("PATH_INFO", ""))

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for seen in self.paths if seen.rstrip("/") == path)


@pytest.fixture
def server_requests():
    counter = RequestCounter()
    request_started.connect(counter, weak=False)
    yield counter
    request_started.disconnect(counter)


def run_async(coroutine):
    """asyncio.run() on a thread of its own: a test worker that ran the browser tests before has
    Playwright's event loop running on its main thread, where asyncio.run() refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
