"""App servers in processes of their own, on the test database (and Redis), as separate nodes
would be: what the two-process tests (principal cache, audit stream fan-out) start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def redis_url() -> str | None:
    """The test Redis (TEST_REDIS_URL, by default database 13 of 127.0.0.1:6379), or None when it
    is not running (a failure under REQUIRE_REDIS_SERVER=1). A developer who shares a Redis points
    the suite at a database of its own with TEST_REDIS_URL."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return url
    except OSError:
        if os.environ.get("REQUIRE_REDIS_SERVER") == "1":
            pytest.fail(f"Redis is required at {host}:{port} (REQUIRE_REDIS_SERVER=1)")
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(settings, **extra: str) -> dict[str, str]:
    """A production-like environment on the test database, with the test's secrets."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{database['NAME']}"
    else:
        host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
        database_url = f"postgres://{database['USER']}@{host}:{port}/{database['NAME']}"
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        "API_KEY_PEPPER": settings.API_KEY_PEPPER,
        "SECRETS_ENCRYPTION_KEYS": ",".join(settings.SECRETS_ENCRYPTION_KEYS),
        "EMAIL_URL": "dummymail://",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        # Behind the same pooler, if the test run is (scripts/pgbouncer_suite.sh).
        "DATABASE_POOLER": settings.DATABASE_POOLER,
        "DATABASE_PREPARED_STATEMENTS": "1" if settings.DATABASE_PREPARED_STATEMENTS else "0",
        "DATABASE_CONN_MAX_AGE": "0",
        "AUDIT_READS_ASYNC_COMMIT": "0",
        "RATE_LIMITS_ENABLED": "0",
        "LOG_LEVEL": "ERROR",
        **extra,
    }


def gunicorn_command(port: int) -> list[str]:
    server = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    return [*server, "--workers", "1", "--log-level", "error"]


def uvicorn_command(port: int) -> list[str]:
    """uvicorn as `make run` starts it (--no-proxy-headers: see config/workers.py)."""
    server = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    return [*server, "--lifespan", "off", "--no-proxy-headers", "--log-level", "error", "--no-access-log"]


def asgi_gunicorn_command(port: int) -> list[str]:
    """gunicorn with the production ASGI worker, as the Dockerfile starts it."""
    server = [sys.executable, "-m", "gunicorn", "config.asgi:application", "--bind", f"127.0.0.1:{port}"]
    return [*server, "--worker-class", "config.workers.UvicornWorker", "--workers", "1", "--log-level", "error"]


def start(env: dict[str, str], command, count: int = 2) -> list[tuple[subprocess.Popen, str]]:
    """`count` servers (`command(port)`), each answering /healthz before this returns."""
    servers = []
    for _ in range(count):
        port = free_port()
        process = subprocess.Popen(
            command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        servers.append((process, f"http://127.0.0.1:{port}"))
    for _process, url in servers:
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
    return servers


def stop(servers) -> None:
    for process, _ in servers:
        process.send_signal(signal.SIGTERM)
    for process, _ in servers:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
