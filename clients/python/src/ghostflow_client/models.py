"""The shapes of the API's answers, as TypedDicts.

Objects are returned as the plain JSON dictionaries the API sends (ids are UUID strings,
timestamps ISO 8601 strings), typed here so editors and mypy know their fields. A field the
server adds later simply appears in the dictionary; nothing in the SDK needs to change first.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Required, TypedDict

__all__ = [
    "APIKey",
    "Account",
    "AuditEvent",
    "Billing",
    "Campaign",
    "CampaignCreate",
    "CampaignStatus",
    "CampaignUpdate",
    "Domain",
    "DomainCreate",
    "DomainUpdate",
    "Integration",
    "IntegrationUpdate",
    "Invitation",
    "IssuedAPIKey",
    "IssuedIntegration",
    "Me",
    "Member",
    "Network",
    "NetworkCreate",
    "NetworkUpdate",
    "Offer",
    "OfferCreate",
    "OfferUpdate",
    "PublicCampaign",
    "PublicOffer",
    "PublicTeam",
    "Role",
    "Source",
    "SourceCreate",
    "SourceKind",
    "SourceUpdate",
    "Stats",
    "Team",
    "TeamWithRole",
    "User",
]

Role = Literal["owner", "admin", "member", "viewer"]
Granularity = Literal["hour", "day"]
CampaignStatus = Literal["draft", "active", "paused", "archived"]
SourceKind = Literal["search", "social", "display", "native", "email", "other"]


class User(TypedDict):
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    date_joined: str


class MeKey(TypedDict):
    id: str
    name: str
    team: str
    prefix: str
    scopes: list[str]


class Me(TypedDict):
    """``GET auth/me``: the caller; with an API key also the key."""

    user: User
    auth: Literal["jwt", "api_key"]
    api_key: NotRequired[MeKey]


class Account(TypedDict):
    username: str
    email: str
    email_verified: bool
    google_linked: bool
    has_password: bool
    can_unlink_google: bool
    available_sign_in_methods: list[str]
    teams: int


class Team(TypedDict):
    id: str
    name: str
    plan: str
    created_at: str


class TeamWithRole(Team):
    """A team in the caller's team list, with the caller's role in it."""

    role: Role


class Member(TypedDict):
    user_id: str
    username: str
    email: str
    role: Role
    joined_at: str


class Invitation(TypedDict):
    id: str
    email: str
    role: Role
    status: Literal["pending", "accepted", "expired"]
    invited_by: str
    created_at: str
    expires_at: str
    accepted_at: str | None


class KeyOwner(TypedDict):
    id: str
    username: str


class RateLimit(TypedDict):
    """One rate-limit window of a key: at most `limit` requests per `seconds`."""

    limit: int
    seconds: int


class APIKey(TypedDict):
    """An API key as listed: masked (``prefix``), never the secret."""

    id: str
    name: str
    prefix: str
    permissions: list[str]
    scopes: list[str]
    owner: KeyOwner
    team: str
    status: Literal["active", "disabled", "revoked", "expired"]
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    last_rotated_at: str | None
    revoked_at: str | None
    disabled_at: str | None
    leaked_at: str | None
    unused: bool
    allowed_ips: list[str]
    rate_limits: list[RateLimit]
    monthly_quota: int | None


class KeyGovernance(TypedDict, total=False):
    """What `api_keys.govern` may change (each optional)."""

    allowed_ips: list[str]
    rate_limits: list[RateLimit]
    monthly_quota: int | None


class KeyPolicy(TypedDict, total=False):
    """A team's policy for its API keys (``teams.key_policy``). The first four are required when
    setting it; the rest keep their value when left out."""

    expiry_required: Required[bool]
    max_lifetime_days: Required[int | None]
    unused_days: Required[int | None]
    unused_action: Required[Literal["flag", "disable"]]
    default_rate_limits: list[RateLimit]
    default_monthly_quota: int | None
    limits_on_cache_failure: Literal["closed", "open"]


UsageCounts = TypedDict(  # "2xx" is no Python name: the functional form
    "UsageCounts",
    {"requests": int, "2xx": int, "3xx": int, "4xx": int, "5xx": int, "refusals": dict[str, int]},
)
UsagePoint = TypedDict(
    "UsagePoint",
    {"start": str, "requests": int, "2xx": int, "3xx": int, "4xx": int, "5xx": int, "refusals": dict[str, int]},
)


class UsageSubject(TypedDict):
    type: Literal["team", "key", "integration"]
    id: str


class UsageRoute(TypedDict):
    route: str
    requests: int


class LastUsed(TypedDict):
    at: str
    ip: str | None
    user_agent: str


class Usage(TypedDict):
    """A key's, an integration's or the team's requests per hour or day (``usage``)."""

    subject: UsageSubject
    granularity: Literal["hour", "day"]
    since: str
    until: str
    as_of: str | None
    totals: UsageCounts
    series: list[UsagePoint]
    top_routes: list[UsageRoute]
    last_used: LastUsed | None


