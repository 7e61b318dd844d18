"""The `gf` command: the root group, its settings, errors and exit codes, and the session commands."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import islice
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from .. import __version__
from .._redact import redact_url
from ..auth import AdminKey, shown
from ..client import GhostFlow
from ..errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    GhostFlowError,
    NetworkError,
    PermissionDeniedError,
    SecondFactorRequired,
    ServerError,
    StreamRevoked,
    ValidationError,
)
from ..models import TeamWithRole
from . import output
from .config import DEFAULT_BASE_URL, Config, TokenFiles, config_dir, store_for_login, stored_login

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Exit(IntEnum):
    """`gf`'s exit codes: the one table (also in ``gf --help`` and clients/python/README.md)."""

    OK = 0
    # Not done: the API refused (an id it does not know: 404; invalid input; conflict; rate
    # limited), a confirmation answered no, or an unexpected failure (the message says so).
    REFUSED = 1
    # The command line cannot be run as given: bad arguments, a name (of a key, integration,
    # member or team) that names nothing or several things, no team chosen, an unusable config
    # directory, no terminal to confirm on, standard input ended at a prompt.
    USAGE = 2
    AUTH = 3  # 401: not logged in, or the credential was refused (session ended, key revoked or expired)
    FORBIDDEN = 4  # 403: authenticated, but not allowed (missing scope, not a member, role too low)
    SERVER = 5  # the server failed (5xx, 503 included)
    NETWORK = 6  # the server could not be reached or did not answer in time
    INTERRUPTED = 130  # Ctrl-C, in any command (128 + SIGINT, as the shell says)


EXIT_CODES_HELP = """\b
Exit codes:
  0  success (also: the reader of a pipe stopped early, as `| head` does)
  1  not done: the API refused (an unknown id, invalid input, conflict, rate
     limited), a confirmation answered no, or an unexpected failure
  2  usage error: bad arguments; a name (or prefix) that matches no key,
     integration, member or team, or several (gf never guesses: give the
     id); no team chosen
  3  authentication failed (not logged in, session ended, key revoked or expired)
  4  permission denied (missing scope, not a member of the team)
  5  server error (5xx)
  6  network error (server unreachable, timeout)
  130  interrupted with Ctrl-C (how `gf audit --follow` is stopped)

\b
Settings, strongest first: flags, then GF_BASE_URL / GF_API_KEY / GF_ADMIN_KEY /
GF_TEAM_ID, then what `gf login` and `gf team use` saved (in GF_CONFIG_DIR, default
~/.config/gf). A key (GF_API_KEY, or an integration's GF_ADMIN_KEY with its team in
GF_TEAM_ID) is used instead of the login. A key typed after --api-key or
--admin-key is visible to other users (ps): use the environment, --api-key-file
FILE or --api-key - (standard input).
"""


class CliError(Exception):
    """An error `gf` reports as ``Error: <message>`` on stderr, exiting with `exit_code`."""

    def __init__(self, message: str, exit_code: int = Exit.REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code)


def exit_code_for(error: GhostFlowError) -> Exit:
    if isinstance(error, StreamRevoked):
        return Exit.FORBIDDEN if error.forbidden else Exit.AUTH
    if isinstance(error, AuthenticationError):
        return Exit.AUTH
    if isinstance(error, PermissionDeniedError):
        return Exit.FORBIDDEN
    if isinstance(error, ServerError):
        return Exit.SERVER
    if isinstance(error, NetworkError):
        return Exit.NETWORK
    if isinstance(error, ConfigurationError):
        return Exit.USAGE
    return Exit.REFUSED


