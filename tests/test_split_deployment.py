"""The split deployment as production runs it (docker-compose.yml): nginx with
deploy/nginx/ghostflow.conf.template in front of gunicorn sync workers on config.wsgi and of
Django's ASGI handler (gunicorn's uvicorn worker) for the live audit stream only, started on free
ports by scripts/split_stack.py (what CI starts) on the test database; and the compose file and the
image run the same commands.

The stack needs Debian's nginx; without it those tests skip, unless REQUIRE_NGINX=1 (CI), which
makes them fail."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml

from audit.models import AuditEvent
from scripts import split_stack

from . import servers
from .factories import make_key
from .test_audit_stream_live import STREAM, key_call, login_headers, open_stream

ROOT = Path(__file__).resolve().parent.parent
SPOOFED = "203.0.113.77"
# The test client connects to nginx from this loopback address, nginx to the app servers from
# 127.0.0.1: the address recorded shows which one the app took.
CLIENT_ADDRESS = "127.0.0.3"


@pytest.fixture
def stack(settings, tmp_path, transactional_db):
    if split_stack.nginx_binary() is None:
        reason = "nginx is not installed (apt-get install nginx): the split deployment is not tested"
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail(reason + ", but REQUIRE_NGINX=1")
        pytest.skip(reason)
    # Heartbeats every 0.5 s: a stream closed by a test (SSE.close) ends at the next one, when its
    # reading thread wakes and the socket really closes; nginx logs the stream then.
    extra = {"AUDIT_STREAM_POLL_SECONDS": "0.5", "AUDIT_STREAM_HEARTBEAT_SECONDS": "0.5", "LOG_LEVEL": "WARNING"}
    redis_url = servers.redis_url()
    if redis_url is not None:  # as production: events announced through Redis, not only polled
        extra["CACHE_URL"] = f"{redis_url}?key_prefix={tmp_path.name}"
    running = split_stack.start(tmp_path / "stack", servers.environment(settings, **extra))
    yield running
    split_stack.stop(running)


def _log(stack, name: str) -> str:
    return stack.logs()[name].read_text()


def _wait_for_line(stack, name: str, needle: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while needle not in (text := _log(stack, name)):
        assert time.monotonic() < deadline, f"{needle!r} not in {name}.log:\n{text}"
        time.sleep(0.05)
    return text


@pytest.mark.slow
def test_the_app_records_the_address_nginx_saw_whatever_x_forwarded_for_the_client_sent(stack, owner, team):
    _, raw = make_key(owner, team, ["read:campaigns"])
    headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    with httpx.Client(transport=transport, timeout=10) as client:
        for forwarded in (SPOOFED, f"{SPOOFED}, 198.51.100.9", ""):
            response = client.get(f"{stack.url}/api/v1/campaigns", headers={**headers, "X-Forwarded-For": forwarded})
            assert response.status_code == 200
            event = AuditEvent.objects.get(action="api_request", request_id=response.headers["X-Request-Id"])
            assert event.ip == CLIENT_ADDRESS, forwarded
    assert f"{CLIENT_ADDRESS} " in _log(stack, "nginx-access")


@pytest.mark.slow
def test_the_stream_is_served_by_the_asgi_server_and_delivers_an_api_event_through_nginx(stack, owner, admin, team):
    _, raw = make_key(owner, team, ["read:campaigns"])
    stream = open_stream(stack, admin, team)  # ?token=: a stream token in the URL, as browsers send it
    try:
        request_id = key_call(stack, raw, team).headers["X-Request-Id"]
        started = time.monotonic()
        while True:
            (message,) = stream.events(1, timeout=5)
            if json.loads(message["data"])["request_id"] == request_id:
                break
        assert time.monotonic() - started < 5
    finally:
        stream.close()
    assert '"GET /api/v1/audit-log/stream HTTP' in _log(stack, "stream-access")
    assert '"GET /api/v1/audit-log/stream"' not in _log(stack, "api-access")
    assert '"GET /api/v1/campaigns"' in _log(stack, "api-access")
    _wait_for_line(stack, "nginx-access", '"GET /api/v1/audit-log/stream HTTP')  # written as it ends


@pytest.mark.slow
def test_no_access_log_keeps_a_query_string(stack, owner, team):
    stream = open_stream(stack, owner, team, query="&action=api_request")
    stream.close()
    _, raw = make_key(owner, team, ["read:campaigns"])
    assert key_call(stack, raw, team, path="/api/v1/campaigns?token=not-a-credential").status_code == 200
    _wait_for_line(stack, "nginx-access", '"GET /api/v1/audit-log/stream HTTP')
    for name in ("nginx-access", "api-access", "stream-access"):
        text = _log(stack, name)
        assert STREAM in text or "/api/v1/campaigns" in text, name
        assert "token=" not in text and "?" not in text, (name, text)


@pytest.mark.slow
def test_no_nginx_log_keeps_a_query_string_or_a_referrer_when_an_app_server_fails(stack):
    """nginx's error log has a fixed format: for a request an app server failed (down, restarted
    under a live stream, timed out) it writes the request line, the upstream URI and the Referer,
    query strings included: a stream token, or the reset token of the page that loaded a file."""
    for name in ("stream", "api"):
        stack.processes[name].terminate()
        stack.processes[name].wait(timeout=15)
    reset_page = f"{stack.url}/reset-password?token=reset-secret&email=a%40example.com"
    assert httpx.get(f"{stack.url}{STREAM}?token=stream-secret", timeout=10).status_code == 502
    assert httpx.get(f"{stack.url}/static/x.js", headers={"Referer": reset_page}, timeout=10).status_code == 502
    _wait_for_line(stack, "nginx-access", '"GET /static/x.js HTTP/1.1" 502')
    logs = [path for path in stack.work.iterdir() if path.is_file() and path.name.startswith("nginx")]
    assert {"nginx-access.log", "nginx-error.log"} <= {path.name for path in logs}
    for path in logs:
        assert "secret" not in path.read_text(), path.name


@pytest.mark.slow
def test_a_body_past_the_limit_is_413_from_the_app_and_far_past_it_from_nginx_never_on_disk(
    stack, owner, team, settings
):
    _, raw = make_key(owner, team, ["write:campaigns"])
    headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk), "Content-Type": "application/json"}
    url = f"{stack.url}/api/v1/campaigns"

    def body(size: int) -> bytes:
        return b'{"name": "' + b"x" * size + b'"}'

    def chunked(size: int):  # no Content-Length: nginx counts as it reads
        yield b'{"name": "'
        for _ in range(size // 65536):
            yield b"x" * 65536
        yield b'"}'

    just_over = httpx.post(url, content=body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10), headers=headers, timeout=10)
    far_over = httpx.post(url, content=body(4 * 1024 * 1024), headers=headers, timeout=10)
    far_over_chunked = httpx.post(url, content=chunked(4 * 1024 * 1024), headers=headers, timeout=10)
    for response in (just_over, far_over, far_over_chunked):
        assert response.status_code == 413
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json() == {
            "type": "about:blank",
            "title": "Request Entity Too Large",
            "status": 413,
            "detail": "The request body is too large.",
            "code": "payload_too_large",
        }
    # The app answered (and recorded) the first; nginx refused the others before any worker.
    assert AuditEvent.objects.get(action="api_request", request_id=just_over.headers["X-Request-Id"]).status_code == 413
    assert _log(stack, "api-access").count('"POST /api/v1/campaigns" 413') == 1
    assert not any((stack.work / "nginx" / "client_body").iterdir())
    fits = httpx.post(url, json={"name": "fits"}, headers=headers, timeout=10)
    assert fits.status_code == 201


@pytest.mark.slow
def test_trace_is_answered_by_the_app_with_the_paths_methods(stack, owner, team):
    """nginx refuses TRACE itself without an Allow header; the template hands it to the app."""
    response = httpx.request("TRACE", f"{stack.url}/api/v1/campaigns", headers=login_headers(owner, team), timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert response.json()["code"] == "method_not_allowed"


def test_compose_and_the_image_run_the_commands_ci_and_these_tests_start():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    api, stream, proxy = services["api"], services["stream"], services["proxy"]
    # The API migrates, then runs gunicorn: one shell line (a line break would end the command).
    shell, flag, line = api["command"]
    assert (shell, flag) == ("sh", "-c") and "\n" not in line
    assert "&& exec gunicorn config.wsgi:application " in line
    assert f"--access-logformat '{split_stack.ACCESS_LOG_FORMAT}'" in line
    assert stream["command"][:4] == [
        "gunicorn",
        "config.asgi:application",
        "--worker-class",
        "config.workers.UvicornWorker",
    ]
    assert stream["environment"]["DATABASE_CONN_MAX_AGE"] == "0"
    assert api["environment"]["TRUSTED_PROXY_COUNT"] == stream["environment"]["TRUSTED_PROXY_COUNT"]
    assert stream["environment"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"
    # Only the proxy is reachable from outside; it renders the template with exactly its variables.
    assert "ports" not in api and "ports" not in stream
    assert proxy["ports"] == ["127.0.0.1:8000:8000"]
    assert "./deploy/nginx:/etc/nginx/templates:ro" in proxy["volumes"]
    assert set(proxy["environment"]) == set(split_stack.TEMPLATE_VARIABLES)

    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*?\])$", dockerfile.replace("\\\n", ""), re.S | re.M).group(1))
    assert cmd[:2] == ["gunicorn", "config.wsgi:application"]
    assert cmd[cmd.index("--access-logformat") + 1] == split_stack.ACCESS_LOG_FORMAT


def test_the_nginx_template_substitutes_only_its_variables_and_logs_no_query_string():
    template = split_stack.TEMPLATE.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", template)) == set(split_stack.TEMPLATE_VARIABLES)
    (log_format,) = re.findall(r"^log_format .*?;", template, re.S | re.M)
    assert "$uri" in log_format
    assert not re.search(r"\$(request|request_uri|args|query_string|is_args|arg_\w+|http_referer)\b", log_format)
    assert re.findall(r"^\s*access_log (.*);", template, re.M) == ["/dev/stdout ghostflow_no_query"]
