"""The `gf` command against a live server of this project: through click's CliRunner (the real
entry point, in this process) and as a subprocess in a real shell."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import types
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner
from ghostflow_client.cli import Exit, cli

from accounts.models import RefreshFamily
from apikeys.models import APIKey
from tests.factories import MembershipFactory, TeamFactory
from tracking.models import Campaign

from .stub import Answer, StubServer, problem
from .test_sdk import REFRESH, expired_access_tokens, jti

GF = Path(sys.executable).parent / "gf"  # the console script `pip install` made


def popen_as_from_a_shell(command, **kwargs):
    """Start `command` with Ctrl-C's signal handled by default, as an interactive shell starts it.

    A process started with SIGINT ignored (a CI runner may start the suite that way: a background
    job of a non-interactive shell) passes the ignoring on through exec, and Python then installs
    no KeyboardInterrupt handler, so the Ctrl-C these tests send would never arrive. A Python
    handler is reset to the default on exec, so setting one for the duration of the fork is enough.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)


def gf(*args, input=None, env=None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input, env=env, prog_name="gf")


def ok(*args, **kwargs):
    result = gf(*args, **kwargs)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def as_json(*args, **kwargs):
    return json.loads(ok("--json", *args, **kwargs).stdout)


def refused(exit_code, *args, **kwargs):
    result = gf(*args, **kwargs)
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    return result.stderr


def log_in(world, username="ada"):
    return ok("--base-url", world.url, "login", input=f"{username}\n{world.password}\n")


