"""The SDK and `gf` with an account that has two-step verification (accounts/mfa.py)."""

import time

import pyotp
import pytest
from ghostflow_client import AsyncGhostFlow, AuthenticationError, GhostFlow, SecondFactorRequired, ValidationError

from accounts.models import RefreshFamily
from tests.factories import enrol_totp

from .conftest import run_async
from .test_cli import as_json, ok, refused

pytestmark = pytest.mark.django_db(transaction=True)


def next_code(secret: str) -> str:
    """The code of the next time step (the current one was spent by the enrolment)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_login_raises_second_factor_required_and_the_ticket_finishes_it(world):
    secret, _ = enrol_totp(world.owner)
    with GhostFlow(world.url) as gf:
        with pytest.raises(SecondFactorRequired) as raised:
            gf.login("ada", world.password)
        assert raised.value.methods == ["totp", "recovery_code"] and raised.value.expires_in > 0
        assert raised.value.ticket not in repr(raised.value)
        with pytest.raises(ValidationError) as wrong:
            gf.complete_second_factor(raised.value.ticket, "000000" if next_code(secret) != "000000" else "111111")
        assert wrong.value.code == "second_factor_invalid"
        gf.complete_second_factor(raised.value.ticket, next_code(secret))
        assert gf.me()["user"]["username"] == "ada"
        with pytest.raises(AuthenticationError) as reused:
            gf.complete_second_factor(raised.value.ticket, pyotp.TOTP(secret).at(time.time() + 60))
        assert reused.value.code == "second_factor_ticket_used"
    assert RefreshFamily.objects.get(user=world.owner).second_factor == "totp"


def test_the_async_login_takes_the_code_at_once(world):
    _, codes = enrol_totp(world.owner)

    async def main():
        async with AsyncGhostFlow(world.url) as gf:
            await gf.login("ada", world.password, totp_code=codes[0])
            return (await gf.me())["user"]["username"]

    assert run_async(main()) == "ada"
    assert RefreshFamily.objects.get(user=world.owner).second_factor == "recovery_code"


def test_gf_login_asks_for_the_code_or_takes_it_as_an_option(world, config_dir):
    secret, codes = enrol_totp(world.owner)
    result = ok("--base-url", world.url, "login", input=f"ada\n{world.password}\n{next_code(secret)}\n")
    assert "Two-step code" in result.output
    assert as_json("whoami")["username"] == "ada"
    ok("logout")
    ok("--base-url", world.url, "login", "-u", "ada", "--totp-code", codes[1], input=f"{world.password}\n")
    assert as_json("whoami")["username"] == "ada"
    ok("logout")
    error = refused(
        1, "--base-url", world.url, "login", "-u", "ada", "--totp-code", codes[1], input=f"{world.password}\n"
    )
    assert "second_factor_reused" in error or "already used" in error


def test_a_team_that_requires_a_second_factor_raises_a_typed_error_and_gf_says_what_to_do(world, config_dir):
    from ghostflow_client import PermissionDeniedError, SecondFactorEnrolmentRequired
    from ghostflow_client.cli import Exit

    from teams.models import Team
    from tests.factories import make_key

    _, raw = make_key(world.member, world.team, permissions=["read:campaigns"])
    Team.objects.filter(pk=world.team.pk).update(require_second_factor=True)
    with GhostFlow(world.url, api_key=raw, team_id=str(world.team.pk)) as client:
        with pytest.raises(SecondFactorEnrolmentRequired) as raised:
            list(client.campaigns.list())
        assert isinstance(raised.value, PermissionDeniedError)
        assert (raised.value.status, raised.value.code) == (403, "second_factor_required")
    message = refused(
        Exit.FORBIDDEN, "--base-url", world.url, "--team", world.team.pk, "campaigns", "list", env={"GF_API_KEY": raw}
    )
    assert "Turn on two-step verification" in message
    enrol_totp(world.member)
    assert as_json("--base-url", world.url, "--team", world.team.pk, "campaigns", "list", env={"GF_API_KEY": raw}) == []
