"""Creating, changing and ending integrations. Each write is one transaction with its security
event; the Admin key's secret is returned once (create, regenerate) and stored only encrypted."""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apikeys import keys as api_keys
from apikeys.services import check_permissions
from audit.models import Action
from audit.services import record_event
from infra.errors import BadRequest
from teams.models import Membership

from . import secrets
from .models import Integration

MAX_ORIGINS = 20


@dataclass(frozen=True)
class IssuedIntegration:
    integration: Integration
    admin_key: str | None  # `{id}:{secret}`, only right after create or regenerate-admin-key
    content_key: str


def _new_admin_key() -> tuple[str, str]:
    return random.token_hex(12), random.token_hex(32)  # 24 hex characters, 32 random bytes


def _new_content_key() -> str:
    return random.token_hex(13)  # 26 hex characters


def _set_content_key(integration: Integration, raw: str) -> None:
    integration.content_key_pepper_id = api_keys.newest_pepper_id()
    integration.content_key_digest = api_keys.digest(raw, integration.content_key_pepper_id)
    integration.content_key_encrypted = secrets.encrypt(raw)


def content_key_of(integration: Integration) -> str:
    """The publishable Content key, for admins to see again."""
    return secrets.decrypt(integration.content_key_encrypted)


def clean_origins(origins: list[str]) -> list[str]:
    """`scheme://host[:port]`, lower-cased, no path; 400 `invalid_origin` otherwise."""
    from urllib.parse import urlsplit

    if len(origins) > MAX_ORIGINS:
        raise BadRequest(f"At most {MAX_ORIGINS} allowed origins.", code="invalid_origin")
    cleaned = []
    for origin in origins:
        parts = urlsplit(origin.strip())
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username
            or "*" in origin
        ):
            raise BadRequest(f"Not an origin (scheme://host[:port]): {origin[:100]!r}.", code="invalid_origin")
        cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return list(dict.fromkeys(cleaned))


def _event(action: str, integration: Integration, actor_id, status_code: int, **data) -> None:
    record_event(
        action=action,
        team_id=integration.team_id,
        actor_id=actor_id,
        integration=integration,
        status_code=status_code,
        data=data,
    )


def create_integration(
    *,
    membership: Membership,
    name: str,
    permissions: list[str],
    description: str = "",
    allowed_origins: list[str] | None = None,
    allowed_ips: list[str] | None = None,
) -> IssuedIntegration:
    """Never above the creating admin's role (nor, as every integration, above `admin`)."""
    check_permissions(permissions=permissions, role=membership.role)
    origins = clean_origins(allowed_origins or [])
    key_id, secret = _new_admin_key()
    content_key = _new_content_key()
    integration = Integration(
        team_id=membership.team_id,
        name=name,
        description=description,
        permissions=list(dict.fromkeys(permissions)),
        admin_key_id=key_id,
        admin_secret_encrypted=secrets.encrypt(secret),
        allowed_origins=origins,
        allowed_ips=allowed_ips or [],
        created_by_id=membership.user_id,
    )
    _set_content_key(integration, content_key)
    with transaction.atomic():
        integration.save()
        _event(Action.INTEGRATION_CREATED, integration, membership.user_id, 201, permissions=integration.permissions)
    return IssuedIntegration(integration=integration, admin_key=f"{key_id}:{secret}", content_key=content_key)


def update_integration(*, integration: Integration, membership: Membership, **changes) -> Integration:
    """Name, description, permissions (checked against the admin's role), allowed origins, the
    Admin key's IP allowlist."""
    if "permissions" in changes:
        check_permissions(permissions=changes["permissions"], role=membership.role)
        changes["permissions"] = list(dict.fromkeys(changes["permissions"]))
    if "allowed_origins" in changes:
        changes["allowed_origins"] = clean_origins(changes["allowed_origins"])
    if not changes:
        return integration
    with transaction.atomic():
        for field, value in changes.items():
            setattr(integration, field, value)
        integration.save(update_fields=list(changes))
        _event(Action.INTEGRATION_UPDATED, integration, membership.user_id, 200, changed=sorted(changes))
    return integration


def regenerate_admin_key(*, integration: Integration, actor_id) -> IssuedIntegration:
    """A new id and secret; the old ones stop working at once (tokens they signed included)."""
    key_id, secret = _new_admin_key()
    with transaction.atomic():
        integration.admin_key_id = key_id
        integration.admin_secret_encrypted = secrets.encrypt(secret)
        integration.save(update_fields=["admin_key_id", "admin_secret_encrypted"])
        _event(Action.INTEGRATION_ADMIN_KEY_REGENERATED, integration, actor_id, 200)
    return IssuedIntegration(
        integration=integration, admin_key=f"{key_id}:{secret}", content_key=content_key_of(integration)
    )


def regenerate_content_key(*, integration: Integration, actor_id) -> IssuedIntegration:
    content_key = _new_content_key()
    with transaction.atomic():
        _set_content_key(integration, content_key)
        integration.save(update_fields=["content_key_digest", "content_key_pepper_id", "content_key_encrypted"])
        _event(Action.INTEGRATION_CONTENT_KEY_REGENERATED, integration, actor_id, 200)
    return IssuedIntegration(integration=integration, admin_key=None, content_key=content_key)


def revoke_integration(*, integration: Integration, actor_id) -> Integration:
    """Both keys stop working at once; the integration stays listed (Django admin's action)."""
    if integration.revoked_at is not None:
        return integration
    with transaction.atomic():
        integration.revoked_at = timezone.now()
        integration.save(update_fields=["revoked_at"])
        _event(Action.INTEGRATION_REVOKED, integration, actor_id, 200)
    return integration


def delete_integration(*, integration: Integration, actor_id) -> None:
    """Its audit events stay (their link is cleared; the name snapshot in `data` stays)."""
    with transaction.atomic():
        _event(Action.INTEGRATION_DELETED, integration, actor_id, 204, name=integration.name)
        integration.delete()


def rotate_secrets() -> int:
    """Re-encrypt every stored secret under the first SECRETS_ENCRYPTION_KEYS entry."""
    count = 0
    every = Integration.objects.across_teams(reason="re-encrypting every stored secret")
    for integration in every.select_for_update().iterator():
        integration.admin_secret_encrypted = secrets.rotate(integration.admin_secret_encrypted)
        integration.content_key_encrypted = secrets.rotate(integration.content_key_encrypted)
        integration.save(update_fields=["admin_secret_encrypted", "content_key_encrypted"])
        count += 1
    return count
