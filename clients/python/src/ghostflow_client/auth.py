"""Credentials: API keys, integrations' Admin keys, and JWT logins whose refresh tokens rotate.

An integration's Admin key ``{id}:{secret}`` is never sent: :class:`AdminKey` signs a short-lived
HS256 JWT with the secret (Ghost's Admin API scheme) and the client sends ``Authorization: Ghost
<token>``. One token is reused until shortly before it expires, then signed again; signing is a
few microseconds of the standard library (hmac, hashlib), under a lock, never a network call.

A login is a pair of tokens: a short-lived access token sent with every request, and a refresh
token exchanged for a new pair when the access token expires. The server *rotates* refresh
tokens: each one can be exchanged once, and presenting a spent one again is treated as theft and
signs the whole login out. So a client must never exchange the same refresh token twice, even
when many threads (or several processes sharing a stored login, like two `gf` commands) find
the access token expired at the same moment. The clients do it this way:

* one lock per login in the process (a ``threading.Lock``; an ``asyncio.Lock`` in the async
  client) around every refresh, and the store's own lock (a file lock for the CLI) inside it;
* under the locks, the tokens are compared with the ones the caller found stale: when they
  differ, someone else already refreshed and the caller simply uses the new access token;
* a refresh is one POST, never retried on its own: a retry after a lost answer would replay a
  refresh token the server may already have spent.

A :class:`TokenStore` keeps the current pair (in memory by default). Pass your own to keep a
login across runs; every rotation is saved to it before any request uses the new tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigurationError, SecondFactorRequired

__all__ = [
    "ADMIN_AUDIENCE",
    "KEY_PREFIX",
    "AdminKey",
    "MemoryTokenStore",
    "TokenStore",
    "Tokens",
    "check_api_key",
    "check_content_key",
    "key_prefix",
    "shown",
]

KEY_PREFIX = "gf_"
# An API key's public prefix, as the API lists it: `gf_` and the first 8 characters.
KEY_PREFIX_LENGTH = len(KEY_PREFIX) + 8
# Refresh this long before the access token expires (at most; a tenth of a short lifetime), so
# a request does not leave with a token that dies on the way.
EARLY_REFRESH_SECONDS = 30.0


def check_api_key(key: str) -> str:
    """The key, stripped, if it has the shape of a GhostFlow key (``gf_...``).

    The server would treat any other Bearer value as a JWT and answer with a confusing
    ``token_invalid``, so a wrong value is refused here with a clear message instead.
    """
    key = key.strip()
    if ADMIN_KEY_SHAPE.match(key.lower()):
        raise ConfigurationError("This is an integration's Admin key: pass it as admin_key=..., not api_key=.")
    if not key.startswith(KEY_PREFIX) or len(key) < 20:
        raise ConfigurationError("An API key starts with `gf_`; check that the whole key was copied.")
    return key


def key_prefix(key: str) -> str:
    """The public prefix of an API key (``gf_AbCdEfGh``): what the API lists, safe to show."""
    return key.strip()[:KEY_PREFIX_LENGTH]


# --- integrations: Admin keys and Content keys ------------------------------------------------

ADMIN_KEY_SHAPE = re.compile(r"^([0-9a-f]{24}):([0-9a-f]{64})$")
CONTENT_KEY_SHAPE = re.compile(r"^[0-9a-f]{26}$")
# The audience the server requires of Admin-key tokens (`aud`).
ADMIN_AUDIENCE = "/v1/admin/"
# The server accepts tokens that live at most 300 s (exp - iat); ours live a little less.
MAX_ADMIN_TOKEN_LIFETIME = 300
ADMIN_TOKEN_LIFETIME = 290
# Sign a new token when the cached one has less than this left, so that a request never leaves
# with a token that expires on the way (or on a server whose clock is a little ahead).
ADMIN_TOKEN_RENEW_BEFORE = 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


class AdminKey:
    """An integration's Admin key ``{id}:{secret}`` (24 and 64 hex characters), and the tokens it signs.

    ``token()`` returns an HS256 JWT (header ``alg`` HS256, ``typ`` JWT, ``kid`` = the key's id;
    payload ``iat``, ``exp`` = ``iat`` + 290 s, ``aud`` ``/v1/admin/``), the same one until it
    has less than a minute left; thread-safe (one lock, held only while signing). The secret is
    never sent, printed or put in a repr.

        >>> AdminKey(admin_key).sign()  # one token now, e.g. for curl
    """

    def __init__(
        self,
        admin_key: str,
        *,
        lifetime: int = ADMIN_TOKEN_LIFETIME,
        renew_before: int = ADMIN_TOKEN_RENEW_BEFORE,
    ) -> None:
        match = ADMIN_KEY_SHAPE.match(admin_key.strip().lower())
        if match is None:
            hint = " (that is an API key: pass it as api_key=...)" if admin_key.strip().startswith(KEY_PREFIX) else ""
            raise ConfigurationError(
                "An Admin key is `{id}:{secret}`: 24 hex characters, a colon and 64 hex characters; "
                f"check that the whole key was copied{hint}."
            )
        if not 0 < renew_before < lifetime <= MAX_ADMIN_TOKEN_LIFETIME:
            raise ConfigurationError(
                f"An Admin-key token lives at most {MAX_ADMIN_TOKEN_LIFETIME} s and is renewed before it expires."
            )
        self.key_id: str = match.group(1)
        self._secret = bytes.fromhex(match.group(2))
        self.lifetime = lifetime
        self.renew_before = renew_before
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def sign(self, *, now: float | None = None) -> str:
        """A new token, valid from `now` (default: the current time) for `lifetime` seconds."""
        issued_at = int(time.time() if now is None else now)
        header = {"alg": "HS256", "typ": "JWT", "kid": self.key_id}
        payload = {"iat": issued_at, "exp": issued_at + self.lifetime, "aud": ADMIN_AUDIENCE}
        signing_input = f"{_json_segment(header)}.{_json_segment(payload)}"
        signature = hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def token(self) -> str:
        """The cached token, or a new one when it has less than `renew_before` seconds left."""
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._expires_at - self.renew_before:
                issued_at = int(now)
                self._token = self.sign(now=issued_at)
                self._expires_at = float(issued_at + self.lifetime)
            return self._token

    def discard(self, token: str) -> None:
        """Forget `token` (the server said it expired): the next ``token()`` signs a new one.
        A newer token another thread signed meanwhile is kept."""
        with self._lock:
            if self._token == token:
                self._token = None

    def __repr__(self) -> str:
        # Never print the secret: reprs end up in logs and tracebacks.
        return f"AdminKey(key_id={self.key_id!r})"


def check_content_key(key: str) -> str:
    """The key, stripped, if it has the shape of a Content key (26 hex characters).

    A Content key travels in the URL (``?key=``); an API key or an Admin key must never, so
    they are refused here before anything is sent.
    """
    key = key.strip()
    if CONTENT_KEY_SHAPE.match(key.lower()):
        return key.lower()
    if key.startswith(KEY_PREFIX) or ADMIN_KEY_SHAPE.match(key.lower()):
        raise ConfigurationError(
            "The Content API takes an integration's Content key only; never put an API key or an Admin key in a URL."
        )
    raise ConfigurationError("A Content key is 26 hex characters; check that the whole key was copied.")


# A JWT (a login's access or refresh token, a signed Admin-key token): three base64url segments.
JWT_SHAPE = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
# The longest value `shown` prints as it is (a UUID's length): a longer one may be a secret of a
# shape nobody told us about.
SHOWN_MAX_LENGTH = 36


def shown(value: str) -> str:
    """How an error message may show a value the caller gave (an id, a name, a reference): a
    credential only by its public part (an API key by its prefix, an Admin key by its id), a
    token not at all, and nothing longer than a UUID as it is."""
    text = value.strip()
    if text.startswith(KEY_PREFIX) and len(text) > KEY_PREFIX_LENGTH:
        return f"an API key ({key_prefix(text)}...)"
    admin = ADMIN_KEY_SHAPE.match(text.lower())
    if admin is not None:
        return f"an Admin key (id {admin.group(1)})"
    if JWT_SHAPE.match(text):
        return "a token"
    if len(text) > SHOWN_MAX_LENGTH:
        return f"a {len(text)}-character value"
    return repr(text)


@dataclass(frozen=True)
class Tokens:
    """One login's current token pair.

    ``expires_at`` is wall-clock time (Unix seconds), so a stored pair means the same thing in
    another process; ``lifetime`` is what the access token was issued for.
    """

    access_token: str
    refresh_token: str
    expires_at: float
    lifetime: float

    @classmethod
    def from_login(cls, body: Mapping[str, Any], *, now: float | None = None) -> Tokens:
        """The pair in a login answer, or SecondFactorRequired when the account has a second factor."""
        if body.get("second_factor_required"):
            raise SecondFactorRequired(
                ticket=str(body["ticket"]),
                methods=[str(method) for method in body.get("methods") or []],
                expires_in=int(body.get("expires_in") or 0),
            )
        return cls.from_response(body, now=now)

    @classmethod
    def from_response(cls, body: Mapping[str, Any], *, now: float | None = None) -> Tokens:
        """The pair in a login or refresh answer (``access_token``, ``refresh_token``, ``expires_in``)."""
        now = time.time() if now is None else now
        lifetime = float(body.get("expires_in") or 0)
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            expires_at=now + lifetime,
            lifetime=lifetime,
        )

    def access_is_stale(self, now: float | None = None) -> bool:
        """Whether the access token has expired or is about to."""
        now = time.time() if now is None else now
        margin = min(EARLY_REFRESH_SECONDS, self.lifetime / 10)
        return now >= self.expires_at - margin

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "lifetime": self.lifetime,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokens:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=float(data["expires_at"]),
            lifetime=float(data["lifetime"]),
        )

    def __repr__(self) -> str:
        # Never print a token: reprs end up in logs and tracebacks.
        return f"Tokens(expires_at={self.expires_at!r}, lifetime={self.lifetime!r})"


def same_tokens(a: Tokens | None, b: Tokens | None) -> bool:
    """Whether two pairs are the same issuance (an access token is never issued twice)."""
    if a is None or b is None:
        return a is b
    return a.access_token == b.access_token


@runtime_checkable
class TokenStore(Protocol):
    """Where a login's tokens live between requests (and, for a persistent store, between runs).

    ``lock()`` must exclude every other holder of the same store for the duration of a refresh:
    other processes too, if the store is shared between processes. The client holds it while it
    re-reads the store, exchanges the refresh token and saves the new pair.
    """

    def load(self) -> Tokens | None:
        """The stored pair, or None when logged out."""
        ...

    def save(self, tokens: Tokens | None) -> None:
        """Replace the stored pair (None: logged out)."""
        ...

    def lock(self) -> AbstractContextManager[object]:
        """A lock held around each refresh."""
        ...


class MemoryTokenStore:
    """Tokens in memory: the default. The client's own thread lock is enough for one process."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens

    def load(self) -> Tokens | None:
        return self._tokens

    def save(self, tokens: Tokens | None) -> None:
        self._tokens = tokens

    def lock(self) -> AbstractContextManager[object]:
        return nullcontext()


