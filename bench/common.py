"""Shared plumbing of the benchmarks: a PostgreSQL database, a production-like environment, a
seeded team with a key and a JWT, and gunicorn serving the app."""

from __future__ import annotations

import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ghostflow_bench"


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", secrets.token_urlsafe(50)),
        "JWT_SIGNING_KEY": os.environ.get("BENCH_JWT_SIGNING_KEY", secrets.token_urlsafe(40)),
        "API_KEY_PEPPER": os.environ.get("BENCH_API_KEY_PEPPER", secrets.token_urlsafe(40)),
        "SECRETS_ENCRYPTION_KEYS": os.environ.get(
            "BENCH_SECRETS_ENCRYPTION_KEYS", "YmVuY2gtc2VjcmV0cy1lbmNyeXB0aW9uLWtleS14eHg="
        ),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "JWT_ACCESS_TOKEN_LIFETIME": "3600",
        "API_KEY_MAX_ACTIVE_PER_USER": "1000",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "consolemail://",
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return result.stdout


SEED = """
import json
from accounts.models import User
from accounts.sessions import start_session
from apikeys.models import APIKey
from access.scopes import Role
from apikeys.services import create_key
from teams.models import Membership, Team
from tracking.models import Campaign

user = User.objects.filter(username="bench").first()
if user is None:
    user = User.objects.create_user("bench", "bench@example.com", "bench-pass-123")
team = Team.objects.filter(name="Bench").first() or Team.objects.create(name="Bench")
membership, _ = Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
if Campaign.objects.filter(team=team).count() < CAMPAIGNS:
    Campaign.objects.bulk_create([Campaign(team=team, name=f"campaign {i}") for i in range(CAMPAIGNS)])
APIKey.objects.filter(team=team, name__in=["bench", "bench-limited"]).delete()
raw = create_key(membership=membership, name="bench", permissions=["read"]).raw
# A key with a rate limit and a monthly quota (never reached): what per-key limits cost a request.
limited = create_key(
    membership=membership, name="bench-limited", permissions=["read"],
    rate_limits=[{"limit": 1_000_000_000, "seconds": 3600}], monthly_quota=2_000_000_000,
).raw
jwt = start_session(user=user).access_token
print(json.dumps({"team": str(team.pk), "key": raw, "limited_key": limited, "jwt": jwt, "user": str(user.pk)}))
"""


def seed(env: dict[str, str], campaigns: int = 50) -> dict[str, str]:
    manage(env, "migrate", "--noinput", "-v0")
    return json.loads(manage(env, "shell", "-c", SEED.replace("CAMPAIGNS", str(campaigns))).strip().splitlines()[-1])


@contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    workers: int,
    app: str = "config.wsgi:application",
    cwd: Path = ROOT,
    worker_class: str | None = None,
):
    """Serve `app` (ours by default) with gunicorn on 127.0.0.1:`port` until the block ends; it
    answers `/healthz` before the block starts. Sync workers unless `worker_class` says otherwise
    (uvicorn_worker.UvicornWorker for an ASGI app)."""
    command = [PYTHON, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    command += ["--log-level", "warning"]
    if worker_class is not None:
        command += ["--worker-class", worker_class]
    process = subprocess.Popen(command, cwd=cwd, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def load_arguments(parser, seconds: int = 5, rounds: int = 3) -> None:
    """The wrk load every side-by-side bench takes: rounds of `--seconds` with `--connections`
    against gunicorn with `--workers`."""
    parser.add_argument("--seconds", type=int, default=seconds)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)


def goal_row(label: str, ratios: list[float], target: float, *, at_most: bool = False) -> dict:
    """Print one goal: the median of per-round ratios, their spread, and whether it is met."""
    median = statistics.median(ratios)
    met = median <= target if at_most else median >= target
    sign = "≤" if at_most else "≥"
    spread = f"{min(ratios):.2f}–{max(ratios):.2f}"
    print(
        f"goal: {label:<52} {median:>6.2f} (rounds {spread}) target {sign} {target:.2f}  {'met' if met else 'NOT met'}"
    )
    return {"label": label, "median": round(median, 3), "spread": spread, "target": target, "met": met}
