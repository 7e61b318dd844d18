"""`?token=`: a stream token (livestream/tokens.py), on the live audit stream only.

This class is in the authentication classes of the stream view alone (not in
DEFAULT_AUTHENTICATION_CLASSES), after the usual ones, which still refuse a gf_ key or an
integration key found in the query string (401 `key_in_query`). Redeeming the token (once) gives
its holder; the holder's access in the token's team is then resolved from the database as the team
step would resolve it (livestream.holders.access_of), so a holder who has lost the team or the right
since the token was issued is refused here, at the first open and at every reconnect. Whether the
token may open a stream now (one connection at a time, its reconnect window) is decided last, by
the view, once nothing else refuses the request (livestream/tokens.py `hold`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication

from access.context import Access, Kind
from infra import request_context

from . import holders, tokens

QUERY_PARAM = "token"


@dataclass(frozen=True)
class StreamGrant:
    """`request.auth` of a request opened with a stream token."""

    holder: holders.Holder
    access: Access
    ticket: tokens.Ticket


class StreamTokenAuthentication(BaseAuthentication):
    credential_kind = "stream_token"

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'

    def authenticate(self, request):
        values = request.query_params.getlist(QUERY_PARAM)
        # Only for opening the stream: with any other method the token is not a credential (and
        # is not used), so it can never stand for its holder in another team or another action.
        if not values or request.method not in ("GET", "HEAD"):
            return None
        ticket = tokens.verify(values[0] if len(values) == 1 else "")
        holder = ticket.holder
        standing = holders.standings([holder])[holder]
        context = request_context.current()
        # Recorded like the credential it stands for, refused or not: a key's stream is an API-key
        # request in the audit log (one event, when it opens), an integration's names it.
        if context is not None and standing.credential is not None:
            if holder.kind == Kind.API_KEY:
                context.key, context.key_secret = standing.credential, standing.secret
            elif holder.kind == Kind.INTEGRATION:
                context.integration, context.integration_key = standing.credential, "admin"
        access = holders.access_of(holder, standing)
        return access.user, StreamGrant(holder=holder, access=access, ticket=ticket)
