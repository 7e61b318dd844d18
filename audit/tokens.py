"""Stream tokens: what a browser puts in `?token=` to open its team's live audit stream.

The browser's EventSource cannot send headers, so the credential has to travel in the URL, where
it may be seen (a proxy's log, a screen share). So it is not a login or a key but a token worth
little: good for one thing (opening this team's audit stream, nothing else accepts it), for 60
seconds, once.

Format: a JWT (HS256 only) with its own audience (`ghostflow-audit-stream`), signed with a key
derived from JWT_SIGNING_KEY for this purpose alone, so an access token is never a stream token
nor the other way round, and rotating JWT_SIGNING_KEY voids both. It names its holder (holders.py:
the login, key or integration that asked for it, by id), the team, and a random `jti`. Claims are
readable by whoever holds the token; none is a secret (the password fingerprint is a keyed hash).

Single use: redeeming it adds its `jti` to the shared cache (Redis in production) for the rest of
its life; a second redemption finds it there (401 `token_reused`). If the cache cannot be reached
the token is not accepted at all (503 + Retry-After): a token that could be replayed is worse
than a retry. Neither the token nor its jti is ever written to the database or the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt
from django.conf import settings
from django.core.cache import cache

from access.context import KINDS
from infra.errors import Unauthorized
from infra.ratelimit import CACHE_ERRORS, CacheUnavailable

from .holders import Holder

AUDIENCE = "ghostflow-audit-stream"
LIFETIME_SECONDS = 60
ALGORITHM = "HS256"
# Longer than any token we issue (about 400 characters): anything longer is refused unread.
MAX_LENGTH = 2048
_USED = "gf:audit-stream:used:"


def _signing_key() -> bytes:
    return hmac.new(settings.JWT_SIGNING_KEY.encode(), b"ghostflow audit stream token v1", hashlib.sha256).digest()


def issue(*, holder: Holder, now: float | None = None) -> tuple[str, int]:
    """A stream token for `holder` (its team's stream only), and its lifetime in seconds."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "aud": AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
        "team": str(holder.team_id),
        "kind": holder.kind,
        "sub": str(holder.user_id or ""),
        "key": str(holder.key_id or ""),
        "int": str(holder.integration_id or ""),
        "fp": holder.fingerprint,
        "sid": str(holder.session_id or ""),
    }
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), LIFETIME_SECONDS


def redeem(raw: str) -> Holder:
    """The holder of a stream token presented now, once. 401 `token_invalid` (not ours, tampered,
    another audience), `token_expired`, `token_reused`; 503 while the cache is unreachable."""
    if not raw or len(raw) > MAX_LENGTH:
        raise Unauthorized("The stream token is invalid.", code="token_invalid")
    try:
        claims = jwt.decode(
            raw,
            _signing_key(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=settings.SIMPLE_JWT["ISSUER"],
            options={"require": ["exp", "iat", "jti", "aud", "iss"]},
        )
        holder = Holder(
            kind=claims["kind"],
            team_id=uuid.UUID(claims["team"]),
            user_id=uuid.UUID(claims["sub"]) if claims["sub"] else None,
            key_id=uuid.UUID(claims["key"]) if claims["key"] else None,
            integration_id=uuid.UUID(claims["int"]) if claims["int"] else None,
            fingerprint=claims["fp"],
            session_id=uuid.UUID(claims["sid"]) if claims["sid"] else None,
        )
        jti = uuid.UUID(hex=claims["jti"]).hex
        if holder.kind not in KINDS:
            raise ValueError(holder.kind)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The stream token has expired; ask for a new one.", code="token_expired") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, AttributeError) as exc:
        # Our key signed every token that gets this far, so a claim of the wrong shape means a
        # token from another version: still only the client's problem.
        raise Unauthorized("The stream token is invalid.", code="token_invalid") from exc
    ttl = max(int(claims["exp"] - time.time()), 0) + 5
    try:
        first = cache.add(_USED + jti, 1, timeout=ttl)
    except CACHE_ERRORS as exc:
        raise CacheUnavailable("audit_stream_token") from exc
    if not first:
        raise Unauthorized("This stream token has been used already; ask for a new one.", code="token_reused")
    return holder
