"""factory-boy factories for every model. Keys and logins are made through their services
(make_key, access_token): the raw secret exists only in what those return."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from access.scopes import Role
from accounts.models import OneTimeCode, RefreshFamily, User
from audit.models import Action, AuditEvent
from livestream.models import StreamTokenUse
from teams.models import Invitation, Membership, Team
from tracking.models import Campaign, Domain, Network, Offer, Source

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


def access_token(user) -> str:
    """A fresh login's access token, as POST /auth/login would give."""
    from accounts.sessions import start_session

    return start_session(user=user).access_token


def enrol_totp(user) -> tuple[str, list[str]]:
    """A confirmed TOTP factor made through the services (as the API would): returns (secret,
    recovery codes). The current time step is spent by the confirmation."""
    import pyotp

    from accounts import mfa

    secret = mfa.begin_totp_enrolment(user=user).secret
    return secret, mfa.confirm_totp_enrolment(user=user, code=pyotp.TOTP(secret).now())


def register_passkey(user, name: str = "Laptop"):
    """A passkey registered through the service, as the API would, from a software authenticator
    (tests/webauthn_soft.py): returns (passkey, authenticator)."""
    from accounts import passkeys

    from .webauthn_soft import SoftAuthenticator

    authenticator = SoftAuthenticator()
    ceremony = passkeys.registration_options(user=user)
    credential = authenticator.create(ceremony.options)
    return passkeys.register(user=user, name=name, ceremony=ceremony.ceremony, credential=credential), authenticator


def make_key(user, team, permissions=("admin",), **kwargs):
    """An API key made through the service (as the API would): returns (key, raw key)."""
    from apikeys.services import create_key

    membership = Membership.objects.get(user=user, team=team)
    result = create_key(
        membership=membership, name=kwargs.pop("name", "test key"), permissions=list(permissions), **kwargs
    )
    return result.key, result.raw


def make_integration(user, team, permissions=("read",), **kwargs):
    """An integration made through the service (as the API would): returns the IssuedIntegration
    (the integration, its Admin key `{id}:{secret}` and its Content key)."""
    from integrations.services import create_integration

    membership = Membership.objects.get(user=user, team=team)
    return create_integration(
        membership=membership, name=kwargs.pop("name", "test integration"), permissions=list(permissions), **kwargs
    )


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation (its token is not known: use the API to test acceptance)."""

    class Meta:
        model = Invitation

    team = factory.SubFactory(TeamFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.MEMBER
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class RefreshFamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RefreshFamily

    user = factory.SubFactory(UserFactory)
    current_jti = factory.LazyFunction(lambda: uuid.uuid4().hex)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    password_fingerprint = "0" * 64


class OneTimeCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OneTimeCode

    user = factory.SubFactory(UserFactory)
    purpose = OneTimeCode.Purpose.VERIFY_EMAIL
    code_hash = "0" * 64
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=10))


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    action = Action.TEAM_UPDATED
    team = factory.SubFactory(TeamFactory)


class StreamTokenUseFactory(factory.django.DjangoModelFactory):
    """A stream token held by a connection now (livestream/tokens.py makes them when streams open)."""

    class Meta:
        model = StreamTokenUse

    jti = factory.LazyFunction(uuid.uuid4)
    team = factory.SubFactory(TeamFactory)
    held_by = factory.LazyFunction(uuid.uuid4)
    held_until = factory.LazyFunction(lambda: timezone.now() + timedelta(seconds=30))
    reopen_until = factory.LazyFunction(lambda: timezone.now() + timedelta(seconds=90))


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Network

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Network {n}")


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain

    team = factory.SubFactory(TeamFactory)
    hostname = factory.Sequence(lambda n: f"track{n}.example.com")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Source {n}")


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Offer {n}")
    url = factory.Sequence(lambda n: f"https://offers.example.com/{n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")


def count_usage():
    """Count every event made so far into usage, as the worker does once USAGE_LAG_SECONDS have
    passed (a moment later than now: an event of this very millisecond counts too)."""
    from datetime import timedelta

    from django.utils import timezone

    from usage import rollup

    return rollup.roll_up(now=timezone.now() + timedelta(milliseconds=5))
