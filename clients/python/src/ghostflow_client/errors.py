"""Exceptions raised by the SDK.

Every refusal from the API is an RFC 9457 problem document (``application/problem+json``) with a
stable ``code``; the SDK raises one exception class per family of codes, each carrying the whole
document::

    GhostFlowError
    ├── ConfigurationError          the client was set up wrongly (no credential, bad key shape)
    ├── NetworkError                the server could not be reached or the connection broke
    │   └── RequestTimeout          no answer within the timeout
    ├── StreamRevoked               the server ended a live audit stream: its holder may no longer watch
    ├── SecondFactorRequired        the password was right; a TOTP or recovery code must follow (`ticket`)
    └── APIError                    the server answered with an error (status, code, detail, problem)
        ├── ValidationError         400, 413, 415: the request was wrong; field errors in `errors`
        ├── AuthenticationError     401: no, bad, expired or revoked credential
        ├── PermissionDeniedError   403: authenticated but not allowed; `required_scope` when a scope is missing
        │   ├── ReauthenticationRequired  403 `reauthentication_required`: confirm the password (step-up)
        │   └── SecondFactorEnrolmentRequired  403 `second_factor_required`: the team requires two-step verification
        ├── NotFoundError           404
        ├── ConflictError           409: the current state forbids it (last owner, key limit, ...)
        ├── RateLimitedError        429: `retry_after` seconds
        └── ServerError             5xx
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ._redact import redact_url

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GhostFlowError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReauthenticationRequired",
    "RequestTimeout",
    "SecondFactorEnrolmentRequired",
    "SecondFactorRequired",
    "ServerError",
    "StreamRevoked",
    "ValidationError",
    "error_from_response",
    "parse_retry_after",
]


class GhostFlowError(Exception):
    """Base class of every exception the SDK raises."""


class ConfigurationError(GhostFlowError):
    """The client cannot make the request as configured (no credential, malformed API key, ...)."""


class NetworkError(GhostFlowError):
    """The request did not get an answer: connection refused or reset, DNS failure, TLS error."""


class RequestTimeout(NetworkError):
    """The server did not answer within the client's timeout."""


class SecondFactorRequired(GhostFlowError):
    """A login (or Google sign-in) whose first factor was right, for an account with two-step
    verification: no tokens yet. Finish it with ``complete_second_factor(ticket, code)`` (a code
    from the authenticator app, or a recovery code) before ``expires_in`` seconds pass; the ticket
    works once. ``methods``: what the code may be (``totp``, ``recovery_code``)."""

    def __init__(self, ticket: str, methods: list[str], expires_in: int) -> None:
        self.ticket = ticket
        self.methods = methods
        self.expires_in = expires_in
        super().__init__("This account uses two-step verification: a code is required to finish signing in.")

    def __repr__(self) -> str:  # the ticket is a credential: never in a log line
        return f"SecondFactorRequired(methods={self.methods!r}, expires_in={self.expires_in})"


class StreamRevoked(GhostFlowError):
    """The server ended a live audit stream with ``event: revoked``: its holder may no longer watch
    (``reason``: ``key_revoked``, ``not_admin``, ``not_member``, ``session_revoked``, ...), so the
    stream is not resumed. ``last_event_id`` is the id of the last event received."""

    # The reasons that say "not allowed" (a 403 at open) rather than "credential gone" (a 401).
    FORBIDDEN_REASONS = frozenset({"not_admin", "not_member", "team_deleted"})

    def __init__(self, reason: str, last_event_id: str | None = None) -> None:
        self.reason = reason
        self.last_event_id = last_event_id
        super().__init__(f"The server ended the audit stream: {reason}.")

    @property
    def forbidden(self) -> bool:
        """Whether the holder lost the right (role, membership, team) rather than the credential."""
        return self.reason in self.FORBIDDEN_REASONS


