"""Step-up from the SDK and `gf`: a login whose session authenticated too long ago gets
`ReauthenticationRequired`; `reauthenticate(password)` (or the `password_prompt`) lets the act
through, once; `gf` asks on a terminal and exits 4 with how to confirm in a script."""

import os
import pty
import select
import subprocess
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from ghostflow_client import (
    AsyncGhostFlow,
    GhostFlow,
    PermissionDeniedError,
    ReauthenticationRequired,
    ValidationError,
)
from ghostflow_client.cli import Exit

from accounts.models import RefreshFamily
from apikeys.models import APIKey

from .conftest import run_async
from .test_cli import GF, as_json, log_in, ok, refused


def make_stale(user):
    RefreshFamily.objects.filter(user=user).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )


def logged_in(world, **kwargs):
    client = GhostFlow(world.url, username="ada", password=world.password, team_id=str(world.team.pk), **kwargs)
    client.me()  # logs in
    return client


def test_the_sdk_raises_reauthentication_required_and_reauthenticate_lets_the_act_through(world):
    with logged_in(world) as client:
        assert client.api_keys.create("fresh", permissions=["read"])["raw_key"]
        make_stale(world.owner)
        with pytest.raises(ReauthenticationRequired) as refused_:
            client.api_keys.create("stale", permissions=["read"])
        assert isinstance(refused_.value, PermissionDeniedError)
        assert (refused_.value.status, refused_.value.code) == (403, "reauthentication_required")
        with pytest.raises(ValidationError) as wrong:
            client.reauthenticate("not-the-password")
        assert wrong.value.code == "wrong_password"
        assert client.reauthenticate(world.password)
        assert client.api_keys.create("confirmed", permissions=["read"])["raw_key"]
    assert set(APIKey.objects.values_list("name", flat=True)) == {"fresh", "confirmed"}


def test_the_password_prompt_is_asked_once_and_the_request_sent_again(world):
    asked = []

    def prompt():
        asked.append(1)
        return world.password

    with logged_in(world, password_prompt=prompt) as client:
        make_stale(world.owner)
        assert client.api_keys.create("after prompt", permissions=["read"])["raw_key"]
        assert len(asked) == 1
        assert client.api_keys.create("no second prompt", permissions=["read"])["raw_key"]
        assert len(asked) == 1

    with logged_in(world, password_prompt=lambda: None) as client:
        make_stale(world.owner)
        with pytest.raises(ReauthenticationRequired):
            client.api_keys.create("declined", permissions=["read"])
    assert not APIKey.objects.filter(name="declined").exists()


def test_the_async_client_too(world):
    async def log_in_():
        async with AsyncGhostFlow(world.url, username="ada", password=world.password) as client:
            await client.me()
            return client.tokens.refresh_token

    async def scenario(refresh_token):
        async with AsyncGhostFlow(world.url, refresh_token=refresh_token, team_id=str(world.team.pk)) as client:
            with pytest.raises(ReauthenticationRequired):
                await client.api_keys.create("stale", permissions=["read"])
            await client.reauthenticate(world.password)
            return await client.api_keys.create("async", permissions=["read"])

    refresh_token = run_async(log_in_())
    make_stale(world.owner)  # the same session, continued from its refresh token
    assert run_async(scenario(refresh_token))["raw_key"]


def test_gf_in_a_script_exits_4_and_says_how_to_confirm(world, config_dir):
    log_in(world)
    make_stale(world.owner)
    message = refused(Exit.FORBIDDEN, "keys", "create", "CI", "-s", "read")
    assert "gf reauthenticate" in message
    ok("reauthenticate", "--password-stdin", input=f"{world.password}\n")
    assert as_json("keys", "create", "CI", "-s", "read")["raw_key"]


def test_gf_on_a_terminal_asks_for_the_password_and_retries_once(world, config_dir):
    log_in(world)
    make_stale(world.owner)
    env = {**os.environ, "GF_CONFIG_DIR": str(config_dir), "GF_BASE_URL": world.url, "GF_KEYRING": "0"}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(GF), "keys", "create", "From a terminal", "-s", "read"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    shown = b""

    def read_until(marker, timeout=30):
        nonlocal shown
        deadline = time.monotonic() + timeout
        while marker not in shown and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    shown += os.read(controller, 4096)
                except OSError:
                    return

    try:
        read_until(b"Password")
        assert b"confirm it is you" in shown, shown
        os.write(controller, world.password.encode() + b"\n")
        process.wait(timeout=30)
        read_until(b"\0", timeout=1)
    finally:
        process.kill()
        os.close(controller)
    assert process.returncode == 0, shown
    assert world.password.encode() not in shown
    assert APIKey.objects.filter(name="From a terminal").exists()


def test_gf_and_the_sdk_step_up_with_a_second_factor_code(world, config_dir):
    import pyotp

    from tests.factories import enrol_totp

    secret, recovery_codes = enrol_totp(world.owner)
    ok(
        "--base-url",
        world.url,
        "login",
        "--totp-code",
        pyotp.TOTP(secret).at(time.time() + 30),  # the current step was spent by the enrolment
        input=f"ada\n{world.password}\n",
    )
    make_stale(world.owner)
    refused(Exit.FORBIDDEN, "keys", "create", "CI", "-s", "read")
    message = refused(Exit.USAGE, "reauthenticate", "--totp-code", "1", "--password-stdin", input="x\n")
    assert "not both" in message
    ok("reauthenticate", "--totp-code", recovery_codes[0])
    assert as_json("keys", "create", "CI", "-s", "read")["raw_key"]

    make_stale(world.owner)
    with GhostFlow(world.url, team_id=str(world.team.pk)) as client:
        client.login("ada", world.password, totp_code=recovery_codes[1])
        with pytest.raises(ValueError, match="exactly one"):
            client.reauthenticate()
        with pytest.raises(ValidationError) as reused:
            client.reauthenticate(code=recovery_codes[0])
        assert reused.value.code == "second_factor_reused"
        assert client.reauthenticate(code=recovery_codes[2])
