"""API-key authentication (`Authorization: Bearer gf_...` or `X-Api-Key: gf_...`)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from infra import allowlist, net, request_context
from infra.errors import Forbidden, Unauthorized

from . import keys, limits, principals
from .models import APIKey

LAST_USED_RESOLUTION = timedelta(minutes=1)
# Query parameters a client might put a credential in. A gf_ value in any of them is refused (and
# an integration's key: integrations.authentication).
CREDENTIAL_QUERY_PARAMS = ("key", "api_key", "apikey", "api-key", "token", "access_token", "x-api-key")


class APIKeyAuthentication(BaseAuthentication):
    """Claims only gf_ credentials; everything else is left to the JWT class (returns None).

    Format and checksum are checked before any query, so a mistyped or invented key costs the
    database nothing. A well-formed key is found by its HMAC digest in one indexed query that
    also brings the owner, the team and the owner's current membership. The key found is put on
    the request context (infra.request_context) before any refusal, so the audit log records
    denials too.
    """

    keyword = "Bearer"
    credential_kind = "api_key"  # access.context.KINDS says what a key may do

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'

    def _credential(self, request) -> str | None:
        header = get_authorization_header(request).split()
        if len(header) == 2 and header[0].lower() == self.keyword.lower().encode():
            value = header[1].decode("latin-1")
            if keys.looks_like_key(value):
                return value
        value = request.META.get("HTTP_X_API_KEY")
        if value is not None:
            return value.strip()
        return None

    def authenticate(self, request):
        if any(keys.looks_like_key(v) for name in CREDENTIAL_QUERY_PARAMS for v in request.query_params.getlist(name)):
            raise Unauthorized(
                "API keys are not accepted in the query string; send them in the Authorization header.",
                code="key_in_query",
            )
        raw = self._credential(request)
        if raw is None:
            return None
        parsed = keys.parse(raw)
        if parsed is None:
            raise Unauthorized("The API key is malformed.", code="key_invalid")
        digests = list(parsed.digests.values())
        context = request_context.current()
        if context is not None:
            context.find_key = lambda using: APIKey.objects.using(using).for_authentication(digests).first()
        key = principals.lookup(digests)
        if key is None:
            raise Unauthorized("The API key is not valid.", code="key_invalid")
        digest = key.digest if key.digest in digests else key.previous_digest
        if context is not None:
            context.key = key
            # Which secret was presented: the current one, or the one a regeneration replaced
            # (during its grace period, or later, or after a revoke). The audit event says so, so
            # the owner can see when the old secret stopped being used.
            context.key_secret = "current" if key.digest == digest else "previous"
        now = timezone.now()
        refusal = key.refusal(digest=digest, now=now)
        if refusal is not None:
            raise refusal.error()
        if key.allowed_ips and not allowlist.allows(key.allowed_networks, net.client_ip(request)):
            raise Forbidden("This API key may not be used from this address.", code="ip_not_allowed")
        decision = limits.consume(key)
        if context is not None:
            context.response_headers.update(decision.headers)
        if decision.refusal is not None:
            raise decision.refusal
        self._touch(key, now)
        return key.user, key

    @staticmethod
    def _touch(key: APIKey, now) -> None:
        """Write last_used_at at most once a minute per key: no query on the other requests."""
        if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
            return
        APIKey.objects.for_team(key.team_id).filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        key.last_used_at = now
