"""Issuing and checking one-time codes. Codes come from `secrets`; only HMACs are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OneTimeCode, User


def _hash(kind: str, user_id, purpose: str, value: str) -> str:
    message = f"{kind}:{user_id}:{purpose}:{value}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    code: str
    token: str | None


LIFETIMES = {
    OneTimeCode.Purpose.VERIFY_EMAIL: lambda: timedelta(seconds=settings.EMAIL_CODE_LIFETIME),
    OneTimeCode.Purpose.RESET_PASSWORD: lambda: timedelta(seconds=settings.PASSWORD_RESET_LIFETIME),
}


def issue(*, user: User, purpose: str, with_token: bool = False) -> IssuedCode:
    """A new code replaces every earlier unused one of the same purpose."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    token = secrets.token_urlsafe(32) if with_token else None
    now = timezone.now()
    with transaction.atomic():
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)
        OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            code_hash=_hash("code", user.pk, purpose, code),
            token_hash=_hash("token", user.pk, purpose, token) if token else "",
            expires_at=now + LIFETIMES[purpose](),
        )
    return IssuedCode(code=code, token=token)


def consume(*, user: User | None, purpose: str, code: str | None = None, token: str | None = None) -> bool:
    """True once for the right, live code or token; every wrong code counts an attempt.

    The unknown-user path does the same hashing, so it answers in comparable time.
    """
    if user is None:
        _hash("code", "-", purpose, code or token or "")
        return False
    now = timezone.now()
    with transaction.atomic():
        current = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        if current is None:
            _hash("code", user.pk, purpose, code or token or "")
            return False
        if token is not None:
            ok = bool(current.token_hash) and hmac.compare_digest(
                current.token_hash, _hash("token", user.pk, purpose, token)
            )
        else:
            ok = current.attempts < OneTimeCode.MAX_ATTEMPTS and hmac.compare_digest(
                current.code_hash, _hash("code", user.pk, purpose, code or "")
            )
        if ok:
            current.used_at = now
            current.save(update_fields=["used_at"])
        elif token is None and current.attempts < OneTimeCode.MAX_ATTEMPTS:
            OneTimeCode.objects.filter(pk=current.pk).update(attempts=F("attempts") + 1)
    return ok
