"""Request id: taken from a sane `X-Request-Id` or generated, echoed back, used by the audit log.

Query-string guard: a query parameter that no database or renderer can take is a 400.
"""

import re
import uuid

from .errors import problem_response

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


# A NUL cannot be stored in (or compared with) PostgreSQL text; a lone surrogate is not Unicode.
_FORBIDDEN_QUERY_CHAR = re.compile("[\x00\ud800-\udfff]")


class QueryStringGuardMiddleware:
    """Refuse, with a 400 `invalid_query`, any request whose decoded query string holds a NUL or a
    lone surrogate in a parameter name or value, before any view, filter or query sees it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get("QUERY_STRING"):
            for key, values in request.GET.lists():
                for text in (key, *values):
                    if (match := _FORBIDDEN_QUERY_CHAR.search(text)) is not None:
                        what = "a NUL character" if match.group() == "\x00" else "a lone surrogate"
                        return problem_response(400, "invalid_query", f"The query string contains {what}.")
        return self.get_response(request)
