"""`gf` never guesses between keys (or integrations, members, teams) of the same name, and every
way a command ends has the exit code of the one table (clients/python/README.md, `gf --help`):
through click's CliRunner and as the installed `gf` in a real shell, against a live server."""

import os
import pty
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

from ghostflow_client.cli import Exit

from apikeys.models import APIKey
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tracking.models import Campaign

from .stub import Answer, StubServer, problem
from .test_cli import GF, as_json, gf, log_in, ok, popen_as_from_a_shell, refused, run_gf


def create_key(name, *scopes):
    return as_json("keys", "create", name, *[arg for scope in scopes or ("read",) for arg in ("-s", scope)])


def revoked_at(key):
    return APIKey.objects.get(pk=key["id"]).revoked_at


# --- which key a name names ----------------------------------------------------------------------


def test_revoke_by_name_acts_on_the_one_active_key_of_that_name_not_on_a_revoked_namesake(world, config_dir):
    log_in(world)
    old = create_key("CI key")
    ok("keys", "revoke", old["id"])
    new = create_key("CI key")

    result = ok("keys", "revoke", "CI key")  # the README's flow, run a second time
    assert new["prefix"] in result.stderr
    assert revoked_at(new) is not None

    # None active any more: said so, with the revoked ones, and nothing is sent.
    message = refused(Exit.USAGE, "keys", "revoke", "CI key")
    assert "No active key is named 'CI key'" in message
    assert old["prefix"] in message and new["prefix"] in message and "revoked" in message
    assert "No active key" in refused(Exit.USAGE, "keys", "regenerate", "CI key")


def test_a_name_that_matches_several_keys_is_refused_with_their_ids_and_nothing_is_done(world, config_dir):
    log_in(world)
    first, second = create_key("deploy"), create_key("deploy")

    message = refused(Exit.USAGE, "keys", "revoke", "deploy")
    for key in (first, second):
        assert key["id"] in message and key["prefix"] in message
    assert "created " in message and "owner ada" in message and "does not choose" in message
    assert revoked_at(first) is None and revoked_at(second) is None
    refused(Exit.USAGE, "keys", "regenerate", "deploy")
    refused(Exit.USAGE, "keys", "rename", "deploy", "other")
    refused(Exit.USAGE, "keys", "audit", "deploy")
    refused(Exit.USAGE, "audit", "--key", "deploy")
    assert APIKey.objects.filter(name="deploy").count() == 2

    # The id and the prefix are unambiguous; then the name is too.
    ok("keys", "revoke", first["id"])
    ok("keys", "regenerate", "deploy")
    # rm, rename and audit act on any key: the revoked namesake still counts.
    refused(Exit.USAGE, "keys", "rm", "deploy", "--yes")
    ok("keys", "rm", first["prefix"], "--yes")
    ok("keys", "rm", "deploy", "--yes")
    assert not APIKey.objects.filter(name="deploy").exists()


def test_a_name_that_is_another_keys_prefix_matches_both(world, config_dir):
    log_in(world)
    target = create_key("target")
    impostor = create_key(target["prefix"])
    message = refused(Exit.USAGE, "keys", "revoke", target["prefix"])
    assert target["id"] in message and impostor["id"] in message
    ok("keys", "revoke", target["id"])
    # Revoked, the target is still the key of that prefix (a prefix names a key in any state).
    refused(Exit.USAGE, "keys", "revoke", target["prefix"])
    ok("keys", "revoke", impostor["id"])
    assert revoked_at(impostor) is not None


def test_an_unknown_id_is_not_found_1_an_unknown_name_is_a_usage_error_2(world, config_dir):
    log_in(world)
    create_key("known")
    refused(Exit.REFUSED, "keys", "revoke", uuid.uuid4())  # the server's 404
    refused(Exit.REFUSED, "integrations", "rm", uuid.uuid4(), "--yes")
    refused(Exit.REFUSED, "members", "rm", uuid.uuid4(), "--yes")
    assert "No key 'unknown'" in refused(Exit.USAGE, "keys", "revoke", "unknown")
    assert "No member 'nobody'" in refused(Exit.USAGE, "members", "role", "nobody", "viewer")


