"""Account lifecycle writes: registration, e-mail verification, password recovery and change.

Answers that could reveal whether an address has an account (register, resend, forgot) are the
same either way, and both paths cost the same password hash where one is involved.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from access.scopes import Role
from audit.services import Action, record_event
from infra import mail
from infra.errors import BadRequest
from teams import services as team_services
from teams.models import Membership

from . import codes, deferred
from .models import OneTimeCode, User
from .services import set_password, user_by_email

CODE_INVALID = "The code is invalid or has expired."


def check_password_rules(password: str, *, user: User | None = None, field: str = "password") -> None:
    """Django's validators (length ≥ 8, common passwords, similarity, numeric). Never truncated:
    anything over PASSWORD_MAX_LENGTH is refused by the serializers before it gets here."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


def create_personal_team(user: User) -> Membership:
    return team_services.create_team(user=user, name=f"{user.username}'s team")


def _send_verification(user: User) -> None:
    issued = codes.issue(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL)
    mail.send("verify_email", user.email, username=user.username, code=issued.code)


def register(*, username: str, email: str, password: str, team_membership=None) -> None:
    """Create an unverified account with a personal team, or, when the address is taken, mail
    its owner instead. The caller cannot tell which happened.

    `team_membership`: when a team admin registers someone (closed registration), the new
    account also joins that team as a member.
    """
    email = email.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise BadRequest("This username is taken.", code="username_taken", errors={"username": ["Taken."]})
    check_password_rules(password, user=User(username=username, email=email))
    existing = user_by_email(email)
    if existing is not None:
        make_password(password)  # the same cost as creating the account
        mail.send("account_exists", existing.email)
        return
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, password=password)
        create_personal_team(user)
        if team_membership is not None:
            team_services.add_member(team=team_membership.team, user=user, role=Role.MEMBER, actor=team_membership.user)
        record_event(action=Action.USER_REGISTERED, actor_id=user.pk, data={"method": "password"})
        _send_verification(user)


def verify_email(*, email: str, code: str) -> None:
    """The failing paths of an existing and an unknown address run the same statements (the user
    look-up, codes.consume, one audit INSERT) and the same hashing."""
    user = user_by_email(email)
    with transaction.atomic():
        ok = codes.consume(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL, code=code)
        if ok:
            User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
            record_event(action=Action.EMAIL_VERIFIED, actor_id=user.pk)
        else:
            record_event(
                action=Action.EMAIL_VERIFICATION_FAILED,
                actor_id=user.pk if user is not None else None,
                status_code=400,
            )
    if not ok:
        raise BadRequest(CODE_INVALID, code="code_invalid")


def resend_verification(*, email: str) -> None:
    """Queue a fresh code: the answer is the same, and as fast, whether or not the account exists."""
    deferred.run_later(_resend_verification, email=email)


def _resend_verification(*, email: str) -> None:
    user = user_by_email(email)
    if user is not None and user.is_active and not user.email_verified:
        with transaction.atomic():
            _send_verification(user)
            record_event(action=Action.EMAIL_VERIFICATION_SENT, actor_id=user.pk, status_code=202)


def forgot_password(*, email: str, send_mail: bool = True) -> None:
    """Queue the recovery mail: the answer is the same, and as fast, whether or not the account
    exists (the look-up, the code and the audit row happen after it)."""
    deferred.run_later(_forgot_password, email=email, send_mail=send_mail)


def _forgot_password(*, email: str, send_mail: bool) -> None:
    user = user_by_email(email)
    if user is None or not user.is_active:
        return
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
