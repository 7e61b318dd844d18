"""Where `gf` and the SDK keep and show secrets (issue 23, item 19), against a live server: the
stored login is written only into files gf has just created, in a directory nobody else controls;
keys need not be typed on the command line; a key, a token or a URL's password never appears in an
error, a message or a repr."""

import socket
import stat
import uuid

import pytest
from ghostflow_client import NO_RETRY, AsyncGhostFlow, ConfigurationError, GhostFlow, NetworkError, ServerError
from ghostflow_client.cli import Exit
from ghostflow_client.cli import config as gf_config

from apikeys.models import APIKey

from .conftest import run_async
from .stub import Answer, StubServer, problem
from .test_cli import as_json, gf, log_in, ok, refused

ADMIN_KEY = "6a1f" * 6 + ":" + "9c2e" * 16


@pytest.fixture
def attacker_file(tmp_path):
    """A world-readable file of someone else's choosing, where the tokens must never land."""
    target = tmp_path / "attacker.json"
    target.write_text("")
    target.chmod(0o666)
    return target


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the stored login -----------------------------------------------------------------------------


def test_gf_login_creates_its_temporary_file_exclusively_and_never_through_a_planted_link(
    world, config_dir, attacker_file, monkeypatch
):
    config_dir.mkdir(mode=0o700)
    # The name of the next temporary file, known in advance (as the old `.<name>.<pid>.tmp` was),
    # and a link planted there.
    monkeypatch.setattr(gf_config.secrets, "token_hex", lambda _n: "planted")
    (config_dir / ".credentials.json.planted.tmp").symlink_to(attacker_file)

    message = refused(Exit.USAGE, "--base-url", world.url, "login", input=f"ada\n{world.password}\n")
    assert "already exists" in message
    assert attacker_file.read_text() == ""
    assert not (config_dir / "credentials.json").exists()


@pytest.mark.parametrize("name", ["credentials.json", "config.json", "credentials.lock"])
def test_a_planted_link_in_the_config_directory_is_refused_never_followed(
    world, config_dir, attacker_file, tmp_path, name
):
    config_dir.mkdir(mode=0o700)
    target = attacker_file if name != "credentials.lock" else tmp_path / "created-through-the-link"
    (config_dir / name).symlink_to(target)

    message = refused(Exit.USAGE, "--base-url", world.url, "login", input=f"ada\n{world.password}\n")
    assert "symbolic link" in message
    assert attacker_file.read_text() == "" and not (tmp_path / "created-through-the-link").exists()


