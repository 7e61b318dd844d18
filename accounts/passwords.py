"""Passwords: the rules a new password must pass, and changing one (which signs out every other session)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from audit.services import Action, record_event

from .models import RefreshFamily, User
from .sessions import revoke_all_sessions
from .tokens import password_fingerprint


def check_password_rules(password: str, *, user: User | None = None, field: str = "password") -> None:
    """Django's validators (length ≥ 8, common passwords, similarity, numeric). Never truncated:
    anything over PASSWORD_MAX_LENGTH is refused by the serializers before it gets here."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


def set_password(*, user: User, password: str, keep_family_id=None) -> None:
    """Change a password and sign out every other session of the user."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        revoke_all_sessions(
            user=user, reason=RefreshFamily.RevokeReason.PASSWORD_CHANGED, except_family_id=keep_family_id
        )
        if keep_family_id is not None:
            RefreshFamily.objects.filter(pk=keep_family_id).update(
                password_fingerprint=password_fingerprint(user.password)
            )
        record_event(action=Action.PASSWORD_CHANGED, actor_id=user.pk)
