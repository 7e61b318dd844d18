"""infra.asgi.BodySizeLimit: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 before Django's
ASGI handler sees (and spools) it, whether or not the client declared its length."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from infra.asgi import BodySizeLimit

LIMIT = 1000


def _asyncio_run(coroutine):
    """asyncio.run on a thread of its own (this one may already run Playwright's loop)."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _run(app, headers, chunks):
    sent, drawn = [], []

    async def receive():
        if len(drawn) < len(chunks):
            drawn.append(chunks[len(drawn)])
            return {"type": "http.request", "body": drawn[-1], "more_body": len(drawn) < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/campaigns", "headers": headers}
    _asyncio_run(BodySizeLimit(app)(scope, receive, send))
    return sent, drawn


class Inner:
    def __init__(self):
        self.bodies = []

    async def __call__(self, scope, receive, send):
        self.bodies.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_a_chunked_body_past_the_limit_is_413_and_never_reaches_django(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    inner = Inner()
    chunks = [b"x" * 400] * 10  # 4,000 bytes, no Content-Length
    sent, drawn = _run(inner, [], chunks)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert inner.bodies == []
    assert len(drawn) == 3  # stopped reading at the chunk that passed the limit


def test_a_declared_length_past_the_limit_is_413_before_reading_anything(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    inner = Inner()
    sent, drawn = _run(inner, [(b"content-length", b"5000")], [b"x" * 5000])
    assert sent[0]["status"] == 413 and drawn == [] and inner.bodies == []


def test_a_body_within_the_limit_reaches_django_whole(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    inner = Inner()
    sent, _ = _run(inner, [], [b"a" * 300, b"b" * 300])
    assert sent[0]["status"] == 201
    assert inner.bodies == [b"a" * 300 + b"b" * 300]


def test_a_client_gone_mid_body_gets_no_answer_and_django_nothing(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    inner = Inner()
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    _asyncio_run(BodySizeLimit(inner)({"type": "http", "headers": []}, receive, send))
    assert sent == [] and inner.bodies == []