def describe(error: GhostFlowError, *, login: bool = True) -> str:
    """What to tell the person: the problem's `detail` (written for people), plus what helps
    (`login`: the command ran with the stored login, not a key)."""
    if not isinstance(error, APIError):
        return str(error)
    message = error.detail
    if isinstance(error, ValidationError):
        for name, messages in error.errors.items():
            message += "\n  " + ("" if name == "non_field_errors" else f"{name}: ") + " ".join(messages)
    if isinstance(error, PermissionDeniedError) and error.required_scope and error.required_scope not in message:
        message += f" (needs `{error.required_scope}`)"
    if error.code == "reauthentication_required":
        message += "\nConfirm your password first: gf reauthenticate (or run this in a terminal, which asks)"
    if error.code == "second_factor_required":
        message += "\nTurn on two-step verification for your account (the dashboard's Account page), then retry"
    if isinstance(error, AuthenticationError) and login and error.code.startswith(("token_", "session_")):
        message += "\nLog in again: gf login"
    if isinstance(error, ServerError) and error.request_id:
        message += f" (request id {error.request_id})"
    return message


class GfGroup(click.Group):
    """The root group: turns SDK errors into one line on stderr and an exit code, never a
    traceback. Every way a command can end maps to one code of `Exit` here (click's own usage
    errors exit 2 by themselves)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            self._fail(error.message, error.exit_code)
        except GhostFlowError as error:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            self._fail(describe(error, login=state is None or state.uses_login), exit_code_for(error))
        except KeyboardInterrupt:
            interrupted()
        except click.Abort as error:
            # click.prompt and click.confirm turn Ctrl-C and an ended standard input into Abort
            # (click would then exit 1); what they turned is the exception's context.
            if isinstance(error.__context__, EOFError):
                self._fail(
                    "standard input ended before the answer: in scripts, give -u and --password-stdin "
                    "(or --yes to a command that asks for confirmation).",
                    Exit.USAGE,
                )
            interrupted()
        except BrokenPipeError:
            reader_left()
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as error:
            if os.environ.get("GF_DEBUG") == "1":
                raise
            self._fail(
                redact_url(f"unexpected failure: {type(error).__name__}: {error} (GF_DEBUG=1 shows the traceback)"),
                Exit.REFUSED,
            )

    @staticmethod
    def _fail(message: str, exit_code: int) -> NoReturn:
        click.echo(f"Error: {message}", err=True)
        raise click.exceptions.Exit(exit_code)


def interrupted() -> NoReturn:
    """Ctrl-C: exit 130, as the shell reports a command the user interrupted."""
    click.echo("\nInterrupted.", err=True)
    raise click.exceptions.Exit(Exit.INTERRUPTED)


def reader_left() -> NoReturn:
    """`gf campaigns list | head`: the reader left; not an error worth a traceback. Standard output
    goes to /dev/null so that flushing it at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise click.exceptions.Exit(Exit.OK)


def confirm_password() -> str:
    """Asked when the server wants a recent authentication before an act that hands out power."""
    click.echo("This needs you to confirm it is you (your last sign-in is too long ago).", err=True)
    return str(click.prompt("Password", hide_input=True, err=True))