class APIError(GhostFlowError):
    """The API answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: the problem's machine-readable ``code`` (``"insufficient_scope"``, ``"key_revoked"``, ...).
        detail: the human-readable explanation, safe to show to a user.
        title: the status phrase.
        problem: the whole problem document, including members specific to the code.
        request_id: the server's ``X-Request-Id`` for this request (quote it in support requests).
        method, url: what was requested.
    """

    def __init__(
        self,
        problem: Mapping[str, Any],
        *,
        status: int,
        method: str = "",
        url: str = "",
        request_id: str | None = None,
    ) -> None:
        self.problem: dict[str, Any] = dict(problem)
        self.status = status
        self.code: str = str(problem.get("code") or "")
        self.detail: str = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.title: str = str(problem.get("title") or "")
        self.method = method
        self.url = url
        self.request_id = request_id
        super().__init__(self.detail)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}" if self.code else f"{self.status}: {self.detail}"


class ValidationError(APIError):
    """400, 413 or 415: the request itself was wrong and nothing was changed.

    ``errors`` maps a field name to its messages (``validation_error`` only; empty for codes such
    as ``invalid_cursor`` or ``team_required``).
    """

    @property
    def errors(self) -> dict[str, list[str]]:
        raw = self.problem.get("errors")
        if not isinstance(raw, Mapping):
            return {}
        return {str(field): _messages(value) for field, value in raw.items()}


class AuthenticationError(APIError):
    """401: the credential is missing, malformed, expired or revoked (``key_revoked``,
    ``token_reused``, ``invalid_credentials``, ...). A login must be repeated or a key replaced."""


class PermissionDeniedError(APIError):
    """403: the caller is known but may not do this (``insufficient_scope``, ``team_forbidden``,
    ``interactive_login_required``, ...)."""

    @property
    def required_scope(self) -> str | None:
        """The scope the request needed, for ``insufficient_scope``."""
        value = self.problem.get("required_scope")
        return str(value) if value is not None else None


class ReauthenticationRequired(PermissionDeniedError):
    """403 ``reauthentication_required``: the act hands out power (keys, roles, members,
    invitations, integrations, deleting a team, the password) and this login has not proved who it
    is within the server's ``REAUTH_SECONDS``. Call ``client.reauthenticate(password)`` and retry."""


class SecondFactorEnrolmentRequired(PermissionDeniedError):
    """403 ``second_factor_required``: the team requires two-step verification of every member and
    this account has none, so its login and its API keys are refused in that team (never its other
    teams). Turn two-step verification on (the dashboard's Account page); the same login and keys
    work again at once."""


class NotFoundError(APIError):
    """404: no such object in this team (another team's objects are not found either)."""


class ConflictError(APIError):
    """409: the request conflicts with the current state (``last_owner``, ``key_limit_reached``, ...)."""


class RateLimitedError(APIError):
    """429: too many requests. ``retry_after`` is how many seconds the server asked to wait."""

    def __init__(self, problem: Mapping[str, Any], *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(problem, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed or is unavailable. ``retry_after`` is set when it said when to retry."""

    def __init__(self, problem: Mapping[str, Any], *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(problem, **kwargs)
        self.retry_after = retry_after


def _messages(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    """The response's problem document; a synthetic one when the body is not JSON (a proxy's
    HTML error page, an empty 502), so callers always get `code` and `detail`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return body
    text = response.text.strip()
    return {
        "type": "about:blank",
        "title": response.reason_phrase,
        "status": response.status_code,
        "detail": text[:200] if text and not text.startswith("<") else response.reason_phrase,
        "code": "server_error" if response.status_code >= 500 else "http_error",
    }


_PERMISSION_CODES: dict[str, type[APIError]] = {
    "reauthentication_required": ReauthenticationRequired,
    "second_factor_required": SecondFactorEnrolmentRequired,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error response (status >= 400)."""
    problem = _problem_of(response)
    status = response.status_code
    common: dict[str, Any] = {
        "status": status,
        "method": response.request.method,
        # Without the query string (it may carry filters a caller does not want in their logs)
        # and without the userinfo of a base URL written as `https://user:password@host`.
        "url": redact_url(response.request.url.copy_with(query=None)),
        "request_id": response.headers.get("X-Request-Id"),
    }
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return RateLimitedError(problem, retry_after=retry_after, **common)
    if status >= 500:
        return ServerError(problem, retry_after=retry_after, **common)
    family: type[APIError] = {
        400: ValidationError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        413: ValidationError,
        415: ValidationError,
        422: ValidationError,
    }.get(status, APIError)
    if family is PermissionDeniedError:
        family = _PERMISSION_CODES.get(str(problem.get("code")), PermissionDeniedError)
    return family(problem, **common)
