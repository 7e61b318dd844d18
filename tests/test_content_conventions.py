"""The Content API follows Ghost's Content API conventions (issue 23, item 1): `limit`, `page`,
`fields`, `include`, `filter` in NQL, `order`, reads by id and by slug, and the answer shape
`{"campaigns": [...], "meta": {"pagination": {...}}}`; a parameter it cannot apply is a 400 with
its own code. Whatever the parameters, only the key's team's public rows are ever shown."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations import nql
from integrations.content import CAMPAIGNS
from tracking.models import Campaign, Offer

from .factories import TeamFactory, make_integration

BASE = "/api/content/v1"
ACTIVE = Campaign.Status.ACTIVE


@pytest.fixture
def world(admin, team):
    """21 active campaigns (`Active 01`..`Active 21`), a draft and a paused one, an offer on some;
    another team with a same-named active campaign."""
    boots = Offer.objects.create(team=team, name="Boots", url="https://boots.example.com", payout=9)
    hidden = Offer.objects.create(team=team, name="Hidden", url="https://hidden.example.com", payout=99)
    for n in range(1, 22):
        Campaign.objects.create(team=team, name=f"Active {n:02}", status=ACTIVE, offer=boots if n <= 3 else None)
    Campaign.objects.create(team=team, name="Draft", status=Campaign.Status.DRAFT, offer=hidden)
    Campaign.objects.create(team=team, name="Paused", status=Campaign.Status.PAUSED)
    other = TeamFactory()
    Campaign.objects.create(team=other, name="Active 01", status=ACTIVE)
    Campaign.objects.create(team=other, name="Other team only", status=ACTIVE)
    return make_integration(admin, team, permissions=["read"])


def get(path, key, **params):
    headers = params.pop("headers", {})
    return APIClient().get(f"{BASE}/{path}", {"key": key, **params}, **headers)


def names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["campaigns"]]


def code(response):
    return response.status_code, response.json()["code"]


# --- the answer and its pages --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_list_answers_ghosts_shape_with_15_per_page_by_default(world):
    body = get("campaigns", world.content_key).json()
    assert set(body) == {"campaigns", "meta"}
    assert len(body["campaigns"]) == 15
    assert body["meta"] == {"pagination": {"page": 1, "limit": 15, "pages": 2, "total": 21, "next": 2, "prev": None}}


@pytest.mark.django_db
def test_limit_and_page_walk_every_active_campaign_once(world):
    first = get("campaigns", world.content_key, limit=5, order="name asc").json()
    assert [c["name"] for c in first["campaigns"]] == [f"Active {n:02}" for n in range(1, 6)]
    seen = []
    for page in range(1, 6):
        body = get("campaigns", world.content_key, limit=5, page=page).json()
        seen += [c["id"] for c in body["campaigns"]]
        pagination = body["meta"]["pagination"]
        assert (pagination["page"], pagination["pages"], pagination["total"]) == (page, 5, 21)
        assert pagination["next"] == (page + 1 if page < 5 else None)
        assert pagination["prev"] == (page - 1 if page > 1 else None)
    assert len(seen) == len(set(seen)) == 21
    beyond = get("campaigns", world.content_key, limit=5, page=99).json()
    assert beyond["campaigns"] == [] and beyond["meta"]["pagination"]["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limit", "size"), [("all", 21), ("ALL", 21), ("50", 21), ("5000", 21), ("99999999999999999999", 21)]
)
def test_limit_all_and_large_limits_are_capped_at_50(world, limit, size):
    body = get("campaigns", world.content_key, limit=limit).json()
    assert len(body["campaigns"]) == size and body["meta"]["pagination"]["limit"] == 50


@pytest.mark.django_db
def test_no_more_than_50_even_when_the_team_has_more(admin, team):
    Campaign.objects.bulk_create(Campaign(team=team, name=f"c{n}", status=ACTIVE) for n in range(60))
    issued = make_integration(admin, team)
    body = get("campaigns", issued.content_key, limit="all").json()
    assert len(body["campaigns"]) == 50 and body["meta"]["pagination"] == {
        "page": 1,
        "limit": 50,
        "pages": 2,
        "total": 60,
        "next": 2,
        "prev": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": ""}, "invalid_limit"),
        ({"limit": " 5"}, "invalid_limit"),
        ({"limit": "-5"}, "invalid_limit"),
        ({"limit": "five"}, "invalid_limit"),
        ({"limit": "١٢"}, "invalid_limit"),  # digits, but not ASCII ones
        ({"page": "0"}, "invalid_page"),
        ({"page": ""}, "invalid_page"),
        ({"page": "-1"}, "invalid_page"),
        ({"page": "1.5"}, "invalid_page"),
        ({"page": "9" * 5000}, "invalid_page"),
        ({"cursor": "abc"}, "invalid_query"),
        ({"page_size": "5"}, "invalid_query"),
        ({"fields": "id,payout"}, "invalid_fields"),
        ({"include": "network"}, "invalid_include"),
        ({"order": "payout desc"}, "invalid_order"),
        ({"order": "name sideways"}, "invalid_order"),
        ({"order": "created_at desc"}, "invalid_order"),  # not a public field
    ],
)
def test_a_parameter_it_cannot_apply_is_a_400_with_its_code(world, params, expected):
    response = get("campaigns", world.content_key, **params)
    assert code(response) == (400, expected)


# --- fields, include, order ----------------------------------------------------------------------


@pytest.mark.django_db
def test_fields_keeps_only_the_fields_asked_for(world):
    body = get("campaigns", world.content_key, fields="name, slug", limit=2, order="name").json()
    assert body["campaigns"] == [
        {"name": "Active 01", "slug": "active-01"},
        {"name": "Active 02", "slug": "active-02"},
    ]
    offers = get("offers", world.content_key, fields="url").json()["offers"]
    assert offers == [{"url": "https://boots.example.com"}]


@pytest.mark.django_db
def test_include_offer_adds_the_campaigns_public_offer(world):
    body = get("campaigns", world.content_key, include="offer", order="name asc", limit=4).json()
    first, fourth = body["campaigns"][0], body["campaigns"][3]
    assert set(first["offer"]) == {"id", "name", "slug", "url"} and first["offer"]["name"] == "Boots"
    assert fourth["offer"] is None
    assert "payout" not in str(body) and "offer" not in get("campaigns", world.content_key).json()["campaigns"][0]


@pytest.mark.django_db
def test_order_by_public_fields_either_way_with_a_stable_tie_break(world):
    ascending = names(get("campaigns", world.content_key, order="name asc", limit="all"))
    descending = names(get("campaigns", world.content_key, order="NAME DESC", limit="all"))
    assert ascending == sorted(ascending) and descending == ascending[::-1]
    assert names(get("campaigns", world.content_key, order="slug desc, name asc", limit=1)) == ["Active 21"]


# --- filter (NQL) --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("nql_filter", "expected"),
    [
        ("name:'Active 01'", ["Active 01"]),
        ("slug:active-02", ["Active 02"]),
        ("slug:[active-03,active-04]", ["Active 03", "Active 04"]),
        ("slug:[active-05, 'active-06']", ["Active 05", "Active 06"]),
        ("name:'Active 01',name:'Active 02'", ["Active 01", "Active 02"]),
        ("name:~'ive 1'+name:-'Active 10'", [f"Active {n}" for n in range(11, 20)]),
        ("(slug:active-01,slug:active-02)+name:-'Active 01'", ["Active 02"]),
        ("name:~^'active 2'", ["Active 20", "Active 21"]),
        ("name:~$'1'+name:>='Active 10'", ["Active 11", "Active 21"]),
        ("name:<'Active 03'", ["Active 01", "Active 02"]),
        ("slug:-[active-01,active-02]+name:<'Active 05'", ["Active 03", "Active 04"]),
        ("offer.slug:boots", ["Active 01", "Active 02", "Active 03"]),
        ("offer.id:null+name:<'Active 06'", ["Active 04", "Active 05"]),
        ("status:active+slug:active-09", ["Active 09"]),
        ("name:'Active\\'s'", []),
        ("NAME:'Active 07'", ["Active 07"]),  # a property is lower case, and accepts upper case
    ],
)
def test_filter_in_ghosts_nql(world, nql_filter, expected):
    response = get("campaigns", world.content_key, filter=nql_filter, order="name asc", limit="all")
    assert names(response) == expected


@pytest.mark.django_db
def test_filter_by_id_on_offers_and_campaigns(world, team):
    campaign = Campaign.objects.get(team=team, name="Active 08")
    assert names(get("campaigns", world.content_key, filter=f"id:{campaign.pk}")) == ["Active 08"]
    boots = Offer.objects.get(name="Boots")
    body = get("offers", world.content_key, filter=f"id:[{boots.pk},{uuid.uuid4()}]").json()
    assert [o["name"] for o in body["offers"]] == ["Boots"] and body["meta"]["pagination"]["total"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("nql_filter", "expected"),
    [
        ("name:'Active 01", "filter_syntax_error"),
        ("name:", "filter_syntax_error"),
        ("name", "filter_syntax_error"),
        ("name:a b", "filter_syntax_error"),
        ("(name:a", "filter_syntax_error"),
        ("name:[a,b", "filter_syntax_error"),
        ("name:a+", "filter_syntax_error"),
        ("", "filter_syntax_error"),
        ("payout:>5", "filter_field_unknown"),
        ("team_id:x", "filter_field_unknown"),
        ("offer.payout:1", "filter_field_unknown"),
        ("offer.network.id:x", "filter_field_unknown"),
        ("id:42", "filter_value_invalid"),
        ("status:deleted", "filter_value_invalid"),
        ("name:[a,null]", "filter_value_invalid"),
        ("name:'a\x00b'", "invalid_query"),  # a NUL in any query string (infra), before the filter
        ("id:>5f1d7a4e-0000-0000-0000-000000000000", "filter_operator_invalid"),
        ("status:~act", "filter_operator_invalid"),
        ("name:>null", "filter_operator_invalid"),
        ("(" * 12 + "name:a" + ",name:b)" * 12, "filter_syntax_error"),  # nested deeper than 10
        ("+".join(["name:a"] * 51), "filter_syntax_error"),  # more than 50 conditions
    ],
)
def test_a_filter_it_cannot_apply_is_a_400_that_says_why(world, nql_filter, expected):
    response = get("campaigns", world.content_key, filter=nql_filter)
    assert code(response) == (400, expected)
    assert response.json()["detail"]


@pytest.mark.django_db
def test_an_unknown_field_answer_lists_the_fields_that_can_be_filtered(world):
    body = get("campaigns", world.content_key, filter="payout:>5").json()
    assert body["filterable"] == sorted(CAMPAIGNS.filters)
    syntax = get("campaigns", world.content_key, filter="name:'x").json()
    assert syntax["position"] == 5 and "character 6" in syntax["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "nql_filter",
    [
        "name:'Draft'",
        "name:'Paused'",
        "status:[draft,paused,archived]",
        "status:-active",
        "name:'Other team only'",
        "name:'Draft',name:'Other team only',status:draft",
        "name:-'Active 01'+status:-active",
        "offer.slug:hidden",
    ],
)
def test_no_filter_reaches_a_draft_a_paused_campaign_or_another_teams(world, nql_filter):
    """The team and the public statuses come first; a filter only narrows what they allow."""
    assert names(get("campaigns", world.content_key, filter=nql_filter, limit="all")) == []


@pytest.mark.django_db
def test_the_same_name_in_another_team_is_never_counted_or_shown(world):
    body = get("campaigns", world.content_key, filter="name:'Active 01'").json()
    assert len(body["campaigns"]) == 1 and body["meta"]["pagination"]["total"] == 1
    offers = get("offers", world.content_key, filter="name:'Hidden',url:~'hidden'").json()
    assert offers["offers"] == [] and offers["meta"]["pagination"]["total"] == 0


@given(text=st.text(alphabet=st.sampled_from(list("name:slug.id'\"+,-()[]~^$<>=\\ ab1\x00é")), max_size=40))
@settings(max_examples=400, deadline=None)
def test_no_filter_text_makes_the_parser_fail_other_than_with_a_filter_error(text):
    try:
        nql.parse(text, CAMPAIGNS.filters)
    except nql.FilterError as refused:
        assert refused.code in {
            "filter_syntax_error",
            "filter_field_unknown",
            "filter_operator_invalid",
            "filter_value_invalid",
        }


@pytest.mark.django_db
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.text(alphabet=st.sampled_from(list("name:slug.id'+,-()[]~^$<>= ab\\")), max_size=60),
    )
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_filter_is_a_server_error(world, text):
    response = get("campaigns", world.content_key, filter=text)
    assert response.status_code in (200, 400), response.content


# --- reads by id and by slug ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_campaign_or_offer_is_read_by_id_and_by_slug_in_ghosts_shape(world, team):
    campaign = Campaign.objects.get(team=team, name="Active 02")
    by_id = get(f"campaigns/{campaign.pk}", world.content_key, include="offer").json()
    assert by_id == {
        "campaigns": [
            {
                "id": str(campaign.pk),
                "name": "Active 02",
                "slug": "active-02",
                "offer": {
                    "id": str(campaign.offer_id),
                    "name": "Boots",
                    "slug": "boots",
                    "url": "https://boots.example.com",
                },
            }
        ]
    }
    assert get("campaigns/slug/active-02", world.content_key, include="offer").json() == by_id
    assert get("campaigns/slug/active-02/", world.content_key, fields="name").json() == {
        "campaigns": [{"name": "Active 02"}]
    }
    offer = get("offers/slug/boots", world.content_key).json()["offers"][0]
    assert get(f"offers/{offer['id']}", world.content_key).json() == {"offers": [offer]}


@pytest.mark.django_db
def test_a_read_answers_404_for_a_draft_another_teams_row_or_a_non_public_offer(world, team):
    draft = Campaign.objects.get(name="Draft")
    theirs = Campaign.objects.get(name="Other team only")
    hidden = Offer.objects.get(name="Hidden")
    for path in (
        f"campaigns/{draft.pk}",
        "campaigns/slug/draft",
        f"campaigns/{theirs.pk}",
        "campaigns/slug/other-team-only",
        f"campaigns/{uuid.uuid4()}",
        "campaigns/not-a-uuid",
        f"offers/{hidden.pk}",
        "offers/slug/hidden",
    ):
        assert code(get(path, world.content_key)) == (404, "not_found"), path
    assert code(get("campaigns/slug/active-01", world.content_key, filter="name:x")) == (400, "invalid_query")


@pytest.mark.django_db
def test_ghosts_trailing_slashes_are_tolerated(world):
    response = APIClient().get(f"{BASE}/campaigns/?key={world.content_key}&limit=5")
    assert response.status_code == 200 and len(response.json()["campaigns"]) == 5
    assert get("team/", world.content_key).status_code == 200


@pytest.mark.django_db
def test_seed_003s_request_is_answered(world):
    """`GET .../posts/?key=...&limit=5` with `Accept-Version: v5.0`, as seed 003's client sends it."""
    response = get("campaigns/", world.content_key, limit=5, headers={"HTTP_ACCEPT_VERSION": "v5.0"})
    assert response.status_code == 200 and response["Content-Version"] == "v1"
    assert len(response.json()["campaigns"]) == 5
