"""The Python SDK against a live server of this project."""

import ast
import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import ghostflow_client
import httpx
import pytest
import time_machine
from django.utils import timezone
from ghostflow_client import (
    AsyncGhostFlow,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GhostFlow,
    MemoryTokenStore,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    Tokens,
    ValidationError,
)
from ghostflow_client.cli.config import FileTokenStore

from accounts.models import RefreshFamily
from tracking.models import Campaign

from .conftest import run_async

REFRESH = "/api/v1/auth/refresh"


def jti(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def expired_access_tokens():
    """Six minutes later for the whole process, the live server included: access tokens (5
    minutes) have expired, refresh tokens (14 days) have not."""
    return time_machine.travel(timezone.now() + timedelta(minutes=6))


def test_log_in_pick_a_team_create_a_key_use_it_paginate_250_campaigns_and_revoke_it(world):
    with GhostFlow(world.url, username="ada", password=world.password) as gf:
        teams = list(gf.teams.list())
        assert [(team["name"], team["role"]) for team in teams] == [("Acme", "owner")]
        acme = gf.with_team(teams[0]["id"])

        issued = acme.api_keys.create("CI", ["read:campaigns", "write:campaigns"])
        assert issued["raw_key"].startswith("gf_") and issued["raw_key"].startswith(issued["prefix"])
        assert [key["id"] for key in acme.api_keys.list()] == [issued["id"]]
        assert "raw_key" not in acme.api_keys.get(issued["id"])

        Campaign.objects.bulk_create(Campaign(team=world.team, name=f"Campaign {n:03}") for n in range(249))
        with GhostFlow(world.url, api_key=issued["raw_key"], team_id=teams[0]["id"]) as robot:
            created = robot.campaigns.create(name="From the SDK", status="active")
            assert created["status"] == "active"
            assert robot.me()["api_key"]["id"] == issued["id"]

            pages = list(robot.campaigns.list(page_size=100).pages())
            assert [len(page.items) for page in pages] == [100, 100, 50]
            everything = list(robot.campaigns.list())  # 50 a page, fetched as the iteration goes
            assert len(everything) == len({campaign["id"] for campaign in everything}) == 250
            assert [c["name"] for c in robot.campaigns.list(search="From the")] == ["From the SDK"]

            assert acme.api_keys.revoke(issued["id"])["status"] == "revoked"
            with pytest.raises(AuthenticationError) as refused:
                robot.campaigns.list().first_page()
        assert (refused.value.status, refused.value.code) == (401, "key_revoked")
        assert refused.value.problem["detail"] == refused.value.detail

        events = list(acme.api_keys.audit_log(issued["id"]))
        assert events[0]["status_code"] == 401 and events[0]["api_key"]["id"] == issued["id"]
        assert {event["status_code"] for event in events[1:]} == {200, 201}


def test_every_problem_family_is_its_own_exception_with_the_problem_document(world):
    team = str(world.team.pk)
    gf = GhostFlow(world.url, username="ada", password=world.password, team_id=team)
    reader = gf.api_keys.create("reader", ["read:campaigns"])["raw_key"]
    robot = GhostFlow(world.url, api_key=reader, team_id=team)

    with pytest.raises(PermissionDeniedError) as denied:
        robot.campaigns.create(name="Nope")
    assert (denied.value.code, denied.value.required_scope) == ("insufficient_scope", "write:campaigns")

    with pytest.raises(PermissionDeniedError) as denied:
        robot.api_keys.create("more", ["admin"])
    assert denied.value.code == "interactive_login_required"

    with pytest.raises(PermissionDeniedError) as denied:
        gf.with_team(uuid.uuid4()).campaigns.list().first_page()
    assert denied.value.code == "team_forbidden"

    with pytest.raises(NotFoundError):
        gf.campaigns.get(uuid.uuid4())

    with pytest.raises(ValidationError) as invalid:
        gf.campaigns.create(name="x", status="bogus")  # type: ignore[typeddict-item]
    assert invalid.value.code == "validation_error" and list(invalid.value.errors) == ["status"]

    with pytest.raises(ConflictError) as conflict:
        gf.members.remove(world.owner.pk)  # the last owner
    assert conflict.value.code == "last_owner"

    with pytest.raises(AuthenticationError) as refused:
        GhostFlow(world.url, username="ada", password="wrong-password").me()
    assert refused.value.code == "invalid_credentials"

    with pytest.raises(ConfigurationError):
        GhostFlow(world.url, api_key="not-a-key")
    with pytest.raises(ConfigurationError):
        GhostFlow(world.url, api_key=reader).campaigns.list().first_page()  # no team


def test_a_rate_limited_login_is_raised_with_retry_after_and_not_retried(world, settings, server_requests):
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {"ip": "1000/5m", "account": "2/15m"}}
    nobody = f"nobody-{uuid.uuid4().hex}"  # its own counter, whatever earlier runs left in a shared cache

    for _ in range(2):
        with pytest.raises(AuthenticationError):
            GhostFlow(world.url).login(nobody, "wrong-password")
    with pytest.raises(RateLimitedError) as limited:
        GhostFlow(world.url).login(nobody, "wrong-password")

    assert limited.value.code == "rate_limited" and limited.value.retry_after > 0
    assert server_requests.count("/api/v1/auth/login") == 3


