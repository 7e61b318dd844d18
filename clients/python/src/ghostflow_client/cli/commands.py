"""`gf` commands on a team: the resources, API keys, integrations, members and the audit log."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import click
from click.core import ParameterSource

from ..auth import ADMIN_KEY_SHAPE, KEY_PREFIX, KEY_PREFIX_LENGTH, key_prefix, shown
from ..client import GhostFlow
from ..models import APIKey, AuditEvent, Granularity, KeyPolicy, Member
from . import output
from .main import CliError, Exit, cli, is_uuid, json_option, limit_option, show_list, show_one, wants_json


def confirm_or_yes(yes: bool, question: str) -> None:
    """Ask before destroying something, unless --yes. Without a terminal to ask on, --yes is
    required rather than guessing (exit 2). Answered no: nothing is done, exit 1."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError("Not a terminal, so no confirmation can be asked: add --yes.", Exit.USAGE)
    if not click.confirm(question):
        output.notice("Nothing done.")
        raise click.exceptions.Exit(Exit.REFUSED)


yes_option = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")


# --- campaigns, domains, offers, sources, networks -------------------------------------------


@dataclass(frozen=True)
class Field:
    """A field of a resource, as a command-line option."""

    name: str
    help: str
    required: bool = False  # on create
    choices: tuple[str, ...] | None = None
    reference: bool = False  # the id of another object; an empty value clears it

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    fields: tuple[Field, ...]
    filters: tuple[Field, ...]
    columns: tuple[output.Column, ...]


CAMPAIGN_STATUSES = ("draft", "active", "paused", "archived")
SOURCE_KINDS = ("search", "social", "display", "native", "email", "other")
SEARCH = Field("search", "Only those whose name contains this text.")

RESOURCES = (
    Resource(
        "campaigns",
        "campaign",
        fields=(
            Field("name", "Name.", required=True),
            Field("status", "Status.", choices=CAMPAIGN_STATUSES),
            Field("domain", "Domain id ('' to clear).", reference=True),
            Field("offer", "Offer id ('' to clear).", reference=True),
            Field("source", "Source id ('' to clear).", reference=True),
        ),
        filters=(
            Field("status", "Only this status.", choices=CAMPAIGN_STATUSES),
            Field("domain", "Only on this domain (id)."),
            Field("offer", "Only with this offer (id)."),
            Field("source", "Only from this source (id)."),
            SEARCH,
        ),
        columns=(("id", "id"), ("name", "name"), ("status", "status"), ("created", "created_at")),
    ),
    Resource(
        "domains",
        "domain",
        fields=(Field("hostname", "Host name, e.g. track.example.com.", required=True),),
        filters=(SEARCH,),
        columns=(("id", "id"), ("hostname", "hostname"), ("created", "created_at")),
    ),
    Resource(
        "offers",
        "offer",
        fields=(
            Field("name", "Name.", required=True),
            Field("url", "Landing URL.", required=True),
            Field("payout", "Payout (decimal)."),
            Field("network", "Network id ('' to clear).", reference=True),
        ),
        filters=(Field("network", "Only from this network (id)."), SEARCH),
        columns=(("id", "id"), ("name", "name"), ("url", "url"), ("payout", "payout"), ("network", "network")),
    ),
    Resource(
        "sources",
        "source",
        fields=(Field("name", "Name.", required=True), Field("kind", "Kind of traffic.", choices=SOURCE_KINDS)),
        filters=(Field("kind", "Only this kind.", choices=SOURCE_KINDS), SEARCH),
        columns=(("id", "id"), ("name", "name"), ("kind", "kind"), ("created", "created_at")),
    ),
    Resource(
        "networks",
        "network",
        fields=(Field("name", "Name.", required=True), Field("postback_url", "Postback URL.")),
        filters=(SEARCH,),
        columns=(("id", "id"), ("name", "name"), ("postback url", "postback_url")),
    ),
)


def _with_options(function: Callable[..., Any], fields: tuple[Field, ...], *, creating: bool) -> Callable[..., Any]:
    for spec in reversed(fields):
        function = click.option(
            spec.option,
            spec.name,
            required=creating and spec.required,
            type=click.Choice(spec.choices) if spec.choices else str,
            help=spec.help,
        )(function)
    return function


