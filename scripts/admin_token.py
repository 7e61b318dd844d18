"""A token for the Admin API, signed with an integration's Admin key, by python3 alone:

    ADMIN_KEY=<id>:<secret>                          # the create answer's admin_key
    TOKEN=$(python3 scripts/admin_token.py "$ADMIN_KEY")
    curl -s "$B/campaigns" -H "Authorization: Ghost $TOKEN" -H "X-Team-Id: $TEAM"

The token Ghost's Admin API clients sign (integrations/tokens.py verifies it): a JWT, HS256, with
the header {"alg": "HS256", "kid": <id>, "typ": "JWT"} and the claims {"iat": now, "exp": now + 300,
"aud": "/admin/"}, signed with the secret hex-decoded. It is valid five minutes, the longest the
server accepts: sign another when it runs out.

Written with the standard library (base64, hashlib, hmac, json) rather than PyJWT, on purpose: it
is run by the readers of the docs and by docs/flows.sh, with whatever python3 they have, where
PyJWT is usually not installed; a JWS of a fixed shape is three base64url segments and an HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import time

LIFETIME_SECONDS = 300
AUDIENCE = "/admin/"
ADMIN_KEY = re.compile(r"^([0-9a-f]{24}):([0-9a-f]{2,})$")


def _segment(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _json(value: dict) -> bytes:
    return _segment(json.dumps(value, separators=(",", ":")).encode())


def admin_token(admin_key: str, *, now: int | None = None) -> str:
    """The token for `admin_key` (`<id>:<secret>`), issued at `now` (default: this second)."""
    match = ADMIN_KEY.match(admin_key.strip())
    if match is None or len(match.group(2)) % 2:
        # Never echo the value: it is a secret.
        raise ValueError("an Admin key is <id>:<secret>: 24 hex digits, a colon, the hex secret (its admin_key)")
    kid, secret = match.groups()
    issued = int(time.time()) if now is None else now
    header = _json({"alg": "HS256", "kid": kid, "typ": "JWT"})
    claims = _json({"iat": issued, "exp": issued + LIFETIME_SECONDS, "aud": AUDIENCE})
    signing_input = header + b"." + claims
    signature = hmac.new(bytes.fromhex(secret), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _segment(signature)).decode()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print('usage: python3 scripts/admin_token.py "$ADMIN_KEY"   (the key: <id>:<secret>)', file=sys.stderr)
        return 2
    try:
        print(admin_token(argv[0]))
    except ValueError as refused:
        print(f"admin_token.py: {refused}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