def test_log_in_create_a_key_use_it_paginate_250_campaigns_revoke_it_and_log_out(world, config_dir):
    result = log_in(world)
    assert world.password not in result.output
    assert "Team: Acme" in result.stderr  # the only team: chosen at once
    credentials = config_dir / "credentials.json"
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    for path in (credentials, config_dir / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert world.password not in path.read_text()
    assert "refresh_token" in json.loads(credentials.read_text())[world.url]
    assert "refresh_token" not in (config_dir / "config.json").read_text()

    assert "* " in ok("teams").stdout and "Acme" in ok("teams").stdout
    assert as_json("whoami")["team_name"] == "Acme"

    created = ok("keys", "create", "CI", "-s", "read:campaigns", "-s", "write:campaigns")
    raw_key = next(line for line in created.stdout.split() if line.startswith("gf_") and len(line) > 30)
    assert "only time" in created.stderr
    listing = ok("keys", "list").stdout
    assert raw_key[:11] in listing and raw_key not in listing

    Campaign.objects.bulk_create(Campaign(team=world.team, name=f"Campaign {n:03}") for n in range(249))
    with_key = {"GF_API_KEY": raw_key}
    ok("campaigns", "create", "--name", "From gf", env=with_key)
    assert len(as_json("campaigns", "list", "--limit", "0", env=with_key)) == 250
    table = ok("campaigns", "list", env=with_key)
    assert table.stdout.count("Campaign ") == 49 and "From gf" in table.stdout
    assert "first 50 shown" in table.stderr

    ok("keys", "revoke", raw_key[:11])
    assert "revoked" in refused(Exit.AUTH, "campaigns", "list", env=with_key)
    events = as_json("keys", "audit", "CI", "--limit", "0")
    assert events[0]["status_code"] == 401 and len(events) >= 7

    ok("logout")
    assert world.url not in json.loads(credentials.read_text())
    assert RefreshFamily.objects.get(user=world.owner).revoked_at is not None
    assert "gf login" in refused(Exit.AUTH, "whoami")


def test_exit_codes_tell_usage_auth_permission_refusal_server_and_network_apart(world, config_dir):
    log_in(world)
    reader = as_json("keys", "create", "reader", "-s", "read:campaigns")["raw_key"]
    key_env = {"GF_API_KEY": reader}

    assert gf("campaigns", "get").exit_code == Exit.USAGE  # click's own usage error
    refused(Exit.USAGE, "campaigns", "get", "not-an-id")
    refused(Exit.USAGE, "campaigns", "update", str(uuid.uuid4()))  # nothing to change
    refused(Exit.USAGE, "--team", "Nowhere", "campaigns", "list")

    assert "write:campaigns" in refused(Exit.FORBIDDEN, "campaigns", "create", "--name", "x", env=key_env)
    assert "interactive" in refused(Exit.FORBIDDEN, "keys", "list", env=key_env).lower()
    refused(Exit.REFUSED, "campaigns", "get", str(uuid.uuid4()))
    assert "url:" in refused(Exit.REFUSED, "offers", "create", "--name", "o", "--url", "not a url")
    refused(Exit.AUTH, "campaigns", "list", env={"GF_API_KEY": "gf_" + "x" * 38})

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    refused(Exit.NETWORK, "--base-url", closed, "campaigns", "create", "--name", "x", env=key_env)

    with StubServer([Answer(500, problem(500, "server_error", "Something broke."))]) as stub:
        message = refused(Exit.SERVER, "--base-url", stub.url, "--team", uuid.uuid4(), "campaigns", "list", env=key_env)
    assert "Something broke." in message


def test_a_login_with_several_teams_must_choose_one_which_is_remembered(world, config_dir):
    TeamFactory(name="Globex")  # someone else's team of the same name: not a candidate
    MembershipFactory(team=TeamFactory(name="Globex"), user=world.owner, role="admin")
    log_in(world)
    assert "No team chosen" in refused(Exit.USAGE, "campaigns", "list")

    ok("team", "use", "globex")  # by name, any case
    assert as_json("team") == {"team": as_json("whoami")["team_id"], "source": "config", "name": "Globex"}
    assert as_json("whoami")["role"] == "admin"
    ok("campaigns", "create", "--name", "In Globex")
    assert Campaign.objects.get(name="In Globex").team.name == "Globex"
    ok("team", "use", str(world.team.pk))
    assert as_json("campaigns", "list") == []


def test_flags_beat_the_environment_which_beats_the_config_file(config_dir):
    config_dir.mkdir(mode=0o700)
    saved, from_env, from_flag = (str(uuid.uuid4()) for _ in range(3))
    (config_dir / "config.json").write_text(json.dumps({"base_url": "http://127.0.0.1:9", "team_id": saved}))

    assert as_json("team") == {"team": saved, "source": "config"}
    assert as_json("team", env={"GF_TEAM_ID": from_env}) == {"team": from_env, "source": "environment"}
    assert as_json("--team", from_flag, "team", env={"GF_TEAM_ID": from_env}) == {"team": from_flag, "source": "flag"}
    # The saved team belongs to the saved server: another server starts without a team.
    refused(Exit.USAGE, "--base-url", "http://127.0.0.1:10", "team")


def test_resources_members_audit_stats_and_billing(world, config_dir):
    log_in(world)
    network = as_json("networks", "create", "--name", "Net", "--postback-url", "https://n.example.com/pb")
    offer = as_json(
        "offers", "create", "--name", "Offer", "--url", "https://o.example.com/", "--network", network["id"]
    )
    assert [o["id"] for o in as_json("offers", "list", "--network", network["id"])] == [offer["id"]]
    domain = as_json("domains", "create", "--hostname", "track.example.com")
    source = as_json("sources", "create", "--name", "Search", "--kind", "search")
    campaign = as_json(
        "campaigns", "create", "--name", "[bold]Sale", "--domain", domain["id"], "--source", source["id"]
    )
    assert "[bold]Sale" in ok("campaigns", "get", campaign["id"]).stdout  # data, never markup
    assert as_json("campaigns", "update", campaign["id"], "--status", "paused", "--domain", "")["domain"] is None
    assert [c["name"] for c in as_json("campaigns", "list", "--status", "paused")] == ["[bold]Sale"]
    ok("campaigns", "rm", campaign["id"], "--yes")
    refused(Exit.USAGE, "domains", "rm", domain["id"])  # no terminal to confirm on, no --yes
    ok("domains", "rm", domain["id"], "-y")
    assert as_json("domains", "list") == [] and len(as_json("sources", "list", "--kind", "search")) == 1
    assert as_json("stats")["counts"]["networks"] == 1 and as_json("billing")["seats_used"] == 2
    assert "networks" in ok("stats").stdout

    assert {m["username"]: m["role"] for m in as_json("members", "list")} == {"ada": "owner", "bob": "member"}
    assert as_json("members", "role", "bob", "viewer")["role"] == "viewer"
    assert as_json("members", "invite", "grace@example.com", "--role", "member")["status"] == "pending"
    ok("members", "rm", world.member.email, "-y")
    assert [m["username"] for m in as_json("members", "list")] == ["ada"]

    actions = {event["action"] for event in as_json("audit", "--limit", "0")}
    assert {"member.role_changed", "member.removed", "invitation.created"} <= actions
    assert [e["action"] for e in as_json("audit", "--action", "member.removed")] == ["member.removed"]

    key = as_json("keys", "create", "old", "-s", "read")
    assert as_json("keys", "rename", "old", "new")["name"] == "new"
    regenerated = as_json("keys", "regenerate", key["prefix"], "--grace", "60")
    assert regenerated["raw_key"] != key["raw_key"] and regenerated["id"] == key["id"]
    me = as_json("whoami", env={"GF_API_KEY": regenerated["raw_key"]})
    assert (me["auth"], me["key_name"], me["team_id"]) == ("api key", "new", str(world.team.pk))
    ok("keys", "rm", "new", "-y")
    assert not APIKey.objects.filter(pk=key["id"]).exists()


def test_the_login_can_live_in_the_os_keyring(world, config_dir, monkeypatch):
    entries = {}
    keyring = types.ModuleType("keyring")  # a keyring backend in memory: the OS's is not ours to touch
    keyring.get_password = lambda service, name: entries.get((service, name))
    keyring.set_password = lambda service, name, value: entries.__setitem__((service, name), value)
    keyring.delete_password = lambda service, name: entries.pop((service, name))
    monkeypatch.setitem(sys.modules, "keyring", keyring)
    monkeypatch.delenv("GF_KEYRING")

    log_in(world)
    assert not (config_dir / "credentials.json").exists()
    assert json.loads(entries[("ghostflow-cli", world.url)])["refresh_token"]
    assert as_json("whoami")["username"] == "ada"
    ok("logout")
    assert entries == {}


def run_gf(world, config_dir, script):
    env = {
        **os.environ,
        "PATH": f"{GF.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GF_CONFIG_DIR": str(config_dir),
        "GF_BASE_URL": world.url,
        "GF_PASSWORD": world.password,
        "PYTHON": sys.executable,
    }
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_gf_in_a_real_shell(world, config_dir):
    assert GF.exists(), "`gf` is not installed: pip install -e clients/python"
    Campaign.objects.bulk_create(Campaign(team=world.team, name=f"Campaign {n:03}") for n in range(250))
    script = """
        set -u
        count() { "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
        field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
        printf '%s\\n' "$GF_PASSWORD" | gf login -u ada --password-stdin || exit 90
        ISSUED=$(gf --json keys create shell -s read:campaigns -s write:campaigns 2>/dev/null) || exit 91
        export GF_API_KEY=$(echo "$ISSUED" | field raw_key)
        echo "campaigns=$(gf campaigns list --limit 0 --json | count)"
        GF_API_KEY= gf keys revoke "$(echo "$ISSUED" | field id)" 2> /dev/null || exit 93
        gf campaigns list > /dev/null 2> revoked.err
        echo "revoked_exit=$?"
        echo "revoked_error=$(head -n 1 revoked.err)"
    """
    result = run_gf(world, config_dir, f"cd {config_dir.parent} && {script}")
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["campaigns"] == "250"
    assert lines["revoked_exit"] == str(int(Exit.AUTH))
    assert lines["revoked_error"] == "Error: The API key has been revoked."


def test_gf_commands_running_at_once_refresh_the_stored_login_once(world, config_dir, server_requests):
    log_in(world)
    with expired_access_tokens():
        # The server's clock is six minutes ahead of the processes' (theirs is real time): each
        # `gf` sends its stored access token, gets 401 token_expired, and wants a refresh.
        def whoami(_):
            return run_gf(world, config_dir, "gf --json whoami")

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(whoami, range(4)))
        for result in results:
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["username"] == "ada"
        assert server_requests.count(REFRESH) == 1
        family = RefreshFamily.objects.get(user=world.owner)
        stored = json.loads((config_dir / "credentials.json").read_text())[world.url]
        assert family.revoked_at is None and family.current_jti == jti(stored["refresh_token"])


