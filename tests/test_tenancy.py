"""One tenant-filtering mechanism (access/tenancy.py), and the guard that proves views use it.

Every request of the suite runs under tests/tenancy_guard.py (config/test_settings.py installs
it): a statement on a tenant table that does not go through `for_team` (with the request's team)
or a named `across_teams` fails the test that made the request. Here: the mechanism itself, the
inventory of tenant models, every API view read once under the guard, and views that break the
rule on purpose (in this module's URLconf) to show the guard catches each way of doing it.
"""

import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.urls import include, path
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from access.tenancy import TenantQuerySet
from access.views import ANY_MEMBER, TeamScopedMixin
from audit.models import AuditEvent
from integrations.models import Integration
from teams.models import Invitation, Membership, Team
from tracking.models import Campaign, Domain, Network, Offer, Source
from tracking.serializers import CampaignSerializer

from .factories import AuditEventFactory, CampaignFactory, InvitationFactory, OfferFactory, make_integration
from .tenancy_guard import TenancyViolation, dispatch, tenant_models

pytestmark = pytest.mark.django_db


def test_the_guard_is_installed_first():
    assert settings.MIDDLEWARE[0] == "tests.tenancy_guard.TenancyGuardMiddleware"


def test_the_guard_leaves_a_tests_own_execute_wrapper_to_it(as_user, owner, team):
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert as_user(owner, team).get("/api/v1/campaigns").status_code == 200
    assert statements and count not in connection.execute_wrappers
    assert connection.execute_wrappers[0] is dispatch


def test_every_model_with_a_team_reads_through_the_tenant_queryset():
    from apikeys.models import APIKey

    found = tenant_models()
    assert found >= {Membership, Invitation, APIKey, Integration, AuditEvent, Campaign, Domain, Offer, Source, Network}
    for model in found:
        assert isinstance(model.objects.all(), TenantQuerySet), model
        assert model._default_manager is model.objects, model


def test_for_team_is_exactly_the_team_filter_and_across_teams_adds_nothing(team):
    assert str(Campaign.objects.for_team(team).filter(status="active").query) == str(
        Campaign.objects.filter(team=team).filter(status="active").query
    )
    assert str(Campaign.objects.for_team(str(team.pk)).query) == str(Campaign.objects.filter(team=team).query)
    assert str(Campaign.objects.across_teams(reason="a test").filter(status="active").query) == str(
        Campaign.objects.filter(status="active").query
    )


def test_for_team_and_across_teams_read_what_they_say(team, other_team):
    ours, theirs = CampaignFactory(team=team), CampaignFactory(team=other_team)
    assert list(Campaign.objects.for_team(team)) == [ours]
    assert list(Campaign.objects.for_team(other_team.pk)) == [theirs]
    assert set(Campaign.objects.across_teams(reason="a test")) == {ours, theirs}
    assert Campaign.objects.for_team(team).count() == 1 and Campaign.objects.for_team(team).exists()


def test_no_team_is_never_every_team_nor_the_teamless_rows(team):
    AuditEventFactory(team=None)
    with pytest.raises(ValueError):
        AuditEvent.objects.for_team(None)
    with pytest.raises(TypeError):
        AuditEvent.objects.for_team(42)
    with pytest.raises(TypeError):  # a membership is not its team
        AuditEvent.objects.for_team(Membership(team=team, id=1))
    with pytest.raises(ValueError):
        AuditEvent.objects.across_teams(reason=" ")


# --- every API view, once, under the guard ---------------------------------------------------------


@pytest.fixture
def two_teams_of_everything(team, other_team, owner, outsider):
    """Rows of every tenant model in both teams, so a view that reads too much has something to find."""
    rows = {}
    for which, (t, user) in {"ours": (team, owner), "theirs": (other_team, outsider)}.items():
        offer = OfferFactory(team=t)
        rows[which] = {
            "campaign": CampaignFactory(team=t, offer=offer, status=Campaign.Status.ACTIVE),
            "offer": offer,
            "integration": make_integration(user, t),
            "invitation": InvitationFactory(team=t, invited_by=user),
            "event": AuditEventFactory(team=t),
        }
    from .factories import make_key

    rows["ours"]["key"] = make_key(owner, team)[0]
    return rows


def test_every_api_view_reads_tenant_rows_only_through_the_mechanism(
    api_views, as_user, owner, team, two_teams_of_everything
):
    """GET on every /api/v1/ endpoint as the team's owner, with ids of the team's own rows:
    the guard refuses any statement on a tenant table that is not `for_team(team)` or a named
    `across_teams`. Change one view to `filter(team=...)` and this test fails."""
    ours = two_teams_of_everything["ours"]
    ids = {"key_id": ours["key"].pk, "integration_id": ours["integration"].integration.pk, "user_id": owner.pk}
    client = as_user(owner, team)
    read = 0
    for route, view in api_views:
        if "get" not in view.http_method_names or not hasattr(view, "get"):
            continue
        kwargs = {}
        for name in ("object_id", "key_id", "integration_id", "family_id"):
            if f"<uuid:{name}>" in route:
                model = getattr(view, "model", None)
                kwargs[name] = ids.get(name) or (
                    model.objects.for_team(team).values_list("pk", flat=True).first() if model else uuid.uuid4()
                )
        url = "/api/v1/" + route
        for name, value in kwargs.items():
            url = url.replace(f"<uuid:{name}>", str(value))
        response = client.get(url)  # TenancyViolation when a statement breaks the rule
        assert response.status_code < 500, (url, response.status_code)
        read += 1
    assert read >= 20


