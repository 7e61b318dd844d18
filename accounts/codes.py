"""Issuing and checking one-time codes. Codes come from `secrets`; only HMACs are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OneTimeCode, User

# Stands in for "no account" / "no code" so those paths run the same statements as the others.
NOBODY = uuid.UUID(int=0)


CODE_INVALID = "The code is invalid or has expired."


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
    OneTimeCode.Purpose.CHANGE_EMAIL: lambda: timedelta(seconds=settings.EMAIL_CODE_LIFETIME),
}


def issue(*, user: User, purpose: str, with_token: bool = False, new_email: str = "") -> IssuedCode:
    """A new code replaces every earlier unused one of the same purpose. `new_email`: the address
    a CHANGE_EMAIL code was sent to."""
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
            new_email=new_email,
        )
    return IssuedCode(code=code, token=token)


def pending(*, user: User, purpose: str) -> OneTimeCode | None:
    """The live code of `user` for `purpose`, locked until the transaction ends (call it inside
    one, before consume, to read what the code was issued for)."""
    return (
        OneTimeCode.objects.select_for_update()
        .filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )


def consume(*, user: User | None, purpose: str, code: str | None = None, token: str | None = None) -> bool:
    """True once for the right, live code or token; every wrong code counts an attempt.

    Every path runs the same statements and the same hashing: one locked SELECT of the current
    code, the code and token HMACs, one UPDATE. For an unknown account (or one with no live code)
    the SELECT finds nothing and the UPDATE changes nothing, so neither the answer nor its timing
    says whether the address has an account.
    """
    user_id = user.pk if user is not None else NOBODY
    now = timezone.now()
    with transaction.atomic():
        current = (
            OneTimeCode.objects.select_for_update()
            .filter(user_id=user_id, purpose=purpose, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        code_matches = hmac.compare_digest(
            current.code_hash if current else "", _hash("code", user_id, purpose, code or "")
        )
        token_matches = hmac.compare_digest(
            (current.token_hash or "-") if current else "-", _hash("token", user_id, purpose, token or "")
        )
        if token is not None:
            ok = current is not None and token_matches
        else:
            ok = current is not None and current.attempts < OneTimeCode.MAX_ATTEMPTS and code_matches
        target = current.pk if current is not None else NOBODY
        if ok:
            OneTimeCode.objects.filter(pk=target).update(used_at=now)
        else:
            # A wrong link token costs nothing (it cannot be guessed); a wrong code counts.
            counted = target if token is None else NOBODY
            OneTimeCode.objects.filter(pk=counted, attempts__lt=OneTimeCode.MAX_ATTEMPTS).update(
                attempts=F("attempts") + 1
            )
    return ok
