"""A pytest plugin: the whole suite's requests through the ASGI handler instead of the WSGI one.

    .venv/bin/python -m pytest -p tests.asgi_client [...]

The stream service and `make run` serve the project under Django's stock ASGI handler
(config/asgi.py). With this plugin, every request a test makes with Django's or DRF's test client
is an ASGIRequest built from an ASGI scope, as a server would build it, and goes through Django's
ASGI handler path (`get_response_async`: each synchronous middleware adapted with
sync_to_async/async_to_sync). Views still run on the test's thread (async_to_sync's
thread-sensitive executor), so each test's transaction works as usual; in a thread that already
runs an event loop (Playwright's, in the browser tests) async_to_sync cannot run, and those
requests go through the same middleware chain synchronously.

Tests that read the *WSGI* answer of the live audit stream (the replay-only, finite one) are
skipped here: under ASGI that endpoint streams until the client goes away, and the live answer is
tested against a real ASGI server in test_audit_stream_live.py.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import LimitedStream
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import client as test_client
from django.test.client import (
    FakePayload,
    aclosing_iterator_wrapper,
    closing_iterator_wrapper,
    conditional_content_removal,
)

# Set once the plugin is loaded: test modules skip what only holds under WSGI (`wsgi_only`).
ACTIVE = False


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _scope(environ: dict) -> dict:
    headers = []
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").lower()
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            header = name.replace("_", "-").lower()
        else:
            continue
        headers.append((header.encode("latin-1"), str(value).encode("latin-1")))
    return {
        "asgi": {"version": "3.0"},
        "type": "http",
        "http_version": "1.1",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": environ["PATH_INFO"],
        "raw_path": environ["PATH_INFO"].encode("latin-1"),
        "root_path": environ.get("SCRIPT_NAME", ""),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": [environ.get("REMOTE_ADDR", "127.0.0.1"), 0],
        "server": (environ.get("SERVER_NAME", "testserver"), str(environ.get("SERVER_PORT", "80"))),
    }


def _call(self, environ):
    """ClientHandler.__call__, through the ASGI handler."""
    if self._middleware_chain is None:
        self.load_middleware(is_async=True)
        self._sync_chain = None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    request_started.disconnect(close_old_connections)
    request_started.send(sender=self.__class__, scope=None)
    request_started.connect(close_old_connections)
    request = ASGIRequest(_scope(environ), LimitedStream(FakePayload(body), len(body)))
    request._dont_enforce_csrf_checks = not self.enforce_csrf_checks
    if hasattr(self, "_force_user"):  # DRF's APIClient.force_authenticate
        from rest_framework.test import force_authenticate

        force_authenticate(request, self._force_user, self._force_token)
    if _loop_running():
        if self._sync_chain is None:
            self._sync_chain = test_client.ClientHandler(self.enforce_csrf_checks)
            self._sync_chain.load_middleware(is_async=False)
        response = self._sync_chain.get_response(request)
    else:
        response = async_to_sync(self.get_response_async)(request)
    conditional_content_removal(request, response)
    response.wsgi_request = response.asgi_request = request
    if response.streaming:
        wrap = aclosing_iterator_wrapper if response.is_async else closing_iterator_wrapper
        response.streaming_content = wrap(response.streaming_content, response.close)
    else:
        request_finished.disconnect(close_old_connections)
        response.close()
        request_finished.connect(close_old_connections)
    return response


def pytest_configure(config):
    global ACTIVE
    ACTIVE = True
    test_client.ClientHandler.__call__ = _call


def wsgi_only(reason: str):
    """Skip a test under this plugin (decided when its module is collected, after configure)."""
    return pytest.mark.skipif(ACTIVE, reason=reason)
