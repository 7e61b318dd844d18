"""The Content API (seed 003): publishable Content keys in `?key=`, read-only public data, the
version header, CORS for allowed origins only, caching, its rate limit and aggregate audit."""

import pytest
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.test import APIClient, APIRequestFactory

from audit.models import Action, AuditEvent
from infra import tally
from integrations import content
from tracking.models import Campaign, Network, Offer

from .factories import make_integration

BASE = "/api/content/v1"
ORIGIN = "https://shop.example.com"


@pytest.fixture
def issued(admin, team):
    network = Network.objects.create(team=team, name="Private network", postback_url="https://n.example.com/pb")
    offer = Offer.objects.create(team=team, name="Boots", url="https://boots.example.com", payout=9, network=network)
    hidden = Offer.objects.create(team=team, name="Secret offer", url="https://secret.example.com", payout=99)
    Campaign.objects.create(team=team, name="Spring", status=Campaign.Status.ACTIVE, offer=offer)
    Campaign.objects.create(team=team, name="Draft idea", status=Campaign.Status.DRAFT, offer=hidden)
    return make_integration(admin, team, permissions=["read"], allowed_origins=[ORIGIN])


def get(path, key, **headers):
    return APIClient().get(f"{BASE}/{path}", {"key": key} if key is not None else {}, **headers)


@pytest.mark.django_db
def test_it_serves_public_fields_of_active_campaigns_offers_and_the_team(issued, team):
    campaigns = get("campaigns", issued.content_key)
    assert campaigns.status_code == 200
    assert [c["name"] for c in campaigns.json()["campaigns"]] == ["Spring"]
    assert set(campaigns.json()["campaigns"][0]) == {"id", "name", "slug"}
    offers = get("offers", issued.content_key).json()["offers"]
    assert [(o["name"], set(o)) for o in offers] == [("Boots", {"id", "name", "slug", "url"})]
    assert get("team", issued.content_key).json() == {"id": str(team.pk), "name": team.name}


@pytest.mark.django_db
def test_no_private_field_appears_in_any_content_response(issued):
    bodies = "".join(get(path, issued.content_key).content.decode() for path in ("campaigns", "offers", "team"))
    for private in ("payout", "postback", "Private network", "Draft idea", "Secret offer", "plan", "billing", "email"):
        assert private not in bodies


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "trace"])
@pytest.mark.parametrize("with_key", [True, False])
def test_every_unsafe_method_is_405_with_or_without_a_key(issued, method, with_key):
    url = f"{BASE}/campaigns" + (f"?key={issued.content_key}" if with_key else "")
    response = APIClient().generic(method.upper(), url)
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


@pytest.mark.django_db
def test_missing_unknown_and_other_credentials_are_401(issued, key_for, admin, team):
    _, raw = key_for(admin, team)
    assert get("campaigns", None).json()["code"] == "not_authenticated"
    assert get("campaigns", "0" * 26).json()["code"] == "key_invalid"
    assert get("campaigns", raw).json()["code"] == "key_not_allowed_here"
    assert get("campaigns", issued.admin_key).json()["code"] == "key_not_allowed_here"
    response = APIClient().get(f"{BASE}/campaigns", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401  # the Content API takes no header credential


@pytest.mark.django_db
def test_a_regenerated_content_key_stops_the_old_one(issued, as_user, admin, team):
    old = issued.content_key
    response = as_user(admin, team).post(f"/api/v1/integrations/{issued.integration.pk}/regenerate-content-key")
    new = response.json()["content_key"]
    assert new != old and get("campaigns", old).json()["code"] == "key_invalid"
    assert get("campaigns", new).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("version", [None, "v1", "v5.0", "v5", "V4.2", "v2.0.1", "canary"])
def test_any_version_a_ghost_client_sends_is_answered_by_the_current_one(issued, version):
    headers = {} if version is None else {"HTTP_ACCEPT_VERSION": version}
    response = get("campaigns", issued.content_key, **headers)
    assert (response.status_code, response["Content-Version"]) == (200, "v1")


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["banana", "5.0", "v", "v5.x", "latest", "v1;DROP"])
def test_an_accept_version_that_is_not_a_version_is_400(issued, version):
    response = get("campaigns", issued.content_key, HTTP_ACCEPT_VERSION=version)
    assert (response.status_code, response.json()["code"], response.json()["supported"]) == (
        400,
        "version_unsupported",
        ["v1"],
    )