def test_gf_disables_and_enables_a_key_by_name(world, config_dir):
    log_in(world)
    raw_key = as_json("keys", "create", "Nightly", "-s", "read:campaigns")["raw_key"]
    with_key = {"GF_API_KEY": raw_key}
    assert "Disabled Nightly" in ok("keys", "disable", "Nightly").stderr
    assert "disabled" in refused(Exit.AUTH, "campaigns", "list", env=with_key)
    assert [key["name"] for key in as_json("keys", "list", "--status", "disabled")] == ["Nightly"]
    assert "no active key" in refused(Exit.USAGE, "keys", "disable", "Nightly").lower()
    assert "Enabled Nightly" in ok("keys", "enable", "Nightly").stderr
    assert as_json("campaigns", "list", env=with_key) == []


def test_gf_creates_a_key_with_limits_and_an_allowlist_and_changes_them(world, config_dir):
    log_in(world)
    created = as_json(
        "keys",
        "create",
        "Limited",
        "-s",
        "read:campaigns",
        "--rate-limit",
        "2/1h",
        "--allow-ip",
        "127.0.0.1",
        "--monthly-quota",
        "1000",
    )
    assert created["rate_limits"] == [{"limit": 2, "seconds": 3600}] and created["allowed_ips"] == ["127.0.0.1/32"]
    with_key = {"GF_API_KEY": created["raw_key"]}
    ok("campaigns", "list", env=with_key)
    ok("campaigns", "list", env=with_key)
    assert "limit" in refused(Exit.REFUSED, "campaigns", "list", env=with_key).lower()
    changed = as_json("keys", "limit", "Limited", "--no-rate-limit", "--allow-ip", "10.0.0.0/8")
    assert changed["rate_limits"] == [] and changed["allowed_ips"] == ["10.0.0.0/8"]
    assert "address" in refused(Exit.FORBIDDEN, "campaigns", "list", env=with_key)
    assert "Nothing to change" in refused(Exit.USAGE, "keys", "limit", "Limited")
    assert "LIMIT/WINDOW" in refused(Exit.USAGE, "keys", "limit", "Limited", "--rate-limit", "ten")
