"""When and how long to wait before sending a request again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and full jitter.

    A request is sent again only when its method is idempotent (a retried POST could create a
    second object, and a retried refresh would replay a spent refresh token, which revokes the
    whole login), and only when it failed in a way that may pass: a status in
    ``retry_statuses`` (429 and the gateway/unavailable 5xx) or a network error.

    A ``Retry-After`` header is honoured: the wait is at least that long. When it asks for more
    than ``max_retry_after`` seconds the error is raised at once instead (with its
    ``retry_after``), so a script never sleeps for minutes without saying so.

    Attributes:
        max_retries: how many times a request may be sent again (0: never).
        backoff: the ceiling of the first random wait, in seconds; doubled on every retry.
        max_backoff: the largest ceiling of a random wait.
        max_retry_after: the longest ``Retry-After`` the client waits for.
        retry_statuses: statuses worth retrying.
        idempotent_methods: methods that may be sent twice.
    """

    max_retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    idempotent_methods: frozenset[str] = field(
        default_factory=lambda: frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
    )

    def may_retry(self, method: str, attempt: int) -> bool:
        """Whether a request with this method may be sent again after `attempt` retries."""
        return attempt < self.max_retries and method.upper() in self.idempotent_methods

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up now.

        Full jitter (a uniform draw below the exponential ceiling) spreads the retries of many
        clients that failed together instead of sending them back in one wave.
        """
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        jitter = random.uniform(0.0, ceiling)  # noqa: S311 - spreading retries, not a secret
        if retry_after is None:
            return jitter
        if retry_after > self.max_retry_after:
            return None
        # The server's delay is a minimum; a little jitter on top keeps clients apart.
        return retry_after + min(jitter, 1.0)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_retries=0)
