"""Records every request made with an API key: exactly one event, with its final status code."""

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction

from config.errors import database_unavailable

from .models import Action
from .services import record_event

logger = logging.getLogger("ghostflow.audit")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class APIKeyAuditMiddleware:
    """One audit event per API-key request, written in the request's own transaction.

    The key class puts the key it found on `request.api_key` (even when it then refuses it:
    revoked, expired, wrong team), so denials are recorded against their key. For writes, the
    view's changes and the event share one transaction: if the event cannot be written, the
    change is rolled back and the client gets a 5xx. A 5xx answer rolls the view's changes back
    and is then recorded on its own. Reads need no transaction: the INSERT is the only write,
    and a failing INSERT still fails the request (on PostgreSQL it
    goes through a connection without synchronous commit: see AUDIT_READS_ASYNC_COMMIT).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in UNSAFE_METHODS:
            response = self.get_response(request)
            if not self._record_safely(request, response, using=settings.AUDIT_READS_DATABASE):
                return database_unavailable()  # no answer without its event
            return response
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    transaction.set_rollback(True)
                else:
                    self._record(request, response)
        except (OperationalError, InterfaceError):
            # The connection died (killed, failed over) during the view or the event's INSERT: the
            # transaction is gone with it, so the change and its event are both rolled back. The
            # client gets a problem document and the 503 is still recorded, on a new connection.
            logger.exception("Database connection lost during %s %s", request.method, request.path)
            response = database_unavailable()
        if response.status_code >= 500:
            self._record_safely(request, response)
        return response

    def _record_safely(self, request, response, using: str = "default") -> bool:
        """Record, reconnecting once if the connection turns out to be dead. False when the event
        could not be written at all (the database is down)."""
        try:
            self._record(request, response, using=using)
        except (OperationalError, InterfaceError):
            connections[using].close()
            try:
                self._record(request, response, using=using)
            except DatabaseError:
                logger.exception("Audit event of %s %s could not be recorded", request.method, request.path)
                return False
        return True

    @staticmethod
    def _record(request, response, using: str = "default") -> None:
        key = getattr(request, "api_key", None)
        if key is None or not settings.AUDIT_API_KEY_REQUESTS:
            return
        data = {}
        if getattr(request, "api_key_secret", "current") != "current":
            data["secret"] = request.api_key_secret
        body = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(body, dict) and body.get("code"):
            data["code"] = body["code"]
            if body["code"] == "key_team_mismatch":
                data["requested_team"] = request.headers.get("X-Team-Id", "")[:64]
        record_event(
            action=Action.API_REQUEST,
            request=request,
            team_id=key.team_id,
            actor_id=key.user_id,
            api_key=key,
            status_code=response.status_code,
            data=data,
            using=using,
        )
