"""The key-management endpoints: interactive login only, own keys vs admin, raw key shown once."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from access import scopes
from apikeys.models import APIKey
from audit.models import Action, AuditEvent

from .factories import make_key

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/auth/api-keys"


def create(client, **body):
    body.setdefault("name", "Production Key")
    body.setdefault("permissions", ["read:campaigns", "write:campaigns", "read:stats"])
    return client.post(KEYS, body, format="json")


def test_the_seeds_create_example_works(as_user, owner, team):
    response = create(as_user(owner, team))
    assert response.status_code == 201
    body = response.json()
    assert body["raw_key"].startswith("gf_") and len(body["raw_key"]) == 41
    assert body["prefix"] == body["raw_key"][:11]
    assert body["permissions"] == ["read:campaigns", "write:campaigns", "read:stats"]
    assert body["status"] == "active"
    assert body["owner"]["username"] == "owner"
    assert AuditEvent.objects.filter(action=Action.KEY_CREATED, api_key_id=body["id"]).count() == 1


def test_the_raw_key_is_shown_once_and_stored_nowhere(as_user, owner, team):
    client = as_user(owner, team)
    raw = create(client).json()["raw_key"]
    listed = client.get(KEYS).json()["results"][0]
    assert listed["prefix"] == raw[:11] and "raw_key" not in listed and "key" not in listed
    assert raw not in client.get(KEYS).content.decode()
    assert raw not in client.get(f"{KEYS}/{listed['id']}").content.decode()
    # Not in any column of any table.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                assert all(raw not in str(value) for value in row), table


def test_legacy_permissions_are_stored_as_given_and_expanded_in_listings(as_user, owner, team):
    body = create(as_user(owner, team), permissions=["read"]).json()
    assert body["permissions"] == ["read"]
    assert set(body["scopes"]) == scopes.READ_SCOPES
    assert APIKey.objects.get().permissions == ["read"]


@pytest.mark.parametrize(
    "role, expected",
    [
        ("owner", scopes.READ_SCOPES),
        ("admin", scopes.READ_SCOPES),
        ("member", scopes.READ_SCOPES - {"read:billing"}),
        ("viewer", scopes.READ_SCOPES - {"read:billing"}),
    ],
)
def test_a_key_asked_for_by_name_only_is_read_only_and_says_so(request, as_user, team, role, expected):
    """Seed 004's body, `{"name"}`: least privilege (the read scopes of the creator's role), in the
    answer's `permissions`, instead of a 400."""
    user = request.getfixturevalue(role)
    response = as_user(user, team).post(KEYS, {"name": "ci-pipeline"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["permissions"] == scopes.sorted_scopes(expected)
    assert set(body["scopes"]) == expected
    assert APIKey.objects.get().permissions == body["permissions"]
    assert AuditEvent.objects.get(action=Action.KEY_CREATED).data["permissions"] == body["permissions"]


def test_a_name_only_key_cannot_write(as_user, as_key, owner, team):
    raw = as_user(owner, team).post(KEYS, {"name": "ci-pipeline"}, format="json").json()["raw_key"]
    client = as_key(raw, team)
    assert client.get("/api/v1/campaigns").status_code == 200
    response = client.post("/api/v1/campaigns", {"name": "no"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_an_unknown_scope_is_400_listing_the_valid_ones(as_user, owner, team):
    response = create(as_user(owner, team), permissions=["read:campaigns", "fly:rockets"])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_scope"
    assert body["unknown_scopes"] == ["fly:rockets"]
    assert "read:campaigns" in body["valid_scopes"] and "write" in body["valid_scopes"]
    assert not APIKey.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": []},
        {"permissions": "read"},
        {"permissions": [1]},
        {"name": ""},
        {"name": "x" * 101},
        {"expires_at": "yesterday"},
        {"expires_at": "2000-01-01T00:00:00Z"},
    ],
)
def test_bad_create_bodies_are_400_and_create_nothing(as_user, owner, team, body):
    response = create(as_user(owner, team), **body)
    assert response.status_code == 400
    assert not APIKey.objects.exists()


def test_a_key_above_the_callers_role_is_403_naming_the_excess(as_user, member, team):
    response = create(as_user(member, team), permissions=["read:campaigns", "read:billing", "admin"])
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "scope_exceeds_role"
    assert body["excess_scopes"] == ["read:billing", "admin"]
    assert not APIKey.objects.exists()


def test_a_viewer_cannot_mint_a_write_key(as_user, viewer, team):
    response = create(as_user(viewer, team), permissions=["write:campaigns"])
    assert response.status_code == 403


def test_the_active_key_cap_is_enforced(as_user, owner, team, settings):
    settings.API_KEY_MAX_ACTIVE_PER_USER = 2
    client = as_user(owner, team)
    assert create(client).status_code == 201
    assert create(client).status_code == 201
    response = create(client)
    assert response.status_code == 409
    assert response.json()["code"] == "key_limit_reached"
    # A revoked key frees a slot.
    key_id = client.get(KEYS).json()["results"][0]["id"]
    client.put(f"{KEYS}/{key_id}/revoke")
    assert create(client).status_code == 201


def test_an_api_key_cannot_use_the_key_endpoints(as_key, owner, team):
    _, raw = make_key(owner, team, ["admin"])
    key_id = APIKey.objects.get().pk
    client = as_key(raw, team)
    for method, url in [
        ("get", KEYS),
        ("post", KEYS),
        ("put", f"{KEYS}/{key_id}/revoke"),
        ("post", f"{KEYS}/{key_id}/regenerate"),
        ("delete", f"{KEYS}/{key_id}"),
        ("patch", f"{KEYS}/{key_id}"),
    ]:
        response = getattr(client, method)(url, {"name": "x", "permissions": ["admin"]}, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "interactive_login_required"
    assert APIKey.objects.count() == 1


def test_members_see_their_own_keys_and_admins_see_all(as_user, admin, member, team):
    make_key(admin, team, ["read"], name="admin's")
    make_key(member, team, ["read:campaigns"], name="member's")
    assert [k["name"] for k in as_user(member, team).get(KEYS).json()["results"]] == ["member's"]
    assert {k["name"] for k in as_user(admin, team).get(KEYS).json()["results"]} == {"admin's", "member's"}


def test_listing_filters_by_status(as_user, owner, team):
    make_key(owner, team, ["read"], name="active")
    revoked, _ = make_key(owner, team, ["read"], name="revoked")
    expired, _ = make_key(owner, team, ["read"], name="expired", expires_at=timezone.now() + timedelta(seconds=1))
    APIKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    APIKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = as_user(owner, team)
    for status in ("active", "revoked", "expired"):
        names = [k["name"] for k in client.get(KEYS, {"status": status}).json()["results"]]
        assert names == [status]
    assert client.get(KEYS, {"status": "nope"}).status_code == 400


def test_a_member_cannot_touch_someone_elses_key(as_user, admin, member, team):
    key, _ = make_key(admin, team, ["read"])
    client = as_user(member, team)
    assert client.get(f"{KEYS}/{key.pk}").status_code == 404
    assert client.put(f"{KEYS}/{key.pk}/revoke").status_code == 404
    assert client.post(f"{KEYS}/{key.pk}/regenerate", {}, format="json").status_code == 404
    assert client.delete(f"{KEYS}/{key.pk}").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_an_admin_revokes_a_members_key(as_user, admin, member, team):
    key, _ = make_key(member, team, ["read:campaigns"])
    assert as_user(admin, team).put(f"{KEYS}/{key.pk}/revoke").json()["status"] == "revoked"


def test_another_teams_key_is_404_even_for_its_owner_in_the_wrong_team(as_user, owner, outsider, other_team, team):
    key, _ = make_key(outsider, other_team, ["read"])
    assert as_user(owner, team).delete(f"{KEYS}/{key.pk}").status_code == 404
    assert APIKey.objects.filter(pk=key.pk).exists()


def test_revoking_twice_is_harmless(as_user, owner, team):
    key, _ = make_key(owner, team, ["read"])
    client = as_user(owner, team)
    first = client.put(f"{KEYS}/{key.pk}/revoke")
    second = client.put(f"{KEYS}/{key.pk}/revoke")
    assert first.status_code == second.status_code == 200
    assert first.json()["revoked_at"] == second.json()["revoked_at"]
    assert AuditEvent.objects.filter(action=Action.KEY_REVOKED).count() == 1


def test_deleting_a_key_keeps_its_audit_history(as_user, owner, team):
    key, _ = make_key(owner, team, ["read"])
    assert as_user(owner, team).delete(f"{KEYS}/{key.pk}").status_code == 204
    assert not APIKey.objects.exists()
    events = AuditEvent.objects.filter(key_prefix=key.prefix)
    assert {e.action for e in events} == {Action.KEY_CREATED, Action.KEY_DELETED}
    assert all(e.api_key_id is None and e.key_name == "test key" for e in events)


def test_regenerate_keeps_id_name_and_scopes(as_user, owner, team):
    key, raw = make_key(owner, team, ["read", "write:offers"], name="deploy")
    response = as_user(owner, team).post(f"{KEYS}/{key.pk}/regenerate", {"grace_seconds": 60}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(key.pk) and body["name"] == "deploy"
    assert body["permissions"] == ["read", "write:offers"]
    assert body["raw_key"] != raw and body["raw_key"].startswith("gf_")
    assert body["last_rotated_at"] is not None


@pytest.mark.parametrize("grace", [-1, 86401, "soon", None])
def test_regenerate_rejects_a_bad_grace(as_user, owner, team, grace):
    key, _ = make_key(owner, team, ["read"])
    response = as_user(owner, team).post(f"{KEYS}/{key.pk}/regenerate", {"grace_seconds": grace}, format="json")
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.last_rotated_at is None


def test_a_revoked_key_cannot_be_regenerated(as_user, owner, team):
    key, _ = make_key(owner, team, ["read"])
    client = as_user(owner, team)
    client.put(f"{KEYS}/{key.pk}/revoke")
    response = client.post(f"{KEYS}/{key.pk}/regenerate", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "key_already_revoked"  # `key_revoked` is the 401 of using one


def test_patch_renames_but_refuses_to_change_team_owner_secret_or_scopes(as_user, owner, other_team, team):
    key, _ = make_key(owner, team, ["read:campaigns"])
    client = as_user(owner, team)
    assert client.patch(f"{KEYS}/{key.pk}", {"name": "renamed"}, format="json").json()["name"] == "renamed"
    for field, value in [
        ("team", str(other_team.pk)),
        ("user", str(owner.pk)),
        ("owner", str(owner.pk)),
        ("digest", "0" * 64),
        ("permissions", ["admin"]),
        ("scopes", ["admin"]),
    ]:
        response = client.patch(f"{KEYS}/{key.pk}", {"name": "x", field: value}, format="json")
        assert response.status_code == 400, field
        assert field in response.json()["errors"]
    fresh = APIKey.objects.get()
    assert (fresh.team_id, fresh.permissions, fresh.digest, fresh.name) == (
        team.pk,
        ["read:campaigns"],
        key.digest,
        "renamed",
    )


def test_create_api_key_command_prints_the_key_once(owner, team, capsys):
    call_command("create_api_key", user="owner", team=str(team.pk), name="cli", permissions=["read", "write:campaigns"])
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("gf_")
    key = APIKey.objects.get()
    assert key.permissions == ["read", "write:campaigns"] and key.digest != raw


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user": "nobody"},
        {"team": "not-a-uuid"},
        {"permissions": ["bogus"]},
        {"expires_at": "tomorrow"},
    ],
)
def test_create_api_key_command_refuses_bad_input(owner, team, kwargs):
    args = {"user": "owner", "team": str(team.pk), "name": "cli", "permissions": ["read"], **kwargs}
    with pytest.raises(CommandError):
        call_command("create_api_key", **args)
    assert not APIKey.objects.exists()


def test_admin_lists_keys_masked_and_never_shows_the_digest(owner, team):
    key, raw = make_key(owner, team, ["read"])
    operator = Client()
    operator.force_login(type(owner).objects.create_superuser("op", "op@example.com", "pw-op-12345"))
    html = operator.get("/admin/apikeys/apikey/").content.decode()
    assert key.prefix in html and key.digest not in html and raw not in html
    html = operator.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()
    assert key.digest not in html and raw not in html
    assert operator.get("/admin/apikeys/apikey/add/").status_code == 403
    operator.post("/admin/apikeys/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    for status in ("active", "revoked", "expired"):
        assert operator.get("/admin/apikeys/apikey/", {"status": status}).status_code == 200
