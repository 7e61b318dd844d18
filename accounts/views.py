"""Account endpoints, by concept: sessions (login, refresh, logout, me), registration and e-mail
verification, password recovery and change, Google sign-in, the account summary. Thin: validation,
then a service call; rate limits are declared on each view (`rate_limit`)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access import context, scopes
from access.context import TEAM_HEADER, Kind
from access.permissions import InteractiveLoginOnly, PersonOnly
from access.scopes import sorted_scopes
from access.views import AccessMixin
from infra import ratelimit
from infra.errors import BadRequest, Forbidden, Unauthorized
from infra.schema import ProblemSerializer
from teams.models import Membership

from . import cookies, google, mfa, passwords, reauth, recovery, registration, selectors, sessions
from .serializers import (
    REFRESH_TOKEN_MAX_LENGTH,
    AccessTokenSerializer,
    AccountSerializer,
    ChangePasswordSerializer,
    DetailSerializer,
    EmailSerializer,
    GoogleSerializer,
    LoginSerializer,
    MeSerializer,
    ReauthenticatedSerializer,
    ReauthenticateSerializer,
    RecoveryCodesSerializer,
    RefreshSerializer,
    RegisterSerializer,
    ResetPasswordSerializer,
    RevokedSessionsSerializer,
    SecondFactorCodeSerializer,
    SecondFactorPendingSerializer,
    SecondFactorSignInSerializer,
    SecondFactorStatusSerializer,
    SessionSerializer,
    TokenPairSerializer,
    TOTPEnrolmentSerializer,
    UserSerializer,
    VerifyEmailSerializer,
)
from .tokens import FAMILY_CLAIM


class PublicAuthView(AccessMixin, APIView):
    """An unauthenticated auth endpoint whose failures are still 401 with WWW-Authenticate."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


SESSION_MODE_PARAMETER = OpenApiParameter(
    cookies.SESSION_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    enum=[cookies.COOKIE_MODE],
    description=(
        "`cookie`: the browser's session mode. The refresh token travels in the HttpOnly, SameSite=Strict "
        f"cookie `{cookies.HOST_NAME}` (Path={cookies.HOST_PATH}; `{cookies.PLAIN_NAME}`, "
        f"Path={cookies.PLAIN_PATH}, where the cookie is not Secure) instead of the JSON body, and answers "
        "carry the access token only. Refresh and logout then also need an `Origin` header naming this "
        "site (403 `origin_mismatch` otherwise); the cookie sent twice is 400 `refresh_cookie_duplicated` on refresh, "
        "and ends every session it names on logout. "
        "Without the header: the JSON body mode."
    ),
)
TOKENS = PolymorphicProxySerializer(
    component_name="Tokens",
    serializers=[TokenPairSerializer, AccessTokenSerializer],
    resource_type_field_name=None,
)
SIGN_IN = PolymorphicProxySerializer(
    component_name="SignIn",
    serializers=[TokenPairSerializer, AccessTokenSerializer, SecondFactorPendingSerializer],
    resource_type_field_name=None,
)
SIGN_IN_DESCRIPTION = (
    "Body mode: the pair. Cookie mode: the access token (and the refresh cookie). With a second factor "
    "enrolled, in both modes: no token and no cookie, but `second_factor_required` and a `ticket` for "
    "POST /api/v1/auth/second-factor."
)


def _signed_in(request, outcome) -> Response:
    """The answer of a sign-in step: a pending second factor, or the session in the caller's mode."""
    if isinstance(outcome, mfa.SecondFactorPending):
        return Response(outcome.as_response())
    if cookies.is_cookie_mode(request):
        return _with_refresh_cookie(request, outcome)
    return Response(outcome.as_response())