class IssuedAPIKey(APIKey):
    """A key just created or regenerated: ``raw_key`` is in this answer and nowhere else."""

    raw_key: str


class AuditActor(TypedDict):
    id: str
    username: str


class AuditKey(TypedDict):
    id: str | None
    prefix: str
    name: str


class AuditEvent(TypedDict):
    id: str
    created_at: str
    action: str
    actor: AuditActor | None  # None for an integration's requests: nobody's account acted
    api_key: AuditKey | None
    integration: str | None  # the integration that acted, or the subject of an integration.* event
    method: str
    path: str
    status_code: int | None
    ip: str | None
    user_agent: str
    request_id: str
    data: dict[str, Any]


class Integration(TypedDict):
    """A team's integration as listed: the Admin key's id only, the publishable Content key in full."""

    id: str
    name: str
    description: str
    permissions: list[str]
    scopes: list[str]
    admin_key_id: str
    content_key: str
    allowed_origins: list[str]
    created_by: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class IssuedIntegration(Integration):
    """An integration just created or given a new Admin key: ``admin_key`` (``{id}:{secret}``)
    is in this answer and nowhere else."""

    admin_key: str


class IntegrationUpdate(TypedDict, total=False):
    """What ``integrations.update`` changes (PATCH: only what is passed)."""

    name: str
    description: str
    permissions: list[str]
    allowed_origins: list[str]


class Campaign(TypedDict):
    id: str
    name: str
    slug: str
    status: CampaignStatus
    domain: str | None
    offer: str | None
    source: str | None
    created_at: str
    updated_at: str


class Domain(TypedDict):
    id: str
    hostname: str
    created_at: str
    updated_at: str


class Offer(TypedDict):
    id: str
    name: str
    slug: str
    url: str
    payout: str | None
    network: str | None
    created_at: str
    updated_at: str


class Source(TypedDict):
    id: str
    name: str
    kind: SourceKind
    created_at: str
    updated_at: str


class Network(TypedDict):
    id: str
    name: str
    postback_url: str
    created_at: str
    updated_at: str


class Stats(TypedDict):
    counts: dict[str, int]
    campaigns_by_status: dict[str, int]


class Billing(TypedDict):
    plan: str
    seats_used: int
    active_api_keys: int


# --- What the write methods accept (keyword arguments, checked by type checkers) -------------
# `None` is sent as JSON null (e.g. `domain=None` unlinks the campaign's domain); a field that is
# not passed is not sent, so `update(...)` changes only what it is given.


class CampaignCreate(TypedDict, total=False):
    name: Required[str]
    status: CampaignStatus
    domain: str | None
    offer: str | None
    source: str | None


class CampaignUpdate(TypedDict, total=False):
    name: str
    status: CampaignStatus
    domain: str | None
    offer: str | None
    source: str | None


class DomainCreate(TypedDict, total=True):
    hostname: str


class DomainUpdate(TypedDict, total=False):
    hostname: str


class OfferCreate(TypedDict, total=False):
    name: Required[str]
    url: Required[str]
    payout: str | None
    network: str | None


class OfferUpdate(TypedDict, total=False):
    name: str
    url: str
    payout: str | None
    network: str | None


class SourceCreate(TypedDict, total=False):
    name: Required[str]
    kind: SourceKind


class SourceUpdate(TypedDict, total=False):
    name: str
    kind: SourceKind


class NetworkCreate(TypedDict, total=False):
    name: Required[str]
    postback_url: str


class NetworkUpdate(TypedDict, total=False):
    name: str
    postback_url: str


# --- The Content API (public, read-only: ghostflow_client.content) ----------------------------


class PublicOffer(TypedDict):
    """An offer of an active campaign, as the Content API shows it (never the payout). With
    ``fields=`` only the fields asked for are present."""

    id: str
    name: str
    slug: str
    url: str


class PublicCampaign(TypedDict):
    """An active campaign, as the Content API shows it; ``offer`` with ``include=["offer"]`` only
    (None when it has none). With ``fields=`` only the fields asked for are present."""

    id: str
    name: str
    slug: str
    offer: NotRequired[PublicOffer | None]


class PublicTeam(TypedDict):
    id: str
    name: str
