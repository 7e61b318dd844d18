"""IP allowlists of API keys and of integrations' Admin keys (infra.allowlist): a request from
elsewhere is 403 `ip_not_allowed` and recorded; the address is the one TRUSTED_PROXY_COUNT says,
so a spoofed X-Forwarded-For never passes without a trusted proxy; IPv6 and IPv4-mapped
addresses; bad lists are a clear 400."""

import pytest
from rest_framework.test import APIClient

from apikeys.models import APIKey
from audit.models import Action, AuditEvent
from integrations.tokens import sign

from .factories import make_integration, make_key

pytestmark = pytest.mark.django_db

B = "/api/v1/auth/api-keys"


def key_call(raw, team, remote="203.0.113.5", **headers):
    client = APIClient(REMOTE_ADDR=remote)
    return client.get("/api/v1/campaigns", HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk), **headers)


@pytest.mark.parametrize(
    ("allowed", "remote", "status"),
    [
        (["203.0.113.0/24"], "203.0.113.5", 200),
        (["203.0.113.0/24"], "198.51.100.7", 403),
        (["198.51.100.7"], "198.51.100.7", 200),
        (["2001:db8::/32"], "2001:db8::1", 200),
        (["2001:db8::/32"], "2001:db9::1", 403),
        (["203.0.113.0/24"], "::ffff:203.0.113.5", 200),  # IPv4-mapped, as a dual-stack listener shows it
        (["2001:db8::/32"], "203.0.113.5", 403),
    ],
)
def test_a_key_with_an_allowlist_works_only_from_it(owner, team, allowed, remote, status):
    key, raw = make_key(owner, team, ["read"], allowed_ips=allowed)
    response = key_call(raw, team, remote=remote)
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["code"] == "ip_not_allowed"
        event = AuditEvent.objects.filter(api_key_id=key.pk).latest("id")
        assert event.status_code == 403


def test_a_spoofed_forwarded_header_does_not_pass_without_a_trusted_proxy(owner, team, settings):
    _, raw = make_key(owner, team, ["read"], allowed_ips=["10.1.2.3"])
    settings.TRUSTED_PROXY_COUNT = 0
    assert key_call(raw, team, remote="198.51.100.7", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1  # behind one proxy (REMOTE_ADDR is the proxy): its header counts...
    assert key_call(raw, team, remote="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    # ...but only the entry our proxy added, never one the client prepended.
    spoofed = key_call(raw, team, remote="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3, 198.51.100.7")
    assert spoofed.status_code == 403


def test_an_allowlist_set_on_a_live_key_applies_from_the_next_request(as_user, owner, team):
    key, raw = make_key(owner, team, ["read"])
    assert key_call(raw, team).status_code == 200  # the key is now in the principal cache
    response = as_user(owner, team).patch(f"{B}/{key.pk}", {"allowed_ips": ["192.0.2.0/24"]}, format="json")
    assert response.status_code == 200 and response.json()["allowed_ips"] == ["192.0.2.0/24"]
    assert key_call(raw, team).status_code == 403
    assert AuditEvent.objects.filter(action=Action.KEY_UPDATED, api_key_id=key.pk).exists()
    as_user(owner, team).patch(f"{B}/{key.pk}", {"allowed_ips": []}, format="json")
    assert key_call(raw, team).status_code == 200


@pytest.mark.parametrize(
    "allowed",
    [["10.0.0.1/24"], ["not an address"], ["10.0.0.0/33"], "10.0.0.0/8", [5], ["10.0.0.0/8"] * 101],
    ids=["host-bits", "text", "prefix", "not-a-list", "number", "too-many"],
)
def test_a_bad_allowlist_is_a_clear_400_and_changes_nothing(as_user, owner, team, allowed):
    api = as_user(owner, team)
    created = api.post(B, {"name": "k", "permissions": ["read"], "allowed_ips": allowed}, format="json")
    assert created.status_code == 400 and "allowed_ips" in created.json()["errors"]
    key, _ = make_key(owner, team, ["read"])
    patched = api.patch(f"{B}/{key.pk}", {"allowed_ips": allowed}, format="json")
    assert patched.status_code == 400
    assert APIKey.objects.get(pk=key.pk).allowed_ips == []


def test_allowlists_are_stored_canonical_and_deduplicated(as_user, owner, team):
    response = as_user(owner, team).post(
        B,
        {"name": "k", "permissions": ["read"], "allowed_ips": ["2001:DB8::/32", "2001:db8::/32", " 192.0.2.1 "]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["allowed_ips"] == ["2001:db8::/32", "192.0.2.1/32"]


def test_an_integrations_admin_key_with_an_allowlist_works_only_from_it(owner, team, as_user):
    issued = make_integration(owner, team, ["read"], allowed_ips=["192.0.2.0/24"])

    def call(remote):
        client = APIClient(REMOTE_ADDR=remote)
        return client.get(
            "/api/v1/campaigns", HTTP_AUTHORIZATION=f"Ghost {sign(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk)
        )

    assert call("192.0.2.9").status_code == 200
    refused = call("198.51.100.1")
    assert refused.status_code == 403 and refused.json()["code"] == "ip_not_allowed"
    api = as_user(owner, team)
    response = api.patch(f"/api/v1/integrations/{issued.integration.pk}", {"allowed_ips": []}, format="json")
    assert response.status_code == 200 and response.json()["allowed_ips"] == []
    assert call("198.51.100.1").status_code == 200
