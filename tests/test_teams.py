import pytest

from access.scopes import Role
from audit.models import Action, AuditEvent
from teams.models import Membership, Team

from .factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def role_of(user, team):
    return Membership.objects.get(user=user, team=team).role


def test_teams_lists_the_callers_teams_with_role(as_user, owner, team, other_team):
    MembershipFactory(user=owner, team=other_team, role=Role.VIEWER)
    unrelated = Team.objects.create(name="Not mine")
    response = as_user(owner).get("/api/v1/teams")
    assert response.status_code == 200
    roles = {item["id"]: item["role"] for item in response.json()["results"]}
    assert roles == {str(team.pk): "owner", str(other_team.pk): "viewer"}
    assert str(unrelated.pk) not in roles


def test_creating_a_team_makes_the_caller_owner(as_user, member):
    response = as_user(member).post("/api/v1/teams", {"name": "  New team "}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "New team"
    assert body["role"] == "owner"
    assert AuditEvent.objects.filter(action=Action.TEAM_CREATED, team_id=body["id"]).exists()


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": None}])
def test_creating_a_team_validates_the_name(as_user, member, body):
    response = as_user(member).post("/api/v1/teams", body, format="json")
    assert response.status_code == 400
    assert Team.objects.count() == 1


def test_an_admin_renames_the_team(as_user, admin, team):
    response = as_user(admin, team).patch("/api/v1/team", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    team.refresh_from_db()
    assert team.name == "Renamed"


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_renaming_needs_admin(as_user, team, role):
    user = MembershipFactory(team=team, role=role).user
    response = as_user(user, team).patch("/api/v1/team", {"name": "Renamed"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["required_scope"] == "admin"


def test_only_an_owner_deletes_the_team(as_user, owner, admin, team):
    response = as_user(admin, team).delete("/api/v1/team")
    assert response.status_code == 403
    assert response.json()["code"] == "owner_required"
    assert as_user(owner, team).delete("/api/v1/team").status_code == 204
    assert not Team.objects.filter(pk=team.pk).exists()


def test_members_are_listed_for_any_member(as_user, owner, viewer, team):
    response = as_user(viewer, team).get("/api/v1/team/members")
    assert response.status_code == 200
    assert {m["username"] for m in response.json()["results"]} == {"owner", "viewer"}


def test_an_admin_changes_a_role(as_user, admin, member, team):
    url = f"/api/v1/team/members/{member.pk}"
    response = as_user(admin, team).patch(url, {"role": "viewer"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"
    assert role_of(member, team) == Role.VIEWER
    event = AuditEvent.objects.get(action=Action.MEMBER_ROLE_CHANGED)
    assert event.data == {"user_id": str(member.pk), "from": "member", "to": "viewer"}


def test_nobody_grants_a_role_above_their_own(as_user, admin, member, team):
    response = as_user(admin, team).patch(f"/api/v1/team/members/{member.pk}", {"role": "owner"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_above_own"
    assert role_of(member, team) == Role.MEMBER


def test_nobody_promotes_themselves(as_user, admin, team):
    response = as_user(admin, team).patch(f"/api/v1/team/members/{admin.pk}", {"role": "owner"}, format="json")
    assert response.status_code == 403
    assert role_of(admin, team) == Role.ADMIN


def test_an_admin_cannot_demote_or_remove_an_owner(as_user, owner, admin, team):
    client = as_user(admin, team)
    assert client.patch(f"/api/v1/team/members/{owner.pk}", {"role": "viewer"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/team/members/{owner.pk}").status_code == 403
    assert role_of(owner, team) == Role.OWNER


def test_a_member_cannot_change_roles(as_user, member, viewer, team):
    response = as_user(member, team).patch(f"/api/v1/team/members/{viewer.pk}", {"role": "member"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_demoting_the_last_owner_is_409(as_user, owner, team):
    response = as_user(owner, team).patch(f"/api/v1/team/members/{owner.pk}", {"role": "admin"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert role_of(owner, team) == Role.OWNER


def test_removing_the_last_owner_is_409(as_user, owner, team):
    response = as_user(owner, team).delete(f"/api/v1/team/members/{owner.pk}")
    assert response.status_code == 409
    assert Membership.objects.filter(user=owner, team=team).exists()


def test_an_owner_may_step_down_when_another_owner_exists(as_user, owner, team):
    second = MembershipFactory(team=team, role=Role.OWNER).user
    client = as_user(owner, team)
    assert client.patch(f"/api/v1/team/members/{owner.pk}", {"role": "admin"}, format="json").status_code == 200
    # now `second` is the last owner
    response = as_user(second, team).patch(f"/api/v1/team/members/{second.pk}", {"role": "admin"}, format="json")
    assert response.status_code == 409


def test_anyone_may_remove_themselves(as_user, owner, viewer, team):
    assert as_user(viewer, team).delete(f"/api/v1/team/members/{viewer.pk}").status_code == 204
    assert not Membership.objects.filter(user=viewer, team=team).exists()


def test_a_member_cannot_remove_someone_else(as_user, member, viewer, team):
    response = as_user(member, team).delete(f"/api/v1/team/members/{viewer.pk}")
    assert response.status_code == 403
    assert Membership.objects.filter(user=viewer, team=team).exists()


def test_an_admin_removes_a_member(as_user, admin, member, team):
    assert as_user(admin, team).delete(f"/api/v1/team/members/{member.pk}").status_code == 204
    assert AuditEvent.objects.filter(action=Action.MEMBER_REMOVED, team=team).exists()


def test_a_member_of_another_team_is_404(as_user, owner, outsider, team):
    response = as_user(owner, team).patch(f"/api/v1/team/members/{outsider.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("role", ["superuser", "", None, 5, ["owner"]])
def test_an_unknown_role_is_400(as_user, owner, member, team, role):
    response = as_user(owner, team).patch(f"/api/v1/team/members/{member.pk}", {"role": role}, format="json")
    assert response.status_code == 400
    assert role_of(member, team) == Role.MEMBER


def test_a_malformed_user_id_is_404(as_user, owner, team):
    assert as_user(owner, team).delete("/api/v1/team/members/not-a-uuid").status_code == 404


def test_a_removed_member_loses_access_on_the_next_request(as_user, admin, member, team):
    client = as_user(member, team)
    assert client.get("/api/v1/team").status_code == 200
    as_user(admin, team).delete(f"/api/v1/team/members/{member.pk}")
    assert client.get("/api/v1/team").status_code == 403


def test_a_new_user_has_no_teams(as_user):
    response = as_user(UserFactory()).get("/api/v1/teams")
    assert response.json()["results"] == []


def test_an_empty_patch_changes_nothing(as_user, admin, member, team):
    client = as_user(admin, team)
    assert client.patch("/api/v1/team", {}, format="json").json()["name"] == "Acme"
    assert client.patch(f"/api/v1/team/members/{member.pk}", {}, format="json").json()["role"] == "member"
    assert not AuditEvent.objects.filter(action__in=[Action.TEAM_UPDATED, Action.MEMBER_ROLE_CHANGED]).exists()


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(monkeypatch):
    import threading
    import time

    from django.db import connection
    from django.test import Client

    from accounts.sessions import start_session
    from teams import services

    from .factories import TeamFactory

    real_check = services._other_owners_exist

    def slow_check(membership):
        # Widen the race: both requests have checked before either writes, unless they are serialised.
        answer = real_check(membership)
        time.sleep(0.3)
        return answer

    monkeypatch.setattr(services, "_other_owners_exist", slow_check)

    team = TeamFactory()
    first = MembershipFactory(team=team, role=Role.OWNER).user
    second = MembershipFactory(team=team, role=Role.OWNER).user
    results, barrier = [], threading.Barrier(2)

    def demote(actor, target):
        try:
            token = start_session(user=actor).access_token
            barrier.wait()
            response = Client().patch(
                f"/api/v1/team/members/{target.pk}",
                {"role": "admin"},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                HTTP_X_TEAM_ID=str(team.pk),
            )
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Membership.objects.filter(team=team, role=Role.OWNER).count() == 1
    # The loser was either refused as the last owner or lost its own right to demote an owner.
    assert sorted(results)[0] == 200 and sorted(results)[1] in (403, 409), results


@pytest.mark.parametrize("change", ["role", "remove"])
def test_a_member_removed_by_a_concurrent_request_is_a_404_not_a_500(owner, member, team, change):
    from rest_framework.exceptions import NotFound

    from teams import services

    actor = Membership.objects.get(user=owner, team=team)
    target = Membership.objects.get(user=member, team=team)  # what the view looked up...
    Membership.objects.filter(pk=target.pk).delete()  # ...before another request removed it
    with pytest.raises(NotFound):
        if change == "role":
            services.change_role(actor=services.Actor.member(actor), target=target, role=Role.VIEWER)
        else:
            services.remove_member(actor=services.Actor.member(actor), target=target)
    assert not AuditEvent.objects.filter(action__in=[Action.MEMBER_ROLE_CHANGED, Action.MEMBER_REMOVED]).exists()
