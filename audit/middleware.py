"""Records every request made with an API key: exactly one event, with its final status code."""

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connections

from access.context import of as access_of
from infra import request_context, tally
from infra.errors import database_unavailable
from infra.middleware import UNSAFE_METHODS
from infra.ratelimit import CACHE_ERRORS

from .models import Action
from .services import record_event

logger = logging.getLogger("ghostflow.audit")


class APIKeyAuditMiddleware:
    """One audit event per API-key request, and one per rate-limit refusal.

    Runs inside infra.middleware.RequestTransactionMiddleware. The key class puts the key it found
    on the request context (even when it then refuses it: revoked, expired, wrong team), so denials
    are recorded against their key. For a write below 500 the event is written in the request's
    transaction: if it cannot be written, the change is rolled back with it and the client gets a
    503. A 5xx (whatever caused it) is recorded after the rollback, on a working connection. A
    read's event is its only write: no transaction (on PostgreSQL it commits without waiting for
    the WAL flush: see AUDIT_READS_ASYNC_COMMIT), and no answer without its event.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        context = request_context.current()
        if context is None:
            return response
        if request.method not in UNSAFE_METHODS:
            written = self._record_safely(
                request,
                response,
                context,
                using=settings.AUDIT_READS_DATABASE,
                synchronous_commit=not settings.AUDIT_READS_ASYNC_COMMIT,
            )
            if not written:
                return database_unavailable()
            return response
        if response.status_code < 500:
            try:
                self._record(request, response, context)
            except (OperationalError, InterfaceError):
                logger.exception("Audit event of %s %s lost its connection", request.method, request.path)
                response = database_unavailable()
        context.after_transaction.append(
            lambda final: self._record_safely(request, final, context) if final.status_code >= 500 else None
        )
        return response

    def _record_safely(
        self, request, response, context, using: str = "default", synchronous_commit: bool = True
    ) -> bool:
        """Record, reconnecting once if the connection turns out to be dead, and without the link to
        a key or integration deleted while its request ran (the prefix and name snapshot stay). False when the
        event could not be written at all (the database is down)."""
        try:
            # No savepoint: a read's event is written in autocommit, and a write's FK constraints
            # are checked at COMMIT (a key deleted meanwhile fails there, see infra.middleware).
            self._record(request, response, context, using=using, synchronous_commit=synchronous_commit)
        except IntegrityError:
            key, integration = context.key, context.integration
            if getattr(key, "pk", None) is not None:
                context.key = SimpleNamespace(
                    pk=None, prefix=key.prefix, name=key.name, team_id=key.team_id, user_id=key.user_id
                )
            elif getattr(integration, "pk", None) is not None:
                context.integration = SimpleNamespace(pk=None, team_id=integration.team_id)
            else:
                logger.exception("Audit event of %s %s could not be recorded", request.method, request.path)
                return False
            return self._record_safely(request, response, context, using=using, synchronous_commit=synchronous_commit)
        except (OperationalError, InterfaceError):
            connections[using].close()
            try:
                self._record(request, response, context, using=using, synchronous_commit=synchronous_commit)
            except DatabaseError:
                logger.exception("Audit event of %s %s could not be recorded", request.method, request.path)
                return False
        return True

    @staticmethod
    def _record(request, response, context, using: str = "default", synchronous_commit: bool = True) -> None:
        if context.rate_limited is not None:
            user = access_of(request).user or getattr(request, "user", None)
            record_event(
                action=Action.RATE_LIMITED,
                actor_id=user.pk if getattr(user, "is_authenticated", False) else None,
                status_code=response.status_code,
                data=context.rate_limited,
                using=using,
                synchronous_commit=synchronous_commit,
            )
        if context.integration is not None and context.integration_key == "admin":
            record_event(
                action=Action.API_REQUEST,
                team_id=context.integration.team_id,
                status_code=response.status_code,
                data=_refusal(request, response),
                using=using,
                synchronous_commit=synchronous_commit,
            )
            return
        key = context.key
        if key is None and context.find_key is not None and response.status_code >= 500:
            # The key's own lookup failed (its connection died): find it on this connection.
            key = context.key = context.find_key(using)
        if key is None or not settings.AUDIT_API_KEY_REQUESTS:
            return
        data = _refusal(request, response)
        if data.get("code") in KEY_LIMIT_CODES:
            # A flood against a key's limit is counted, one event per key per minute: never a row
            # per refused request (infra.tally).
            _tally_key_refusal(key, data["code"], using=using)
            return
        if context.key_secret != "current":
            data["secret"] = context.key_secret
        record_event(
            action=Action.API_REQUEST,
            team_id=key.team_id,
            actor_id=key.user_id,
            api_key=key,
            status_code=response.status_code,
            data=data,
            using=using,
            synchronous_commit=synchronous_commit,
        )


KEY_LIMIT_CODES = ("key_rate_limited", "key_quota_exhausted")


def _key_prefix(key) -> str:
    return f"gf:key-limited:{key.pk}"


def _tally_key_refusal(key, code: str, *, using: str) -> None:
    try:
        tally.add(_key_prefix(key), code, lambda minute: _flush_key_refusals(key, minute, using=using))
    except CACHE_ERRORS:
        logger.warning("A key's rate-limit refusal was not counted: cache unavailable")


def _flush_key_refusals(key, minute: int, *, using: str = "default") -> None:
    """One `key.rate_limited` event for `key`'s refusals of `minute`, by code."""
    names = [f"{_key_prefix(key)}:{minute}:{code}" for code in KEY_LIMIT_CODES]
    found = cache.get_many(names)
    refused = {code: found.get(name) or 0 for code, name in zip(KEY_LIMIT_CODES, names, strict=True)}
    if not any(refused.values()):
        return
    with request_context.use(None):  # a summary of many requests: not this one's IP or path
        record_event(
            action=Action.KEY_RATE_LIMITED,
            team_id=key.team_id,
            actor_id=key.user_id,
            api_key=key,
            status_code=429,
            data={
                "minute": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
                "refused": sum(refused.values()),
                **{code: count for code, count in refused.items() if count},
            },
            using=using,
        )
    cache.delete_many(names)


def flush_key_refusals(key) -> None:
    """Record the refusals still counted for `key` in its last active minute (which is otherwise
    recorded by its next refusal in a later minute): for tests and the end of a process."""
    last = cache.get(f"{_key_prefix(key)}:last-minute")
    if last is not None:
        _flush_key_refusals(key, last)


def _refusal(request, response) -> dict:
    """What the event of a refused request adds: the problem's code (and the team asked for)."""
    data = {}
    body = getattr(response, "data", None)
    if response.status_code >= 400 and isinstance(body, dict) and body.get("code"):
        data["code"] = body["code"]
        if body["code"] == "key_team_mismatch":
            data["requested_team"] = request.headers.get("X-Team-Id", "")[:64]
    return data
