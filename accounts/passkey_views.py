"""The passkey endpoints (accounts/passkeys.py): registering and removing them (me/passkeys),
signing in with one alone (auth/passkey), and the options of the two other ceremonies that take a
passkey's answer, the second factor of a sign-in and step-up (the answers go to
auth/second-factor and auth/reauthenticate)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access import context
from access.permissions import InteractiveLoginOnly
from access.views import AccessMixin

from . import passkeys, sessions
from .models import Passkey
from .serializers import (
    PasskeyAnswerSerializer,
    PasskeyOptionsSerializer,
    PasskeyRegisteredSerializer,
    PasskeyRegisterSerializer,
    PasskeyRenameSerializer,
    PasskeySerializer,
    SecondFactorTicketSerializer,
)
from .views import SESSION_MODE_PARAMETER, TOKENS, PublicAuthView, _current_family, _signed_in, _valid


def _options(ceremony: passkeys.Ceremony) -> Response:
    return Response(PasskeyOptionsSerializer({"options": ceremony.options, "ceremony": ceremony.ceremony}).data)


class PasskeyListView(AccessMixin, APIView):
    """My passkeys (GET), or register one (POST: the browser's answer to the options of
    POST /api/v1/me/passkeys/options). A first second factor signs every other login out and
    answers the first recovery codes, once, as turning an authenticator app on does."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Adding a factor hands out the power to sign in: step-up first.
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(responses={200: PasskeySerializer(many=True)})
    def get(self, request):
        return Response(PasskeySerializer(Passkey.objects.filter(user=request.user), many=True).data)

    @extend_schema(request=PasskeyRegisterSerializer, responses={201: PasskeyRegisteredSerializer})
    def post(self, request):
        data = _valid(PasskeyRegisterSerializer, request)
        added = sessions.add_passkey(
            user=request.user,
            name=data["name"],
            ceremony=data["ceremony"],
            credential=data["credential"],
            current_family_id=_current_family(request),
        )
        body = PasskeySerializer(added["passkey"]).data
        for extra in ("recovery_codes", "other_sessions_revoked"):
            if extra in added:
                body[extra] = added[extra]
        return Response(body, status=status.HTTP_201_CREATED)


class PasskeyRegistrationOptionsView(AccessMixin, APIView):
    """The options for navigator.credentials.create(): a discoverable passkey with user
    verification, for this site (WEBAUTHN_RP_ID), none of mine again."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=None, responses={200: PasskeyOptionsSerializer})
    def post(self, request):
        return _options(passkeys.registration_options(user=request.user))


class PasskeyDetailView(AccessMixin, APIView):
    """Rename (PATCH) or remove (DELETE, step-up) one of my passkeys. Removing the last second
    factor removes the recovery codes too."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    requires_recent_authentication = frozenset({"DELETE"})

    @extend_schema(request=PasskeyRenameSerializer, responses={200: PasskeySerializer})
    def patch(self, request, passkey_id):
        data = _valid(PasskeyRenameSerializer, request)
        passkey = passkeys.rename(user=request.user, passkey_id=passkey_id, name=data["name"])
        return Response(PasskeySerializer(passkey).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, passkey_id):
        sessions.remove_passkey(user=request.user, passkey_id=passkey_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeySignInOptionsView(PublicAuthView):
    """The options for navigator.credentials.get() to sign in with a passkey alone: any passkey
    of this site (the browser offers the person's own), user verification required."""

    permission_classes = [AllowAny]
    rate_limit = "passkey_sign_in"

    @extend_schema(request=None, responses={200: PasskeyOptionsSerializer}, auth=[])
    def post(self, request):
        return _options(passkeys.authentication_options(purpose=passkeys.Purpose.SIGN_IN))


class PasskeySignInView(PublicAuthView):
    """Sign in with a passkey alone: the browser's answer to the options of
    POST /api/v1/auth/passkey/options. The tokens as login gives them (cookie mode included); no
    second step (the passkey verified its person). 401 `invalid_credentials` for an unknown
    passkey or a wrong answer alike."""

    rate_limit = "passkey_sign_in"

    @extend_schema(
        request=PasskeyAnswerSerializer,
        parameters=[SESSION_MODE_PARAMETER],
        responses={200: OpenApiResponse(TOKENS, description="Body mode: the pair. Cookie mode: the access token.")},
        auth=[],
    )
    def post(self, request):
        data = _valid(PasskeyAnswerSerializer, request)
        pair = sessions.passkey_sign_in(ceremony=data["ceremony"], credential=data["credential"])
        return _signed_in(request, pair)


class SecondFactorPasskeyOptionsView(PublicAuthView):
    """The options for the passkey of a sign-in that answered `second_factor_required`: one of
    the ticket's person's passkeys. The ticket is not spent here."""

    rate_limit = "second_factor"

    @extend_schema(request=SecondFactorTicketSerializer, responses={200: PasskeyOptionsSerializer}, auth=[])
    def post(self, request):
        data = _valid(SecondFactorTicketSerializer, request)
        return _options(sessions.passkey_options_for_ticket(ticket=data["ticket"]))


class ReauthenticatePasskeyOptionsView(AccessMixin, APIView):
    """The options for a step-up with one of my passkeys (the answer goes to
    POST /api/v1/auth/reauthenticate as `passkey`)."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    rate_limit = "reauthenticate"

    @extend_schema(request=None, responses={200: PasskeyOptionsSerializer})
    def post(self, request):
        return _options(
            passkeys.authentication_options(
                purpose=passkeys.Purpose.REAUTHENTICATE, user=request.user, bound_to=context.session_of(request.access)
            )
        )
