"""Team context: the X-Team-Id header resolved to `request.team`, `request.membership` and
`request.scopes`, once per request, right after authentication and before permissions.

It runs inside DRF rather than as a Django middleware because the principal (JWT user or API
key) is only known after DRF authentication; doing it earlier would mean authenticating twice.
Nothing of a team-scoped view runs until this has passed.
"""

from __future__ import annotations

import uuid

from apikeys.models import APIKey
from apikeys.scopes import effective_scopes
from config.errors import BadRequest, Forbidden

from .models import Membership

TEAM_HEADER = "X-Team-Id"
TEAM_FORBIDDEN = "The team does not exist or you are not a member of it."


def parse_team_header(request) -> uuid.UUID:
    raw = request.headers.get(TEAM_HEADER)
    if raw is None or not raw.strip():
        raise BadRequest(f"The {TEAM_HEADER} header is required on this endpoint.", code="team_required")
    try:
        return uuid.UUID(raw.strip())
    except ValueError as exc:
        raise BadRequest(f"The {TEAM_HEADER} header must be a team UUID.", code="team_invalid") from exc


def resolve(request) -> None:
    """Set the team context on an authenticated request, or raise 400/403.

    Unknown team and "not a member" answer the same 403, so team ids cannot be probed.
    """
    team_id = parse_team_header(request)
    key = request.auth if isinstance(request.auth, APIKey) else None
    if key is not None:
        if key.team_id != team_id:
            raise Forbidden(
                "This API key belongs to another team; send the X-Team-Id of the key's team.",
                code="key_team_mismatch",
            )
        # The key query already brought the team and the owner's membership: no query here.
        membership = Membership(id=key.owner_membership_id, team=key.team, user=key.user, role=key.owner_role)
        scopes = effective_scopes(permissions=key.permissions, role=key.owner_role)
    else:
        membership = Membership.objects.select_related("team").filter(team_id=team_id, user=request.user).first()
        if membership is None:
            raise Forbidden(TEAM_FORBIDDEN, code="team_forbidden")
        scopes = effective_scopes(permissions=None, role=membership.role)
    for target in (request, request._request):
        target.team = membership.team
        target.membership = membership
        target.scopes = scopes
