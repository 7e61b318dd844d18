"""Request middleware that belongs to no app:

- request id and context: the id is taken from a sane `X-Request-Id` or generated, echoed back;
  the request's audit metadata (infra.request_context) is opened here, once;
- query-string guard: a query parameter that no database or renderer can take is a 400;
- the request transaction: each unsafe request is one transaction, committed unless the answer
  is a 5xx; a lost database connection is a 503 problem document;
- API answers are not stored by caches unless the view says they may be.
"""

import logging
import re
import uuid

from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils.cache import patch_vary_headers

from infra import request_context
from infra.errors import database_unavailable, problem_response
from infra.net import client_ip
from infra.parsers import forbidden_character

logger = logging.getLogger("ghostflow.requests")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        context = request_context.from_request(request, request_id=request.request_id, ip=client_ip(request))
        with request_context.use(context):
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        for name, value in context.response_headers.items():
            response[name] = value
        return response


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _forbidden_in(data) -> str | None:
    for key, values in data.lists():
        for text in (key, *values):
            if isinstance(text, str) and (what := forbidden_character(text)) is not None:
                return what
    return None


class QueryStringGuardMiddleware:
    """Refuse any request whose decoded query string (400 `invalid_query`) or HTML-form body (400
    `malformed_request`: the Django admin's forms) holds a NUL or a lone surrogate in a name or
    value, before any view, filter or query sees it. JSON bodies get the same check in
    infra.parsers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get("QUERY_STRING") and (what := _forbidden_in(request.GET)):
            return problem_response(400, "invalid_query", f"The query string contains {what}.")
        if request.method == "POST" and request.content_type in _FORM_TYPES and (what := _forbidden_in(request.POST)):
            return problem_response(400, "malformed_request", f"The form contains {what}.")
        return self.get_response(request)


class RequestTransactionMiddleware:
    """Each unsafe request runs in one transaction. A 5xx answer rolls it back. A 4xx answer
    commits: what a refused request recorded about itself (a refresh family revoked on token
    reuse, a failed login, a counted attempt, the audit event of a refused key) must survive the
    refusal. Reads run without one (their only write is their audit event).

    A lost database connection (killed, failed over) is answered 503 `service_unavailable` with
    Retry-After. Callbacks registered on the request context (`after_transaction`) run with the
    final answer once the transaction has ended, committed or rolled back: the audit log records
    a 5xx there, on a connection of its own.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in UNSAFE_METHODS:
            return self.get_response(request)
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    transaction.set_rollback(True)
        except (OperationalError, InterfaceError):
            logger.exception("Database connection lost during %s %s", request.method, request.path)
            response = database_unavailable()
        except IntegrityError:
            # A constraint checked at COMMIT failed (e.g. the key of this request was deleted while
            # it ran): nothing was written; the answer is a 500 problem document, recorded below.
            logger.exception("Transaction of %s %s failed at commit", request.method, request.path)
            response = problem_response(500, "server_error", "The server failed to process the request.")
        context = request_context.current()
        if context is not None:
            for callback in context.after_transaction:
                callback(response)
            context.after_transaction.clear()
        return response


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


# The request headers an /api/v1/ answer depends on: who is asking, and for which team.
CREDENTIAL_HEADERS = ("Authorization", "X-Api-Key", "X-Team-Id")


class APICacheControlMiddleware:
    """Every API answer is `Cache-Control: no-store` unless its view chose a policy (the Content
    API's public pages do): tokens from login and refresh, a new key, a team's data. /api/v1/
    answers also name the credential headers in `Vary`, so a cache that ignores `no-store` still
    never gives one caller's answer to another."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path_info
        if path.startswith("/api/"):
            if not response.has_header("Cache-Control"):
                response["Cache-Control"] = "no-store"
            if path.startswith("/api/v1/"):
                patch_vary_headers(response, CREDENTIAL_HEADERS)
        return response


# Sessions, Django's session user and messages serve pages only (Django admin, the dashboard
# shell). API requests authenticate with their own credential through DRF and never read a
# session, Django's user or messages, so these subclasses let them through untouched: no session
# cookie parsing, no lazy user, no message storage on the hot path. (Subclasses, so that Django
# admin's checks still find them; CsrfViewMiddleware stays as it is: API views are csrf-exempt.)


class SessionMiddleware(_SessionMiddleware):
    def __call__(self, request):
        return self.get_response(request) if _is_api(request) else super().__call__(request)


class AuthenticationMiddleware(_AuthenticationMiddleware):
    def __call__(self, request):
        return self.get_response(request) if _is_api(request) else super().__call__(request)


class MessageMiddleware(_MessageMiddleware):
    def __call__(self, request):
        return self.get_response(request) if _is_api(request) else super().__call__(request)
