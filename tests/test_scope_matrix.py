"""Every resource endpoint × method × scope, for keys (legacy included) and for JWT roles."""

import itertools

import pytest

from access import scopes
from access.scopes import Role
from teams.models import Membership
from tracking.models import Campaign, Domain, Network, Offer, Source

from .factories import UserFactory, make_key

pytestmark = pytest.mark.django_db

MODELS = {"campaigns": Campaign, "domains": Domain, "offers": Offer, "sources": Source, "networks": Network}
BODIES = {
    "campaigns": {"name": "c"},
    "domains": {"hostname": "t{n}.example.com"},
    "offers": {"name": "o", "url": "https://example.com/o"},
    "sources": {"name": "s", "kind": "search"},
    "networks": {"name": "n"},
}
_counter = itertools.count()


def seed(resource, team):
    fields = {k: v.format(n=next(_counter)) for k, v in BODIES[resource].items()}
    if resource == "offers":
        fields["url"] = "https://example.com/o"
    return MODELS[resource].objects.create(team=team, **fields)


def body(resource):
    return {k: v.format(n=next(_counter)) for k, v in BODIES[resource].items()}


def calls(resource, team):
    """(method, url, data, needs) for every endpoint of a resource."""
    obj = seed(resource, team)
    base = f"/api/v1/{resource}"
    return [
        ("get", base, None, scopes.read(resource)),
        ("post", base, body(resource), scopes.write(resource)),
        ("get", f"{base}/{obj.pk}", None, scopes.read(resource)),
        ("patch", f"{base}/{obj.pk}", body(resource), scopes.write(resource)),
        ("put", f"{base}/{obj.pk}", body(resource), scopes.write(resource)),
        ("delete", f"{base}/{obj.pk}", None, scopes.write(resource)),
    ]


def run(client, method, url, data):
    return getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)


GRANTS = [
    ["read"],
    ["write"],
    ["admin"],
    *[[scopes.read(r)] for r in scopes.RESOURCES],
    *[[scopes.write(r)] for r in scopes.RESOURCES],
    [scopes.read("stats")],
    [scopes.read("billing")],
]


@pytest.mark.parametrize("resource", scopes.RESOURCES)
@pytest.mark.parametrize("permissions", GRANTS, ids=lambda p: ",".join(p))
def test_key_scope_matrix(as_key, owner, team, resource, permissions):
    _, raw = make_key(owner, team, permissions)
    client = as_key(raw, team)
    granted = scopes.expand(permissions)
    for method, url, data, needs in calls(resource, team):
        response = run(client, method, url, data)
        if needs in granted:
            assert response.status_code in (200, 201, 204), (method, url, response.content)
        else:
            assert response.status_code == 403, (method, url)
            assert response.json() == {
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
                "detail": f"This action needs the `{needs}` scope.",
                "code": "insufficient_scope",
                "required_scope": needs,
            }


@pytest.mark.parametrize("permissions", GRANTS, ids=lambda p: ",".join(p))
@pytest.mark.parametrize("endpoint,needs", [("stats", "read:stats"), ("billing", "read:billing")])
def test_key_scope_matrix_for_stats_and_billing(as_key, owner, team, permissions, endpoint, needs):
    _, raw = make_key(owner, team, permissions)
    response = as_key(raw, team).get(f"/api/v1/{endpoint}")
    assert response.status_code == (200 if needs in scopes.expand(permissions) else 403)


@pytest.mark.parametrize("role", list(Role))
def test_jwt_users_get_their_roles_scopes(as_user, team, role):
    user = Membership.objects.create(team=team, role=role, user=UserFactory()).user
    client = as_user(user, team)
    allowed = scopes.role_scopes(role)
    for resource in scopes.RESOURCES:
        for method, url, data, needs in calls(resource, team):
            response = run(client, method, url, data)
            expected_ok = needs in allowed
            assert (response.status_code < 300) is expected_ok, (role, method, url, response.status_code)
    assert (as_user(user, team).get("/api/v1/billing").status_code == 200) is ("read:billing" in allowed)


def test_a_key_is_limited_by_its_owners_role(as_key, team, member):
    # `write:campaigns` is within a member's role; `read:stats` too.
    _, raw = make_key(member, team, ["read:campaigns", "write:campaigns"])
    client = as_key(raw, team)
    assert client.post("/api/v1/campaigns", {"name": "ok"}, format="json").status_code == 201
    # Demoted to viewer: the write half of the key dies on the very next request.
    Membership.objects.filter(user=member, team=team).update(role=Role.VIEWER)
    response = client.post("/api/v1/campaigns", {"name": "no"}, format="json")
    assert response.status_code == 403
    assert response.json()["required_scope"] == "write:campaigns"
    assert client.get("/api/v1/campaigns").status_code == 200
    # Promoted back: the key's own scopes come back, never more than the key was given.
    Membership.objects.filter(user=member, team=team).update(role=Role.OWNER)
    assert client.post("/api/v1/campaigns", {"name": "again"}, format="json").status_code == 201
    assert client.get("/api/v1/billing").status_code == 403


def test_an_admin_key_of_a_demoted_admin_loses_billing_and_admin(as_key, admin, team):
    _, raw = make_key(admin, team, ["admin"])
    client = as_key(raw, team)
    assert client.get("/api/v1/billing").status_code == 200
    Membership.objects.filter(user=admin).update(role=Role.MEMBER)
    assert client.get("/api/v1/billing").status_code == 403
    assert client.patch("/api/v1/team", {"name": "x"}, format="json").status_code == 403
    assert client.get("/api/v1/stats").status_code == 200


def test_legacy_permissions_expand_at_check_time(as_key, owner, team, monkeypatch):
    """A legacy `read` key covers a read scope added to the catalog after it was created."""
    _, raw = make_key(owner, team, ["read"])
    new_scope = "read:reports"
    monkeypatch.setitem(scopes.LEGACY, "read", scopes.LEGACY["read"] | {new_scope})
    monkeypatch.setitem(scopes.ROLE_SCOPES, Role.OWNER, scopes.ROLE_SCOPES[Role.OWNER] | {new_scope})
    monkeypatch.setattr(scopes, "ALL_SCOPES", scopes.ALL_SCOPES | {new_scope})
    body = as_key(raw, team).get("/api/v1/auth/me").json()
    assert new_scope in body["api_key"]["scopes"]