def test_eight_threads_that_find_the_access_token_expired_refresh_it_exactly_once(world, server_requests):
    sent = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
    gf = GhostFlow(world.url, username="ada", password=world.password, team_id=world.team.pk, http_client=http)
    gf.me()
    before = gf.tokens
    barrier = threading.Barrier(8, timeout=10)

    def call(_):
        barrier.wait()
        return gf.me()["user"]["username"]

    with expired_access_tokens():
        assert gf.tokens.access_is_stale()
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(8))) == ["ada"] * 8

        assert server_requests.count(REFRESH) == 1 and sent.count(REFRESH) == 1
        family = RefreshFamily.objects.get(user=world.owner)
        assert family.revoked_at is None and family.current_jti == jti(gf.tokens.refresh_token)
        assert gf.tokens.refresh_token != before.refresh_token

        gf.refresh()  # the rotated token is the live one: rotating again works
        family.refresh_from_db()
        assert family.revoked_at is None and server_requests.count(REFRESH) == 2
    http.close()


def test_when_the_server_says_expired_before_our_clock_does_the_threads_still_refresh_once(world, server_requests):
    login = GhostFlow(world.url)
    login.login("ada", world.password)
    real = login.tokens
    with expired_access_tokens():
        # Our clock thinks the token has 5 minutes left (a skewed or paused client); the server
        # answers 401 token_expired, and every thread that got it asks for a refresh.
        believed = Tokens(real.access_token, real.refresh_token, expires_at=time.time() + 300, lifetime=300)
        gf = GhostFlow(world.url, token_store=MemoryTokenStore(believed), team_id=world.team.pk)
        barrier = threading.Barrier(8, timeout=10)

        def call(_):
            barrier.wait()
            return len(gf.campaigns.list().first_page().items)

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(8))) == [0] * 8

        assert server_requests.count(REFRESH) == 1
        assert server_requests.count("/api/v1/campaigns") >= 9  # 8, and again for those refused
        assert RefreshFamily.objects.get(user=world.owner).revoked_at is None


def test_the_async_client_refreshes_once_for_many_concurrent_calls(world, server_requests, tmp_path):
    # A store with a real inter-process lock (gf's file store): the async client takes it
    # without blocking its event loop.
    store = FileTokenStore(tmp_path, world.url)

    async def run():
        async with AsyncGhostFlow(world.url, token_store=store, team_id=world.team.pk) as gf:
            await gf.login("ada", world.password)
            issued = await gf.api_keys.create("async", ["read"])
            with expired_access_tokens():
                names = await asyncio.gather(*(gf.me() for _ in range(8)))
                teams = [team["name"] async for team in gf.teams.list()]
            return issued, [me["user"]["username"] for me in names], teams

    issued, names, teams = run_async(run())
    assert names == ["ada"] * 8 and teams == ["Acme"]
    assert server_requests.count(REFRESH) == 1
    family = RefreshFamily.objects.get(user=world.owner)
    assert family.revoked_at is None and family.current_jti == jti(store.load().refresh_token)

    async def as_key():
        async with AsyncGhostFlow(world.url, api_key=issued["raw_key"], team_id=world.team.pk) as robot:
            with pytest.raises(PermissionDeniedError) as denied:
                await robot.campaigns.create(name="Nope")
            return denied.value.required_scope, await robot.stats()

    scope, stats = run_async(as_key())
    assert scope == "write:campaigns" and "campaigns" in stats["counts"]


def test_a_stored_refresh_token_resumes_the_login_and_each_rotation_is_kept(world):
    first = GhostFlow(world.url)
    first.login("ada", world.password)
    stored = first.tokens.refresh_token

    store = MemoryTokenStore(Tokens("", stored, expires_at=0, lifetime=0))
    resumed = GhostFlow(world.url, token_store=store)
    assert resumed.me()["user"]["username"] == "ada"
    assert store.load().refresh_token != stored  # rotated, and the store has the new one

    # Someone replaying the spent token (a leaked copy) ends the login for everyone: RFC 9700.
    with pytest.raises(AuthenticationError) as reused:
        GhostFlow(world.url, refresh_token=stored).me()
    assert reused.value.code == "token_reused"
    with pytest.raises(AuthenticationError) as revoked:
        resumed.refresh()
    assert revoked.value.code == "token_revoked"
    assert store.load() is None


