"""Records every request made with an API key: exactly one event, with its final status code."""

from django.conf import settings
from django.db import transaction

from .models import Action
from .services import record_event

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
            self._record(request, response, using=settings.AUDIT_READS_DATABASE)
            return response
        with transaction.atomic():
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            else:
                self._record(request, response)
        if response.status_code >= 500:
            self._record(request, response)
        return response

    @staticmethod
    def _record(request, response, using: str = "default") -> None:
        key = getattr(request, "api_key", None)
        if key is None or not settings.AUDIT_API_KEY_REQUESTS:
            return
        data = {}
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
