"""Why a credential may not be used now, as one value both of its checkers share.

Each credential kind decides its own validity in one place, in the app that owns it:
`apikeys.models.APIKey.refusal` (revoked, replaced secret, expired, owner inactive or removed),
`integrations.models.Integration.refusal` (revoked, Admin key regenerated) and
`accounts.authentication.login_refusal` (user inactive, password changed); whether a login's
session is still signed in is `accounts.sessions.signed_in`. The authentication class of each kind
raises the refusal on every request; the live stream's periodic re-check (livestream.holders)
ends a stream with its `reason`. tests/test_credential_rules.py proves the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import APIError, Forbidden, Unauthorized


@dataclass(frozen=True)
class Refusal:
    reason: str  # the live stream's `event: revoked` reason
    code: str  # the problem document's `code`
    message: str
    status: int = 401

    def error(self) -> APIError:
        """The 401 (or 403) a request refused for this answers."""
        return (Forbidden if self.status == 403 else Unauthorized)(self.message, code=self.code)