def test_logout_ends_the_login_on_the_server(world):
    gf = GhostFlow(world.url, username="ada", password=world.password)
    gf.me()
    refresh_token = gf.tokens.refresh_token
    gf.logout()

    assert gf.tokens is None
    assert RefreshFamily.objects.get(user=world.owner).revoked_at is not None
    with pytest.raises(AuthenticationError) as refused:
        GhostFlow(world.url, refresh_token=refresh_token).me()
    assert refused.value.code == "token_revoked"
    with pytest.raises(ConfigurationError):
        gf.me()  # no silent re-login with the password after an explicit logout


def test_a_password_client_logs_in_again_when_its_session_is_revoked(world):
    gf = GhostFlow(world.url, username="ada", password=world.password)
    gf.me()
    RefreshFamily.objects.update(revoked_at=timezone.now())
    with expired_access_tokens():
        assert gf.me()["user"]["username"] == "ada"
    assert RefreshFamily.objects.filter(user=world.owner, revoked_at__isnull=True).count() == 1


def test_resources_teams_members_invitations_keys_and_the_audit_log(world):
    gf = GhostFlow(world.url, email=world.owner.email, password=world.password, team_id=world.team.pk)

    network = gf.networks.create(name="Net", postback_url="https://net.example.com/pb")
    offer = gf.offers.create(name="Offer", url="https://offer.example.com/", payout="1.50", network=network["id"])
    assert [o["id"] for o in gf.offers.list(network=network["id"])] == [offer["id"]]
    domain = gf.domains.create(hostname="track.example.com")
    source = gf.sources.create(name="Search", kind="search")
    assert [s["id"] for s in gf.sources.list(kind="search")] == [source["id"]]
    campaign = gf.campaigns.create(name="C", domain=domain["id"], offer=offer["id"], source=source["id"])
    assert gf.campaigns.update(campaign["id"], domain=None)["domain"] is None
    assert gf.domains.update(domain["id"], hostname="t2.example.com")["hostname"] == "t2.example.com"
    assert gf.networks.get(network["id"])["name"] == "Net"
    for collection, object_id in [(gf.campaigns, campaign["id"]), (gf.offers, offer["id"]), (gf.domains, domain["id"])]:
        collection.delete(object_id)
        with pytest.raises(NotFoundError):
            collection.get(object_id)
    assert gf.stats()["counts"]["networks"] == 1
    assert gf.billing()["seats_used"] == 2

    members = {m["username"]: m for m in gf.members.list()}
    assert {name: m["role"] for name, m in members.items()} == {"ada": "owner", "bob": "member"}
    assert gf.members.set_role(members["bob"]["user_id"], "viewer")["role"] == "viewer"
    invitation = gf.invitations.create("grace@example.com", "member")
    assert [i["id"] for i in gf.invitations.list()] == [invitation["id"]]
    gf.invitations.cancel(invitation["id"])
    gf.members.remove(members["bob"]["user_id"])
    assert [m["username"] for m in gf.members.list()] == ["ada"]

    other = gf.teams.create("Globex")
    assert gf.teams.rename(other["id"], "Globex 2")["name"] == "Globex 2"
    assert gf.teams.get(other["id"])["name"] == "Globex 2"
    assert gf.teams.current()["name"] == "Acme"
    gf.teams.delete(other["id"])
    assert [t["name"] for t in gf.teams.list()] == ["Acme"]

    key = gf.api_keys.create("rotating", ["read:campaigns"])
    renamed = gf.api_keys.rename(key["id"], "rotated")
    assert renamed["name"] == "rotated"
    new = gf.api_keys.regenerate(key["id"], grace_seconds=600)
    for secret in (key["raw_key"], new["raw_key"]):  # both work during the grace period
        assert GhostFlow(world.url, api_key=secret, team_id=world.team.pk).campaigns.list().first_page().items == []
    gf.api_keys.delete(key["id"])
    with pytest.raises(NotFoundError):
        gf.api_keys.get(key["id"])

    actions = [event["action"] for event in gf.audit_log.list(action="key.regenerated")]
    assert actions == ["key.regenerated"]
    since = timezone.now() - timedelta(minutes=5)
    assert {e["status_code"] for e in gf.audit_log.list(status="2xx", since=since, page_size=10)} <= set(
        range(200, 300)
    )
    assert gf.account()["username"] == "ada"


def parse(text: str):
    """ast.parse on a fresh thread: CPython 3.11.7's AST validator can keep a stale recursion
    count on a thread that unwound a RecursionError earlier (the hostile-input tests do), and
    then fails with "AST constructor recursion depth mismatch" (python/cpython#106905)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(ast.parse, text).result()


def test_the_sdk_needs_neither_django_nor_the_cli_and_ships_py_typed():
    code = (
        "import sys, importlib.resources, ghostflow_client\n"
        "print(sorted(m for m in ('django', 'ghostflow_client.cli') if m in sys.modules))\n"
        "print(importlib.resources.files('ghostflow_client').joinpath('py.typed').is_file())\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "True"]

    # Only the CLI uses click and rich (httpx may import them itself when they are installed).
    package = Path(ghostflow_client.__file__).parent
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
        assert imported.isdisjoint({"click", "rich", "django"}), path.name
