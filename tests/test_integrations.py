"""Team-owned integrations: the management API, Admin-key tokens (seed 002) verified reason by
reason, the team binding and scopes, the audit trail, and secrets at rest."""

import time

import jwt
import pytest
from django.db import connection
from rest_framework.test import APIClient

from access.scopes import Role
from audit.models import Action, AuditEvent
from integrations import tokens
from integrations.models import Integration
from teams.models import Membership
from tracking.models import Campaign

from .factories import make_integration

INTEGRATIONS = "/api/v1/integrations"
CAMPAIGNS = "/api/v1/campaigns"


def as_token(token, team=None, scheme="Ghost"):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"}
    if team is not None:
        headers["HTTP_X_TEAM_ID"] = str(team.pk)
    client.credentials(**headers)
    return client


@pytest.fixture
def issued(admin, team):
    return make_integration(admin, team, permissions=["read:campaigns", "write:campaigns"], name="CI")


# --- the management API ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_creates_an_integration_and_sees_the_admin_key_once(as_user, admin, team):
    response = as_user(admin, team).post(
        INTEGRATIONS,
        {"name": "Zapier", "permissions": ["read"], "allowed_origins": ["https://shop.example.com/"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    key_id, _, secret = body["admin_key"].partition(":")
    assert len(key_id) == 24 and len(secret) == 64 and int(secret, 16) >= 0
    assert len(body["content_key"]) == 26
    assert body["admin_key_id"] == key_id
    assert body["allowed_origins"] == ["https://shop.example.com"]
    listed = as_user(admin, team).get(INTEGRATIONS).json()["results"][0]
    assert "admin_key" not in listed and listed["admin_key_id"] == key_id
    assert secret not in str(as_user(admin, team).get(f"{INTEGRATIONS}/{body['id']}").json())
    event = AuditEvent.objects.get(action=Action.INTEGRATION_CREATED)
    assert str(event.integration_id) == body["id"] and secret not in str(event.data)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_only_admins_manage_integrations(as_user, team, role, owner):
    from .factories import UserFactory

    user = UserFactory(username=f"u-{role}")
    Membership.objects.create(team=team, user=user, role=role)
    response = as_user(user, team).post(INTEGRATIONS, {"name": "x", "permissions": ["read"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


@pytest.mark.django_db
def test_a_key_or_an_integration_cannot_manage_integrations(as_key, key_for, admin, team, issued):
    _, raw = key_for(admin, team, permissions=["admin"])
    response = as_key(raw, team).post(INTEGRATIONS, {"name": "x", "permissions": ["read"]}, format="json")
    assert response.json()["code"] == "interactive_login_required"
    everything = make_integration(admin, team, permissions=["admin"])
    response = as_token(tokens.sign(everything.admin_key), team).get(INTEGRATIONS)
    assert response.json()["code"] == "interactive_login_required"


@pytest.mark.django_db
def test_permissions_never_exceed_the_creating_admins_role_nor_admin(as_user, team):
    from .factories import UserFactory

    member = UserFactory(username="m2")
    Membership.objects.create(team=team, user=member, role=Role.ADMIN)
    response = as_user(member, team).post(INTEGRATIONS, {"name": "x", "permissions": ["nope"]}, format="json")
    assert response.json()["code"] == "unknown_scope"


@pytest.mark.django_db
def test_another_teams_integration_is_not_found(as_user, outsider, other_team, issued):
    Membership.objects.filter(user=outsider).update(role=Role.OWNER)
    response = as_user(outsider, other_team).get(f"{INTEGRATIONS}/{issued.integration.pk}")
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("origin", ["javascript:alert(1)", "https://x.example.com/path", "https://*.example.com", "x"])
def test_allowed_origins_must_be_origins(as_user, admin, team, origin):
    response = as_user(admin, team).post(
        INTEGRATIONS, {"name": "x", "permissions": ["read"], "allowed_origins": [origin]}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_origin")
    assert not Integration.objects.exists()


# --- Admin-key tokens --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Ghost", "Bearer"])
def test_a_signed_token_acts_within_the_integrations_scopes(issued, team, scheme):
    client = as_token(tokens.sign(issued.admin_key), team, scheme)
    assert client.get(CAMPAIGNS).status_code == 200
    assert client.post(CAMPAIGNS, {"name": "From CI"}, format="json").status_code == 201
    response = client.get("/api/v1/stats")
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


def _forge(issued, *, header=None, secret=None, **claims):
    kid, _, real_secret = issued.admin_key.partition(":")
    now = int(time.time())
    payload = {"iat": now, "exp": now + 300, "aud": tokens.ADMIN_AUDIENCE}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    headers = {"kid": kid, "typ": "JWT", **(header or {})}
    return jwt.encode(payload, bytes.fromhex(secret or real_secret), algorithm="HS256", headers=headers)


WRONG_TOKENS = {
    "expired": (lambda i: _forge(i, iat=int(time.time()) - 400, exp=int(time.time()) - 100), "token_expired"),
    "lifetime over 5 minutes": (lambda i: _forge(i, exp=int(time.time()) + 301), "token_lifetime_too_long"),
    "another version's audience": (lambda i: _forge(i, aud="/v2/admin/"), "audience_invalid"),
    "admin without its slashes": (lambda i: _forge(i, aud="admin"), "audience_invalid"),
    "audience list without ours": (lambda i: _forge(i, aud=["/content/", "/members/"]), "audience_invalid"),
    "content audience": (lambda i: _forge(i, aud="/content/"), "audience_invalid"),
    "no exp": (lambda i: _forge(i, exp=None), "token_claims_missing"),
    "no iat": (lambda i: _forge(i, iat=None), "token_claims_missing"),
    "no aud": (lambda i: _forge(i, aud=None), "token_claims_missing"),
    "iat in the future": (
        lambda i: _forge(i, iat=int(time.time()) + 120, exp=int(time.time()) + 300),
        "token_not_yet_valid",
    ),
    "unknown kid": (lambda i: _forge(i, header={"kid": "0" * 24}), "kid_unknown"),
    "kid not an id": (lambda i: _forge(i, header={"kid": "../../etc"}), "kid_unknown"),
    "kid in the payload, none in the header": (
        lambda i: jwt.encode(
            {"iat": int(time.time()), "exp": int(time.time()) + 60, "aud": "/admin/", "kid": i.admin_key[:24]},
            bytes.fromhex(i.admin_key.split(":")[1]),
            algorithm="HS256",
        ),
        "token_kid_in_payload",
    ),
    "another secret": (lambda i: _forge(i, secret="ab" * 32), "signature_invalid"),
    "alg none": (
        lambda i: jwt.encode(
            {"iat": int(time.time()), "exp": int(time.time()) + 60, "aud": tokens.ADMIN_AUDIENCE},
            None,
            algorithm="none",
            headers={"kid": i.admin_key.split(":")[0]},
        ),
        "token_algorithm_invalid",
    ),
    "HS512": (
        lambda i: jwt.encode(
            {"iat": int(time.time()), "exp": int(time.time()) + 60, "aud": tokens.ADMIN_AUDIENCE},
            bytes.fromhex(i.admin_key.split(":")[1]),
            algorithm="HS512",
            headers={"kid": i.admin_key.split(":")[0]},
        ),
        "token_algorithm_invalid",
    ),
    "not a jwt": (lambda i: "not.a.jwt", "token_malformed"),
    "typ not JWT": (lambda i: _forge(i, header={"typ": "at+jwt"}), "token_malformed"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("audience", ["/admin/", "/v1/admin/"])
@pytest.mark.parametrize("scheme", ["Ghost", "Bearer"])
def test_ghost_5s_unversioned_audience_and_ours_are_accepted(issued, team, audience, scheme):
    """Ghost 5's Admin API client signs `aud: "/admin/"`; this API's own audience is `/v1/admin/`."""
    response = as_token(_forge(issued, aud=audience), team, scheme).get(CAMPAIGNS)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Ghost", "Bearer"])
def test_a_kid_in_the_payload_is_refused_saying_where_it_belongs(issued, team, scheme):
    kid, _, secret = issued.admin_key.partition(":")
    now = int(time.time())
    token = jwt.encode(
        {"iat": now, "exp": now + 60, "aud": "/admin/", "kid": kid}, bytes.fromhex(secret), algorithm="HS256"
    )
    response = as_token(token, team, scheme).get(CAMPAIGNS)
    assert (response.status_code, response.json()["code"]) == (401, "token_kid_in_payload")
    assert "header" in response.json()["detail"]
    # In both places, the header's kid is the one read: a valid token.
    both = jwt.encode(
        {"iat": now, "exp": now + 60, "aud": "/admin/", "kid": kid},
        bytes.fromhex(secret),
        algorithm="HS256",
        headers={"kid": kid},
    )
    assert as_token(both, team, scheme).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(WRONG_TOKENS))
def test_each_wrong_token_is_refused_with_its_code(issued, team, case):
    make, code = WRONG_TOKENS[case]
    response = as_token(make(issued), team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_a_token_of_a_regenerated_or_deleted_integration_fails(as_user, admin, team, issued):
    token = tokens.sign(issued.admin_key)
    assert as_token(token, team).get(CAMPAIGNS).status_code == 200
    response = as_user(admin, team).post(f"{INTEGRATIONS}/{issued.integration.pk}/regenerate-admin-key")
    assert response.status_code == 200
    new_key = response.json()["admin_key"]
    assert as_token(token, team).get(CAMPAIGNS).json()["code"] == "kid_unknown"
    # the old id with the new id's secret does not work either
    old_id = issued.admin_key.split(":")[0]
    assert as_token(tokens.sign(f"{old_id}:{new_key.split(':')[1]}"), team).get(CAMPAIGNS).status_code == 401
    fresh = tokens.sign(new_key)
    assert as_token(fresh, team).get(CAMPAIGNS).status_code == 200
    assert as_user(admin, team).delete(f"{INTEGRATIONS}/{issued.integration.pk}").status_code == 204
    assert as_token(fresh, team).get(CAMPAIGNS).json()["code"] == "kid_unknown"


@pytest.mark.django_db
def test_a_revoked_integration_is_refused(admin, team, issued):
    from integrations.services import revoke_integration

    revoke_integration(integration=issued.integration, actor_id=admin.pk)
    assert as_token(tokens.sign(issued.admin_key), team).get(CAMPAIGNS).json()["code"] == "integration_revoked"


@pytest.mark.django_db
def test_a_token_for_team_a_with_team_bs_header_is_403(issued, other_team):
    response = as_token(tokens.sign(issued.admin_key), other_team).get(CAMPAIGNS)
    assert (response.status_code, response.json()["code"]) == (403, "key_team_mismatch")


@pytest.mark.django_db
def test_an_integration_survives_its_creators_removal_and_demotion(as_user, owner, admin, team, issued):
    Campaign.objects.create(team=team, name="Spring")
    assert (
        as_user(owner, team).patch(f"/api/v1/team/members/{admin.pk}", {"role": "viewer"}, format="json").status_code
        == 200
    )
    client = as_token(tokens.sign(issued.admin_key), team)
    assert client.post(CAMPAIGNS, {"name": "still writes"}, format="json").status_code == 201
    assert as_user(owner, team).delete(f"/api/v1/team/members/{admin.pk}").status_code == 204
    assert client.get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_a_token_with_a_jti_is_single_use_and_one_without_may_be_reused_until_it_expires(issued, team):
    with_jti = tokens.sign(issued.admin_key, jti="abc-1")
    assert as_token(with_jti, team).get(CAMPAIGNS).status_code == 200
    assert as_token(with_jti, team).get(CAMPAIGNS).json()["code"] == "token_reused"
    without = tokens.sign(issued.admin_key)
    assert as_token(without, team).get(CAMPAIGNS).status_code == 200
    assert as_token(without, team).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_a_used_jti_stays_used_when_the_cache_is_lost(issued, team):
    """Single use is recorded in the database: an empty cache (Redis restarted) forgets nothing."""
    from django.core.cache import cache

    with_jti = tokens.sign(issued.admin_key, jti="abc-2")
    assert as_token(with_jti, team).get(CAMPAIGNS).status_code == 200
    cache.clear()
    assert as_token(with_jti, team).get(CAMPAIGNS).json()["code"] == "token_reused"
    assert AuditEvent.objects.filter(action=Action.API_REQUEST, data__code="token_reused").count() == 1


@pytest.mark.django_db
def test_the_same_jti_under_another_admin_key_is_a_different_token(issued, admin, team):
    other = make_integration(admin, team, permissions=["read:campaigns"], name="Other")
    assert as_token(tokens.sign(issued.admin_key, jti="same"), team).get(CAMPAIGNS).status_code == 200
    assert as_token(tokens.sign(other.admin_key, jti="same"), team).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_two_long_jtis_that_differ_only_at_the_end_are_two_tokens(issued, team):
    """The whole `jti` is recorded (as a digest), not a prefix of it."""
    prefix = "x" * 200
    assert as_token(tokens.sign(issued.admin_key, jti=prefix + "1"), team).get(CAMPAIGNS).status_code == 200
    assert as_token(tokens.sign(issued.admin_key, jti=prefix + "2"), team).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_records_of_used_tokens_are_pruned_once_expired():
    from datetime import timedelta

    from django.utils import timezone

    from infra import single_use
    from infra.models import UsedToken

    now = timezone.now()
    assert single_use.use(kind="t", issuer="i", jti="old", expires_at=now - timedelta(seconds=1))
    assert single_use.use(kind="t", issuer="i", jti="live", expires_at=now + timedelta(minutes=5))
    assert single_use.prune(now=now) == 1
    assert not single_use.use(kind="t", issuer="i", jti="live", expires_at=now + timedelta(minutes=5))
    assert list(UsedToken.objects.values_list("digest", flat=True)) == [single_use.digest("t", "i", "live")]


@pytest.mark.django_db
def test_a_login_jwt_sent_as_bearer_is_still_a_login(as_user, member, team):
    assert as_user(member, team).get(CAMPAIGNS).status_code == 200


@pytest.mark.django_db
def test_integration_keys_in_the_main_apis_query_string_are_refused(issued, team, as_user, member):
    for value in (issued.content_key, issued.admin_key):
        response = as_user(member, team).get(CAMPAIGNS, {"key": value})
        assert (response.status_code, response.json()["code"]) == (401, "key_in_query")


# --- the audit trail -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_admin_key_request_leaves_one_event_denials_included(as_user, admin, issued, team, other_team):
    AuditEvent.objects.all().delete()
    token = tokens.sign(issued.admin_key)
    as_token(token, team).get(CAMPAIGNS)
    as_token(token, team).get("/api/v1/stats")  # 403
    as_token(token, other_team).get(CAMPAIGNS)  # 403 team mismatch
    as_token(_forge(issued, aud="/x/"), team).get(CAMPAIGNS)  # 401, integration known
    events = list(AuditEvent.objects.filter(action=Action.API_REQUEST).order_by("created_at", "id"))
    assert [e.status_code for e in events] == [200, 403, 403, 401]
    assert all(e.integration_id == issued.integration.pk and e.data["integration_key"] == "admin" for e in events)
    assert events[0].actor_id is None  # nobody's account: the integration acted
    assert events[3].data["code"] == "audience_invalid"
    listed = as_user(admin, team).get("/api/v1/audit-log", {"integration": str(issued.integration.pk)}).json()
    assert {item["integration"] for item in listed["results"]} == {str(issued.integration.pk)}
    per_integration = as_user(admin, team).get(f"{INTEGRATIONS}/{issued.integration.pk}/audit-log").json()
    assert len(per_integration["results"]) == 4


# --- secrets at rest ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_secret_is_in_the_database_in_plain_text(issued):
    secret = issued.admin_key.split(":")[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM integrations_integration")
        dump = repr(cursor.fetchall())
        cursor.execute("SELECT data FROM audit_auditevent")
        dump += repr(cursor.fetchall())
    assert secret not in dump and secret.upper() not in dump
    assert issued.content_key not in dump
    assert issued.admin_key.split(":")[0] in dump  # the id is not a secret


@pytest.mark.django_db
def test_secrets_rotate_to_a_new_encryption_key(settings, issued, team):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    before = Integration.objects.get().admin_secret_encrypted
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.SECRETS_ENCRYPTION_KEYS]
    call_command("rotate_integration_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Integration.objects.get().admin_secret_encrypted != before
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]  # the old key dropped
    assert as_token(tokens.sign(issued.admin_key), team).get(CAMPAIGNS).status_code == 200


# --- every endpoint, called with an Admin-key token ------------------------------------------------


@pytest.mark.django_db
def test_no_endpoint_answers_an_integration_with_a_500(api_views, admin, team):
    """An integration is nobody's account (`request.user` is not a User): every endpoint either
    serves it or refuses it with a problem document."""
    import re

    everything = make_integration(admin, team, permissions=["admin"])
    client = as_token(tokens.sign(everything.admin_key), team)
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["auth"] == "integration" and me.json()["user"] is None
    for route, _view in api_views:
        path = "/api/v1/" + re.sub(r"<[^>]+>", "00000000-0000-0000-0000-000000000000", route)
        for method in ("get", "post", "patch", "delete"):
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code < 500, (method, path, response.content[:200])
