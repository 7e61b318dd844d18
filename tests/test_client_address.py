"""One rule decides the client's address, on every server: TRUSTED_PROXY_COUNT (infra.net).

uvicorn rewrites the peer address from X-Forwarded-For for connections from 127.0.0.1 unless told
not to (its proxy_headers default); with TRUSTED_PROXY_COUNT=0 a spoofed header used to reach the
audit log, the sessions list and the rate limits' per-IP counters on the ASGI deployment."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from audit.models import AuditEvent
from tests import servers

ROOT = Path(__file__).resolve().parent.parent
SPOOFED = "203.0.113.77"
DEPLOYMENTS = {
    "uvicorn (make run)": servers.uvicorn_command,
    "gunicorn + production ASGI worker (Dockerfile)": servers.asgi_gunicorn_command,
    "gunicorn sync (config.wsgi)": servers.gunicorn_command,
}


def _key_request(url: str, raw: str, team) -> int:
    request = urllib.request.Request(
        url + "/api/v1/campaigns",
        headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk), "X-Forwarded-For": SPOOFED},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@pytest.mark.slow
@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
@pytest.mark.parametrize(("trusted_proxies", "recorded"), [("0", "127.0.0.1"), ("1", SPOOFED)])
def test_the_recorded_client_address_follows_trusted_proxy_count_on_every_server(
    settings, transactional_db, owner, team, key_for, deployment, trusted_proxies, recorded
):
    _, raw = key_for(owner, team, permissions=["read"])
    env = servers.environment(settings, TRUSTED_PROXY_COUNT=trusted_proxies)
    running = servers.start(env, DEPLOYMENTS[deployment], count=1)
    try:
        assert _key_request(running[0][1], raw, team) == 200
    finally:
        servers.stop(running)
    event = AuditEvent.objects.get(action="api_request")
    assert event.ip == recorded


def test_every_production_command_uses_the_worker_that_ignores_proxy_headers():
    """The Dockerfile, compose and CI start gunicorn with config.workers.UvicornWorker; make run
    starts uvicorn with --no-proxy-headers. A plain uvicorn worker would bring the second rule back."""
    for name in ("Dockerfile", "docker-compose.yml", ".ci/run"):
        text = (ROOT / name).read_text()
        assert "config.workers.UvicornWorker" in text, name
        assert "uvicorn_worker.UvicornWorker" not in text, name
    make_run = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.S | re.M).group(0)
    assert "-m uvicorn" in make_run
    assert "--no-proxy-headers" in make_run