@pytest.mark.django_db
def test_cors_preflight_from_an_allowed_and_a_disallowed_origin(issued):
    client = APIClient()
    allowed = client.options(
        f"{BASE}/campaigns?key={issued.content_key}",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="accept-version",
    )
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == ORIGIN
    assert "Accept-Version" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed
    denied = client.options(
        f"{BASE}/campaigns?key={issued.content_key}",
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert "Access-Control-Allow-Origin" not in denied
    assert get("campaigns", issued.content_key, HTTP_ORIGIN=ORIGIN)["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in get(
        "campaigns", issued.content_key, HTTP_ORIGIN="https://evil.example.com"
    )


@pytest.mark.django_db
def test_answers_are_cacheable_and_a_matching_etag_is_304(issued):
    first = get("campaigns", issued.content_key)
    assert first["Cache-Control"] == "public, max-age=60"
    etag = first["ETag"]
    again = get("campaigns", issued.content_key, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    Campaign.objects.filter(name="Spring").update(name="Summer")
    changed = get("campaigns", issued.content_key, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


@pytest.mark.django_db
def test_every_answer_varies_on_origin_and_accept_version(issued):
    ok = get("campaigns", issued.content_key, HTTP_ORIGIN=ORIGIN)
    not_modified = get("campaigns", issued.content_key, HTTP_IF_NONE_MATCH=ok["ETag"])
    refused = get("campaigns", None)
    bad_version = get("campaigns", issued.content_key, HTTP_ACCEPT_VERSION="banana")
    assert [r.status_code for r in (ok, not_modified, refused, bad_version)] == [200, 304, 401, 400]
    for response in (ok, not_modified, refused, bad_version):
        assert {"origin", "accept-version"} <= _vary(response)
    preflight = APIClient().options(
        f"{BASE}/campaigns?key={issued.content_key}", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "origin" in _vary(preflight)


@pytest.mark.django_db
def test_vary_keeps_what_was_already_there(issued):
    """Origin and Accept-Version are added to the answer's Vary, never put in its place: with two
    renderers DRF itself varies on Accept, and that stays."""

    class TwoRenderers(content.ContentCampaignList):
        renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    view = TwoRenderers.as_view()
    request = APIRequestFactory().get(f"{BASE}/campaigns", {"key": issued.content_key}, HTTP_ACCEPT="application/json")
    answer = view(request)
    assert answer.status_code == 200
    assert {"accept", "origin", "accept-version"} <= _vary(answer)
    preflight = view(APIRequestFactory().options(f"{BASE}/campaigns", HTTP_ORIGIN=ORIGIN))
    assert {"accept", "origin"} <= _vary(preflight)


@pytest.mark.django_db
def test_it_has_its_own_rate_limit_per_key(issued, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "content_api_key": {"account": "3/m"}}
    statuses = [get("campaigns", issued.content_key).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = get("campaigns", issued.content_key)
    assert int(response["Retry-After"]) > 0
    assert not AuditEvent.objects.filter(action=Action.RATE_LIMITED).exists()  # counted, not one row each


@pytest.mark.django_db
def test_it_has_its_own_rate_limit_per_ip(issued, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "content_api": {"ip": "2/m"}}
    assert [get("campaigns", "f" * 26).status_code for _ in range(3)] == [401, 401, 429]


@pytest.mark.django_db
def test_per_ip_refusals_leave_one_counted_event_per_minute_not_one_per_request(issued, settings, monkeypatch):
    """Refused before the key is read, a per-IP 429 belongs to no integration: a flood of them is
    counted in the cache and written as one event per active minute (no team, no integration)."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "content_api": {"ip": "2/m"}}
    minute = [3_000_000]
    monkeypatch.setattr(tally.time, "time", lambda: minute[0] * 60 + 1)
    AuditEvent.objects.all().delete()
    statuses = [get("campaigns", issued.content_key).status_code for _ in range(40)]
    statuses += [get("team", None, REMOTE_ADDR="10.0.0.2").status_code for _ in range(4)]
    assert statuses == [200, 200] + [429] * 38 + [401, 401, 429, 429]
    assert not AuditEvent.objects.exists()  # nothing written per refusal
    minute[0] += 2  # a new window of the limit too: the first refusal of it writes the last one's count
    assert [get("offers", "f" * 26).status_code for _ in range(3)] == [401, 401, 429]
    event = AuditEvent.objects.get()
    assert event.action == Action.CONTENT_API_REQUESTS
    assert (event.team_id, event.integration_id, event.ip, event.path) == (None, None, None, "")
    assert event.data == {
        "limit": "content_api",
        "minute": "1975-09-15T08:00:00+00:00",
        "requests": 40,
        "by_status": {"4xx": 40},
        "rate_limited": 40,
        "addresses": 2,
    }
    assert issued.content_key not in repr(event.data) and "10.0.0.2" not in repr(event.data)


@pytest.mark.django_db
def test_use_is_audited_per_minute_not_per_request(issued, monkeypatch):
    minute = [1_000_000]
    monkeypatch.setattr(tally.time, "time", lambda: minute[0] * 60 + 1)
    AuditEvent.objects.all().delete()
    for _ in range(25):
        get("campaigns", issued.content_key)
    get("campaigns", issued.content_key, HTTP_ACCEPT_VERSION="nine")  # refused before the key is read
    assert not AuditEvent.objects.exists()  # nothing written per request
    minute[0] += 3
    get("team", issued.content_key)  # the first request of a later minute writes the last one's summary
    event = AuditEvent.objects.get()
    assert event.action == Action.CONTENT_API_REQUESTS and event.integration_id == issued.integration.pk
    assert event.data["requests"] == 25 and event.data["by_status"] == {"2xx": 25}
    assert event.ip is None and event.path == ""


@pytest.mark.django_db
def test_the_key_never_reaches_the_audit_log(issued, monkeypatch):
    minute = [2_000_000]
    monkeypatch.setattr(tally.time, "time", lambda: minute[0] * 60)
    get("campaigns", issued.content_key)
    minute[0] += 1
    get("campaigns", issued.content_key)
    assert issued.content_key not in repr(list(AuditEvent.objects.values()))
