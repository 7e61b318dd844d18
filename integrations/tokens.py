"""Admin-key tokens (seed 002, Ghost's Admin API token authentication), verified.

A client splits its Admin key `{id}:{secret}` on the colon, hex-decodes the secret and signs a JWT:
header `{"alg": "HS256", "typ": "JWT", "kid": id}`, payload `{"iat", "exp", "aud"}`, valid at most
five minutes. `aud` is one of AUDIENCES: `/admin/` (unversioned: what Ghost 5's own Admin API
client signs) or `/v1/admin/` (this API's one version). The versioned audiences of older Ghost
clients (`/v3/admin/`, `/canary/admin/`, ...) name Admin APIs this one is not, and are refused. A
`kid` in the payload instead of the header is refused with its own code, saying where it belongs.

The server checks, in this order, each with its own 401 code: the token's shape, the algorithm
(HS256 only: no `none`, no public-key algorithms), the key id, the integration's state, the
signature (PyJWT compares HMACs in constant time), the claims, the lifetime, and — for tokens that
carry a `jti` — that it was not used before.

Reuse: like Ghost, a token without `jti` may be sent again until it expires (Ghost's own clients
sign one token per few minutes, not per request). A token with a `jti` is single use, recorded in
the database (infra/single_use.py), so a cache that restarts empty cannot forget a use.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from infra import single_use

from . import secrets
from .models import Integration

ADMIN_AUDIENCE = "/v1/admin/"  # what sign() puts in a token
AUDIENCES = ("/admin/", ADMIN_AUDIENCE)
MAX_LIFETIME_SECONDS = 300
# Clocks differ a little between a client and us: `iat` may be this far in the future, and `exp`
# this far in the past.
LEEWAY_SECONDS = 30
KEY_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class TokenRefused(Exception):
    code: str
    message: str
    integration: Integration | None = None


def _unverified_segment(token: str, index: int) -> dict:
    """Segment `index` (0: header, 1: payload) of a compact JWS, decoded, never verified: only read
    to tell whose token it is. Written by hand because it runs on every request that carries a
    login JWT (to tell it from an Admin-key token), where PyJWT's readers cost about 45 µs for the
    header and 125 µs for the payload; this is base64url and JSON, a few µs. Verification is
    PyJWT's (verify below)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    segment = parts[index]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:  # bad base64, bad UTF-8 or bad JSON
        return {}
    return decoded if isinstance(decoded, dict) else {}


def key_id_of(token: str) -> str | None:
    """The `kid` of a token's header if it has our Admin-key shape, else None (not ours)."""
    kid = _unverified_segment(token, 0).get("kid")
    return kid if isinstance(kid, str) and KEY_ID.match(kid) else None


def key_id_in_payload(token: str) -> str | None:
    """The Admin-key id a token carries in its payload (unverified) when its header has none: a
    client that put `kid` in the wrong place. Not a credential: only read to say what is wrong."""
    header = _unverified_segment(token, 0)
    if not header or "kid" in header:
        return None
    kid = _unverified_segment(token, 1).get("kid")
    return kid if isinstance(kid, str) and KEY_ID.match(kid) else None


def _unverified_claims(token: str) -> dict:
    """The payload, signature unchecked: only ever read to say what is wrong with a token."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def verify(token: str) -> Integration:
    """The integration whose Admin key signed `token`, or TokenRefused saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRefused("token_malformed", "The token is not a well-formed JWT.") from exc
    if header.get("alg") != "HS256":
        raise TokenRefused("token_algorithm_invalid", "Admin-key tokens must be signed with HS256.")
    if header.get("typ", "JWT").upper() != "JWT":
        raise TokenRefused("token_malformed", "The token's `typ` must be JWT.")
    kid = header.get("kid")
    if kid is None and "kid" in _unverified_claims(token):
        raise TokenRefused(
            "token_kid_in_payload",
            "The token has `kid` in its payload; put the Admin key's id in the JWT header (`kid`), "
            "as Ghost's clients do.",
        )
    if not isinstance(kid, str) or not KEY_ID.match(kid):
        raise TokenRefused("kid_unknown", "The token's `kid` is not an Admin key id.")
    integration = Integration.objects.for_admin_key(kid).select_related("team").first()
    if integration is None:
        raise TokenRefused("kid_unknown", "No integration has this Admin key id.")
    refusal = integration.refusal(admin_key_current=True)  # found by the key id that signed
    if refusal is not None:
        raise TokenRefused(refusal.code, refusal.message, integration)
    secret = bytes.fromhex(secrets.decrypt(integration.admin_secret_encrypted))
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=list(AUDIENCES),
            leeway=LEEWAY_SECONDS,
            options={"require": ["iat", "exp", "aud"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenRefused(
            "signature_invalid", "The token's signature does not match the Admin key.", integration
        ) from exc
    except jwt.ExpiredSignatureError as exc:
        raise TokenRefused("token_expired", "The token has expired; sign a new one.", integration) from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenRefused(
            "audience_invalid", f"The token's `aud` must be one of: {', '.join(AUDIENCES)}.", integration
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused("token_claims_missing", f"The token has no `{exc.claim}` claim.", integration) from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRefused("token_not_yet_valid", "The token's `iat` is in the future.", integration) from exc
    except jwt.PyJWTError as exc:
        raise TokenRefused("token_malformed", "The token's claims are not valid.", integration) from exc
    issued_at, expires_at = claims["iat"], claims["exp"]
    if not isinstance(issued_at, int | float) or not isinstance(expires_at, int | float):
        raise TokenRefused("token_malformed", "`iat` and `exp` must be numbers.", integration)
    if expires_at - issued_at > MAX_LIFETIME_SECONDS:
        raise TokenRefused(
            "token_lifetime_too_long", f"A token may live at most {MAX_LIFETIME_SECONDS} seconds.", integration
        )
    jti = claims.get("jti")
    if jti is not None:
        # Kept until the token could no longer be accepted anyway (its `exp`, plus the leeway).
        valid_until = datetime.fromtimestamp(expires_at + LEEWAY_SECONDS, tz=UTC)
        if not single_use.use(kind="admin-key-jwt", issuer=kid, jti=str(jti), expires_at=valid_until):
            raise TokenRefused("token_reused", "This token (its `jti`) has already been used.", integration)
    return integration


def sign(admin_key: str, *, lifetime: int = MAX_LIFETIME_SECONDS, now: float | None = None, **claims) -> str:
    """A token for `admin_key`, exactly as a client makes one (tests, README, SDK reference)."""
    import time

    kid, _, secret = admin_key.partition(":")
    issued_at = int(now if now is not None else time.time())
    payload = {"iat": issued_at, "exp": issued_at + lifetime, "aud": ADMIN_AUDIENCE, **claims}
    return jwt.encode(payload, bytes.fromhex(secret), algorithm="HS256", headers={"kid": kid, "typ": "JWT"})
