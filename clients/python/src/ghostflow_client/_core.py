"""What the sync and async clients share: configuration checks, URLs, headers, parameters."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ._redact import redact_url
from ._version import __version__
from .auth import AdminKey, LoginState, MemoryTokenStore, Tokens, TokenStore, check_api_key, key_prefix, shown
from .errors import ConfigurationError, NetworkError, RequestTimeout
from .retry import RetryPolicy

# Every request has a deadline: 5 s to connect, 30 s for anything else. A listing page or a write
# takes milliseconds; a hung connection should fail, not hold a script forever.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
API_PREFIX = "/api/v1"
# The Authorization scheme of Admin-key tokens (the server also takes `Bearer` for them).
ADMIN_SCHEME = "Ghost"

Id = str | uuid.UUID


def normalize_base_url(base_url: str) -> str:
    """``https://api.example.com`` or ``https://api.example.com/api/v1`` -> ``.../api/v1/``."""
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {redact_url(base_url)!r}")
    path = url.path.rstrip("/")
    if not path.endswith(API_PREFIX):
        path += API_PREFIX
    return str(url.copy_with(path=path + "/", query=None, fragment=None))


def default_user_agent() -> str:
    return f"ghostflow-python/{__version__} httpx/{httpx.__version__}"


def segment(value: Id) -> str:
    """One path segment from an id. Ids are UUIDs: anything else is refused here rather than
    spliced into a path (``../team``)."""
    text = str(value).strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        # Never the value itself when it is a credential passed by mistake (`revoke("gf_...")`).
        raise ConfigurationError(f"Not an id: {shown(text)} (ids are UUIDs)") from None


def query(params: Mapping[str, object | None]) -> dict[str, str]:
    """Query parameters without the ones left unset; datetimes as ISO 8601."""
    clean: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            clean[name] = value.isoformat()
        elif isinstance(value, bool):
            clean[name] = "true" if value else "false"
        else:
            clean[name] = str(value)
    return clean


def iso(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode(response: httpx.Response) -> Any:
    """The JSON body of a successful answer (None for 204 or an empty body)."""
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def problem_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("code")) if isinstance(body, dict) and "code" in body else None


def network_error(exc: httpx.TransportError, method: str, url: str) -> NetworkError:
    """The SDK's error for a request that got no answer; the URL without its userinfo."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(f"{method} {redact_url(url)}: no answer in time ({type(exc).__name__})")
    return NetworkError(redact_url(f"{method} {url}: {exc or type(exc).__name__}"))


@dataclass(repr=False)
class Settings:
    """A client's fixed configuration, shared with its ``with_team`` copies. Its repr names the
    credential by its public part only (reprs end up in logs and tracebacks)."""

    base_url: str
    api_key: str | None
    admin_key: AdminKey | None
    login: LoginState | None
    retry: RetryPolicy
    user_agent: str

    def credential(self) -> str:
        """Which credential, safe to show: an API key's prefix, an Admin key's id, or a login."""
        if self.api_key is not None:
            return f"api_key={key_prefix(self.api_key)}..."
        if self.admin_key is not None:
            return f"admin_key_id={self.admin_key.key_id}"
        return "login" if self.login is not None and self.login.tokens is not None else "not logged in"

    def __repr__(self) -> str:
        return f"Settings(base_url={redact_url(self.base_url)!r}, {self.credential()})"


def describe_client(kind: str, settings: Settings, team_id: str | None) -> str:
    """The repr of a client: where, which credential (its public part), which team."""
    return f"{kind}({redact_url(settings.base_url)!r}, {settings.credential()}, team_id={team_id!r})"


def make_settings(
    base_url: str,
    *,
    api_key: str | None,
    admin_key: str | AdminKey | None,
    username: str | None,
    email: str | None,
    password: str | None,
    refresh_token: str | None,
    token_store: TokenStore | None,
    retry: RetryPolicy,
    user_agent: str | None,
) -> Settings:
    """Check the constructor's arguments (one kind of credential) and build the settings."""
    if username is not None and email is not None:
        raise ConfigurationError("Pass username or email, not both (the API takes either in one field).")
    identifier = username if username is not None else email
    if (identifier is None) != (password is None):
        raise ConfigurationError("A password login needs both a username (or email) and a password.")
    if refresh_token is not None and token_store is not None:
        raise ConfigurationError("Pass refresh_token or token_store, not both: put the token in the store.")
    login: LoginState | None = None
    signer: AdminKey | None = None
    has_login = identifier is not None or refresh_token is not None or token_store is not None
    if api_key is not None and admin_key is not None:
        raise ConfigurationError("Pass an api_key or an admin_key, not both.")
    if api_key is not None:
        if has_login:
            raise ConfigurationError("Pass an api_key or a login (password, refresh token, token store), not both.")
        api_key = check_api_key(api_key)
    elif admin_key is not None:
        if has_login:
            raise ConfigurationError("Pass an admin_key or a login (password, refresh token, token store), not both.")
        signer = admin_key if isinstance(admin_key, AdminKey) else AdminKey(admin_key)
    else:
        store = token_store
        if store is None:
            # A refresh token alone: an access token that is already stale, so the first request
            # exchanges the refresh token for a fresh pair.
            seed = Tokens("", refresh_token, expires_at=0.0, lifetime=0.0) if refresh_token else None
            store = MemoryTokenStore(seed)
        login = LoginState(store, username=identifier, password=password)
    return Settings(
        base_url=normalize_base_url(base_url),
        api_key=api_key,
        admin_key=signer,
        login=login,
        retry=retry,
        user_agent=user_agent or default_user_agent(),
    )


def discard_admin_token(settings: Settings, authorization: str) -> None:
    """The server said the Admin-key token in `authorization` expired: sign a new one next time."""
    if settings.admin_key is not None:
        settings.admin_key.discard(authorization.removeprefix(ADMIN_SCHEME + " "))
