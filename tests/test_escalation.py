"""Acting *through* someone else's credential never lets a caller exceed their own role.

The attack these tests replay: an admin regenerated the owner's key (receiving its new secret),
then used it to promote themselves to owner, demote the real owner and delete the team, with the
audit log naming the real owner as the actor.
"""

import pytest

from access.scopes import Role
from apikeys.models import APIKey
from audit.models import Action, AuditEvent
from teams.models import Membership, Team

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/auth/api-keys"


def test_an_admin_cannot_regenerate_the_owners_key(as_user, admin, owner, team, key_for):
    key, _ = key_for(owner, team)
    digest = key.digest
    response = as_user(admin, team).post(f"{KEYS}/{key.pk}/regenerate", {"grace_seconds": 86400}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "key_owner_only"
    assert "raw_key" not in body
    key.refresh_from_db()
    assert key.digest == digest and key.previous_digest is None
    assert not AuditEvent.objects.filter(action=Action.KEY_REGENERATED).exists()


def test_an_admin_still_revokes_and_deletes_the_owners_key(as_user, admin, owner, team, key_for):
    revoked, _ = key_for(owner, team, name="to revoke")
    deleted, _ = key_for(owner, team, name="to delete")
    client = as_user(admin, team)
    assert client.put(f"{KEYS}/{revoked.pk}/revoke").status_code == 200
    assert client.delete(f"{KEYS}/{deleted.pk}").status_code == 204
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None
    assert not APIKey.objects.filter(pk=deleted.pk).exists()


def test_the_owner_regenerates_their_own_key(as_user, owner, team, key_for):
    key, _ = key_for(owner, team)
    response = as_user(owner, team).post(f"{KEYS}/{key.pk}/regenerate", {}, format="json")
    assert response.status_code == 200
    assert response.json()["raw_key"].startswith("gf_")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "members/{admin}", {"role": "owner"}),
        ("patch", "members/{owner}", {"role": "viewer"}),
        ("delete", "members/{owner}", None),
        ("delete", "members/{self}", None),
        ("post", "invitations", {"email": "friend@example.com", "role": "admin"}),
        ("delete", "", None),
    ],
)
def test_membership_invitation_and_team_deletion_changes_refuse_api_keys(
    as_key, key_for, owner, admin, team, method, path, body
):
    # The owner's own admin key: whoever holds it must still log in to change who is in the team.
    _, raw = key_for(owner, team, permissions=["admin"])
    url = "/api/v1/team" + ("/" + path.format(admin=admin.pk, owner=owner.pk, self=owner.pk) if path else "")
    client = as_key(raw, team)
    response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    assert response.status_code == 403
    assert response.json()["code"] == "interactive_login_required"
    assert Membership.objects.get(user=owner, team=team).role == Role.OWNER
    assert Membership.objects.get(user=admin, team=team).role == Role.ADMIN
    assert Team.objects.filter(pk=team.pk).exists()
    assert not AuditEvent.objects.filter(
        action__in=[Action.MEMBER_ROLE_CHANGED, Action.MEMBER_REMOVED, Action.INVITATION_CREATED, Action.TEAM_DELETED]
    ).exists()


def test_the_whole_escalation_chain_fails_for_an_admin(as_user, as_key, admin, owner, team, key_for):
    key, _ = key_for(owner, team, permissions=["admin"])
    stolen = as_user(admin, team).post(f"{KEYS}/{key.pk}/regenerate", {"grace_seconds": 86400}, format="json")
    assert stolen.status_code == 403
    # Without the owner's secret, the admin's own login cannot outrank the owner either.
    client = as_user(admin, team)
    assert client.patch(f"/api/v1/team/members/{admin.pk}", {"role": "owner"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/team/members/{owner.pk}", {"role": "viewer"}, format="json").status_code == 403
    assert client.delete("/api/v1/team").json()["code"] == "owner_required"
    assert Membership.objects.get(user=owner, team=team).role == Role.OWNER


def test_a_security_event_made_with_a_key_records_the_key(as_key, key_for, owner, team):
    key, raw = key_for(owner, team, permissions=["admin"])
    response = as_key(raw, team).patch("/api/v1/team", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.TEAM_UPDATED)
    assert event.actor_id == owner.pk
    assert event.api_key_id == key.pk
    assert event.key_prefix == key.prefix


def test_a_security_event_made_with_a_login_names_no_key(as_user, owner, team, key_for):
    key_for(owner, team)
    assert as_user(owner, team).patch("/api/v1/team", {"name": "Renamed"}, format="json").status_code == 200
    event = AuditEvent.objects.get(action=Action.TEAM_UPDATED)
    assert event.actor_id == owner.pk and event.api_key_id is None


def test_no_key_is_made_for_a_membership_removed_meanwhile(member, team):
    from apikeys.services import create_key
    from infra.errors import APIError

    stale = Membership.objects.get(user=member, team=team)  # what the request's team step loaded
    Membership.objects.filter(pk=stale.pk).delete()  # ...before a concurrent removal committed
    with pytest.raises(APIError) as refused:
        create_key(membership=stale, name="late", permissions=["read:campaigns"])
    assert refused.value.code == "team_forbidden"
    assert not APIKey.objects.exists()
