"""Authentication with an integration's credentials.

- `AdminTokenAuthentication` (every /api/v1/ view): `Authorization: Ghost <jwt>`, or `Bearer <jwt>`
  when the token carries an Admin-key `kid` (our login JWTs never do): in its header, or — a
  client's mistake, refused with its own code — in its payload. See tokens.py.
- `content_integration` (the Content API only): the publishable Content key in `?key=`.

Both put the integration they found on the request context before any refusal, so the audit log
records denials against it, and say which of its two keys was used.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apikeys import keys as api_keys
from apikeys.authentication import CREDENTIAL_QUERY_PARAMS
from infra import allowlist, net, request_context
from infra.errors import Forbidden, Unauthorized

from . import tokens
from .models import Integration

LAST_USED_RESOLUTION = timedelta(minutes=1)
CONTENT_KEY = re.compile(r"^[0-9a-f]{26}$")
ADMIN_KEY = re.compile(r"^[0-9a-f]{24}:[0-9a-f]{64}$")


class IntegrationActor:
    """`request.user` of an integration's request: authenticated, and nobody's account. Actions
    are attributed to the integration (audit events carry it), never to the person who made it."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, integration: Integration):
        self.integration = integration
        self.username = f"integration:{integration.name}"

    def __str__(self) -> str:
        return self.username


def _note(integration: Integration, which: str) -> None:
    context = request_context.current()
    if context is not None:
        context.integration = integration
        context.integration_key = which


def touch(integration: Integration) -> None:
    """last_used_at, written at most once a minute per integration."""
    now = timezone.now()
    if integration.last_used_at is not None and now - integration.last_used_at < LAST_USED_RESOLUTION:
        return
    Integration.objects.for_team(integration.team_id).filter(pk=integration.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    integration.last_used_at = now


class AdminTokenAuthentication(BaseAuthentication):
    """Claims `Ghost <token>` always, and `Bearer <token>` only when the token names an Admin key;
    anything else is left to the next class (returns None)."""

    credential_kind = "integration"  # access.context.KINDS says what an integration may do

    def authenticate_header(self, request) -> str:
        return 'Ghost realm="admin-api"'

    def authenticate(self, request):
        # A Content or Admin key in the URL of the main API: refused, like a gf_ key would be.
        for name in CREDENTIAL_QUERY_PARAMS:
            for value in request.query_params.getlist(name):
                if CONTENT_KEY.match(value) or ADMIN_KEY.match(value):
                    raise Unauthorized(
                        "Integration keys are not accepted in the query string of this API.", code="key_in_query"
                    )
        header = get_authorization_header(request).split()
        if len(header) != 2:
            return None
        scheme, token = header[0].lower(), header[1].decode("latin-1")
        if scheme == b"bearer" and (
            api_keys.looks_like_key(token)
            or (tokens.key_id_of(token) is None and tokens.key_id_in_payload(token) is None)
        ):
            return None
        if scheme not in (b"ghost", b"bearer"):
            return None
        try:
            integration = tokens.verify(token)
        except tokens.TokenRefused as refused:
            if refused.integration is not None:
                _note(refused.integration, "admin")
            raise Unauthorized(refused.message, code=refused.code) from None
        _note(integration, "admin")
        if integration.allowed_ips and not allowlist.allows(
            allowlist.parse(integration.allowed_ips), net.client_ip(request)
        ):
            raise Forbidden("This integration's Admin key may not be used from this address.", code="ip_not_allowed")
        touch(integration)
        return IntegrationActor(integration), integration


def content_integration(request) -> Integration:
    """The integration whose Content key is in `?key=`, or 401. Any other credential there (a gf_
    key, an Admin key) is refused as such, without looking it up."""
    values = request.GET.getlist("key")
    if not values:
        raise Unauthorized("Send the integration's Content key as `?key=`.", code="not_authenticated")
    raw = values[0]
    if len(values) > 1 or not CONTENT_KEY.match(raw):
        if api_keys.looks_like_key(raw) or ADMIN_KEY.match(raw):
            raise Unauthorized(
                "Only a Content key is accepted here; never put an API key or Admin key in a URL.",
                code="key_not_allowed_here",
            )
        raise Unauthorized("The Content key is not valid.", code="key_invalid")
    digests = [api_keys.digest(raw, pepper_id) for pepper_id in settings.API_KEY_PEPPERS]
    integration = Integration.objects.for_content_key(digests).select_related("team").first()
    if integration is None:
        raise Unauthorized("The Content key is not valid.", code="key_invalid")
    _note(integration, "content")
    refusal = integration.refusal(admin_key_current=True)  # a Content key: no Admin key in question
    if refusal is not None:
        raise refusal.error()
    touch(integration)
    return integration
