"""Deactivating and reactivating accounts."""

from __future__ import annotations

from django.db import transaction

from apikeys.services import revoke_keys_of

from .models import RefreshFamily, User
from .sessions import revoke_all_sessions


def set_active(*, user: User, active: bool, actor_id=None) -> None:
    """Deactivation signs the user out everywhere and revokes every key they own, so that a
    later reactivation starts with no live credential."""
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            revoke_all_sessions(user=user, reason=RefreshFamily.RevokeReason.DEACTIVATED)
            revoke_keys_of(user_id=user.pk, reason="owner_deactivated", actor_id=actor_id)
