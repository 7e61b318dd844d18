"""Stream tokens: what a browser puts in `?token=` to open its team's live audit stream.

The browser's EventSource cannot send headers, so the credential has to travel in the URL, where
it may be seen (a proxy's log, a screen share). So it is not a login or a key but a token worth
little: good for one thing (this team's audit stream; nothing else accepts it), first opened
within OPEN_WITHIN_SECONDS of being issued, for one connection at a time.

Format: a JWT (HS256 only) with its own audience (`ghostflow-audit-stream`), signed with a key
derived from JWT_SIGNING_KEY for this purpose alone, so an access token is never a stream token
nor the other way round, and rotating JWT_SIGNING_KEY voids both. It names its holder (holders.py:
the login, key or integration that asked for it, by id), the team, and a random `jti`. Claims are
readable by whoever holds the token; none is a secret (the password fingerprint is a keyed hash).

Reconnecting with the same URL. EventSource reconnects by itself to the very same URL (with
`Last-Event-ID`) when the server ends a stream or the network drops, so a token is not spent by
its first use but *held* (a StreamTokenUse row, keyed by its `jti`):

- one connection at a time: while a connection holds the token, another open with it gets no
  stream (stream.py answers `event: end`, reason `token_in_use`, with a `retry:`, so a browser
  whose previous connection the server has not yet seen close simply tries again);
- a reconnect window: once its connection ends, the token may open the stream again within
  RECONNECT_SECONDS, and each reconnect starts the window afresh; past it, 401 `token_reused`;
- never past its holder's access: every open checks the holder as at the first (authentication.py,
  holders.py), the stream re-checks it while open, and a stream ended with `event: revoked` ends
  the token (no reconnect window);
- never past MAX_AGE_SECONDS after it was issued (`exp`), however it is used: 401 `token_expired`;
- a hold is renewed by the stream server while its connection is open, and lapses HOLD_SECONDS
  after the last renewal (a process that died does not keep the token forever).

The hold is kept in the database, not the cache: a flushed, restarted or rolled-back Redis must
not let a held token open a second stream or a spent one open again. The token itself is never
written anywhere (nor to the logs); its `jti` alone opens nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from access.context import KINDS
from infra.errors import Unauthorized

from .holders import Holder
from .models import StreamTokenUse

AUDIENCE = "ghostflow-audit-stream"
ALGORITHM = "HS256"
# A new token must open the stream within this long (`expires_in` of POST stream-token).
OPEN_WITHIN_SECONDS = 60
# How long after its last connection ended a token may reopen the stream (EventSource waits about
# 3 s before it reconnects; the dashboard backs off to 15 s).
RECONNECT_SECONDS = 60
# The longest a token opens streams, whatever it does (its `exp`): then the client asks for a new one.
MAX_AGE_SECONDS = 12 * 3600
# A hold lapses this long after the stream server last renewed it (every third of it).
HOLD_SECONDS = 30
# Longer than any token we issue (about 400 characters): anything longer is refused unread.
MAX_LENGTH = 2048

logger = logging.getLogger("ghostflow.audit.stream")


def _signing_key() -> bytes:
    return hmac.new(settings.JWT_SIGNING_KEY.encode(), b"ghostflow audit stream token v1", hashlib.sha256).digest()


def issue(*, holder: Holder, now: float | None = None) -> tuple[str, int]:
    """A stream token for `holder` (its team's stream only), and how long it has to open it."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "aud": AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + MAX_AGE_SECONDS,
        "jti": uuid.uuid4().hex,
        "team": str(holder.team_id),
        "kind": holder.kind,
        "sub": str(holder.user_id or ""),
        "key": str(holder.key_id or ""),
        "int": str(holder.integration_id or ""),
        "fp": holder.fingerprint,
        "sid": str(holder.session_id or ""),
    }
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), OPEN_WITHIN_SECONDS


@dataclass(frozen=True)
class Ticket:
    """A stream token that checked out: whose it is, and what identifies it (no secret)."""

    holder: Holder
    jti: uuid.UUID
    issued_at: int


def verify(raw: str) -> Ticket:
    """What a stream token stands for. 401 `token_invalid` (not ours, tampered, another audience)
    or `token_expired` (past MAX_AGE_SECONDS). Whether it may open a stream now is `hold`'s."""
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
        ticket = Ticket(holder=holder, jti=uuid.UUID(hex=claims["jti"]), issued_at=int(claims["iat"]))
        if holder.kind not in KINDS:
            raise ValueError(holder.kind)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The stream token has expired; ask for a new one.", code="token_expired") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        # Our key signed every token that gets this far, so a claim of the wrong shape means a
        # token from another version: still only the client's problem.
        raise Unauthorized("The stream token is invalid.", code="token_invalid") from exc
    return ticket


