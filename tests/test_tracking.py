"""The GhostFlow resources: CRUD, pagination, filters, tenant isolation, stats and billing."""

import pytest

from apikeys.models import APIKey
from tracking.models import Campaign, Domain, Network, Offer, Source

from .factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(as_user, owner, team):
    return as_user(owner, team)


def test_campaign_crud(api, team):
    domain = Domain.objects.create(team=team, hostname="t.example.com")
    offer = Offer.objects.create(team=team, name="o", url="https://example.com")
    source = Source.objects.create(team=team, name="s")
    created = api.post(
        "/api/v1/campaigns",
        {
            "name": "Launch",
            "status": "active",
            "domain": str(domain.pk),
            "offer": str(offer.pk),
            "source": str(source.pk),
        },
        format="json",
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    assert api.get(f"/api/v1/campaigns/{cid}").json()["domain"] == str(domain.pk)
    assert api.patch(f"/api/v1/campaigns/{cid}", {"status": "paused"}, format="json").json()["status"] == "paused"
    assert api.delete(f"/api/v1/campaigns/{cid}").status_code == 204
    assert not Campaign.objects.exists()


def test_offer_with_network_and_payout(api, team):
    network = Network.objects.create(team=team, name="N", postback_url="https://n.example.com/pb")
    response = api.post(
        "/api/v1/offers",
        {"name": "o", "url": "https://example.com/x", "payout": "2.50", "network": str(network.pk)},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["payout"] == "2.50"
    assert api.get("/api/v1/offers", {"network": str(network.pk)}).json()["results"][0]["name"] == "o"


@pytest.mark.parametrize(
    "url,body",
    [
        ("/api/v1/offers", {"name": "o", "url": "not a url"}),
        ("/api/v1/offers", {"name": "o", "url": "https://e.com", "payout": "-1"}),
        ("/api/v1/domains", {"hostname": "no spaces.com"}),
        ("/api/v1/domains", {"hostname": "localhost"}),
        ("/api/v1/sources", {"name": "s", "kind": "telepathy"}),
        ("/api/v1/campaigns", {"name": "c", "status": "exploded"}),
        ("/api/v1/campaigns", {"name": "c", "domain": "not-a-uuid"}),
        ("/api/v1/networks", {"name": "n", "postback_url": "ftp://x"}),
    ],
)
def test_bad_bodies_are_400(api, url, body):
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_duplicate_hostname_in_the_team_is_400_but_other_teams_may_use_it(api, team, other_team):
    Domain.objects.create(team=other_team, hostname="t.example.com")
    assert api.post("/api/v1/domains", {"hostname": "T.Example.com."}, format="json").status_code == 201
    response = api.post("/api/v1/domains", {"hostname": "t.example.com"}, format="json")
    assert response.status_code == 400


def test_a_reference_to_another_teams_object_is_400(api, other_team):
    foreign = Domain.objects.create(team=other_team, hostname="f.example.com")
    response = api.post("/api/v1/campaigns", {"name": "c", "domain": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert "domain" in response.json()["errors"]
    assert not Campaign.objects.exists()


def test_another_teams_object_is_404_for_every_method(api, other_team):
    foreign = Campaign.objects.create(team=other_team, name="theirs")
    url = f"/api/v1/campaigns/{foreign.pk}"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.name == "theirs"


def test_a_key_sees_only_its_teams_rows(as_key, owner, team, other_team):
    Campaign.objects.create(team=team, name="ours")
    Campaign.objects.create(team=other_team, name="theirs")
    _, raw = make_key(owner, team, ["read"])
    assert [c["name"] for c in as_key(raw, team).get("/api/v1/campaigns").json()["results"]] == ["ours"]


def test_pagination_is_bounded_and_cursor_based(api, team):
    for i in range(120):
        Campaign.objects.create(team=team, name=f"c{i:03}")
    first = api.get("/api/v1/campaigns", {"page_size": 1000}).json()
    assert len(first["results"]) == 100
    assert "count" not in first
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 20
    names = [c["name"] for c in first["results"] + second["results"]]
    assert len(set(names)) == 120
    assert names[0] == "c119"  # newest first
    assert len(api.get("/api/v1/campaigns").json()["results"]) == 50
    for bad in ("garbage", "0", "-3", "2.5"):
        response = api.get("/api/v1/campaigns", {"page_size": bad})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_page_size"


@pytest.mark.parametrize("cursor", ["bm90IGEgY3Vyc29y", "%%%", "cD0yMDI2LTEzLTQ1", "o=-5", "cj0x"])
def test_a_garbage_cursor_is_never_a_500(api, team, cursor):
    Campaign.objects.create(team=team, name="c")
    response = api.get("/api/v1/campaigns", {"cursor": cursor})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["code"] == "invalid_cursor"


def test_filters(api, team):
    Campaign.objects.create(team=team, name="Summer sale", status="active")
    Campaign.objects.create(team=team, name="Winter sale", status="paused")
    Source.objects.create(team=team, name="g", kind="search")
    assert [c["name"] for c in api.get("/api/v1/campaigns", {"status": "active"}).json()["results"]] == ["Summer sale"]
    assert len(api.get("/api/v1/campaigns", {"search": "SALE"}).json()["results"]) == 2
    assert len(api.get("/api/v1/sources", {"kind": "search"}).json()["results"]) == 1


@pytest.mark.parametrize(
    "params", [{"status": "exploded"}, {"domain": "nope"}, {"offer": "1"}, {"source": "x"}], ids=str
)
def test_bad_filters_are_400(api, params):
    response = api.get("/api/v1/campaigns", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"


def test_stats(api, team, other_team):
    Campaign.objects.create(team=team, name="a", status="active")
    Campaign.objects.create(team=team, name="b", status="active")
    Campaign.objects.create(team=team, name="c", status="paused")
    Campaign.objects.create(team=other_team, name="x", status="active")
    Network.objects.create(team=team, name="n")
    body = api.get("/api/v1/stats").json()
    assert body["counts"] == {"campaigns": 3, "domains": 0, "offers": 0, "sources": 0, "networks": 1}
    assert body["campaigns_by_status"] == {"draft": 0, "active": 2, "paused": 1, "archived": 0}


def test_billing(api, owner, member, team):
    make_key(owner, team, ["read"])
    revoked, _ = make_key(owner, team, ["read"])
    APIKey.objects.filter(pk=revoked.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert api.get("/api/v1/billing").json() == {"plan": "free", "seats_used": 2, "active_api_keys": 1}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/campaigns", {"name": "c"}),
        ("/api/v1/domains", {"hostname": "l.example.com"}),
        ("/api/v1/offers", {"name": "o", "url": "https://attacker.example/landing"}),
        ("/api/v1/sources", {"name": "s"}),
        ("/api/v1/networks", {"name": "n"}),
    ],
)
def test_location_of_a_created_resource_is_its_own_url_never_a_field_the_client_chose(api, path, body):
    created = api.post(path, body, format="json")
    assert created.status_code == 201, created.json()
    location = created["Location"]
    assert location == f"{path}/{created.json()['id']}"
    assert api.get(location).status_code == 200