class LoginView(PublicAuthView):
    """Exchange a username (or e-mail) and password for a JWT pair. Logging in never creates a key.

    With `X-GhostFlow-Session: cookie` the refresh token is set in the refresh cookie (accounts.cookies)
    and the answer carries the access token only."""

    rate_limit = "login"

    @extend_schema(
        request=LoginSerializer,
        parameters=[SESSION_MODE_PARAMETER],
        responses={200: OpenApiResponse(SIGN_IN, description=SIGN_IN_DESCRIPTION)},
        auth=[],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier = serializer.validated_data["identifier"]
        # Counted before the look-up: a locked identifier answers alike whether or not it names
        # an account. The lock is on the identifier's *password login* only; recovery
        # (forgot/reset-password) has its own limits, so the owner can still get back in.
        attempt = sessions.count_login_attempt(request, identifier)
        user = selectors.find_login_user(identifier)
        outcome = sessions.login(user=user, password=serializer.validated_data["password"])
        attempt.succeeded()  # only failures count
        return _signed_in(request, outcome)


class SecondFactorSignInView(PublicAuthView):
    """Finish a sign-in that answered `second_factor_required`: the ticket and a TOTP code (or an
    unused recovery code, or a passkey's answer to POST /auth/second-factor/passkey-options) give
    the tokens, exactly as login would have (cookie mode included).

    The ticket is single use and expires (SECOND_FACTOR_TICKET_SECONDS); a wrong code leaves it
    usable until then. Wrong codes count against the account (scope `second_factor`)."""

    rate_limit = "second_factor"

    @extend_schema(
        request=SecondFactorSignInSerializer,
        parameters=[SESSION_MODE_PARAMETER],
        responses={200: OpenApiResponse(TOKENS, description="Body mode: the pair. Cookie mode: the access token.")},
        auth=[],
    )
    def post(self, request):
        data = _valid(SecondFactorSignInSerializer, request)
        pair = sessions.complete_second_factor(
            request=request, ticket=data["ticket"], code=data.get("code"), passkey=data.get("passkey")
        )
        return _signed_in(request, pair)


def _with_refresh_cookie(request, pair: sessions.TokenPair) -> Response:
    response = Response(pair.access_response())
    cookies.set_refresh_cookie(request, response, token=pair.refresh_token, expires_at=pair.refresh_expires_at)
    return response


def _cookie_token(request) -> str:
    raw = cookies.refresh_cookie(request)
    if raw is None or len(raw) > REFRESH_TOKEN_MAX_LENGTH:
        raise Unauthorized("No valid session cookie; log in again.", code="token_invalid")
    return raw


class RefreshView(PublicAuthView):
    """Rotate a refresh token: the old one is spent; replaying it revokes the whole login.

    With `X-GhostFlow-Session: cookie` (and an `Origin` naming this site) the token is read from
    the refresh cookie, the new one replaces it, and the answer carries the access token only;
    the body is not read. A refused cookie is cleared; a cookie sent twice is a 400 that changes
    nothing."""

    rate_limit = "refresh"

    @extend_schema(
        request=RefreshSerializer,
        parameters=[SESSION_MODE_PARAMETER],
        responses={200: OpenApiResponse(TOKENS, description="Body mode: the new pair. Cookie mode: the access token.")},
        auth=[],
    )
    def post(self, request):
        if cookies.is_cookie_mode(request):
            cookies.check_origin(request)
            pair = sessions.rotate_refresh_token(raw=_cookie_token(request))
            return _with_refresh_cookie(request, pair)
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = sessions.rotate_refresh_token(raw=serializer.validated_data["refresh_token"])
        return Response(pair.as_response())

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # A cookie that cannot be exchanged (spent, revoked, expired, missing) will never work
        # again: tell the browser to drop it.
        if response.status_code == 401 and cookies.is_cookie_mode(self.request):
            cookies.clear_refresh_cookie(self.request, response)
        return response


class LogoutView(PublicAuthView):
    """Sign out: revoke the refresh token's whole family. Access tokens expire on their own.

    With `X-GhostFlow-Session: cookie` (and an `Origin` naming this site) the family of the
    refresh cookie is revoked and the cookie cleared; a missing or invalid cookie is still a
    204 that clears it, so the browser can always drop its state. A cookie sent twice (a copy
    planted beside the browser's own) ends every session the copies name: signing out must never
    be blocked by a planted cookie."""

    @extend_schema(request=RefreshSerializer, parameters=[SESSION_MODE_PARAMETER], responses={204: None}, auth=[])
    def post(self, request):
        if cookies.is_cookie_mode(request):
            cookies.check_origin(request)
            for raw in cookies.every_refresh_cookie(request):
                if len(raw) <= REFRESH_TOKEN_MAX_LENGTH:
                    with contextlib.suppress(Unauthorized):  # nothing to revoke: the cookie is cleared anyway
                        sessions.logout(raw=raw)
            response = Response(status=status.HTTP_204_NO_CONTENT)
            cookies.clear_refresh_cookie(request, response)
            return response
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sessions.logout(raw=serializer.validated_data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(AccessMixin, APIView):
    """The caller's identity; with an API key, also the key's id, name, team and effective scopes."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        access = request.access
        if access.kind == Kind.INTEGRATION:
            # A team's integration is nobody's account: it is described instead of a user.
            integration = access.credential
            return Response(
                {
                    "user": None,
                    "auth": access.kind,
                    "integration": {
                        "id": str(integration.pk),
                        "name": integration.name,
                        "team": str(integration.team_id),
                        "admin_key_id": integration.admin_key_id,
                        "scopes": sorted_scopes(integration.effective_scopes()),
                    },
                }
            )
        body = {"user": UserSerializer(request.user).data, "auth": access.kind}
        key = access.key
        if key is not None:
            body["api_key"] = {
                "id": str(key.pk),
                "name": key.name,
                "team": str(key.team_id),
                "prefix": key.prefix,
                "scopes": sorted_scopes(key.effective_scopes()),
            }
        return Response(body)


REGISTERED = "If the address can be used, we sent it a message: enter the code from it to verify the account."
SENT = "If the address belongs to an account, we sent it a message."


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RegisterView(AccessMixin, APIView):
    """Create an account (it logs in once its e-mail is verified) with a personal team.

    A taken address gets the same answer; its owner is mailed instead. With REGISTRATION_OPEN
    off, only a staff user, or an admin of the team in X-Team-Id, may register accounts. An admin
    of the team in X-Team-Id (a signed-in interactive login; open or closed registration) registers
    the account into that team too, with `role` (default `member`, never above their own).
    """

    rate_limit = "register"

    permission_classes = [AllowAny]

    @extend_schema(request=RegisterSerializer, responses={201: DetailSerializer})
    def post(self, request):
        team_membership = None
        if not settings.REGISTRATION_OPEN or (request.user.is_authenticated and request.headers.get(TEAM_HEADER)):
            team_membership = self._registrar(request)
        data = _valid(RegisterSerializer, request)
        registration.register(team_membership=team_membership, **data)
        return Response({"detail": REGISTERED}, status=status.HTTP_201_CREATED)

    def _registrar(self, request) -> Membership | None:
        """The registrar's membership in X-Team-Id when they are an admin there; None for staff."""
        user = request.user
        closed = Forbidden(
            "Registration is closed; ask a team admin to create your account.", code="registration_closed"
        )
        if not user.is_authenticated:
            raise closed
        InteractiveLoginOnly().has_permission(request, self)
        if request.headers.get(TEAM_HEADER):
            access = context.enter_team(request)  # 400/403 for a bad header or a team the caller is not in
            if access.has_scope(scopes.ADMIN):
                return access.membership
            if not user.is_staff:
                raise Forbidden(
                    "Only an admin of the team in X-Team-Id can register accounts into it.",
                    code="insufficient_scope",
                    required_scope=scopes.ADMIN,
                )
        if user.is_staff:
            return None
        raise closed


class VerifyEmailView(PublicAuthView):
    """Verify the address with the six-digit code (10 minutes, single use, 5 tries)."""

    rate_limit = "verify_email"
    rate_limit_account = "email"

    @extend_schema(request=VerifyEmailSerializer, responses={200: DetailSerializer}, auth=[])
    def post(self, request):
        data = _valid(VerifyEmailSerializer, request)
        registration.verify_email(email=data["email"], code=data["code"])
        return Response({"detail": "Your e-mail address is verified; you can log in."})


class ResendVerificationView(PublicAuthView):
    """Send a fresh verification code. The same answer whether or not the address exists."""

    rate_limit = "resend_verification"
    rate_limit_account = "email"

    @extend_schema(request=EmailSerializer, responses={202: DetailSerializer}, auth=[])
    def post(self, request):
        data = _valid(EmailSerializer, request)
        registration.resend_verification(email=data["email"])
        return Response({"detail": SENT}, status=status.HTTP_202_ACCEPTED)


class ForgotPasswordView(PublicAuthView):
    """Start password recovery: always the same 202, whether or not the account exists."""

    rate_limit = "forgot_password"

    @extend_schema(request=EmailSerializer, responses={202: DetailSerializer}, auth=[])
    def post(self, request):
        data = _valid(EmailSerializer, request)
        recovery.forgot_password(email=data["email"])
        return Response({"detail": SENT}, status=status.HTTP_202_ACCEPTED)


class ResetPasswordView(PublicAuthView):
    """Set a new password with the code or the link token from the e-mail. Signs out every
    session of the account; does not log in."""

    rate_limit = "reset_password"

    @extend_schema(request=ResetPasswordSerializer, responses={200: DetailSerializer}, auth=[])
    def post(self, request):
        data = _valid(ResetPasswordSerializer, request)
        recovery.reset_password(
            email=data["email"],
            new_password=data["new_password"],
            code=data.get("code"),
            token=data.get("token"),
        )
        return Response({"detail": "Your password has been changed. Log in with the new password."})


class ChangePasswordView(AccessMixin, APIView):
    """Change the password (interactive login). Every other session is signed out; the answer
    carries a fresh access token for this one (the old one stops working)."""

    rate_limit = "change_password"

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Besides the current password: a session that has not proved who it is lately cannot change
    # it either (one rule for every act that hands out power: access.permissions.RecentAuthentication).
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=ChangePasswordSerializer, responses={200: AccessTokenSerializer})
    def post(self, request):
        data = _valid(ChangePasswordSerializer, request)
        user = request.user
        if not user.has_usable_password():
            raise Forbidden("This account has no password yet; use forgot-password to set one.", code="no_password")
        attempt = ratelimit.attempt(request, "change_password", accounts=[str(user.pk)])
        if not user.check_password(data["current_password"]):
            raise BadRequest("The current password is wrong.", code="wrong_password")
        attempt.succeeded()
        passwords.check_password_rules(data["new_password"], user=user, field="new_password")
        family_id = request.access.credential.get(FAMILY_CLAIM)
        passwords.set_password(user=user, password=data["new_password"], keep_family_id=family_id)
        return Response(sessions.fresh_access_token(user=user, family_id=family_id))


class ReauthenticateView(AccessMixin, APIView):
    """Step-up: prove who you are again (the password, a TOTP or recovery code, or a passkey's
    answer to POST /auth/reauthenticate/passkey-options), and this session, only this one, may do
    the acts that hand out power for REAUTH_SECONDS (accounts/reauth.py)."""

    rate_limit = "reauthenticate"

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(request=ReauthenticateSerializer, responses={200: ReauthenticatedSerializer})
    def post(self, request):
        data = _valid(ReauthenticateSerializer, request)
        (name,) = [name for name in reauth.METHODS if data.get(name)]
        until = reauth.reauthenticate(
            request=request,
            user=request.user,
            family_id=context.session_of(request.access),
            method=reauth.METHODS[name],
            proof=data[name],
        )
        return Response(ReauthenticatedSerializer({"reauthenticated_until": until}).data)


class GoogleSignInView(PublicAuthView):
    """Sign in (or up) with a Google ID token. Returns the same JWT pair as login, or, with
    `X-GhostFlow-Session: cookie`, the access token and the refresh cookie (the dashboard)."""

    rate_limit = "google"

    @extend_schema(
        request=GoogleSerializer,
        parameters=[SESSION_MODE_PARAMETER],
        responses={
            200: OpenApiResponse(SIGN_IN, description=SIGN_IN_DESCRIPTION),
            404: OpenApiResponse(ProblemSerializer, description="Google sign-in is not configured."),
            503: OpenApiResponse(ProblemSerializer, description="Google's keys could not be fetched."),
        },
        auth=[],
    )
    def post(self, request):
        data = _valid(GoogleSerializer, request)
        claims = google.verify_credential(data["credential"])
        return _signed_in(request, google.sign_in(claims=claims))


class AccountView(AccessMixin, APIView):
    """Account summary and sign-in methods (for the CLI and the dashboard)."""

    permission_classes = [IsAuthenticated, PersonOnly]

    @extend_schema(responses={200: AccountSerializer})
    def get(self, request):
        return Response(AccountSerializer(request.user).data)


class GoogleUnlinkView(AccessMixin, APIView):
    """Unlink Google; refused (409) unless a password sign-in exists."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(request=None, responses={200: AccountSerializer})
    def post(self, request):
        google.unlink(user=request.user)
        request.user.refresh_from_db()
        return Response(AccountSerializer(request.user).data)


def _current_family(request) -> str | None:
    """The login (refresh family) of the access token making the call."""
    credential = request.access.credential
    family = credential.get(FAMILY_CLAIM) if credential is not None else None
    return str(family) if family else None


class SessionListView(AccessMixin, generics.ListAPIView):
    """My signed-in logins (refresh families that are neither revoked nor past their cap), newest
    first; `current` marks the one making this call."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    serializer_class = SessionSerializer

    def get_queryset(self):
        return sessions.live_sessions(user=self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "current_family": _current_family(self.request)}


class SessionDetailView(AccessMixin, APIView):
    """Sign one of my logins out (its refresh token stops working; its access tokens expire on
    their own). Someone else's login, or one that is not live, is a 404."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(responses={204: None})
    def delete(self, request, family_id):
        if not sessions.revoke_session(user=request.user, family_id=family_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeOtherSessionsView(AccessMixin, APIView):
    """Sign out everywhere else: every live login of mine except the one making this call."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(request=None, responses={200: RevokedSessionsSerializer})
    def post(self, request):
        revoked = sessions.revoke_other_sessions(user=request.user, current_family_id=_current_family(request))
        return Response({"revoked": revoked})


class SecondFactorStatusView(AccessMixin, APIView):
    """Which second factors are on, and how many recovery codes are left."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(responses={200: SecondFactorStatusSerializer})
    def get(self, request):
        return Response(SecondFactorStatusSerializer(mfa.status(user=request.user)).data)


class TOTPEnrolmentView(AccessMixin, APIView):
    """Begin enrolling an authenticator app: a new secret, its otpauth:// URI and QR code (SVG).
    Nothing changes at sign-in until the enrolment is confirmed with a code. Beginning again
    replaces a secret that was never confirmed; with a confirmed factor it is a 409."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Adding or removing a factor hands out (or takes away) the power to sign in: step-up first.
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=None, responses={201: TOTPEnrolmentSerializer})
    def post(self, request):
        enrolment = mfa.begin_totp_enrolment(user=request.user)
        body = {"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri, "qr_svg": enrolment.qr_svg}
        return Response(body, status=status.HTTP_201_CREATED)


class TOTPConfirmView(AccessMixin, APIView):
    """Confirm the enrolment with a code from the app: two-step verification is on from now. The
    answer carries the ten recovery codes, once. Every other login of the account is signed out
    (this one stays)."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Adding or removing a factor hands out (or takes away) the power to sign in: step-up first.
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=SecondFactorCodeSerializer, responses={200: RecoveryCodesSerializer})
    def post(self, request):
        data = _valid(SecondFactorCodeSerializer, request)
        codes, revoked = sessions.enable_totp(
            request=request, user=request.user, code=data["code"], current_family_id=_current_family(request)
        )
        return Response({"recovery_codes": codes, "other_sessions_revoked": revoked})


class TOTPDisableView(AccessMixin, APIView):
    """Turn two-step verification off (the app and the recovery codes), with a fresh code from
    the app or an unused recovery code."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Adding or removing a factor hands out (or takes away) the power to sign in: step-up first.
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=SecondFactorCodeSerializer, responses={200: SecondFactorStatusSerializer})
    def post(self, request):
        data = _valid(SecondFactorCodeSerializer, request)
        mfa.remove_totp(request=request, user=request.user, code=data["code"])
        return Response(SecondFactorStatusSerializer(mfa.status(user=request.user)).data)


class RecoveryCodesView(AccessMixin, APIView):
    """A new set of ten recovery codes (the old set stops working), with a fresh code."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # Adding or removing a factor hands out (or takes away) the power to sign in: step-up first.
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=SecondFactorCodeSerializer, responses={200: RecoveryCodesSerializer})
    def post(self, request):
        data = _valid(SecondFactorCodeSerializer, request)
        return Response(
            {"recovery_codes": mfa.replace_recovery_codes(request=request, user=request.user, code=data["code"])}
        )