def _values(fields: tuple[Field, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that were given, an empty reference as null (unlinks it)."""
    values: dict[str, Any] = {}
    for spec in fields:
        value = given.get(spec.name)
        if value is None:
            continue
        values[spec.name] = None if (spec.reference and value == "") else value
    return values


def _object_id(value: str, what: str) -> str:
    if not is_uuid(value):
        raise CliError(
            f"Not a {what} id: {shown(value)} (ids look like 0b5c2f3e-...; see the list command).", Exit.USAGE
        )
    return value


def resource_group(resource: Resource) -> click.Group:
    """`gf <resource> list|get|create|update|rm`.

    The five resources differ only in their fields and filters, so their commands are built from
    the table above: the decorators are applied as calls, innermost first, as `@` would.
    """
    group = click.Group(
        resource.name,
        help=f"The team's {resource.name}: list, get, create, update, rm.",
    )

    def collection(ctx: click.Context) -> Any:
        return getattr(ctx.obj.team_client(), resource.name)

    def list_command(ctx: click.Context, limit: int, **filters: Any) -> None:
        items = collection(ctx).list(**{name: value for name, value in filters.items() if value is not None})
        show_list(ctx, items, list(resource.columns), limit=limit, empty=f"No {resource.name}.")

    list_command.__doc__ = f"List {resource.name}, newest first."
    group.command("list")(
        click.pass_context(json_option(limit_option(_with_options(list_command, resource.filters, creating=False))))
    )

    def get_command(ctx: click.Context, object_id: str) -> None:
        show_one(ctx, collection(ctx).get(_object_id(object_id, resource.singular)))

    get_command.__doc__ = f"Show one {resource.singular}."
    group.command("get")(click.pass_context(json_option(click.argument("object_id", metavar="ID")(get_command))))

    def create_command(ctx: click.Context, **given: Any) -> None:
        created = collection(ctx).create(**_values(resource.fields, given))
        show_one(ctx, created)

    create_command.__doc__ = f"Create a {resource.singular}."
    group.command("create")(
        click.pass_context(json_option(_with_options(create_command, resource.fields, creating=True)))
    )

    def update_command(ctx: click.Context, object_id: str, **given: Any) -> None:
        values = _values(resource.fields, given)
        if not values:
            raise CliError("Nothing to change: give at least one option (see --help).", Exit.USAGE)
        show_one(ctx, collection(ctx).update(_object_id(object_id, resource.singular), **values))

    update_command.__doc__ = f"Change some fields of a {resource.singular} (the others stay)."
    group.command("update")(
        click.pass_context(
            json_option(
                click.argument("object_id", metavar="ID")(
                    _with_options(update_command, resource.fields, creating=False)
                )
            )
        )
    )

    def rm_command(ctx: click.Context, object_id: str, yes: bool) -> None:
        object_id = _object_id(object_id, resource.singular)
        confirm_or_yes(yes, f"Delete {resource.singular} {object_id}?")
        collection(ctx).delete(object_id)
        output.notice(f"Deleted {resource.singular} {object_id}.")

    rm_command.__doc__ = f"Delete a {resource.singular}."
    group.command("rm")(click.pass_context(yes_option(click.argument("object_id", metavar="ID")(rm_command))))
    return group


for _resource in RESOURCES:
    cli.add_command(resource_group(_resource))


# --- API keys ---------------------------------------------------------------------------------

KEY_COLUMNS: list[output.Column] = [
    ("id", "id"),
    ("name", "name"),
    ("prefix", "prefix"),
    ("status", "status"),
    ("scopes", "permissions"),
    ("owner", "owner.username"),
    ("last used", "last_used_at"),
    ("expires", "expires_at"),
]
SHOWN_ONCE = "This is the only time this key is shown: store it now (a secret manager, not a chat or a repository)."


def key_ref(ref: str) -> str:
    """How a key reference may be used and shown: a whole key (``gf keys revoke gf_...`` with the
    secret pasted) by its public prefix only, which is how the API lists it."""
    ref = ref.strip()
    return key_prefix(ref) if ref.startswith(KEY_PREFIX) and len(ref) > KEY_PREFIX_LENGTH else ref


def resolve_key(client: GhostFlow, ref: str, *, active_for: str = "", statuses: tuple[str, ...] = ("active",)) -> str:
    """A key's id from KEY, never a guess between keys.

    An id (a UUID) is sent as it is: the server answers for it. Anything else is looked up in the
    listing, as a prefix (``gf_AbCdEfGh``; a whole key pasted counts by its prefix) and as an exact
    name. A name names only the keys the command can act on: with `active_for` (the action,
    "revoke", "regenerate", ...) only the keys in `statuses` (the ones that action can take); a
    revoked or expired key keeps its name but is no longer a candidate.
    Exactly one key: its id. Several: refused (exit 2) with their ids, prefixes and creation
    dates. None: refused (exit 2), saying so when the name's keys exist but are not active.
    """
    if is_uuid(ref):
        return ref
    ref = key_ref(ref)
    keys = list(client.api_keys.list(page_size=100))
    named = [key for key in keys if key["name"] == ref]
    candidates = [key for key in named if key["status"] in statuses or not active_for]
    matches = {key["id"]: key for key in [*(key for key in keys if key["prefix"] == ref), *candidates]}
    if len(matches) == 1:
        return next(iter(matches))
    if matches:
        raise CliError(
            f"{len(matches)} keys match {shown(ref)}, and gf does not choose between them. "
            f"Give the id of the one you mean (see `gf keys list`):\n{key_lines(matches.values())}",
            Exit.USAGE,
        )
    if named:
        raise CliError(
            f"No {statuses[0]} key is named {shown(ref)}"
            + (f" (nor a {' or '.join(statuses[1:])} one)" if statuses[1:] else "")
            + f", so there is none to {active_for}; the keys of that name are:\n{key_lines(named)}",
            Exit.USAGE,
        )
    raise CliError(f"No key {shown(ref)} in this team (see `gf keys list`).", Exit.USAGE)


def key_lines(keys: Iterable[APIKey]) -> str:
    """Keys as lines of an error message: id, prefix, status, created, owner (never a name: the
    keys listed share the name the message quotes)."""
    return "\n".join(
        "  "
        + "  ".join(
            (
                key["id"],
                key["prefix"],
                key["status"],
                "created " + output.cell(key["created_at"], "created_at").plain,
                "owner " + str(output.value_at(key, "owner.username") or "-"),
            )
        )
        for key in keys
    )


def show_issued(ctx: click.Context, issued: Mapping[str, Any]) -> None:
    """A key with its secret: printed once, with the warning on stderr."""
    if wants_json(ctx):
        output.emit_json(issued)
    else:
        output.print_record(
            issued, [("id", "id"), ("name", "name"), ("scopes", "permissions"), ("expires", "expires_at")]
        )
        click.echo(f"\n{issued['raw_key']}\n")
    output.notice(SHOWN_ONCE)


@cli.group()
def keys() -> None:
    """The team's API keys (needs a login: a key never manages keys).

    \b
    KEY is a key's id, its prefix (gf_AbCdEfGh, as listed; a whole key pasted
    counts by its prefix) or its exact name. gf never guesses: a name that
    matches several keys is refused with their ids (exit 2). For revoke and
    regenerate a name matches only active keys.
    """


@keys.command("list")
@click.option(
    "--status", type=click.Choice(["active", "disabled", "revoked", "expired"]), help="Only keys in this state."
)
@limit_option
@json_option
@click.pass_context
def keys_list(ctx: click.Context, status: str | None, limit: int) -> None:
    """Your keys in the team (an admin sees every key of the team)."""
    items = ctx.obj.team_client().api_keys.list(status=status)
    show_list(ctx, items, KEY_COLUMNS, limit=limit, empty="No keys.")


def parse_rate_limit(value: str) -> dict[str, int]:
    """`10/1s`, `1000/1h`, `50000/1d`: a limit per window (s, m, h, d)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    limit, _, window = value.partition("/")
    try:
        count, unit = int(window[:-1] or "1"), units[window[-1]]
        return {"limit": int(limit), "seconds": count * unit}
    except (ValueError, KeyError, IndexError):
        raise CliError(
            f"--rate-limit {shown(value)}: write it as LIMIT/WINDOW, e.g. 10/1s or 1000/1h.", Exit.USAGE
        ) from None


RATE_LIMIT_HELP = "A rate limit (repeat): LIMIT/WINDOW, e.g. 10/1s, 1000/1h."
ALLOW_IP_HELP = "An address or CIDR network the key may be used from (repeat); without: anywhere."


@keys.command("create")
@click.argument("name")
@click.option(
    "-s",
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="A scope (repeat): read:campaigns, write:campaigns, ..., read:stats, read:billing, admin; or read/write.",
)
@click.option("--expires-at", help="When the key stops working (ISO 8601, e.g. 2027-01-31T00:00:00Z).")
@click.option("--allow-ip", "allowed_ips", multiple=True, help=ALLOW_IP_HELP)
@click.option("--rate-limit", "rate_limits", multiple=True, help=RATE_LIMIT_HELP)
@click.option("--monthly-quota", type=click.IntRange(1), help="Requests per calendar month (UTC).")
@json_option
@click.pass_context
def keys_create(
    ctx: click.Context,
    name: str,
    scopes: tuple[str, ...],
    expires_at: str | None,
    allowed_ips: tuple[str, ...],
    rate_limits: tuple[str, ...],
    monthly_quota: int | None,
) -> None:
    """Create a key; its secret is printed this once."""
    issued = ctx.obj.team_client().api_keys.create(
        name,
        list(scopes),
        expires_at=expires_at,
        allowed_ips=list(allowed_ips) or None,
        rate_limits=[parse_rate_limit(value) for value in rate_limits] or None,
        monthly_quota=monthly_quota,
    )
    show_issued(ctx, issued)


@keys.command("limit")
@click.argument("key_ref", metavar="KEY")
@click.option("--allow-ip", "allowed_ips", multiple=True, help=ALLOW_IP_HELP)
@click.option("--any-ip", is_flag=True, help="Remove the key's IP allowlist.")
@click.option("--rate-limit", "rate_limits", multiple=True, help=RATE_LIMIT_HELP)
@click.option("--no-rate-limit", is_flag=True, help="Remove the key's own rate limits (the team's defaults apply).")
@click.option("--monthly-quota", type=click.IntRange(1), help="Requests per calendar month (UTC).")
@click.option("--no-monthly-quota", is_flag=True, help="Remove the key's own quota (the team's default applies).")
@json_option
@click.pass_context
def keys_limit(
    ctx: click.Context,
    key_ref: str,
    allowed_ips: tuple[str, ...],
    any_ip: bool,
    rate_limits: tuple[str, ...],
    no_rate_limit: bool,
    monthly_quota: int | None,
    no_monthly_quota: bool,
) -> None:
    """Set what governs a key's use (KEY: id, prefix or name): its IP allowlist, rate limits,
    monthly quota. Only what is given changes; effective from its next request."""
    changes: dict[str, Any] = {}
    if allowed_ips or any_ip:
        changes["allowed_ips"] = list(allowed_ips)
    if rate_limits or no_rate_limit:
        changes["rate_limits"] = [parse_rate_limit(value) for value in rate_limits]
    if monthly_quota is not None or no_monthly_quota:
        changes["monthly_quota"] = monthly_quota
    if not changes:
        raise CliError(
            "Nothing to change: give --allow-ip, --rate-limit or --monthly-quota (or a --no-/--any- flag).", Exit.USAGE
        )
    client = ctx.obj.team_client()
    key = client.api_keys.govern(resolve_key(client, key_ref), **changes)
    show_key_done(ctx, key, "Set the limits of")


@keys.command("rename")
@click.argument("key_ref", metavar="KEY")
@click.argument("name")
@json_option
@click.pass_context
def keys_rename(ctx: click.Context, key_ref: str, name: str) -> None:
    """Rename a key (KEY: id, prefix or name)."""
    client = ctx.obj.team_client()
    show_one(ctx, client.api_keys.rename(resolve_key(client, key_ref), name))


def show_key_done(ctx: click.Context, key: Mapping[str, Any], done: str) -> None:
    """What an act on one key answered: the key as JSON with --json, else one line."""
    if wants_json(ctx):
        output.emit_json(key)
    else:
        output.notice(f"{done} {key['name']} ({key['prefix']}).")


@keys.command("revoke")
@click.argument("key_ref", metavar="KEY")
@json_option
@click.pass_context
def keys_revoke(ctx: click.Context, key_ref: str) -> None:
    """Revoke a key now; final (KEY: id, prefix, or the name of an active key)."""
    client = ctx.obj.team_client()
    revoked = client.api_keys.revoke(resolve_key(client, key_ref, active_for="revoke", statuses=("active", "disabled")))
    show_key_done(ctx, revoked, "Revoked")


@keys.command("disable")
@click.argument("key_ref", metavar="KEY")
@json_option
@click.pass_context
def keys_disable(ctx: click.Context, key_ref: str) -> None:
    """Disable a key: refused from the next request until `gf keys enable` (KEY: id, prefix or the
    name of an active key)."""
    client = ctx.obj.team_client()
    key = client.api_keys.disable(resolve_key(client, key_ref, active_for="disable"))
    show_key_done(ctx, key, "Disabled")


@keys.command("enable")
@click.argument("key_ref", metavar="KEY")
@json_option
@click.pass_context
def keys_enable(ctx: click.Context, key_ref: str) -> None:
    """Enable a disabled key again (KEY: id, prefix or the name of a disabled key)."""
    client = ctx.obj.team_client()
    key = client.api_keys.enable(resolve_key(client, key_ref, active_for="enable", statuses=("disabled",)))
    show_key_done(ctx, key, "Enabled")


@keys.command("regenerate")
@click.argument("key_ref", metavar="KEY")
@click.option(
    "--grace",
    type=click.IntRange(0, 86400),
    default=0,
    show_default=True,
    help="Seconds the old secret keeps working, for a rollout without downtime.",
)
@json_option
@click.pass_context
def keys_regenerate(ctx: click.Context, key_ref: str, grace: int) -> None:
    """A new secret for your key, printed this once (KEY: id, prefix, or the name of an active key)."""
    client = ctx.obj.team_client()
    key_id = resolve_key(client, key_ref, active_for="regenerate")
    show_issued(ctx, client.api_keys.regenerate(key_id, grace_seconds=grace))


@keys.command("rm")
@click.argument("key_ref", metavar="KEY")
@yes_option
@click.pass_context
def keys_rm(ctx: click.Context, key_ref: str, yes: bool) -> None:
    """Delete a key (its audit events stay). KEY: id, prefix or name."""
    client = ctx.obj.team_client()
    key_id = resolve_key(client, key_ref)
    confirm_or_yes(yes, f"Delete key {shown(key_ref)}?")
    client.api_keys.delete(key_id)
    output.notice(f"Deleted key {shown(key_ref)}.")


AUDIT_COLUMNS: list[output.Column] = [
    ("time", "created_at"),
    ("action", "action"),
    ("actor", "actor.username"),
    ("key", "api_key.prefix"),
    ("method", "method"),
    ("path", "path"),
    ("status", "status_code"),
]

INTEGRATION_AUDIT_COLUMNS: list[output.Column] = [
    ("time", "created_at"),
    ("action", "action"),
    ("actor", "actor.username"),
    ("method", "method"),
    ("path", "path"),
    ("status", "status_code"),
]

action_option = click.option("--action", help="Only this action (api_request, key.created, login.failed, ...).")
status_option = click.option(
    "--status", type=click.Choice(["2xx", "3xx", "4xx", "5xx"]), help="Only requests that ended with this status."
)
since_option = click.option("--since", help="Events at or after this time (ISO 8601).")
until_option = click.option("--until", help="Events before this time (ISO 8601).")


@keys.command("audit")
@click.argument("key_ref", metavar="KEY")
@action_option
@status_option
@since_option
@until_option
@limit_option
@json_option
@click.pass_context
def keys_audit(
    ctx: click.Context,
    key_ref: str,
    action: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """What a key did, newest first (its owner or an admin)."""
    client = ctx.obj.team_client()
    events = client.api_keys.audit_log(
        resolve_key(client, key_ref), action=action, status=status, since=since, until=until
    )
    show_list(ctx, events, AUDIT_COLUMNS, limit=limit, empty="No events.")


# --- audit log -------------------------------------------------------------------------------


@cli.command("audit")
@action_option
@click.option("--key", "key_ref", help="Only this key's events (id, prefix or name).")
@click.option("--integration", "integration_ref", help="Only this integration's events (id, Admin key id or name).")
@click.option("--actor", help="Only this person's events (user id).")
@status_option
@since_option
@until_option
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Print events as they are written, oldest first, until Ctrl-C (exit 130); resumes by itself "
    "after a dropped connection. With --limit N: stop after N events.",
)
@click.option("--last-event-id", help="With --follow: start after this event (what was missed is printed first).")
@limit_option
@json_option
@click.pass_context
def audit(
    ctx: click.Context,
    action: str | None,
    key_ref: str | None,
    integration_ref: str | None,
    actor: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    follow: bool,
    last_event_id: str | None,
    limit: int,
) -> None:
    """The team's audit log, newest first (admins); with --follow, live."""
    if follow and (since or until):
        raise CliError(
            "--follow starts now (or after --last-event-id): --since and --until are for the listing.", Exit.USAGE
        )
    if last_event_id is not None and not follow:
        raise CliError("--last-event-id goes with --follow.", Exit.USAGE)
    if last_event_id is not None and not is_uuid(last_event_id):
        raise CliError(f"--last-event-id: not an event id: {shown(last_event_id)}.", Exit.USAGE)
    client = ctx.obj.team_client()
    key = resolve_key(client, key_ref) if key_ref else None
    integration = resolve_integration(client, integration_ref) if integration_ref else None
    if follow:
        explicit = ctx.get_parameter_source("limit") == ParameterSource.COMMANDLINE
        follow_log(
            ctx,
            client,
            {"action": action, "key": key, "integration": integration, "actor": actor, "status": status},
            last_event_id=last_event_id,
            limit=limit if explicit else 0,
        )
        return
    events = client.audit_log.list(
        action=action, key=key, integration=integration, actor=actor, status=status, since=since, until=until
    )
    show_list(ctx, events, AUDIT_COLUMNS, limit=limit, empty="No events.")


def follow_log(
    ctx: click.Context, client: GhostFlow, filters: dict[str, str | None], *, last_event_id: str | None, limit: int
) -> None:
    """`gf audit --follow`: one line per event as it comes (one JSON object per line with --json),
    until Ctrl-C, `limit` events (0: no limit) or the server revoking the stream.

    Ctrl-C exits 130, as the shell reports a command the user interrupted: a script can tell it
    from a stream that ended on its own (0, after `limit` events) or was revoked (3 or 4).
    """
    stream = client.audit_log.stream(
        action=filters["action"],
        key=filters["key"],
        integration=filters["integration"],
        actor=filters["actor"],
        status=filters["status"],
        last_event_id=last_event_id,
        on_gap=lambda detail: output.notice(f"Note: {detail}"),
    )
    as_json = wants_json(ctx)
    count = 0
    try:
        with stream:
            if not as_json:
                output.notice("Following the audit log (Ctrl-C to stop).")
            for event in stream:
                if as_json:
                    click.echo(json.dumps(event, separators=(",", ":")))
                else:
                    click.echo(audit_line(event))
                count += 1
                if limit and count >= limit:
                    return
    except KeyboardInterrupt:
        resume = f" after event {stream.last_event_id}" if stream.last_event_id else ""
        output.notice(f"Stopped{resume}.")
        raise click.exceptions.Exit(Exit.INTERRUPTED) from None


def audit_line(event: AuditEvent) -> str:
    """One event as one line of the table's columns (a table cannot grow as events come)."""
    cells = [output.cell(output.value_at(event, path), path).plain for _, path in AUDIT_COLUMNS]
    return "  ".join(cell or "-" for cell in cells)


# --- integrations ----------------------------------------------------------------------------

INTEGRATION_COLUMNS: list[output.Column] = [
    ("id", "id"),
    ("name", "name"),
    ("admin key id", "admin_key_id"),
    ("content key", "content_key"),
    ("scopes", "permissions"),
    ("last used", "last_used_at"),
    ("created", "created_at"),
]
INTEGRATION_FIELDS: list[output.Column] = [
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
    ("scopes", "permissions"),
    ("admin key id", "admin_key_id"),
    ("content key", "content_key"),
    ("allowed origins", "allowed_origins"),
    ("created", "created_at"),
    ("last used", "last_used_at"),
]


def resolve_integration(client: GhostFlow, ref: str) -> str:
    """An integration's id from its id, its Admin key's id (as listed; a whole Admin key counts by
    its id) or its exact name."""
    if is_uuid(ref):
        return ref
    admin_key = ADMIN_KEY_SHAPE.match(ref.strip().lower())
    if admin_key is not None:
        ref = admin_key.group(1)
    found = list(client.integrations.list(page_size=100))
    matches = {i["id"]: i for i in found if i["admin_key_id"] == ref.lower() or i["name"] == ref}
    if len(matches) == 1:
        return next(iter(matches))
    if matches:
        lines = "\n".join(
            f"  {i['id']}  admin key id {i['admin_key_id']}  created {output.cell(i['created_at'], 'created_at').plain}"
            for i in matches.values()
        )
        raise CliError(
            f"{len(matches)} integrations match {shown(ref)}, and gf does not choose between them. "
            f"Give the id of the one you mean (see `gf integrations list`):\n{lines}",
            Exit.USAGE,
        )
    raise CliError(f"No integration {shown(ref)} in this team (see `gf integrations list`).", Exit.USAGE)


def show_issued_integration(ctx: click.Context, issued: Mapping[str, Any], team_id: str | None) -> None:
    """An integration with its Admin key: printed once, with the warning on stderr."""
    if wants_json(ctx):
        output.emit_json(issued)
    else:
        output.print_record(issued, INTEGRATION_FIELDS[:6])
        click.echo(f"\n{issued['admin_key']}\n")
    output.notice(SHOWN_ONCE)
    output.notice(f"Use it: GF_ADMIN_KEY=<the key> GF_TEAM_ID={team_id} gf campaigns list")


@cli.group()
def integrations() -> None:
    """The team's integrations: team-owned Admin keys and Content keys (admins, with a login)."""


@integrations.command("list")
@limit_option
@json_option
@click.pass_context
def integrations_list(ctx: click.Context, limit: int) -> None:
    """The team's integrations, newest first (the Admin key's id only; the Content key is publishable)."""
    items = ctx.obj.team_client().integrations.list()
    show_list(ctx, items, INTEGRATION_COLUMNS, limit=limit, empty="No integrations.")


@integrations.command("get")
@click.argument("ref", metavar="INTEGRATION")
@json_option
@click.pass_context
def integrations_get(ctx: click.Context, ref: str) -> None:
    """Show one integration (INTEGRATION: id, Admin key id or name)."""
    client = ctx.obj.team_client()
    show_one(ctx, client.integrations.get(resolve_integration(client, ref)), INTEGRATION_FIELDS)


@integrations.command("create")
@click.argument("name")
@click.option(
    "-s",
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="A scope (repeat): read:campaigns, write:campaigns, ..., read:stats, read:billing, admin; or read/write.",
)
@click.option("--description", help="What it is for.")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="A browser origin (repeat) allowed to call the Content API with its Content key: https://shop.example.com.",
)
@json_option
@click.pass_context
def integrations_create(
    ctx: click.Context, name: str, scopes: tuple[str, ...], description: str | None, origins: tuple[str, ...]
) -> None:
    """Create an integration; its Admin key is printed this once."""
    client = ctx.obj.team_client()
    issued = client.integrations.create(
        name, list(scopes), description=description, allowed_origins=list(origins) or None
    )
    show_issued_integration(ctx, issued, client.team_id)


