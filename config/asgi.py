"""ASGI entry point: what production serves (gunicorn with uvicorn workers, or uvicorn), so that a
live audit stream (audit/stream.py) waits on the event loop instead of holding a worker.

Every middleware and view of this project is synchronous; only the stream's body is an async
iterator. Django's own ASGI handler would run such a request through about ten hops between the
event loop and threads (each synchronous middleware next to an asynchronous one, the view, the
signals) and give each request a thread of its own, so that persistent database connections are
never reused: on this project's benchmark a plain API request cost 2 to 3 times its WSGI time
(README, Performance). `SyncChainASGIHandler` instead runs the whole synchronous chain (middleware
and view, exactly as under WSGI) in one hop, on one thread per process: what a sync worker does,
plus an event loop on which any number of streams wait. Persistent connections
(DATABASE_CONN_MAX_AGE) work as under WSGI, and a process answers one ordinary request at a time,
like a sync worker: run as many processes as you ran sync workers.

Django's ASGI handler reads the whole request body (to a temporary file past 2.5 MB) before
anything looks at it; this one stops at DATA_UPLOAD_MAX_MEMORY_SIZE (this API takes no uploads)
and answers 413 `payload_too_large`, as the WSGI path does when the body is parsed, so a client
cannot fill the disk with one request.

The ASGI servers log each request with its query string, and `?token=` (a stream token) is a
credential: their access log lines are rewritten here to carry the path only, as the gunicorn
access-log format in docker-compose.yml does for the WSGI server.
"""

import logging
import os
import tempfile
import warnings

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse

from infra.errors import problem_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class PathOnlyAccessLog(logging.Filter):
    """uvicorn's access record is (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


class _BodyTooLarge(Exception):
    pass


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler (request parsing, disconnects, streaming), with the middleware chain
    and the view run synchronously, in one hop, on the process's one thread for synchronous work
    (asgiref's thread-sensitive executor)."""

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # No per-request ThreadSensitiveContext: synchronous code runs on the shared thread.
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        except _BodyTooLarge:
            response = problem_response(413, "payload_too_large", "The request body is too large.")
            await self.send_response(response, send)

    async def read_body(self, receive):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Closed by Django once the request is done (as its own read_body leaves it).
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                body_file.close()
                raise _BodyTooLarge()
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    async def run_get_response(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response


def get_application() -> SyncChainASGIHandler:
    import django
    from django.core.cache import caches

    django.setup(set_prefix=False)
    # Django keeps its cache clients per context under ASGI (asgiref.local.Local), and each request
    # starts from a copy of the context the server was started in: made here, before the server
    # starts, the clients are that context's, so every request reuses them and their Redis
    # connections instead of opening a connection per request (the clients are thread-safe, and
    # requests run one at a time on the one thread anyway).
    caches.all(initialized_only=False)
    return SyncChainASGIHandler()


logging.getLogger("uvicorn.access").addFilter(PathOnlyAccessLog())
# WhiteNoise answers static files with a file iterator, which Django reads on a thread under ASGI
# (and says so on every response): the dashboard's files are a few kilobytes each.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators", category=Warning)
application = get_application()
