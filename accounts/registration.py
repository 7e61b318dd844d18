"""Registration and e-mail verification. Answers that could reveal whether an address has an account
are the same either way, and cost the same work (see tests/test_timing_oracles.py)."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from access.scopes import Role
from audit.services import Action, record_event
from infra import background, mail, ratelimit
from infra.errors import BadRequest
from teams import services as team_services
from teams.models import Membership

from . import codes
from .codes import CODE_INVALID
from .models import OneTimeCode, User
from .passwords import check_password_rules
from .selectors import user_by_email


def create_personal_team(user: User) -> Membership:
    return team_services.create_team(user=user, name=f"{user.username}'s team")


def _send_verification(user: User) -> None:
    issued = codes.issue(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL)
    mail.send("verify_email", user.email, username=user.username, code=issued.code)


def _username_taken() -> BadRequest:
    # Usernames are public handles (they show in member lists); addresses are not: a taken
    # address gets the same answer as a new one.
    return BadRequest("This username is taken.", code="username_taken", errors={"username": ["Taken."]})


def register(
    *, username: str, email: str, password: str, team_membership: Membership | None = None, role: str | None = None
) -> None:
    """Create an unverified account with a personal team, or, when the address is taken, mail
    its owner instead. The caller cannot tell which happened.

    `team_membership`: the registrar's, when a team admin registers someone; the new account also
    joins that team with `role` (default member), which the registrar must be allowed to grant
    (teams.services.may_grant: never above their own role). Checked first, so the refusal cannot
    depend on whether the address has an account. An address that already has one joins nothing.
    """
    if team_membership is None:
        if role is not None:
            raise BadRequest(
                "A role is the new account's role in a team: register it as an admin of that team (X-Team-Id).",
                code="role_needs_team",
            )
    else:
        role = role or Role.MEMBER
        team_services.check_may_grant(team_membership.role, role)
    email = email.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise _username_taken()
    check_password_rules(password, user=User(username=username, email=email))
    existing = user_by_email(email)
    if existing is not None:
        make_password(password)  # the same cost as creating the account
        mail.send("account_exists", existing.email)
        return
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError:
            # A concurrent registration took the username or the address between the checks
            # above and this INSERT: answer as those checks would have.
            if User.objects.filter(username__iexact=username).exists():
                raise _username_taken() from None
            return
        create_personal_team(user)
        if team_membership is not None:
            team_services.add_member(team=team_membership.team, user=user, role=role, actor=team_membership.user)
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
    background.run_later(_resend_verification, email=email)


@background.work
def _resend_verification(*, email: str) -> None:
    user = user_by_email(email)
    # Besides the per-address limit on the endpoint, a budget per account found (look-alike
    # spellings of one address share it).
    if (
        user is not None
        and user.is_active
        and not user.email_verified
        and ratelimit.allow("resend_verification", account=f"user:{user.pk}")
    ):
        with transaction.atomic():
            _send_verification(user)
            record_event(action=Action.EMAIL_VERIFICATION_SENT, actor_id=user.pk, status_code=202)
