"""Changing a person's e-mail address: asked for with a recent authentication (step-up), confirmed
with a code mailed to the new address, announced to the old one.

Whether the new address already belongs to an account is never told to the caller (any signed-in
person could otherwise probe addresses): the answer is the same, and that address's owner gets a
mail saying someone tried, instead of a code. The code is a one-time code (accounts.codes: HMAC
stored, single use, five guesses, EMAIL_CODE_LIFETIME)."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Action, record_event
from infra import mail
from infra.errors import BadRequest, Conflict

from . import codes
from .codes import CODE_INVALID
from .models import OneTimeCode, User
from .selectors import user_by_email

PURPOSE = OneTimeCode.Purpose.CHANGE_EMAIL


def request_change(*, user: User, new_email: str) -> None:
    """Mail a code to `new_email` (or, when it is another account's, tell that account instead)."""
    new_email = new_email.strip()
    if new_email.casefold() == user.email.casefold():
        raise BadRequest("This is already your e-mail address.", code="email_unchanged")
    with transaction.atomic():
        record_event(action=Action.EMAIL_CHANGE_REQUESTED, actor_id=user.pk, status_code=202)
        if user_by_email(new_email) is not None:
            # A decoy in place of the real code, mailed nowhere and naming no address (confirm
            # refuses it): it spends an earlier code as a free address's code would, so that code
            # failing afterwards tells nothing, and the two answers take the same work.
            codes.issue(user=user, purpose=PURPOSE)
            mail.send("email_change_taken", new_email)
            return
        issued = codes.issue(user=user, purpose=PURPOSE, new_email=new_email)
        mail.send(
            "email_change_code",
            new_email,
            username=user.username,
            code=issued.code,
            minutes=settings.EMAIL_CODE_LIFETIME // 60,
        )


def confirm_change(*, user: User, code: str) -> str:
    """The code mailed to the new address makes it the account's (verified); the old address is
    told. Returns the new address. 400 `code_invalid` for a wrong, spent or expired code (each
    wrong guess counts); 409 `email_taken` when another account took the address meanwhile."""
    with transaction.atomic():
        waiting = codes.pending(user=user, purpose=PURPOSE)
        if not codes.consume(user=user, purpose=PURPOSE, code=code) or waiting is None or not waiting.new_email:
            ok = False
        else:
            ok = True
            old_email, new_email = user.email, waiting.new_email
            user.email, user.email_verified_at = new_email, timezone.now()
            try:
                with transaction.atomic():
                    user.save(update_fields=["email", "email_verified_at"])
            except IntegrityError as exc:
                raise Conflict("This address now belongs to another account.", code="email_taken") from exc
            # Codes mailed to the old address (a password reset) die with it: that mailbox may be
            # why the address changes, and the notice below tells it the new one.
            OneTimeCode.objects.filter(user=user, used_at__isnull=True).update(used_at=timezone.now())
            record_event(action=Action.EMAIL_CHANGED, actor_id=user.pk)
            mail.send("email_changed", old_email, username=user.username, new_email=new_email)
    if not ok:
        raise BadRequest(CODE_INVALID, code="code_invalid")
    return new_email
