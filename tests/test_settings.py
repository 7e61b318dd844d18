"""Start-up refuses insecure defaults with DEBUG off; a production-like environment passes the
deploy check with no warnings. Run in subprocesses: settings are read once per process."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": "j" * 48,
    "API_KEY_PEPPER": "p" * 48,
    "SECRETS_ENCRYPTION_KEYS": "dGVzdC1zZWNyZXRzLWVuY3J5cHRpb24ta2V5LXR0dHQ=",
    "ALLOWED_HOSTS": "api.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def manage(*args, **env):
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SIGNING_KEY", "API_KEY_PEPPER", "SECRETS_ENCRYPTION_KEYS"])
def test_a_missing_secret_stops_start_up_with_debug_off(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_mail_must_be_configured_with_debug_off():
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_URL"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "EMAIL_URL is not set" in result.stderr


def test_console_mail_is_allowed_with_debug_off_when_named():
    result = manage("check", **{**PRODUCTION, "EMAIL_URL": "consolemail://"})
    assert result.returncode == 0, result.stderr


def test_a_short_secret_key_is_refused():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "SECRET_KEY must be at least" in result.stderr


def test_debug_needs_no_secrets():
    assert manage("check", DEBUG="1").returncode == 0


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_settings_would_fail_the_deploy_check():
    # The deploy check is meaningful: the same command fails on a DEBUG configuration.
    assert manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="1").returncode != 0


def test_read_audit_events_use_an_async_commit_connection_with_generic_plans_on_postgresql():
    code = (
        "from django.conf import settings as s; "
        "print(s.AUDIT_READS_DATABASE, s.DATABASES[s.AUDIT_READS_DATABASE].get('OPTIONS', {}).get('options'))"
    )
    pg = manage("shell", "-v", "0", "-c", code, **PRODUCTION, DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    # Without force_custom_plan: the INSERT is the only statement it runs, and a generic plan
    # saves replanning it on every request.
    assert pg.stdout.split() == ["audit_reads", "-c", "synchronous_commit=off"]
    off = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        **PRODUCTION,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        AUDIT_READS_ASYNC_COMMIT="0",
    )
    assert off.stdout.split() == ["default", "-c", "plan_cache_mode=force_custom_plan"]
    sqlite = manage("shell", "-v", "0", "-c", code, **PRODUCTION, DATABASE_URL="sqlite:///tmp/x.sqlite3")
    assert sqlite.stdout.split() == ["default", "None"]


def test_behind_a_pooler_nothing_is_left_on_the_server_beyond_a_transaction():
    code = (
        "import json; from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(json.dumps([s.AUDIT_READS_DATABASE, sorted(s.DATABASES), d.get('OPTIONS', {}), "
        "d.get('DISABLE_SERVER_SIDE_CURSORS', False)]))"
    )
    pooled = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        **PRODUCTION,
        DATABASE_URL="postgres://u@127.0.0.1:6432/x",
        DATABASE_POOLER="transaction",
    )
    # No prepared statements, no server-side cursors, no startup options (PgBouncer refuses them),
    # and no second connection for read events (audit/services.py turns their commit mode off).
    assert json.loads(pooled.stdout) == ["default", ["default"], {}, True], pooled.stderr
    both = manage(
        "check",
        **PRODUCTION,
        DATABASE_URL="postgres://u@127.0.0.1:6432/x",
        DATABASE_POOLER="transaction",
        DATABASE_PREPARED_STATEMENTS="1",
    )
    assert both.returncode != 0 and "cannot go with DATABASE_POOLER" in both.stderr
    unknown = manage("check", **PRODUCTION, DATABASE_POOLER="session")
    assert unknown.returncode != 0 and "DATABASE_POOLER" in unknown.stderr
