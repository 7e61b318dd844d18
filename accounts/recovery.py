"""Password recovery: a mailed code or link token sets a new password. The same answer, and the same
work, whether or not the address has an account."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import Action, record_event
from infra import background, mail, ratelimit
from infra.errors import BadRequest

from . import codes
from .codes import CODE_INVALID
from .models import OneTimeCode, User
from .passwords import check_password_rules, set_password
from .selectors import user_by_email


def forgot_password(*, email: str) -> None:
    """Queue the recovery mail: the answer is the same, and as fast, whether or not the account
    exists (the look-up, the code and the audit row happen after it)."""
    background.run_later(_forgot_password, email=email)


@background.work
def _forgot_password(*, email: str) -> None:
    user = user_by_email(email)
    if user is None or not user.is_active:
        return
    # The mail budget counts the account found, not what was typed: look-alike spellings of one
    # address (which the database's case-insensitive match folds together) share it.
    send_mail = ratelimit.allow("forgot_password", account=f"user:{user.pk}")
    with transaction.atomic():
        record_event(
            action=Action.PASSWORD_RESET_REQUESTED,
            actor_id=user.pk,
            status_code=202,
            data={"mailed": send_mail},
        )
        if send_mail:
            issued = codes.issue(user=user, purpose=OneTimeCode.Purpose.RESET_PASSWORD, with_token=True)
            mail.send(
                "password_reset",
                user.email,
                username=user.username,
                email=user.email,
                code=issued.code,
                token=issued.token,
                minutes=settings.PASSWORD_RESET_LIFETIME // 60,
            )


def reset_password(*, email: str, new_password: str, code: str | None, token: str | None) -> None:
    """Single use. Success revokes every refresh family of the user; it does not log in.

    Before the code is checked, the password rules run against the typed address only, the same
    for an existing and an unknown account; the rules that need the account (similarity to its
    username) run once the code proved the caller owns it, and a refusal then leaves the code
    unused (the transaction rolls back).
    """
    user = user_by_email(email)
    if user is not None and not user.is_active:
        user = None
    check_password_rules(new_password, user=User(username="", email=email.strip()), field="new_password")
    with transaction.atomic():
        ok = codes.consume(user=user, purpose=OneTimeCode.Purpose.RESET_PASSWORD, code=code, token=token)
        if ok:
            check_password_rules(new_password, user=user, field="new_password")
            set_password(user=user, password=new_password)
            User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
            record_event(action=Action.PASSWORD_RESET, actor_id=user.pk)
        else:
            # Recorded for an unknown address too: both failing paths then write (and wait for
            # the commit to reach the disk) alike.
            record_event(
                action=Action.PASSWORD_RESET_FAILED,
                actor_id=user.pk if user is not None else None,
                status_code=400,
            )
    if not ok:
        raise BadRequest(CODE_INVALID, code="code_invalid")