def test_a_config_directory_that_is_a_link_or_that_others_can_write_is_refused(world, config_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    config_dir.symlink_to(elsewhere)
    assert "symbolic link" in refused(Exit.USAGE, "--base-url", world.url, "login", input=f"ada\n{world.password}\n")
    assert list(elsewhere.iterdir()) == []

    config_dir.unlink()
    config_dir.mkdir()
    config_dir.chmod(0o777)  # someone else could have planted anything in it
    assert "writable by other users" in refused(Exit.USAGE, "whoami")
    config_dir.chmod(0o700)
    log_in(world)
    (config_dir / "credentials.json").chmod(0o666)
    assert "writable by other users" in refused(Exit.USAGE, "whoami")


def test_a_login_in_a_private_directory_still_works_and_stays_0600(world, config_dir):
    config_dir.mkdir(mode=0o755)  # ours, readable by others: tightened, not refused
    log_in(world)
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((config_dir / "credentials.json").stat().st_mode) == 0o600
    assert [path.name for path in config_dir.iterdir() if path.name.endswith(".tmp")] == []
    assert as_json("whoami")["username"] == "ada"


# --- keys off the command line ----------------------------------------------------------------


def test_a_key_typed_on_the_command_line_warns_and_stdin_a_file_or_the_environment_do_not(world, config_dir, tmp_path):
    log_in(world)
    raw = as_json("keys", "create", "ci", "-s", "read:campaigns")["raw_key"]

    typed = ok("--api-key", raw, "--json", "whoami")
    assert "visible to other users" in typed.stderr and raw not in typed.stderr

    from_stdin = ok("--api-key", "-", "--json", "whoami", input=raw + "\n")
    key_file = tmp_path / "key"
    key_file.write_text(raw + "\n")
    from_file = ok("--api-key-file", str(key_file), "--json", "whoami")
    from_env = ok("--json", "whoami", env={"GF_API_KEY": raw})
    for result in (from_stdin, from_file, from_env):
        assert "Warning" not in result.stderr
        assert '"auth": "api key"' in result.stdout

    admin_file = tmp_path / "admin"
    admin_file.write_text(ADMIN_KEY)
    assert "Warning" not in gf("--admin-key-file", str(admin_file), "--team", uuid.uuid4(), "whoami").stderr
    assert "visible to other users" in gf("--admin-key", ADMIN_KEY, "--team", uuid.uuid4(), "whoami").stderr
    assert "no key" in refused(Exit.USAGE, "--api-key", "-", "whoami", input="\n")
    refused(Exit.USAGE, "--api-key", raw, "--api-key-file", str(key_file), "whoami")


# --- never echoed -----------------------------------------------------------------------------


def test_gf_keys_revoke_takes_a_whole_key_by_its_prefix_and_never_prints_the_key(world, config_dir):
    log_in(world)
    issued = as_json("keys", "create", "pasted", "-s", "read:campaigns")
    raw = issued["raw_key"]

    result = ok("keys", "revoke", raw)
    assert raw not in result.output and issued["prefix"] in result.stderr
    assert APIKey.objects.get(pk=issued["id"]).revoked_at is not None

    unknown = "gf_" + "Zz9" * 12
    message = refused(Exit.USAGE, "keys", "revoke", unknown)
    assert unknown not in message and unknown[:11] in message
    message = refused(Exit.USAGE, "integrations", "rm", ADMIN_KEY, "--yes")
    assert ADMIN_KEY.split(":")[1] not in message and ADMIN_KEY.split(":")[0] in message
    message = refused(Exit.USAGE, "campaigns", "get", raw)
    assert raw not in message and issued["prefix"] in message


def test_the_sdk_never_echoes_a_key_passed_where_an_id_goes(world):
    with GhostFlow(world.url, username="ada", password=world.password, team_id=world.team.pk) as client:
        raw = client.api_keys.create("pasted", ["read:campaigns"])["raw_key"]
        for call in (client.api_keys.revoke, client.campaigns.get, client.with_team):
            with pytest.raises(ConfigurationError) as refused_id:
                call(raw)
            assert raw not in str(refused_id.value) and raw[:11] in str(refused_id.value)
            assert raw not in repr(refused_id.value)
        with pytest.raises(ConfigurationError) as refused_id:
            client.campaigns.get(ADMIN_KEY)
        assert ADMIN_KEY.split(":")[1] not in str(refused_id.value)
        access = client.tokens.access_token
        with pytest.raises(ConfigurationError) as refused_id:
            client.campaigns.get(access)
        assert access not in str(refused_id.value)


def test_reprs_of_clients_their_settings_and_gfs_state_hold_no_secret(world, config_dir):
    with GhostFlow(world.url, username="ada", password=world.password, team_id=world.team.pk) as login:
        login.me()
        tokens = login.tokens
        raw = login.api_keys.create("repr", ["read:campaigns"])["raw_key"]
        secrets = [world.password, tokens.access_token, tokens.refresh_token]
        shown = [repr(login), repr(login._settings), repr(login._settings.login), repr(login.with_team(world.team.pk))]
        with GhostFlow(world.url, api_key=raw, team_id=world.team.pk) as keyed:
            shown += [repr(keyed), repr(keyed._settings)]
            assert raw[:11] in repr(keyed)
        admin = GhostFlow(world.url, admin_key=ADMIN_KEY, team_id=world.team.pk)
        shown += [repr(admin), repr(admin._settings)]
        assert ADMIN_KEY.split(":")[0] in repr(admin)

    async def async_reprs():
        async with AsyncGhostFlow(world.url, api_key=raw, team_id=world.team.pk) as client:
            return [repr(client), repr(client._settings)]

    shown += run_async(async_reprs())
    for text in shown:
        for secret in [*secrets, raw, ADMIN_KEY.split(":")[1]]:
            assert secret not in text, text

    from click.testing import CliRunner
    from ghostflow_client.cli import cli

    states = []

    @cli.command("show-state", hidden=True)
    def show_state():
        import click

        states.append(repr(click.get_current_context().obj))

    try:
        CliRunner().invoke(cli, ["--api-key", raw, "show-state"])
        CliRunner().invoke(cli, ["show-state"], env={"GF_ADMIN_KEY": ADMIN_KEY})
    finally:
        cli.commands.pop("show-state")
    assert len(states) == 2 and not any(raw in text or ADMIN_KEY in text for text in states)


def test_a_url_with_user_and_password_never_shows_them(world, config_dir):
    port = closed_port()
    with pytest.raises(NetworkError) as unreachable:
        GhostFlow(f"http://someone:hunter2@127.0.0.1:{port}", api_key="gf_" + "x" * 38, team_id=world.team.pk).me()
    assert "hunter2" not in str(unreachable.value) and "someone" not in str(unreachable.value)
    assert f"127.0.0.1:{port}" in str(unreachable.value)

    with pytest.raises(ConfigurationError) as bad_scheme:
        GhostFlow("ftp://someone:hunter2@example.com", api_key="gf_" + "x" * 38)
    assert "hunter2" not in str(bad_scheme.value)

    with StubServer([Answer(500, problem(500, "server_error"))]) as stub:
        url = stub.url.replace("http://", "http://someone:hunter2@")
        client = GhostFlow(url, api_key="gf_" + "x" * 38, team_id=world.team.pk, retry=NO_RETRY)
        with pytest.raises(ServerError) as failed:
            client.stats()
    assert "hunter2" not in failed.value.url and failed.value.url.endswith("/api/v1/stats")

    result = gf(
        "--base-url",
        f"http://someone:hunter2@127.0.0.1:{port}",
        "--json",
        "campaigns",
        "list",
        env={"GF_API_KEY": "gf_" + "x" * 38, "GF_TEAM_ID": str(world.team.pk)},
    )
    assert result.exit_code == Exit.NETWORK and "hunter2" not in result.output
    assert "hunter2" not in refused(Exit.AUTH, "--base-url", f"http://someone:hunter2@127.0.0.1:{port}", "whoami")


def test_a_browser_stream_url_never_carries_the_base_urls_userinfo():
    from ghostflow_client.stream import browser_url

    url = browser_url("https://someone:hunter2@api.example.com/api/v1/", "tok", {"action": None}, None)
    assert url == "https://api.example.com/api/v1/audit-log/stream?token=tok"


def test_the_content_client_never_shows_a_base_urls_userinfo():
    from ghostflow_client.content import GhostFlowContent

    client = GhostFlowContent("https://someone:hunter2@api.example.com", "a" * 26)
    assert "hunter2" not in repr(client) and "someone" not in repr(client)
    with pytest.raises(ConfigurationError) as bad_scheme:
        GhostFlowContent("ftp://someone:hunter2@example.com", "a" * 26)
    assert "hunter2" not in str(bad_scheme.value)