def test_every_content_api_view_reads_only_its_integrations_team(client, two_teams_of_everything):
    ours = two_teams_of_everything["ours"]
    key = ours["integration"].content_key
    campaign, offer = ours["campaign"], ours["offer"]
    for path_ in (
        "campaigns",
        f"campaigns/{campaign.pk}",
        f"campaigns/slug/{campaign.slug}",
        "offers",
        f"offers/{offer.pk}",
        f"offers/slug/{offer.slug}",
        "team",
    ):
        params = {"key": key, "include": "offer"} if path_ == "campaigns" else {"key": key}
        response = client.get(f"/api/content/v1/{path_}", params)
        assert response.status_code == 200, (path_, response.content)


# --- views that break the rule on purpose ----------------------------------------------------------


class Rogue(TeamScopedMixin, generics.ListAPIView):
    """Lists campaigns with `self.rows()`; each subclass gets them another way."""

    scope = ANY_MEMBER
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return self.rows(self.request.access.team)


def _rogue(name, rows):
    return type(name, (Rogue,), {"rows": staticmethod(rows)})


class CountView(TeamScopedMixin, APIView):
    scope = ANY_MEMBER
    count = None

    def get(self, request):
        return Response({"count": self.count(request)})


def _raw_count(request):
    with connection.cursor() as cursor:
        cursor.execute('SELECT COUNT(*) FROM "tracking_campaign"')
        return cursor.fetchone()[0]


def _other_team(request):
    return Team.objects.exclude(pk=request.access.team.pk).first()


ROGUES = {
    "hand-filtered": _rogue("HandFiltered", lambda team: Campaign.objects.filter(team=team)),
    "unfiltered": _rogue("Unfiltered", lambda team: Campaign.objects.all()),
    "by-team-id": _rogue("ByTeamId", lambda team: Campaign.objects.filter(team_id=team.pk)),
    "or-another": _rogue(
        "OrAnother", lambda team: Campaign.objects.for_team(team) | Campaign.objects.filter(status="active")
    ),
    "unfiltered-subquery": _rogue(
        "UnfilteredSubquery",
        lambda team: Campaign.objects.for_team(team).filter(offer__in=Offer.objects.filter(name__startswith="O")),
    ),
}
COUNTS = {
    "members-by-hand": lambda request: Membership.objects.filter(team=request.access.team).count(),
    "related-manager": lambda request: request.user.memberships.count(),
    "another-team": lambda request: Campaign.objects.for_team(_other_team(request)).count(),
    "raw-sql": _raw_count,
    "update-by-hand": lambda request: Campaign.objects.filter(team=request.access.team).update(name="x"),
    "delete-by-hand": lambda request: Campaign.objects.filter(team=request.access.team).delete()[0],
}
ALLOWED = {
    "for-team": _rogue("ForTeam", lambda team: Campaign.objects.for_team(team)),
    "for-team-with-subquery": _rogue(
        "ForTeamWithSubquery",
        lambda team: Campaign.objects.for_team(team).filter(offer__in=Offer.objects.for_team(team)),
    ),
}
ALLOWED_COUNTS = {
    "own-memberships": lambda request: Membership.objects.of_user(request.user).count(),
    "deliberately-across": lambda request: Campaign.objects.across_teams(reason="a test").count(),
    "update-for-team": lambda request: Campaign.objects.for_team(request.access.team).update(name="x"),
    "delete-for-team": lambda request: Campaign.objects.for_team(request.access.team).delete()[0],
    "instance-delete": lambda request: Campaign.objects.for_team(request.access.team).get().delete()[0],
}

urlpatterns = [
    *[path(f"api/v1/rogue/{name}", view.as_view()) for name, view in {**ROGUES, **ALLOWED}.items()],
    *[
        path(f"api/v1/rogue-count/{name}", type("Count", (CountView,), {"count": staticmethod(count)}).as_view())
        for name, count in {**COUNTS, **ALLOWED_COUNTS}.items()
    ],
    path("", include("config.urls")),
]


@pytest.fixture
def campaigns_of_two_teams(team, other_team):
    for t in (team, other_team):
        CampaignFactory(team=t, offer=OfferFactory(team=t), status=Campaign.Status.ACTIVE)


@pytest.mark.urls("tests.test_tenancy")
@pytest.mark.parametrize("name", sorted(ROGUES))
def test_the_guard_refuses_a_listing_that_does_not_go_through_for_team(
    name, as_user, owner, team, campaigns_of_two_teams
):
    with pytest.raises(TenancyViolation, match=r"(Campaign|Offer) read without for_team\(\) or across_teams\(\)"):
        as_user(owner, team).get(f"/api/v1/rogue/{name}")


@pytest.mark.urls("tests.test_tenancy")
@pytest.mark.parametrize("name", sorted(COUNTS))
def test_the_guard_refuses_counts_writes_related_managers_other_teams_and_raw_sql(
    name, as_user, owner, team, campaigns_of_two_teams
):
    with pytest.raises(TenancyViolation):
        as_user(owner, team).get(f"/api/v1/rogue-count/{name}")


@pytest.mark.urls("tests.test_tenancy")
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_the_guard_lets_for_team_through(name, as_user, owner, team, campaigns_of_two_teams):
    response = as_user(owner, team).get(f"/api/v1/rogue/{name}")
    assert response.status_code == 200 and len(response.json()["results"]) == 1


@pytest.mark.urls("tests.test_tenancy")
@pytest.mark.parametrize("name", sorted(ALLOWED_COUNTS))
def test_the_guard_lets_a_named_read_across_teams_through(name, as_user, owner, team, campaigns_of_two_teams):
    assert as_user(owner, team).get(f"/api/v1/rogue-count/{name}").status_code == 200