@integrations.command("rm")
@click.argument("ref", metavar="INTEGRATION")
@yes_option
@click.pass_context
def integrations_rm(ctx: click.Context, ref: str, yes: bool) -> None:
    """Delete an integration: both of its keys stop at once (INTEGRATION: id, Admin key id or name)."""
    client = ctx.obj.team_client()
    integration_id = resolve_integration(client, ref)
    confirm_or_yes(yes, f"Delete integration {shown(ref)}? Its Admin key and Content key stop working at once.")
    client.integrations.delete(integration_id)
    output.notice(f"Deleted integration {shown(ref)}.")


@integrations.command("regenerate-admin-key")
@click.argument("ref", metavar="INTEGRATION")
@json_option
@click.pass_context
def integrations_regenerate_admin_key(ctx: click.Context, ref: str) -> None:
    """A new Admin key, printed this once; the old one stops at once (INTEGRATION: id, Admin key id or name)."""
    client = ctx.obj.team_client()
    issued = client.integrations.regenerate_admin_key(resolve_integration(client, ref))
    show_issued_integration(ctx, issued, client.team_id)


@integrations.command("regenerate-content-key")
@click.argument("ref", metavar="INTEGRATION")
@json_option
@click.pass_context
def integrations_regenerate_content_key(ctx: click.Context, ref: str) -> None:
    """A new Content key; the old one stops at once: update the pages that embed it."""
    client = ctx.obj.team_client()
    integration = client.integrations.regenerate_content_key(resolve_integration(client, ref))
    if wants_json(ctx):
        output.emit_json(integration)
    else:
        click.echo(integration["content_key"])
        output.notice(f"New Content key of {integration['name']}; the old one no longer works.")


