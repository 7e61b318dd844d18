"""Team integrations through the SDK and `gf`, against a live server of this project: the Admin
key (the client signs its own HS256 tokens), the management calls, the Content API client."""

import asyncio
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import jwt
import pytest
import time_machine
from django.utils import timezone
from ghostflow_client import (
    AdminKey,
    AsyncGhostFlow,
    AsyncGhostFlowContent,
    AuthenticationError,
    ConfigurationError,
    GhostFlow,
    GhostFlowContent,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ghostflow_client.cli import Exit

from tracking.models import Campaign, Offer

from .conftest import run_async
from .test_cli import as_json, gf, log_in, ok, refused

ADMIN_KEY = re.compile(r"^[0-9a-f]{24}:[0-9a-f]{64}$")


class Recorder:
    """An httpx event hook that keeps what the client sent and got (the client's own view)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.authorizations: list[str] = []
        self.statuses: list[int] = []

    def request(self, request):
        with self._lock:
            self.authorizations.append(request.headers.get("Authorization", ""))

    def response(self, response):
        with self._lock:
            self.statuses.append(response.status_code)

    def client(self):
        return httpx.Client(event_hooks={"request": [self.request], "response": [self.response]})

    def tokens(self):
        return [value.removeprefix("Ghost ") for value in self.authorizations]


@pytest.fixture
def login(world):
    with GhostFlow(world.url, username="ada", password=world.password, team_id=world.team.pk) as client:
        yield client


def test_an_admin_key_signs_its_own_tokens_and_acts_within_its_scopes_until_regenerated(world, login):
    issued = login.integrations.create(
        "CI",
        ["read:campaigns", "write:campaigns"],
        description="deploys",
        allowed_origins=["https://shop.example.com/"],
    )
    assert ADMIN_KEY.match(issued["admin_key"]) and issued["admin_key"].startswith(issued["admin_key_id"] + ":")
    assert issued["allowed_origins"] == ["https://shop.example.com"] and issued["description"] == "deploys"
    listed = list(login.integrations.list())
    assert [i["id"] for i in listed] == [issued["id"]] and "admin_key" not in listed[0]

    recorder = Recorder()
    http = recorder.client()
    robot = GhostFlow(world.url, admin_key=issued["admin_key"], team_id=world.team.pk, http_client=http)
    created = robot.campaigns.create(name="From an integration", status="active")
    assert robot.campaigns.update(created["id"], status="paused")["status"] == "paused"
    assert [c["name"] for c in robot.campaigns.list()] == ["From an integration"]

    # One token for all of these, signed here: HS256, kid = the key's id, aud /v1/admin/, < 5 min.
    assert {value.split()[0] for value in recorder.authorizations} == {"Ghost"}
    [token] = set(recorder.tokens())
    assert issued["admin_key"].split(":")[1] not in "".join(recorder.authorizations)
    secret = bytes.fromhex(issued["admin_key"].split(":")[1])
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="/v1/admin/")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": issued["admin_key_id"]}
    assert set(claims) == {"iat", "exp", "aud"} and 0 < claims["exp"] - claims["iat"] <= 300

    with pytest.raises(PermissionDeniedError) as denied:
        robot.offers.list().first_page()
    assert (denied.value.code, denied.value.required_scope) == ("insufficient_scope", "read:offers")
    with pytest.raises(PermissionDeniedError) as denied:
        robot.integrations.list().first_page()  # an integration never manages integrations
    assert denied.value.code == "interactive_login_required"

    events = list(login.integrations.audit(issued["id"], action="api_request"))
    assert {e["integration"] for e in events} == {issued["id"]} and all(e["actor"] is None for e in events)
    assert sorted(e["status_code"] for e in events) == [200, 200, 201, 403, 403]
    assert {e["id"] for e in login.audit_log.list(integration=issued["id"], status="4xx")} == {
        e["id"] for e in events if e["status_code"] == 403
    }
    assert [e["action"] for e in login.integrations.audit_log(issued["id"], action="integration.created")] == [
        "integration.created"
    ]

    # Regenerating replaces the key's id and secret: the old key is unknown at once.
    renewed = login.integrations.regenerate_admin_key(issued["id"])
    assert renewed["admin_key_id"] != issued["admin_key_id"] and ADMIN_KEY.match(renewed["admin_key"])
    with pytest.raises(AuthenticationError) as unknown:
        robot.campaigns.list().first_page()  # its cached token names the old kid
    assert (unknown.value.status, unknown.value.code) == (401, "kid_unknown")
    with pytest.raises(AuthenticationError) as unknown:
        GhostFlow(world.url, admin_key=issued["admin_key"], team_id=world.team.pk).campaigns.list().first_page()
    assert unknown.value.code == "kid_unknown"
    new_robot = GhostFlow(world.url, admin_key=renewed["admin_key"], team_id=world.team.pk)
    assert new_robot.teams.current()["name"] == "Acme"

    # Changes, a new Content key, deletion.
    changed = login.integrations.update(issued["id"], name="CI (read)", permissions=["read:campaigns"])
    assert (changed["name"], changed["permissions"]) == ("CI (read)", ["read:campaigns"])
    with pytest.raises(PermissionDeniedError):
        new_robot.campaigns.create(name="No longer")
    content_key = login.integrations.regenerate_content_key(issued["id"])["content_key"]
    assert content_key != issued["content_key"] and login.integrations.get(issued["id"])["content_key"] == content_key
    login.integrations.delete(issued["id"])
    with pytest.raises(NotFoundError):
        login.integrations.get(issued["id"])
    with pytest.raises(AuthenticationError) as gone:
        new_robot.campaigns.list().first_page()
    assert gone.value.code == "kid_unknown"
    http.close()


def test_threads_share_one_token_which_is_signed_again_before_it_expires(world, login):
    admin_key = login.integrations.create("Workers", ["read:campaigns"])["admin_key"]
    recorder = Recorder()
    http = recorder.client()
    robot = GhostFlow(world.url, admin_key=admin_key, team_id=world.team.pk, http_client=http)
    barrier = threading.Barrier(8, timeout=10)

    def call(_):
        barrier.wait()
        return robot.campaigns.list().first_page().items

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(call, range(8))) == [[]] * 8
    assert len(set(recorder.tokens())) == 1

    # 4 minutes later (for the server too): under a minute left, so the client signs a new token.
    with time_machine.travel(timezone.now() + timedelta(minutes=4)):
        assert robot.campaigns.list().first_page().items == []
    first, *_, last = recorder.tokens()
    assert last != first and jwt.decode(last, options={"verify_signature": False})["iat"] > time.time() + 200

    # A clock that believes the token is fresh while the server says it expired: the client signs
    # a new one and sends the request again, once.
    signer = robot._settings.admin_key
    signer._token, signer._expires_at = signer.sign(now=time.time() - 400), time.time() + 1000
    statuses = len(recorder.statuses)
    assert robot.campaigns.list().first_page().items == []
    assert recorder.statuses[statuses:] == [401, 200]
    http.close()

    async def run():
        async with AsyncGhostFlow(world.url, admin_key=AdminKey(admin_key), team_id=world.team.pk) as robot:
            results = await asyncio.gather(*(robot.campaigns.list().collect() for _ in range(4)))
            with pytest.raises(PermissionDeniedError) as denied:
                await robot.campaigns.create(name="Nope")
            return results, denied.value.required_scope

    assert run_async(run()) == ([[]] * 4, "write:campaigns")


def test_admin_keys_are_checked_before_anything_is_sent(world):
    admin_key = "a" * 24 + ":" + "b" * 64
    for wrong in ("", "a" * 24, "a" * 24 + ":" + "b" * 63, "g" * 24 + ":" + "b" * 64, "gf_" + "x" * 38):
        with pytest.raises(ConfigurationError):
            GhostFlow(world.url, admin_key=wrong)
    with pytest.raises(ConfigurationError, match="admin_key="):
        GhostFlow(world.url, api_key=admin_key)  # an Admin key passed as an API key: said so
    with pytest.raises(ConfigurationError):
        GhostFlow(world.url, admin_key=admin_key, api_key="gf_" + "x" * 38)
    with pytest.raises(ConfigurationError):
        GhostFlow(world.url, admin_key=admin_key, username="ada", password="x")
    with pytest.raises(ConfigurationError, match="team"):
        GhostFlow(world.url, admin_key=admin_key).campaigns.list().first_page()
    with pytest.raises(ConfigurationError):
        GhostFlow(world.url, admin_key=admin_key).login("ada", "x")
    assert "b" * 64 not in repr(AdminKey(admin_key.upper()))  # pasted in capitals: still the key
    assert AdminKey(" " + admin_key + "\n").key_id == "a" * 24


def test_the_content_client_reads_the_public_data_with_etags(world, login):
    issued = login.integrations.create("Site", ["read"])
    offer = Offer.objects.create(team=world.team, name="Shoes", url="https://o.example.com/", payout="9.99")
    Campaign.objects.create(team=world.team, name="Live", status="active", offer=offer)
    Campaign.objects.create(team=world.team, name="Draft", status="draft")

    recorder = Recorder()
    http = recorder.client()
    # The same base URL as the main client works (…/api/v1 is replaced by …/api/content/v1).
    content = GhostFlowContent(world.url + "/api/v1", issued["content_key"], http_client=http)
    assert [c["name"] for c in content.campaigns()] == ["Live"]
    assert list(content.offers()) == [
        {"id": str(offer.pk), "name": "Shoes", "slug": "shoes", "url": "https://o.example.com/"}
    ]
    team = content.team()
    assert team == {"id": str(world.team.pk), "name": "Acme"}
    assert content.team() == team and [c["name"] for c in content.campaigns()] == ["Live"]
    assert recorder.statuses == [200, 200, 200, 304, 304]  # unchanged: served from the ETag cache
    assert all(not value for value in recorder.authorizations)  # the key is in ?key= and nowhere else
    assert issued["content_key"] not in repr(content)

    with pytest.raises(AuthenticationError) as invalid:
        GhostFlowContent(world.url, "0" * 26).team()
    assert invalid.value.code == "key_invalid" and "0" * 26 not in invalid.value.url
    for secret in (issued["admin_key"], "gf_" + "x" * 38, "not-a-key"):
        with pytest.raises(ConfigurationError):
            GhostFlowContent(world.url, secret)  # never put into a URL

    login.integrations.regenerate_content_key(issued["id"])
    with pytest.raises(AuthenticationError):
        GhostFlowContent(world.url, issued["content_key"], etag_cache=False).team()
    http.close()

    async def run():
        key = login.integrations.get(issued["id"])["content_key"]
        async with AsyncGhostFlowContent(world.url + "/api/content/v1/", key) as content:
            return await content.team(), [c["name"] async for c in content.campaigns()]

    assert run_async(run()) == (team, ["Live"])


def test_the_content_client_pages_filters_and_reads_by_id_and_slug(world, login):
    issued = login.integrations.create("Site", ["read"])
    offer = Offer.objects.create(team=world.team, name="Shoes", url="https://o.example.com/")
    Campaign.objects.bulk_create(
        Campaign(team=world.team, name=f"Live {n:02}", status="active", offer=offer) for n in range(23)
    )
    Campaign.objects.create(team=world.team, name="Draft", status="draft")
    recorder = Recorder()
    content = GhostFlowContent(world.url, issued["content_key"], http_client=recorder.client())

    names = [c["name"] for c in content.campaigns(limit=10, order="name asc")]
    assert names == [f"Live {n:02}" for n in range(23)] and len(recorder.statuses) == 3  # 10 + 10 + 3
    chosen = list(content.campaigns(filter="slug:[live-03,live-07],name:'Draft'", fields=["name"]))
    assert sorted(chosen, key=lambda c: c["name"]) == [{"name": "Live 03"}, {"name": "Live 07"}]
    one = content.campaign_by_slug("live-03", include=["offer"])
    assert one["offer"] == {"id": str(offer.pk), "name": "Shoes", "slug": "shoes", "url": "https://o.example.com/"}
    assert content.campaign(one["id"])["slug"] == "live-03"
    assert content.offer_by_slug("shoes") == content.offer(str(offer.pk))
    with pytest.raises(ValidationError) as refused:
        list(content.campaigns(filter="name:("))
    assert refused.value.code == "filter_syntax_error"
    with pytest.raises(NotFoundError):
        content.campaign_by_slug("../team")  # one path segment, whatever it holds

    async def run():
        async with AsyncGhostFlowContent(world.url, issued["content_key"]) as content:
            listed = [c["slug"] async for c in content.campaigns(limit=5, filter="name:~'live 1'")]
            return listed, (await content.campaign_by_slug("live-11"))["name"]

    listed, name = run_async(run())
    assert sorted(listed) == [f"live-{n}" for n in range(10, 20)] and name == "Live 11"


# --- gf ----------------------------------------------------------------------------------------


def admin_key_in(stdout):
    return next(line for line in stdout.split() if ADMIN_KEY.match(line))


def test_gf_integrations_and_the_admin_key_as_a_credential(world, config_dir):
    log_in(world)
    team = str(world.team.pk)
    created = ok(
        "integrations", "create", "CI", "-s", "read:campaigns", "-s", "write:campaigns", "--origin", "https://a.b"
    )
    admin_key = admin_key_in(created.stdout)
    assert "only time" in created.stderr and admin_key not in created.stderr
    [listed] = as_json("integrations", "list")
    assert listed["name"] == "CI" and "admin_key" not in listed and admin_key not in ok("integrations", "list").stdout
    assert as_json("integrations", "get", listed["admin_key_id"])["allowed_origins"] == ["https://a.b"]

    with_key = {"GF_ADMIN_KEY": admin_key, "GF_TEAM_ID": team}
    ok("campaigns", "create", "--name", "From gf", env=with_key)
    assert [c["name"] for c in as_json("campaigns", "list", env=with_key)] == ["From gf"]
    me = as_json("whoami", env=with_key)
    assert (me["auth"], me["admin_key_id"], me["team_name"]) == ("admin key", listed["admin_key_id"], "Acme")
    # A flag beats the environment: --admin-key wins over a GF_API_KEY that would fail.
    assert as_json("--admin-key", admin_key, "--team", team, "campaigns", "list", env={"GF_API_KEY": "gf_x"})
    refused(Exit.USAGE, "campaigns", "list", env={**with_key, "GF_API_KEY": "gf_" + "x" * 38})  # two keys
    refused(Exit.USAGE, "--team", "Acme", "campaigns", "list", env={"GF_ADMIN_KEY": admin_key})  # a name
    refused(Exit.USAGE, "campaigns", "list", env={**with_key, "GF_ADMIN_KEY": admin_key[:-1]})  # malformed
    assert "read:offers" in refused(Exit.FORBIDDEN, "offers", "list", env=with_key)
    refused(Exit.FORBIDDEN, "integrations", "list", env=with_key)

    events = as_json("integrations", "audit", "CI", "--action", "api_request", "--limit", "0")
    assert len(events) == 6 and {e["integration"] for e in events} == {listed["id"]}
    assert len(as_json("audit", "--integration", listed["admin_key_id"], "--status", "4xx")) == 2

    regenerated = ok("integrations", "regenerate-admin-key", "CI")
    new_key = admin_key_in(regenerated.stdout)
    assert new_key != admin_key and "only time" in regenerated.stderr
    message = refused(Exit.AUTH, "campaigns", "list", env=with_key)
    assert "Admin key id" in message and "gf login" not in message
    ok("campaigns", "list", env={**with_key, "GF_ADMIN_KEY": new_key})

    content_key = ok("integrations", "regenerate-content-key", listed["id"]).stdout.strip()
    assert content_key != listed["content_key"] and as_json("integrations", "get", "CI")["content_key"] == content_key

    refused(Exit.USAGE, "integrations", "rm", "CI")  # no terminal to confirm on, no --yes
    refused(Exit.USAGE, "integrations", "rm", "Nope", "-y")
    ok("integrations", "rm", "CI", "-y")
    assert as_json("integrations", "list") == []
    refused(Exit.AUTH, "campaigns", "list", env={**with_key, "GF_ADMIN_KEY": new_key})
    assert "GF_ADMIN_KEY" in gf("--help").stdout
