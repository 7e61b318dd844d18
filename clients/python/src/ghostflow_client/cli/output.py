"""How `gf` prints: rich tables for people, JSON (``--json``) for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

# (column title, dotted path into the object: "owner.username")
Column = tuple[str, str]


def console() -> Console:
    """A console on the current stdout. Not a terminal (a pipe, a file): wide enough that rows are
    not folded, and no colour codes."""
    stdout = sys.stdout
    if stdout.isatty():
        return Console(file=stdout, highlight=False)
    return Console(file=stdout, highlight=False, width=240, no_color=True)


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def value_at(obj: Mapping[str, Any], path: str) -> object:
    value: object = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def cell(value: object, path: str = "") -> Text:
    """A table cell. Always a Text: the data is printed as is, never read as rich markup (a
    campaign named "[bold]x" stays that string)."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, list):
        return Text(", ".join(str(item) for item in value))
    text = str(value)
    if path.endswith("_at") and len(text) >= 19 and text[10] == "T":
        # 2026-11-23T06:55:01.123456Z -> 2026-11-23 06:55:01 (UTC): readable, still sortable
        text = text[:10] + " " + text[11:19]
    return Text(text)


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *, title: str | None = None) -> int:
    """Print rows as a table; how many there were."""
    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for heading, path in columns:
        is_id = path == "id" or path.endswith("_id")
        table.add_column(heading, no_wrap=is_id, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*(cell(value_at(row, path), path) for _, path in columns))
        count += 1
    if count:
        console().print(table)
    return count


def print_record(obj: Mapping[str, Any], fields: Sequence[Column] | None = None) -> None:
    """Print one object as two columns (field, value)."""
    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    pairs = fields if fields is not None else [(name, name) for name in obj]
    for heading, path in pairs:
        table.add_row(Text(heading), cell(value_at(obj, path), path))
    console().print(table)


def notice(message: str) -> None:
    """A message for the person (stderr): never mixed into the data a script reads from stdout."""
    click.echo(message, err=True)