@integrations.command("audit")
@click.argument("ref", metavar="INTEGRATION")
@action_option
@status_option
@since_option
@until_option
@limit_option
@json_option
@click.pass_context
def integrations_audit(
    ctx: click.Context,
    ref: str,
    action: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """What an integration did and what was done to it, newest first."""
    client = ctx.obj.team_client()
    events = client.integrations.audit_log(
        resolve_integration(client, ref), action=action, status=status, since=since, until=until
    )
    show_list(ctx, events, INTEGRATION_AUDIT_COLUMNS, limit=limit, empty="No events.")


# --- members ---------------------------------------------------------------------------------

ROLES = ("owner", "admin", "member", "viewer")
MEMBER_COLUMNS: list[output.Column] = [
    ("user id", "user_id"),
    ("username", "username"),
    ("email", "email"),
    ("role", "role"),
    ("joined", "joined_at"),
]


def resolve_member(client: GhostFlow, ref: str) -> Member:
    """A member by user id, username or e-mail address: exactly one, never a guess (one person's
    username may be another's e-mail address). A user id that is no member's is not found (exit
    1, as the API's 404 for an id); a name that matches none or several is a usage error (exit 2)."""
    members = list(client.members.list(page_size=100))
    if is_uuid(ref):
        for member in members:
            if member["user_id"] == str(uuid.UUID(ref)):
                return member
        raise CliError(f"No member with user id {shown(ref)} in this team (see `gf members list`).", Exit.REFUSED)
    matches = [
        member
        for member in members
        if member["username"] == ref or member["email"].casefold() == ref.strip().casefold()
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        lines = "\n".join(f"  {m['user_id']}  {m['username']}  {m['email']}" for m in matches)
        raise CliError(
            f"{len(matches)} members match {shown(ref)}, and gf does not choose between them. "
            f"Give the user id of the one you mean:\n{lines}",
            Exit.USAGE,
        )
    raise CliError(f"No member {shown(ref)} in this team (see `gf members list`).", Exit.USAGE)


@cli.group()
def members() -> None:
    """The people in the team: list, invite, role, rm."""


@members.command("list")
@limit_option
@json_option
@click.pass_context
def members_list(ctx: click.Context, limit: int) -> None:
    """Every member with their role."""
    show_list(ctx, ctx.obj.team_client().members.list(), MEMBER_COLUMNS, limit=limit, empty="No members.")


@members.command("invite")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True, help="Their role on joining.")
@json_option
@click.pass_context
def members_invite(ctx: click.Context, email: str, role: str) -> None:
    """Invite someone by e-mail (admins; a role no higher than yours)."""
    invitation = ctx.obj.team_client().invitations.create(email, role)
    if wants_json(ctx):
        output.emit_json(invitation)
    else:
        output.notice(
            f"Invited {invitation['email']} as {invitation['role']}; the invitation expires {invitation['expires_at']}."
        )


@members.command("role")
@click.argument("user_ref", metavar="USER")
@click.argument("role", type=click.Choice(ROLES))
@json_option
@click.pass_context
def members_role(ctx: click.Context, user_ref: str, role: str) -> None:
    """Change a member's role (USER: user id, username or e-mail)."""
    client = ctx.obj.team_client()
    member = resolve_member(client, user_ref)
    show_one(ctx, client.members.set_role(member["user_id"], role))


@members.command("rm")
@click.argument("user_ref", metavar="USER")
@yes_option
@click.pass_context
def members_rm(ctx: click.Context, user_ref: str, yes: bool) -> None:
    """Remove a member from the team; their keys in it are revoked (USER: user id, username or e-mail)."""
    client = ctx.obj.team_client()
    member = resolve_member(client, user_ref)
    confirm_or_yes(yes, f"Remove {member['username']} from the team (their keys in it are revoked)?")
    client.members.remove(member["user_id"])
    output.notice(f"Removed {member['username']}.")


# --- usage -----------------------------------------------------------------------------------

USAGE_COLUMNS: list[output.Column] = [
    ("start (UTC)", "start"),
    ("requests", "requests"),
    ("2xx", "2xx"),
    ("3xx", "3xx"),
    ("4xx", "4xx"),
    ("5xx", "5xx"),
    ("refused", "refused"),
]


@cli.command("usage")
@click.option("--key", "key_ref", metavar="KEY", help="One key's usage (id, prefix or name).")
@click.option("--integration", "integration_ref", metavar="INTEGRATION", help="One integration's usage (id or name).")
@click.option("--by", "granularity", type=click.Choice(["hour", "day"]), default="hour", show_default=True)
@click.option("--periods", type=click.IntRange(1), help="How many hours (default 24, at most 168) or days (30, 90).")
@json_option
@click.pass_context
def usage(
    ctx: click.Context, key_ref: str | None, integration_ref: str | None, granularity: str, periods: int | None
) -> None:
    """Requests per hour or day by status class, refusals, busiest routes and last use: the
    team's (admins), one key's (its owner or an admin) or one integration's (admins)."""
    if key_ref and integration_ref:
        raise CliError("Give --key or --integration, not both.", Exit.USAGE)
    client = ctx.obj.team_client()
    by = cast(Granularity, granularity)
    if key_ref:
        answer = client.api_keys.usage(resolve_key(client, key_ref), granularity=by, periods=periods)
    elif integration_ref:
        answer = client.integrations.usage(
            resolve_integration(client, integration_ref), granularity=by, periods=periods
        )
    else:
        answer = client.teams.usage(granularity=by, periods=periods)
    if wants_json(ctx):
        output.emit_json(answer)
        return
    show_usage(answer)


def show_usage(answer: Mapping[str, Any]) -> None:
    rows = [
        {
            **point,
            "start": point["start"][: 10 if answer["granularity"] == "day" else 16].replace("T", " "),
            "refused": sum(point["refusals"].values()),
        }
        for point in answer["series"]
    ]
    output.print_table(rows, USAGE_COLUMNS)
    totals = answer["totals"]
    click.echo(
        f"Total: {totals['requests']} requests ({totals['2xx']} 2xx, {totals['3xx']} 3xx, {totals['4xx']} 4xx, "
        f"{totals['5xx']} 5xx)"
    )
    if totals["refusals"]:
        click.echo("Refused: " + ", ".join(f"{code} {count}" for code, count in totals["refusals"].items()))
    if answer["top_routes"]:
        output.print_table(answer["top_routes"], [("route", "route"), ("requests", "requests")])
    last = answer["last_used"]
    if last:
        click.echo(
            f"Last used: {output.cell(last['at'], 'at').plain} from {last['ip'] or 'an unknown address'}"
            f" ({last['user_agent'] or 'no user agent'})"
        )
    else:
        click.echo("Never used.")
    if answer["as_of"] is None:
        output.notice("No usage rolled up yet: the worker rolls the audit log up every minute.")
    else:
        output.notice(f"As of {output.cell(answer['as_of'], 'as_of').plain} UTC.")


# --- the team's key policy -------------------------------------------------------------------

KEY_POLICY_FIELDS: list[output.Column] = [
    ("expiry required", "expiry_required"),
    ("max lifetime (days)", "max_lifetime_days"),
    ("unused after (days)", "unused_days"),
    ("unused keys are", "unused_action"),
    ("default rate limits", "default_rate_limits"),
    ("default monthly quota", "default_monthly_quota"),
    ("limits on cache failure", "limits_on_cache_failure"),
]


@cli.command("key-policy")
@click.option("--expiry-required/--expiry-optional", default=None, help="Whether every new key needs an expiry.")
@click.option("--max-lifetime-days", type=click.IntRange(1, 3650), help="A new key expires within this many days.")
@click.option("--no-max-lifetime", is_flag=True, help="Remove the lifetime cap.")
@click.option("--unused-days", type=click.IntRange(1, 3650), help="A key unused this many days is flagged or disabled.")
@click.option("--no-unused-days", is_flag=True, help="Never flag unused keys.")
@click.option("--unused-action", type=click.Choice(["flag", "disable"]), help="What happens to an unused key.")
@click.option("--default-rate-limit", "default_rate_limits", multiple=True, help=RATE_LIMIT_HELP + " (team default)")
@click.option("--no-default-rate-limit", is_flag=True, help="No default rate limits.")
@click.option("--default-monthly-quota", type=click.IntRange(1), help="Requests per calendar month (team default).")
@click.option("--no-default-monthly-quota", is_flag=True, help="No default monthly quota.")
@click.option("--limits-on-cache-failure", type=click.Choice(["closed", "open"]), help="closed: 503; open: uncounted.")
@json_option
@click.pass_context
def key_policy(
    ctx: click.Context,
    expiry_required: bool | None,
    max_lifetime_days: int | None,
    no_max_lifetime: bool,
    unused_days: int | None,
    no_unused_days: bool,
    unused_action: str | None,
    default_rate_limits: tuple[str, ...],
    no_default_rate_limit: bool,
    default_monthly_quota: int | None,
    no_default_monthly_quota: bool,
    limits_on_cache_failure: str | None,
) -> None:
    """Show the team's policy for API keys (admins), or change what is given (its owner, after a
    recent sign-in or `gf reauthenticate`): the rest of the policy stays as it is."""
    changes: dict[str, Any] = {}
    if expiry_required is not None:
        changes["expiry_required"] = expiry_required
    if max_lifetime_days is not None or no_max_lifetime:
        changes["max_lifetime_days"] = max_lifetime_days
    if unused_days is not None or no_unused_days:
        changes["unused_days"] = unused_days
    if unused_action is not None:
        changes["unused_action"] = unused_action
    if default_rate_limits or no_default_rate_limit:
        changes["default_rate_limits"] = [parse_rate_limit(value) for value in default_rate_limits]
    if default_monthly_quota is not None or no_default_monthly_quota:
        changes["default_monthly_quota"] = default_monthly_quota
    if limits_on_cache_failure is not None:
        changes["limits_on_cache_failure"] = limits_on_cache_failure
    client = ctx.obj.team_client()
    policy = client.teams.key_policy()
    if changes:
        # The API replaces the policy whole: what was not given is sent back as it was read.
        policy = client.teams.set_key_policy(**cast(KeyPolicy, {**policy, **changes}))
        if not wants_json(ctx):
            output.notice("The team's key policy is changed.")
    show_one(ctx, policy, KEY_POLICY_FIELDS)