class LoginState:
    """The token state of one login, shared by a client and its ``with_team`` copies.

    Holds no lock itself: the client guards it with its own lock (a ``threading.Lock``, an
    ``asyncio.Lock`` in the async client), shared with its copies. The decisions (is a refresh
    needed, did someone else refresh) are here so both clients make them the same way.
    """

    def __init__(self, store: TokenStore, *, username: str | None = None, password: str | None = None) -> None:
        self.store = store
        self.username = username
        self.password = password
        self.tokens: Tokens | None = store.load()

    def __repr__(self) -> str:
        # Never the password or a token: reprs end up in logs and tracebacks.
        return f"LoginState(username={self.username!r}, logged_in={self.tokens is not None})"

    def usable(self, seen: Tokens | None) -> Tokens | None:
        """The current pair if it can be used instead of refreshing: it is not the pair the
        caller found stale or refused (someone refreshed since), and its access token is fresh."""
        current = self.tokens
        if current is not None and not same_tokens(current, seen) and not current.access_is_stale():
            return current
        return None

    def adopt_stored(self, seen: Tokens | None) -> Tokens | None:
        """With the store locked: take the stored pair if another process replaced it (it
        rotated or logged in again; our refresh token is then spent), then as `usable`."""
        stored = self.store.load()
        if stored is not None and not same_tokens(stored, self.tokens):
            self.tokens = stored
        return self.usable(seen)

    def install(self, tokens: Tokens) -> Tokens:
        """Save a new pair, then use it (saved first: a crash must not lose the only valid
        refresh token)."""
        self.store.save(tokens)
        self.tokens = tokens
        return tokens

    def drop(self) -> None:
        """Forget the login (logged out, or the server refused its refresh token)."""
        self.tokens = None
        self.store.save(None)

    def no_login(self) -> ConfigurationError:
        return ConfigurationError(
            "Not logged in: pass username and password, a refresh token, an api_key or an admin_key, "
            "or call login() first."
        )
