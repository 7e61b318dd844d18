"""Slugs of the resources the Content API serves (campaigns, offers), as Ghost gives its posts and
tags: made from the name when the row is created (`Spring Sale` -> `spring-sale`), unique within
the team (`spring-sale-2` for the next one), and kept when the name changes, so a page that links
to `/campaigns/slug/spring-sale` keeps working.

One rule, used by `save()`, by `bulk_create()` and by the migration that gave existing rows one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils.text import slugify

MAX_LENGTH = 120
# A name with nothing a slug can keep (`!!!`, `日本`) still gets one.
FALLBACK = "item"
# Room for `-<n>` after the name's slug.
BASE_LENGTH = MAX_LENGTH - 12


def base_of(name: str) -> str:
    return slugify(name)[:BASE_LENGTH].strip("-") or FALLBACK


def first_free(name: str, taken: Callable[[str], bool]) -> str:
    """`base`, else `base-2`, `base-3`, ...: the first that `taken` says is free."""
    base = base_of(name)
    candidate, number = base, 1
    while taken(candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def fill(rows: Iterable, existing: Callable[[object], set[str]]) -> None:
    """Give every row without a slug a free one; `existing(team_id)` is the team's slugs in the
    database. Rows of one batch never collide with each other."""
    taken_by_team: dict[object, set[str]] = {}
    for row in rows:
        if row.slug:
            continue
        taken = taken_by_team.get(row.team_id)
        if taken is None:
            taken = taken_by_team[row.team_id] = set(existing(row.team_id))
        row.slug = first_free(row.name, taken.__contains__)
        taken.add(row.slug)
