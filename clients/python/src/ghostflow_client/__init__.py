"""ghostflow_client: the Python SDK of the GhostFlow platform API (and the `gf` command).

    from ghostflow_client import GhostFlow

    with GhostFlow("https://api.example.com", api_key="gf_...", team_id="8f1c...") as gf:
        for campaign in gf.campaigns.list(status="active"):
            print(campaign["name"])

With an integration's Admin key (the client signs a short-lived token with it)::

    gf = GhostFlow("https://api.example.com", admin_key="6a1f...:9c2e...", team_id="8f1c...")

And the public Content API with its Content key: ``GhostFlowContent(url, content_key)``.

The live audit log (resumed after every drop, nothing lost or repeated)::

    with gf.audit_log.stream(action="api_request") as events:
        for event in events:
            print(event["path"], event["status_code"])

See README.md beside this package for logins, errors, retries and the async client.
"""

from ._version import __version__
from .aio import AsyncGhostFlow
from .auth import AdminKey, MemoryTokenStore, Tokens, TokenStore
from .client import GhostFlow
from .content import AsyncGhostFlowContent, GhostFlowContent
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GhostFlowError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ReauthenticationRequired,
    RequestTimeout,
    SecondFactorEnrolmentRequired,
    SecondFactorRequired,
    ServerError,
    StreamRevoked,
    ValidationError,
)
from .pagination import AsyncPaginator, Page, Paginator
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .stream import STREAM_RETRY, AsyncAuditStream, AuditStream

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "STREAM_RETRY",
    "APIError",
    "AdminKey",
    "AsyncAuditStream",
    "AsyncGhostFlow",
    "AsyncGhostFlowContent",
    "AsyncPaginator",
    "AuditStream",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GhostFlow",
    "GhostFlowContent",
    "GhostFlowError",
    "MemoryTokenStore",
    "NetworkError",
    "NotFoundError",
    "Page",
    "Paginator",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReauthenticationRequired",
    "RequestTimeout",
    "RetryPolicy",
    "SecondFactorEnrolmentRequired",
    "SecondFactorRequired",
    "ServerError",
    "StreamRevoked",
    "TokenStore",
    "Tokens",
    "ValidationError",
    "__version__",
]