def test_members_and_integrations_of_the_same_name_are_never_guessed(world, config_dir):
    # bob's e-mail address is carol's username: "bob@example.com" names two people.
    carol = MembershipFactory(team=world.team, user=UserFactory(username=world.member.email)).user
    log_in(world)
    message = refused(Exit.USAGE, "members", "role", world.member.email, "viewer")
    assert str(world.member.pk) in message and str(carol.pk) in message
    assert as_json("members", "role", str(carol.pk), "viewer")["role"] == "viewer"

    first = as_json("integrations", "create", "Zapier", "-s", "read:campaigns")
    second = as_json("integrations", "create", "Zapier", "-s", "read:campaigns")
    message = refused(Exit.USAGE, "integrations", "rm", "Zapier", "--yes")
    assert first["id"] in message and second["id"] in message
    ok("integrations", "rm", first["id"], "--yes")
    ok("integrations", "rm", "Zapier", "--yes")


def test_two_teams_of_the_same_name_are_listed_not_guessed(world, config_dir):
    other = TeamFactory(name="Acme")
    MembershipFactory(team=other, user=world.owner, role="admin")
    log_in(world)
    message = refused(Exit.USAGE, "team", "use", "Acme")
    assert str(world.team.pk) in message and str(other.pk) in message


# --- every way a command ends --------------------------------------------------------------------


def test_conflict_rate_limit_server_unavailable_and_a_broken_config_have_their_codes(world, config_dir):
    log_in(world)
    key = create_key("gone")
    ok("keys", "revoke", key["id"])
    assert "revoked" in refused(Exit.REFUSED, "keys", "regenerate", key["id"])  # 409

    team = ["--team", uuid.uuid4()]
    key = {"GF_API_KEY": "gf_" + "x" * 38}
    with StubServer([Answer(503, problem(503, "service_unavailable", "Down for maintenance."))]) as stub:
        message = refused(Exit.SERVER, "--base-url", stub.url, *team, "campaigns", "create", "--name", "x", env=key)
    assert "Down for maintenance." in message
    with StubServer([Answer(429, problem(429, "rate_limited", "Slow down."), {"Retry-After": "30"})]) as stub:
        refused(Exit.REFUSED, "--base-url", stub.url, *team, "campaigns", "create", "--name", "x", env=key)
    with StubServer([Answer(403, problem(403, "team_forbidden", "Not a member of this team."))]) as stub:
        refused(Exit.FORBIDDEN, "--base-url", stub.url, *team, "campaigns", "create", "--name", "x", env=key)

    (config_dir / "config.json").write_text("{not json")
    assert "not readable JSON" in refused(Exit.USAGE, "whoami")


def test_standard_input_ending_at_a_prompt_is_a_usage_error(world, config_dir):
    message = refused(Exit.USAGE, "--base-url", world.url, "login", input="")
    assert "--password-stdin" in message


