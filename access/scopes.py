"""The one place for scopes and roles: the catalog, legacy expansion and the role -> scope map.

Nothing else in the code base spells a scope string by hand. Legacy permissions (`read`, `write`,
`admin`) are stored as given and expanded at *check* time, so a legacy `read` key also covers a
`read:*` scope added to the catalog later.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

RESOURCES: tuple[str, ...] = ("campaigns", "domains", "offers", "sources", "networks")
READ_ONLY_RESOURCES: tuple[str, ...] = ("stats", "billing")

ADMIN = "admin"


def read(resource: str) -> str:
    return f"read:{resource}"


def write(resource: str) -> str:
    return f"write:{resource}"


READ_SCOPES: frozenset[str] = frozenset(read(r) for r in (*RESOURCES, *READ_ONLY_RESOURCES))
WRITE_SCOPES: frozenset[str] = frozenset(write(r) for r in RESOURCES)
ALL_SCOPES: frozenset[str] = READ_SCOPES | WRITE_SCOPES | {ADMIN}

# The seed's table, in its order, with its descriptions (used by the schema and the 400 message).
CATALOG: dict[str, str] = {}
for _resource, _label in (
    ("campaigns", "campaigns"),
    ("domains", "domains"),
    ("offers", "offers"),
    ("sources", "traffic sources"),
    ("networks", "affiliate networks"),
):
    CATALOG[read(_resource)] = f"List and view {_label}"
    CATALOG[write(_resource)] = f"Create, update, delete {_label}"
CATALOG[read("stats")] = "Access statistics and reports"
CATALOG[read("billing")] = "View subscription and billing info"
CATALOG[ADMIN] = "Full administrative access"

LEGACY: dict[str, frozenset[str]] = {
    "read": READ_SCOPES,
    "write": READ_SCOPES | WRITE_SCOPES,
    "admin": ALL_SCOPES,
}
# `admin` is both a catalog scope and a legacy permission; both mean "everything".
VALID_PERMISSIONS: tuple[str, ...] = (*CATALOG, "read", "write")


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# The order of roles; what a member may grant or manage is decided in teams.services (may_grant).
ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3, Role.OWNER: 4}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.VIEWER: READ_SCOPES - {read("billing")},
    Role.MEMBER: (READ_SCOPES - {read("billing")}) | WRITE_SCOPES,
    Role.ADMIN: ALL_SCOPES,
    Role.OWNER: ALL_SCOPES,
}


def expand(permissions: Iterable[str]) -> frozenset[str]:
    """Catalog scopes granted by a list of stored permissions (legacy ones expanded now)."""
    scopes: set[str] = set()
    for permission in permissions:
        if permission in LEGACY:
            scopes |= LEGACY[permission]
        elif permission in ALL_SCOPES:
            scopes.add(permission)
    return frozenset(scopes)


def unknown(permissions: Iterable[str]) -> list[str]:
    return sorted({p for p in permissions if p not in VALID_PERMISSIONS})


def role_scopes(role: str | None) -> frozenset[str]:
    return ROLE_SCOPES.get(role or "", frozenset())


def effective_scopes(*, permissions: Iterable[str] | None, role: str | None) -> frozenset[str]:
    """What a credential may do now: a key's scopes ∩ its owner's role; a login has the role's."""
    allowed = role_scopes(role)
    if permissions is None:
        return allowed
    return expand(permissions) & allowed


def required_scope(*, resource: str, method: str) -> str:
    """Safe methods need read:<resource>, every other method write:<resource>."""
    return read(resource) if method in ("GET", "HEAD", "OPTIONS") else write(resource)


def sorted_scopes(scopes: Iterable[str]) -> list[str]:
    order = {scope: index for index, scope in enumerate(CATALOG)}
    return sorted(scopes, key=lambda s: order.get(s, len(order)))