@dataclass
class State:
    """What one `gf` invocation runs with: its settings, resolved by precedence."""

    base_url: str
    api_key: str | None = field(repr=False)  # secrets: never in a repr
    admin_key: str | None = field(repr=False)
    team: str | None
    team_source: str
    directory: Path
    config: Config
    _client: GhostFlow | None = field(default=None, repr=False)

    @property
    def uses_login(self) -> bool:
        """Whether the commands run with the stored login (no key given)."""
        return not (self.api_key or self.admin_key)

    def login_store(self) -> TokenFiles:
        """Where `gf login` keeps the login for this server."""
        return stored_login(self.directory, self.base_url, self.config)

    def client(self) -> GhostFlow:
        """A client with the strongest credential: a key (flag, then environment), else the login."""
        if self._client is None:
            if self.api_key:
                self._client = GhostFlow(self.base_url, api_key=self.api_key)
            elif self.admin_key:
                self._client = GhostFlow(self.base_url, admin_key=self.admin_key)
            else:
                store = self.login_store()
                if store.load() is None:
                    raise CliError(
                        f"Not logged in to {redact_url(self.base_url)}: run `gf login`, or set GF_API_KEY "
                        "(or an integration's GF_ADMIN_KEY with GF_TEAM_ID).",
                        Exit.AUTH,
                    )
                # Step-up: in a terminal, a refused act asks for the password and is sent again,
                # once (the SDK does it); in a script the refusal exits 4 with how to confirm.
                prompt = confirm_password if sys.stdin.isatty() else None
                self._client = GhostFlow(self.base_url, token_store=store, password_prompt=prompt)
        return self._client

    def team_client(self) -> GhostFlow:
        """A client bound to the team (flag, GF_TEAM_ID, else `gf team use`; with a key and no
        team given, the key's own team)."""
        client = self.client()
        team = self.team
        if self.admin_key:
            # An Admin key names no team the client could ask about (only its id is in the token).
            if team is None or not is_uuid(team):
                raise CliError(
                    "An Admin key belongs to one team: give that team's id with --team or GF_TEAM_ID.", Exit.USAGE
                )
            return client.with_team(team)
        if team is None and self.api_key:
            # An API key belongs to one team; the team saved for the login may be another one.
            me = client.me()
            return client.with_team(me["api_key"]["team"]) if "api_key" in me else client
        if team is None:
            raise CliError("No team chosen: run `gf team use <id|name>`, or pass --team / set GF_TEAM_ID.", Exit.USAGE)
        return client.with_team(resolve_team(client, team)["id"] if not is_uuid(team) else team)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def resolve_team(client: GhostFlow, wanted: str) -> TeamWithRole:
    """One of my teams by id or by name (exact, then case-insensitive)."""
    teams = list(client.teams.list(page_size=100))
    for matches in (
        [team for team in teams if team["id"] == wanted],
        [team for team in teams if team["name"] == wanted],
        [team for team in teams if team["name"].casefold() == wanted.casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            lines = "\n".join(f"  {team['id']}  {shown(team['name'])}  role {team['role']}" for team in matches)
            raise CliError(
                f"{len(matches)} of your teams are called {shown(wanted)}, and gf does not choose between them. "
                f"Give the id of the one you mean:\n{lines}",
                Exit.USAGE,
            )
    raise CliError(f"You are not a member of a team {shown(wanted)} (see `gf teams`).", Exit.USAGE)


pass_state = click.make_pass_decorator(State)


def _source(ctx: click.Context, name: str) -> str:
    source = ctx.get_parameter_source(name)
    if source == ParameterSource.COMMANDLINE:
        return "flag"
    if source == ParameterSource.ENVIRONMENT:
        return "environment"
    return "config"


def _one_key(api: tuple[str | None, str], admin: tuple[str | None, str]) -> tuple[str | None, str | None]:
    """At most one key: a flag beats the environment; two at the same level are a usage error.
    Each key comes with where it was given ("flag", "environment")."""
    (api_key, api_source), (admin_key, admin_source) = api, admin
    if api_key is None or admin_key is None:
        return api_key, admin_key
    if api_source == admin_source:
        raise CliError(
            f"Both an API key and an Admin key are set ({api_source}): use one (--api-key or --admin-key, "
            "GF_API_KEY or GF_ADMIN_KEY).",
            Exit.USAGE,
        )
    return (api_key, None) if api_source == "flag" else (None, admin_key)


SECRET_ON_COMMAND_LINE = (
    "Warning: a key given as {flag} <key> is visible to other users of this machine (ps, /proc) and "
    "kept in your shell history. Use {env}, {flag}-file FILE or {flag} - (standard input) instead."
)


def _read_secret(source: str, option: str) -> str:
    """A key from a file, or standard input for `-`: its first line."""
    try:
        text = sys.stdin.readline() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{option}: cannot read {source} ({exc.strerror}).", Exit.USAGE) from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        where = "standard input" if source == "-" else source
        raise CliError(f"{option}: no key in {where}.", Exit.USAGE)
    return lines[0].strip()


def _key_option(ctx: click.Context, name: str, value: str | None, file: str | None, env: str) -> tuple[str | None, str]:
    """A key and where it came from: its `--<name>-file` (or `-`: standard input), its flag, or its
    environment variable. A key typed on the command line works, with a warning on stderr."""
    flag = "--" + name.replace("_", "-")
    source = _source(ctx, name)
    if file is not None:
        if value is not None and source == "flag":
            raise CliError(f"Give {flag} or {flag}-file, not both.", Exit.USAGE)
        return _read_secret(file, f"{flag}-file"), "flag"
    if not value:
        return None, source
    if value == "-":
        return _read_secret("-", flag), source
    if source == "flag":
        click.echo(SECRET_ON_COMMAND_LINE.format(flag=flag, env=env), err=True)
    return value, source


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["gf.json"] = True  # meta is shared by the whole invocation: root and subcommands
    return value


def json_option(command: F) -> F:
    """``--json`` on a subcommand too (`gf campaigns list --json` as well as `gf --json ...`)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print JSON for scripts instead of a table.",
    )(command)


def wants_json(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("gf.json"))


def limited(items: Iterable[T], limit: int) -> tuple[list[T], bool]:
    """The first `limit` items (all when 0) and whether there were more."""
    iterator: Iterator[T] = iter(items)
    if limit <= 0:
        return list(iterator), False
    taken = list(islice(iterator, limit + 1))
    return taken[:limit], len(taken) > limit


def show_list(
    ctx: click.Context,
    items: Iterable[Mapping[str, Any]],
    columns: list[output.Column],
    *,
    limit: int,
    empty: str,
) -> None:
    """A listing as a table or JSON array, `limit` items at most (pages are fetched as needed)."""
    rows, more = limited(items, limit)
    if wants_json(ctx):
        output.emit_json(rows)
    elif not output.print_table(rows, columns):
        output.notice(empty)
    if more:
        output.notice(f"(first {limit} shown; --limit 0 for all)")


def show_one(ctx: click.Context, obj: Mapping[str, Any], fields: list[output.Column] | None = None) -> None:
    if wants_json(ctx):
        output.emit_json(obj)
    else:
        output.print_record(obj, fields)


limit_option = click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Most rows to show; 0 for all."
)


@click.group(cls=GfGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--base-url", envvar="GF_BASE_URL", help=f"The GhostFlow server [env GF_BASE_URL; default {DEFAULT_BASE_URL}]."
)
@click.option(
    "--api-key",
    envvar="GF_API_KEY",
    help="Use this gf_ key instead of the login; `-` reads it from standard input [env GF_API_KEY]. "
    "Typed here it is visible to other users (ps): prefer the environment, `-` or --api-key-file.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read the gf_ key from this file (`-`: standard input).",
)
@click.option(
    "--admin-key",
    envvar="GF_ADMIN_KEY",
    help="Use this integration Admin key ({id}:{secret}) instead of the login; needs --team <id>; "
    "`-` reads it from standard input [env GF_ADMIN_KEY]. Prefer the environment, `-` or --admin-key-file.",
)
@click.option(
    "--admin-key-file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read the Admin key from this file (`-`: standard input).",
)
@click.option("--team", envvar="GF_TEAM_ID", help="Team id (or name, with a login) [env GF_TEAM_ID].")
@click.option(
    "--json", "as_json", is_flag=True, expose_value=False, callback=_set_json, help="Print JSON instead of tables."
)
@click.version_option(__version__, prog_name="gf")
@click.pass_context
def cli(
    ctx: click.Context,
    base_url: str | None,
    api_key: str | None,
    api_key_file: str | None,
    admin_key: str | None,
    admin_key_file: str | None,
    team: str | None,
) -> None:
    """GhostFlow from the shell: log in, pick a team, manage keys, members and resources.

    \b
    Start with:
      gf login                 # asks for your password, keeps the login (0600 file or OS keyring)
      gf teams                 # your teams and your role in each
      gf team use "Acme"       # remembered for the next commands
      gf campaigns list
    Scripts: GF_API_KEY=gf_... gf --json campaigns list --limit 0
    Integrations: GF_ADMIN_KEY=<id>:<secret> GF_TEAM_ID=<team id> gf campaigns list
    """
    directory = config_dir()
    config = Config.load(directory)
    url = (base_url or config.base_url or DEFAULT_BASE_URL).rstrip("/")
    if team:
        chosen_team, team_source = team, _source(ctx, "team")
    elif config.team_id and (config.base_url or url) == url:
        chosen_team, team_source = config.team_id, "config"
    else:
        # No team, or the saved one belongs to the saved server and this is another one.
        chosen_team, team_source = None, ""
    api_key, admin_key = _one_key(
        _key_option(ctx, "api_key", api_key, api_key_file, "GF_API_KEY"),
        _key_option(ctx, "admin_key", admin_key, admin_key_file, "GF_ADMIN_KEY"),
    )
    state = State(
        base_url=url,
        api_key=api_key,
        admin_key=admin_key,
        team=chosen_team,
        team_source=team_source,
        directory=directory,
        config=config,
    )
    ctx.obj = state
    ctx.call_on_close(state.close)


# --- session ---------------------------------------------------------------------------------


def read_password(password_stdin: bool) -> str:
    """The password from standard input's first line (--password-stdin, for scripts), or asked
    for without echo."""
    if not password_stdin:
        return str(click.prompt("Password", hide_input=True))
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("--password-stdin: nothing on standard input.", Exit.USAGE)
    return password


@cli.command()
@click.option("-u", "--username", help="Username or e-mail address (asked when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option(
    "--totp-code",
    help="For an account with two-step verification: the code from the authenticator app, or a recovery "
    "code (asked when needed and missing).",
)
@pass_state
def login(state: State, username: str | None, password_stdin: bool, totp_code: str | None) -> None:
    """Log in; the login is kept for the next commands.

    The password is asked without echo (or read from stdin with --password-stdin). Only the
    tokens are kept, never the password: in the OS keyring when one is available, else in
    credentials.json (mode 0600) in the config directory. With two-step verification on, the
    code is asked after the password (or given with --totp-code).
    """
    if not username:
        username = click.prompt("Username or e-mail")
    password = read_password(password_stdin)
    store = store_for_login(state.directory, state.base_url)
    with GhostFlow(state.base_url, token_store=store) as client:
        try:
            client.login(username, password, totp_code=totp_code)
        except SecondFactorRequired as pending:
            code = click.prompt("Two-step code (from your app, or a recovery code)", hide_input=False)
            client.complete_second_factor(pending.ticket, code.strip())
        config = state.config
        if config.base_url != state.base_url:
            config.team_id = config.team_name = None  # a team of the previous server
        config.base_url = state.base_url
        config.credential_store = store.kind
        teams = list(client.teams.list(page_size=100))
        if config.team_id not in {team["id"] for team in teams}:
            config.team_id = config.team_name = None
            if len(teams) == 1:
                config.team_id, config.team_name = teams[0]["id"], teams[0]["name"]
        config.save(state.directory)
    output.notice(f"Logged in to {redact_url(state.base_url)} as {username}.")
    if config.team_id:
        output.notice(f"Team: {config.team_name} ({config.team_id})")
    elif teams:
        output.notice(f"You are in {len(teams)} teams: choose one with `gf team use <id|name>` (see `gf teams`).")


@cli.command()
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option(
    "--totp-code",
    metavar="CODE",
    help="Confirm with a code from your authenticator app (or a recovery code) instead of the password.",
)
@pass_state
def reauthenticate(state: State, password_stdin: bool, totp_code: str | None) -> None:
    """Confirm it is you for this login (step-up): your password, or --totp-code, so that creating
    keys, changing roles, invitations, integrations, deleting a team, ... work for the next
    REAUTH_SECONDS (10 minutes)."""
    if not state.uses_login:
        raise CliError("Keys never do the acts that need a confirmation: log in with `gf login`.", Exit.USAGE)
    if totp_code is not None:
        if password_stdin:
            raise CliError("Give --password-stdin or --totp-code, not both.", Exit.USAGE)
        until = state.client().reauthenticate(code=totp_code.strip())
    else:
        until = state.client().reauthenticate(read_password(password_stdin))
    output.notice(f"Confirmed until {until}.")


@cli.command()
@pass_state
def logout(state: State) -> None:
    """End the login on the server and forget it here."""
    store = state.login_store()
    if store.load() is None:
        output.notice("Not logged in.")
        return
    with GhostFlow(state.base_url, token_store=store) as client:
        try:
            client.logout()
        except GhostFlowError as error:
            # The tokens are forgotten here either way; say that the server may still honour them.
            raise CliError(
                f"{describe(error)}\nForgotten here, but the server could not end the login: it stays valid "
                "until it expires (or sign it out from another session).",
                exit_code_for(error),
            ) from error
    output.notice("Logged out.")


@cli.command()
@json_option
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Who the commands run as: the user, the credential, the team."""
    state: State = ctx.obj
    if state.admin_key:
        client = state.team_client()
        team = client.teams.current()  # any member of the team may read it: checks the key too
        show_one(
            ctx,
            {
                "base_url": redact_url(state.base_url),
                "auth": "admin key",
                "admin_key_id": AdminKey(state.admin_key).key_id,
                "team_id": team["id"],
                "team_name": team["name"],
            },
        )
        return
    client = state.client()
    me = client.me()
    info: dict[str, Any] = {
        "base_url": redact_url(state.base_url),
        "username": me["user"]["username"],
        "email": me["user"]["email"],
        "auth": "api key" if me["auth"] == "api_key" else "login",
    }
    if "api_key" in me:
        key = me["api_key"]
        info.update(key_name=key["name"], key_prefix=key["prefix"], team_id=key["team"], scopes=key["scopes"])
    elif state.team:
        team = resolve_team(client, state.team)
        info.update(team_id=team["id"], team_name=team["name"], role=team["role"])
    show_one(ctx, info)


@cli.command()
@json_option
@click.pass_context
def teams(ctx: click.Context) -> None:
    """Your teams and your role in each (* marks the chosen one). Needs a login."""
    state: State = ctx.obj
    rows = [dict(team, current="*" if team["id"] == state.team else "") for team in state.client().teams.list()]
    show_list(
        ctx,
        rows,
        [("", "current"), ("id", "id"), ("name", "name"), ("role", "role"), ("plan", "plan")],
        limit=0,
        empty="You are not a member of any team.",
    )


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def team(ctx: click.Context) -> None:
    """The chosen team: `gf team` shows it, `gf team use` changes it."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    if state.team is None:
        raise CliError("No team chosen: run `gf team use <id|name>` (see `gf teams`).", Exit.USAGE)
    shown: dict[str, Any] = {"team": state.team, "source": state.team_source}
    if state.team_source == "config" and state.config.team_name:
        shown["name"] = state.config.team_name
    show_one(ctx, shown)


@team.command("use")
@click.argument("team_ref", metavar="ID|NAME")
@pass_state
def team_use(state: State, team_ref: str) -> None:
    """Choose the team the next commands act on (remembered)."""
    if not state.uses_login:
        raise CliError("A key belongs to one team; `gf team use` chooses a team for a login.", Exit.USAGE)
    chosen = resolve_team(state.client(), team_ref)
    state.config.base_url = state.base_url
    state.config.team_id, state.config.team_name = chosen["id"], chosen["name"]
    state.config.save(state.directory)
    output.notice(f"Team: {chosen['name']} ({chosen['id']}), role {chosen['role']}.")


@cli.command()
@json_option
@click.pass_context
def stats(ctx: click.Context) -> None:
    """The team's counts (`read:stats`)."""
    result = ctx.obj.team_client().stats()
    if wants_json(ctx):
        output.emit_json(result)
        return
    rows: dict[str, Any] = dict(result["counts"])
    rows.update({f"campaigns {status}": count for status, count in result["campaigns_by_status"].items()})
    output.print_record(rows)


@cli.command()
@json_option
@click.pass_context
def billing(ctx: click.Context) -> None:
    """The team's plan and usage (`read:billing`)."""
    show_one(ctx, dict(ctx.obj.team_client().billing()))


def main() -> None:
    """The `gf` console script."""
    try:
        cli(prog_name="gf")
    except BrokenPipeError:
        # The reader left while Python flushed standard output on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(Exit.OK)