@dataclass(frozen=True)
class Hold:
    """One connection's hold on a token."""

    jti: uuid.UUID
    connection: uuid.UUID


def hold(ticket: Ticket, *, now: datetime | None = None) -> Hold | None:
    """Take the token for one connection, or None while another connection holds it. 401
    `token_expired` when a new token was not opened in time, `token_reused` when its reconnect
    window has passed (or its holder was revoked while streaming)."""
    now = now or timezone.now()
    connection = uuid.uuid4()
    held_until = now + timedelta(seconds=HOLD_SECONDS)
    taking = {"held_by": connection, "held_until": held_until, "reopen_until": held_until + _reconnect()}
    if now.timestamp() <= ticket.issued_at + OPEN_WITHIN_SECONDS:
        try:
            with transaction.atomic():
                StreamTokenUse.objects.create(jti=ticket.jti, team_id=ticket.holder.team_id, **taking)
        except IntegrityError:
            pass  # opened before: a reconnect
        else:
            _prune(now)
            return Hold(ticket.jti, connection)
    # One statement decides: no two connections can both find the token free.
    free = Q(held_by__isnull=True) | Q(held_until__lt=now)
    tokens = StreamTokenUse.objects.for_team(ticket.holder.team_id)
    taken = tokens.filter(free, jti=ticket.jti, reopen_until__gte=now).update(**taking)
    if taken:
        return Hold(ticket.jti, connection)
    found = tokens.filter(jti=ticket.jti).values_list("reopen_until", flat=True).first()
    if found is None:
        raise Unauthorized("The stream token has expired; ask for a new one.", code="token_expired")
    if found < now:
        raise Unauthorized(
            "This stream token has been used and its reconnect window has passed; ask for a new one.",
            code="token_reused",
        )
    return None


# A hold is this server's, whatever the team: released and renewed by the connection that took it.
BY_CONNECTION = "a stream server's own connections"


def release(held: Hold, *, reconnect: bool = True, now: datetime | None = None) -> None:
    """The connection is over: the token may reopen the stream within RECONNECT_SECONDS, or never
    again (`reconnect=False`: its holder was revoked). Only the connection that holds it lets go."""
    now = now or timezone.now()
    StreamTokenUse.objects.across_teams(reason=BY_CONNECTION).filter(jti=held.jti, held_by=held.connection).update(
        held_by=None, held_until=now, reopen_until=now + _reconnect() if reconnect else now
    )


def renew(holds: list[Hold], *, now: datetime | None = None) -> set[Hold]:
    """Renew the holds of open connections; the ones still held (a hold that lapsed may have been
    taken by another connection since)."""
    if not holds:
        return set()
    now = now or timezone.now()
    held_until = now + timedelta(seconds=HOLD_SECONDS)
    by_connection = {held.connection: held for held in holds}
    mine = StreamTokenUse.objects.across_teams(reason=BY_CONNECTION).filter(held_by__in=list(by_connection))
    mine.update(held_until=held_until, reopen_until=held_until + _reconnect())
    return {by_connection[connection] for connection in mine.values_list("held_by", flat=True)}


# Releases asked for on the event loop (or by the garbage collector) run here, off the loop: one
# thread, whose database connection is closed when it is no longer usable, as a request's would be.
_releaser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-stream-release")


def release_soon(held: Hold, *, reconnect: bool = True) -> None:
    _releaser.submit(_release_in_thread, held, reconnect)


def _release_in_thread(held: Hold, reconnect: bool) -> None:
    try:
        release(held, reconnect=reconnect)
    except Exception:  # the hold lapses by itself after HOLD_SECONDS
        logger.exception("Audit stream: a token's hold was not released (it lapses by itself)")
    finally:
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(Exception):
                connection.close_if_unusable_or_obsolete()


def _reconnect() -> timedelta:
    return timedelta(seconds=RECONNECT_SECONDS)


def _prune(now: datetime) -> None:
    """Forget tokens that can never open a stream again. A row is kept OPEN_WITHIN_SECONDS past its
    window, so that a token can never find its row gone while it could still be opened as new."""
    done = StreamTokenUse.objects.across_teams(reason="pruning every team's spent stream tokens")
    done.filter(reopen_until__lt=now - timedelta(seconds=OPEN_WITHIN_SECONDS)).delete()
