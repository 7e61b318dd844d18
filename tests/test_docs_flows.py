"""docs/flows.sh and the Admin-key token the docs sign (scripts/admin_token.py) need bash, curl
and python3's standard library only; a missing precondition stops the flows with a message, not
with a misleading 401 further down. (`make demo-flows`, run by CI, runs the flows end to end.)"""

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from rest_framework.test import APIClient

from scripts.admin_token import admin_token

from .factories import make_integration
from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "admin_token.py"
FLOWS = ROOT / "docs" / "flows.sh"


def _sign(admin_key: str) -> subprocess.CompletedProcess:
    # -I -S: no site-packages (so no PyJWT, nothing of the venv), no user site, no PYTHON* variables.
    return subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), admin_key], capture_output=True, text=True)


@pytest.mark.django_db
def test_a_token_signed_with_the_standard_library_alone_is_accepted(owner, team):
    issued = make_integration(owner, team, permissions=["read:campaigns"])
    signed = _sign(issued.admin_key)
    assert signed.returncode == 0, signed.stderr
    token = signed.stdout.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ghost {token}", HTTP_X_TEAM_ID=str(team.pk))
    assert client.get("/api/v1/campaigns").status_code == 200
    kid, _, secret = issued.admin_key.partition(":")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": kid, "typ": "JWT"}
    claims = jwt.decode(token, bytes.fromhex(secret), algorithms=["HS256"], audience="/admin/")
    assert claims["exp"] - claims["iat"] == 300


def test_the_token_is_the_one_pyjwt_signs():
    kid, secret, now = "a" * 24, "0f" * 32, 1_700_000_000
    expected = jwt.encode(
        {"iat": now, "exp": now + 300, "aud": "/admin/"}, bytes.fromhex(secret), algorithm="HS256", headers={"kid": kid}
    )
    assert admin_token(f"{kid}:{secret}", now=now) == expected


@pytest.mark.parametrize("key", ["", "no-colon", "a" * 24 + ":xyz", "a" * 24 + ":abc", "short:" + "0f" * 32])
def test_a_malformed_admin_key_is_refused_without_echoing_it(key):
    signed = _sign(key)
    assert signed.returncode == 2 and signed.stdout == ""
    assert "<id>:<secret>" in signed.stderr
    assert not key or key not in signed.stderr


def _flows(**env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        ["bash", str(FLOWS)], env={**base, **env}, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set TEAM to the team id"),
        ({"TEAM": "1"}, "TEAM must be a team id"),
        ({"TEAM": "{team}", "BASE_URL": "http://127.0.0.1:{port}"}, "no GhostFlow server"),
        ({"TEAM": "{team}", "PORT": "{port}"}, "answers at http://127.0.0.1:{port}:"),
    ],
)
def test_the_flows_stop_at_once_saying_what_is_missing(env, message):
    port = str(free_port())  # nothing listens there
    team = "8c1c8f5e-1111-4111-8111-111111111111"
    result = _flows(**{name: value.format(port=port, team=team) for name, value in env.items()})
    assert result.returncode == 1
    assert message.format(port=port) in result.stderr
    assert result.stdout == ""  # no call was made