def on_a_terminal(world, config_dir, *args, answer=None):
    """`gf` with a terminal (a pseudo-terminal) as its stdin, stdout and stderr, as a person runs
    it: it asks for confirmation; then `answer` is typed, or Ctrl-C is sent. The exit code and what
    the terminal showed."""
    env = {**os.environ, "GF_CONFIG_DIR": str(config_dir), "GF_BASE_URL": world.url, "GF_KEYRING": "0"}
    controller, terminal = pty.openpty()
    process = popen_as_from_a_shell([str(GF), *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    shown = b""

    def read_until(marker, timeout=30):
        nonlocal shown
        deadline = time.monotonic() + timeout
        while marker not in shown and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    shown += os.read(controller, 4096)
                except OSError:  # the process closed the terminal
                    return

    try:
        read_until(b"[y/N]")
        assert b"[y/N]" in shown, shown
        if answer is None:
            process.send_signal(signal.SIGINT)
        else:
            os.write(controller, answer)
        process.wait(timeout=30)
        read_until(b"\0", timeout=1)  # the rest of what it printed
    finally:
        process.kill()
        os.close(controller)
    return process.returncode, shown.decode()


def test_on_a_terminal_no_to_the_confirmation_is_1_and_ctrl_c_is_130(world, config_dir):
    log_in(world)
    campaign = as_json("campaigns", "create", "--name", "Keep me")
    code, shown = on_a_terminal(world, config_dir, "campaigns", "rm", campaign["id"], answer=b"n\n")
    assert (code, "Nothing done." in shown) == (Exit.REFUSED, True), shown
    code, shown = on_a_terminal(world, config_dir, "campaigns", "rm", campaign["id"])
    assert (code, "Interrupted." in shown, "Traceback" in shown) == (Exit.INTERRUPTED, True, False), shown
    assert Campaign.objects.filter(pk=campaign["id"]).exists()


def test_ctrl_c_while_waiting_for_the_server_exits_130(config_dir):
    env = {**os.environ, "GF_CONFIG_DIR": str(config_dir), "GF_API_KEY": "gf_" + "x" * 38}
    with StubServer([Answer(200, [], delay=20)]) as stub:
        process = popen_as_from_a_shell(
            [str(GF), "--base-url", stub.url, "--team", str(uuid.uuid4()), "campaigns", "list"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(600):  # until the request is in
            if stub.seen:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == Exit.INTERRUPTED, stderr
    assert "Interrupted." in stderr and "Traceback" not in stderr


# --- in a real shell -----------------------------------------------------------------------------


def test_the_readme_flow_in_a_real_shell_revokes_the_active_key_and_each_path_exits_as_documented(world, config_dir):
    """The README's block run twice (a revoked "CI key" from the first run), then the ambiguous,
    not-found and piped paths, each `echo $?` as a person at the shell sees it."""
    assert GF.exists(), "`gf` is not installed: pip install -e clients/python"
    Campaign.objects.bulk_create(Campaign(team=world.team, name=f"Campaign {n:03}") for n in range(300))
    script = """
        set -u
        field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
        printf '%s\\n' "$GF_PASSWORD" | gf login -u ada --password-stdin 2> /dev/null || exit 90
        for run in 1 2; do
            ISSUED=$(GF_API_KEY= gf --json keys create "CI key" -s read:campaigns 2> /dev/null) || exit 91
            export GF_API_KEY=$(echo "$ISSUED" | field raw_key)
            GF_API_KEY= gf keys revoke "CI key" 2> revoke.err; echo "revoke$run=$?"
            gf campaigns list > /dev/null 2>&1; echo "list$run=$?"
        done
        unset GF_API_KEY
        gf keys revoke "CI key" 2> none.err; echo "none=$?"
        gf keys create twin -s read > /dev/null 2>&1; gf keys create twin -s read > /dev/null 2>&1
        gf keys revoke twin 2> twins.err; echo "twins=$?"
        gf keys revoke nope 2> /dev/null; echo "unknown_name=$?"
        gf keys revoke 0b5c2f3e-0000-4000-8000-000000000000 2> /dev/null; echo "unknown_id=$?"
        gf campaigns get 0b5c2f3e-0000-4000-8000-000000000000 2> /dev/null; echo "unknown_campaign=$?"
        gf --json campaigns list --limit 0 2> left.err | true; echo "reader_left=${PIPESTATUS[0]}"  # reader gone
        set -o pipefail
        GF_API_KEY=gf_revoked_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx gf --json campaigns list 2> /dev/null | cat > /dev/null
        echo "piped=$?"
        echo "twins_listed=$(grep -c '  gf_' twins.err)"
        echo "none_said=$(head -n 1 none.err)"
    """
    result = run_gf(world, config_dir, f"cd {config_dir.parent} && {script}")
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert (lines["revoke1"], lines["list1"]) == ("0", str(int(Exit.AUTH)))
    assert (lines["revoke2"], lines["list2"]) == ("0", str(int(Exit.AUTH)))  # was: "Several keys match", then 0
    assert lines["none"] == str(int(Exit.USAGE))
    assert lines["none_said"].startswith("Error: No active key is named 'CI key'")
    assert (lines["twins"], lines["twins_listed"]) == (str(int(Exit.USAGE)), "2")
    assert lines["unknown_name"] == str(int(Exit.USAGE))
    assert lines["unknown_id"] == lines["unknown_campaign"] == str(int(Exit.REFUSED))
    assert lines["reader_left"] == "0", (config_dir.parent / "left.err").read_text()
    assert lines["piped"] == str(int(Exit.AUTH))
    assert APIKey.objects.filter(name="twin", revoked_at__isnull=True).count() == 2


def test_the_readme_and_gf_help_list_every_exit_code_and_no_other():
    readme = (Path(__file__).resolve().parents[2] / "clients/python/README.md").read_text()
    table = readme.split("**Exit codes**", 1)[1].split("\n\n", 2)[1]
    assert {int(row.split("|")[1]) for row in table.splitlines()[2:]} == {int(code) for code in Exit}
    epilog = gf("--help").stdout.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    listed = {int(line.split()[0]) for line in epilog.splitlines() if line.strip()[:1].isdigit()}
    assert listed == {int(code) for code in Exit}
