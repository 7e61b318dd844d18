from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from access.scopes import sorted_scopes
from access.views import AccessMixin
from infra import ratelimit
from infra.errors import Unauthorized

from . import services
from .serializers import LoginSerializer, MeSerializer, RefreshSerializer, TokenPairSerializer, UserSerializer


class PublicAuthView(AccessMixin, APIView):
    """An unauthenticated auth endpoint whose failures are still 401 with WWW-Authenticate."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class LoginView(PublicAuthView):
    """Exchange a username (or e-mail) and password for a JWT pair. Logging in never creates a key."""

    @extend_schema(request=LoginSerializer, responses={200: TokenPairSerializer}, auth=[])
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier = serializer.validated_data["username"]
        ratelimit.check(request, "login")
        user = services.find_login_user(identifier)
        # Failed attempts lock the account's *password login* for a while, however it is spelled;
        # recovery (forgot/reset-password) has its own limits, so the owner can still get back in.
        account = services.login_account_key(user=user, identifier=identifier)
        ratelimit.check_failures(request, "login", account=account)
        try:
            pair = services.login(user=user, password=serializer.validated_data["password"])
        except Unauthorized:
            ratelimit.count_failure("login", account=account)
            raise
        return Response(pair.as_response())


class RefreshView(PublicAuthView):
    """Rotate a refresh token: the old one is spent; replaying it revokes the whole login."""

    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer}, auth=[])
    def post(self, request):
        ratelimit.check(request, "refresh")
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.rotate_refresh_token(raw=serializer.validated_data["refresh_token"])
        return Response(pair.as_response())


class LogoutView(PublicAuthView):
    """Sign out: revoke the refresh token's whole family. Access tokens expire on their own."""

    @extend_schema(request=RefreshSerializer, responses={204: None}, auth=[])
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(raw=serializer.validated_data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(AccessMixin, APIView):
    """The caller's identity; with an API key, also the key's id, name, team and effective scopes."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        access = request.access
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
