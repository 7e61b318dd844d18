"""Pure ASGI middleware around Django's stock ASGI handler (config/asgi.py).

Django's ASGI handler reads the whole request body, to a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE, before anything looks at it, so one request could fill a disk.
`BodySizeLimit` reads it first, in memory, and stops at DATA_UPLOAD_MAX_MEMORY_SIZE (this API
takes no uploads): a larger body is answered 413 `payload_too_large`, as the WSGI path answers it
(infra.errors), and never reaches Django. What it read is handed on to Django as one message; the
messages after it (a disconnect) come from the server as before.

Written by hand because it is a dozen lines over the ASGI spec; the maintained alternatives are
parts of other frameworks (Starlette's request handling) rather than middleware for this.
"""

import logging

from django.conf import settings

from infra.errors import problem_response


class PathOnlyAccessLog(logging.Filter):
    """uvicorn's access record is (client, method, path with query, HTTP version, status): the
    query is dropped, since `?token=` (a stream token) is a credential. Added to the
    `uvicorn.access` logger by config/asgi.py."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_response(send, response) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if scope["type"] != "http" or limit is None:
            return await self.app(scope, receive, send)
        too_large = problem_response(413, "payload_too_large", "The request body is too large.")
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            return await _send_response(send, too_large)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before its request was complete: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _send_response(send, too_large)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        handed_on = False

        async def replay():
            nonlocal handed_on
            if not handed_on:
                handed_on = True
                return whole
            return await receive()

        return await self.app(scope, replay, send)
