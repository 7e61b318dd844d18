# The source of client.py (the sync client), generated from this file by
# clients/python/scripts/generate_sync.py: edit here, then run `make sdk-sync`.
"""The asynchronous client, :class:`AsyncGhostFlow`, and its resources.

async with AsyncGhostFlow("https://api.example.com", api_key="gf_...", team_id="...") as gf:
    campaign = await gf.campaigns.create(name="Spring sale")
    async for campaign in gf.campaigns.list(status="active"):
        ...
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar, Unpack, cast

import httpx

from . import _core
from ._concurrency import AsyncLock, async_sleep, async_store_locked
from ._core import DEFAULT_TIMEOUT, Id, segment
from .auth import AdminKey, LoginState, Tokens, TokenStore
from .errors import (
    AuthenticationError,
    ConfigurationError,
    SecondFactorRequired,
    error_from_response,
    parse_retry_after,
)
from .models import (
    Account,
    APIKey,
    AuditEvent,
    Billing,
    Campaign,
    CampaignCreate,
    CampaignStatus,
    CampaignUpdate,
    Domain,
    DomainCreate,
    DomainUpdate,
    Granularity,
    Integration,
    IntegrationUpdate,
    Invitation,
    IssuedAPIKey,
    IssuedIntegration,
    KeyGovernance,
    KeyPolicy,
    Me,
    Member,
    Network,
    NetworkCreate,
    NetworkUpdate,
    Offer,
    OfferCreate,
    OfferUpdate,
    RateLimit,
    Role,
    Source,
    SourceCreate,
    SourceKind,
    SourceUpdate,
    Stats,
    Team,
    TeamWithRole,
    Usage,
)
from .pagination import AsyncPaginator, Page
from .retry import DEFAULT_RETRY, RetryPolicy
from .stream import (
    DEFAULT_READ_TIMEOUT,
    STREAM_PATH,
    STREAM_RETRY,
    TOKEN_PATH,
    AsyncAuditStream,
    GapHandler,
    _Resume,
    browser_url,
    stream_params,
    stream_timeout,
)

__all__ = ["AsyncGhostFlow"]

T = TypeVar("T")


class AsyncGhostFlow:
    """The asynchronous client of the GhostFlow API.

    With an API key (every request carries it and the team)::

        gf = AsyncGhostFlow("https://api.example.com", api_key="gf_...", team_id="8f1c...")

    With a login (the access token is refreshed when it expires, once, whatever the number of
    concurrent calls; refresh tokens rotate and each one is exchanged only once)::

        gf = AsyncGhostFlow("https://api.example.com", username="ada", password="...", team_id="8f1c...")
        gf = AsyncGhostFlow("https://api.example.com", refresh_token=stored_token)
        gf = AsyncGhostFlow("https://api.example.com", token_store=my_store)  # keeps every rotation

    With a team integration's Admin key (``{id}:{secret}``): the client signs a short-lived HS256
    token with it (``Authorization: Ghost <token>``), reused until it nears expiry, then re-signed;
    the secret itself is never sent::

        gf = AsyncGhostFlow("https://api.example.com", admin_key="6a1f...:9c2e...", team_id="8f1c...")

    Or with no credential, then ``await gf.login(username, password)``.

    Args:
        base_url: the server, with or without ``/api/v1``.
        api_key: a ``gf_`` key; it belongs to one team.
        admin_key: an integration's Admin key (or an :class:`ghostflow_client.AdminKey`); it
            belongs to one team, which ``team_id`` must name.
        team_id: sent as ``X-Team-Id`` on every request; ``with_team()`` makes a copy for another.
        username, email, password: a password login, made on the first request (and again if
            the server ends the session, since the password is at hand).
        refresh_token: a stored refresh token; exchanged for a fresh pair on the first request.
        token_store: where the login's tokens are kept; see :class:`ghostflow_client.TokenStore`.
        timeout: seconds, or an ``httpx.Timeout`` (default 5 s to connect, 30 s otherwise).
        retry: when to retry (default: twice, idempotent methods, 429/502/503/504 and network errors).
        http_client: your own ``httpx.AsyncClient`` (proxies, certificates, event hooks); you close it.
        user_agent: replaces the default ``ghostflow-python/<version>``.
        password_prompt: with a login, asked for the password when the server answers 403
            ``reauthentication_required`` (step-up: the act needs a recent authentication); the
            client then re-authenticates and sends the request again, once. Returning None (or
            leaving it unset) raises ``ReauthenticationRequired`` instead.

    Share one client per event loop: concurrent tasks may use it, and refresh a login one at a
    time (and, through the token store's lock, one process at a time). Close it (or use
    ``async with``) when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        admin_key: str | AdminKey | None = None,
        team_id: Id | None = None,
        username: str | None = None,
        email: str | None = None,
        password: str | None = None,
        refresh_token: str | None = None,
        token_store: TokenStore | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        http_client: httpx.AsyncClient | None = None,
        user_agent: str | None = None,
        password_prompt: Callable[[], str | None] | None = None,
    ) -> None:
        self._password_prompt = password_prompt
        self._settings = _core.make_settings(
            base_url,
            api_key=api_key,
            admin_key=admin_key,
            username=username,
            email=email,
            password=password,
            refresh_token=refresh_token,
            token_store=token_store,
            retry=retry,
            user_agent=user_agent,
        )
        self.team_id: str | None = segment(team_id) if team_id is not None else None
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        # One refresh at a time per login: shared with the with_team() copies, which share the login.
        self._refresh_lock = AsyncLock()
        self._resources()

    def _resources(self) -> None:
        self.campaigns = Campaigns(self)
        self.domains = Domains(self)
        self.offers = Offers(self)
        self.sources = Sources(self)
        self.networks = Networks(self)
        self.api_keys = APIKeys(self)
        self.teams = Teams(self)
        self.members = Members(self)
        self.invitations = Invitations(self)
        self.audit_log = AuditLog(self)
        self.integrations = Integrations(self)

    # --- lifecycle ---------------------------------------------------------------------------

    def with_team(self, team_id: Id) -> AsyncGhostFlow:
        """A client for another team, sharing this one's connection pool and login."""
        other = object.__new__(AsyncGhostFlow)
        other._settings = self._settings
        other._owns_http = False
        other._http = self._http
        other._refresh_lock = self._refresh_lock
        other._password_prompt = self._password_prompt
        other.team_id = segment(team_id)
        other._resources()
        return other

    async def aclose(self) -> None:
        """Close the connection pool (not one passed in as ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncGhostFlow:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # The credential by its public part only (an API key's prefix, an Admin key's id).
        return _core.describe_client("AsyncGhostFlow", self._settings, self.team_id)

    @property
    def base_url(self) -> str:
        """The API root every path is relative to (``.../api/v1/``)."""
        return self._settings.base_url

    @property
    def tokens(self) -> Tokens | None:
        """The login's current token pair (None with a key or when logged out)."""
        login = self._settings.login
        return login.tokens if login is not None else None

    # --- sessions ----------------------------------------------------------------------------

    async def login(self, username: str, password: str, *, totp_code: str | None = None) -> None:
        """Log in with a username (or e-mail address) and password; the tokens go to the store.

        For an account with two-step verification: with ``totp_code`` (a code from the app, or a
        recovery code) the login is finished at once; without it, SecondFactorRequired is raised,
        carrying the ticket for ``complete_second_factor``."""
        login = self._login_state()
        async with self._refresh_lock, async_store_locked(login.store):
            body = await self._request(
                "POST", "auth/login", json={"username": username, "password": password}, authenticated=False
            )
            try:
                login.install(Tokens.from_login(body))
                return
            except SecondFactorRequired as pending:
                if totp_code is None:
                    raise
                ticket = pending.ticket
            body = await self._request(
                "POST", "auth/second-factor", json={"ticket": ticket, "code": totp_code}, authenticated=False
            )
            login.install(Tokens.from_response(body))

    async def complete_second_factor(self, ticket: str, code: str) -> None:
        """Finish a login that raised SecondFactorRequired: its ticket and a code from the
        authenticator app (or a recovery code). The tokens go to the store."""
        login = self._login_state()
        async with self._refresh_lock, async_store_locked(login.store):
            body = await self._request(
                "POST", "auth/second-factor", json={"ticket": ticket, "code": code}, authenticated=False
            )
            login.install(Tokens.from_response(body))

    async def refresh(self) -> None:
        """Exchange the refresh token for a new pair now (normally automatic)."""
        login = self._login_state()
        await self._renew(seen=login.tokens)

    async def logout(self) -> None:
        """End the login on the server (its whole refresh family) and forget its tokens.

        The tokens are forgotten even when the server cannot be reached; the error is raised
        then, because the server-side session is still alive until it expires.
        """
        login = self._login_state()
        async with self._refresh_lock, async_store_locked(login.store):
            tokens = login.store.load() or login.tokens
            # An explicit logout: no silent re-login with the constructor's password afterwards.
            login.password = None
            try:
                if tokens is not None and tokens.refresh_token:
                    await self._request(
                        "POST", "auth/logout", json={"refresh_token": tokens.refresh_token}, authenticated=False
                    )
            except AuthenticationError:
                pass  # already signed out, or the token is dead: nothing left to revoke
            finally:
                login.drop()

    async def reauthenticate(self, password: str | None = None, *, code: str | None = None) -> str:
        """Confirm it is you for this login's session (step-up, ``POST auth/reauthenticate``),
        after a ``ReauthenticationRequired``: with the password, or ``code``, a TOTP code from
        the authenticator app (or a recovery code). Returns until when the session may do the
        acts that need it (ISO 8601). Only this session: the server stores it on the login, not
        in a token. A wrong password raises ``ValidationError`` (``wrong_password``); a wrong
        code, ``second_factor_invalid`` / ``_reused`` / ``_expired``."""
        if (password is None) == (code is None):
            raise ValueError("Give exactly one of: password, code.")
        proof = {"password": password} if password is not None else {"code": code}
        body = await self._request("POST", "auth/reauthenticate", json=proof)
        return str(body["reauthenticated_until"])

    # --- account-level calls -----------------------------------------------------------------

    async def me(self) -> Me:
        """The caller (``GET auth/me``); with an API key also the key's id, name, team and scopes."""
        return cast(Me, await self._request("GET", "auth/me"))

    async def account(self) -> Account:
        """The caller's account: sign-in methods, number of teams, ..."""
        return cast(Account, await self._request("GET", "me/account"))

    async def stats(self) -> Stats:
        """The team's counts (``read:stats``)."""
        return cast(Stats, await self._request("GET", "stats", team_scoped=True))

    async def billing(self) -> Billing:
        """The team's plan and usage (``read:billing``)."""
        return cast(Billing, await self._request("GET", "billing", team_scoped=True))

    # --- the request pipeline ----------------------------------------------------------------

    def _login_state(self) -> LoginState:
        login = self._settings.login
        if login is None:
            raise ConfigurationError("This client uses a key (api_key or admin_key); logins need a client without one.")
        return login

    async def _authorization(self) -> tuple[str, Tokens | None]:
        """The Authorization header value, and the login tokens it carries (None for a key)."""
        if self._settings.api_key is not None:
            return f"Bearer {self._settings.api_key}", None
        if self._settings.admin_key is not None:
            return f"{_core.ADMIN_SCHEME} {self._settings.admin_key.token()}", None
        login = self._login_state()
        tokens = login.tokens
        if tokens is None or tokens.access_is_stale():
            tokens = await self._renew(seen=tokens)
        return f"Bearer {tokens.access_token}", tokens

    async def _renew(self, *, seen: Tokens | None) -> Tokens:
        """A fresh pair to replace `seen` (the stale or refused one): someone else's if they
        refreshed meanwhile, else one refresh (or a password login) made under both locks."""
        login = self._login_state()
        async with self._refresh_lock:
            ready = login.usable(seen)
            if ready is not None:
                return ready
            async with async_store_locked(login.store):
                ready = login.adopt_stored(seen)
                if ready is not None:
                    return ready
                if login.tokens is not None and login.tokens.refresh_token:
                    try:
                        body = await self._request(
                            "POST",
                            "auth/refresh",
                            json={"refresh_token": login.tokens.refresh_token},
                            authenticated=False,
                        )
                        return login.install(Tokens.from_response(body))
                    except AuthenticationError:
                        # Revoked, reused, expired: this login is over. Log in again if we can.
                        login.drop()
                        if login.password is None:
                            raise
                if login.username is None or login.password is None:
                    raise login.no_login()
                body = await self._request(
                    "POST",
                    "auth/login",
                    json={"username": login.username, "password": login.password},
                    authenticated=False,
                )
                # A second factor cannot be given unattended: SecondFactorRequired is raised.
                return login.install(Tokens.from_login(body))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object | None] | None = None,
        json: object | None = None,
        authenticated: bool = True,
        team_scoped: bool = False,
        team_id: str | None = None,
    ) -> Any:
        """Send one API call (with retries) and return its decoded JSON; raise on an error."""
        response = await self._send(
            method,
            path,
            params=params,
            json=json,
            authenticated=authenticated,
            team_scoped=team_scoped,
            team_id=team_id,
        )
        return _core.decode(response)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object | None] | None = None,
        json: object | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        team_scoped: bool = False,
        team_id: str | None = None,
        stream: bool = False,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send one API call (with retries) and return its successful answer; raise on an error.

        With `stream`, the answer's body is left unread: the caller reads it and closes it.
        """
        team = team_id or self.team_id
        if team_scoped and team is None:
            raise ConfigurationError("This call needs a team: pass team_id=... or use client.with_team(...).")
        url = self._settings.base_url + path
        policy = retry or self._settings.retry
        attempt = 0
        renewed = False
        reauthenticated = False
        while True:
            request_headers = {"Accept": "application/json", "User-Agent": self._settings.user_agent, **(headers or {})}
            used: Tokens | None = None
            if authenticated:
                request_headers["Authorization"], used = await self._authorization()
            if team is not None:
                request_headers["X-Team-Id"] = team
            request = self._http.build_request(
                method,
                url,
                params=_core.query(params or {}),
                json=json,
                headers=request_headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            try:
                response = await self._http.send(request, stream=stream)
                if stream and response.is_error:
                    await response.aread()  # the problem document, for the decisions below; closes it
            except httpx.TransportError as exc:
                if policy.may_retry(method, attempt):
                    await async_sleep(policy.delay(attempt) or 0.0)
                    attempt += 1
                    continue
                raise _core.network_error(exc, method, url) from exc
            if (
                response.status_code == 401
                and authenticated
                and not renewed
                and _core.problem_code(response) == "token_expired"
                and (used is not None or self._settings.admin_key is not None)
            ):
                # Our clock said the token was fresh, the server's says expired (clock skew, a
                # paused process): refresh once and send again. Safe for any method: the request
                # was refused at authentication, before it did anything. An Admin key signs a
                # new token instead.
                if used is not None:
                    await self._renew(seen=used)
                else:
                    _core.discard_admin_token(self._settings, request_headers["Authorization"])
                renewed = True
                continue
            if (
                response.status_code == 403
                and used is not None
                and not reauthenticated
                and self._password_prompt is not None
                and _core.problem_code(response) == "reauthentication_required"
            ):
                # Step-up: refused before the act did anything, so sending it again is safe for
                # any method. Once: a second refusal is raised.
                password = self._password_prompt()
                if password:
                    await self.reauthenticate(password)
                    reauthenticated = True
                    continue
            if response.status_code in policy.retry_statuses and policy.may_retry(method, attempt):
                delay = policy.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
                if delay is not None:
                    await async_sleep(delay)
                    attempt += 1
                    continue
            if response.is_error:
                raise error_from_response(response)
            return response

    async def _usage(self, path: str, granularity: Granularity, periods: int | None) -> Usage:
        params = {"granularity": granularity, "periods": periods}
        return cast(Usage, await self._request("GET", path, params=params, team_scoped=True))

    def _paginate(
        self, path: str, params: Mapping[str, object | None], *, team_scoped: bool = True
    ) -> AsyncPaginator[T]:
        async def fetch(cursor: str | None) -> Page[T]:
            body = await self._request("GET", path, params={**params, "cursor": cursor}, team_scoped=team_scoped)
            return Page.from_body(body)

        return AsyncPaginator(fetch)


# --- resources -------------------------------------------------------------------------------


class _Collection(Generic[T]):
    """A team's collection of objects at ``/<path>`` and ``/<path>/<id>``."""

    path: str = ""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    async def get(self, object_id: Id) -> T:
        """One object by id (NotFoundError when it does not exist in this team)."""
        return cast(T, await self._client._request("GET", f"{self.path}/{segment(object_id)}", team_scoped=True))

    async def delete(self, object_id: Id) -> None:
        """Delete one object."""
        await self._client._request("DELETE", f"{self.path}/{segment(object_id)}", team_scoped=True)

    def _list(self, params: Mapping[str, object | None]) -> AsyncPaginator[T]:
        return self._client._paginate(self.path, params)

    async def _create(self, fields: Mapping[str, object]) -> T:
        return cast(T, await self._client._request("POST", self.path, json=dict(fields), team_scoped=True))

    async def _update(self, object_id: Id, fields: Mapping[str, object]) -> T:
        return cast(
            T,
            await self._client._request(
                "PATCH", f"{self.path}/{segment(object_id)}", json=dict(fields), team_scoped=True
            ),
        )


class Campaigns(_Collection[Campaign]):
    """``client.campaigns``: needs ``read:campaigns`` / ``write:campaigns``."""

    path = "campaigns"

    def list(
        self,
        *,
        status: CampaignStatus | None = None,
        domain: Id | None = None,
        offer: Id | None = None,
        source: Id | None = None,
        search: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[Campaign]:
        """Every campaign matching the filters, newest first, fetched page by page as iterated."""
        return self._list(
            {
                "status": status,
                "domain": domain,
                "offer": offer,
                "source": source,
                "search": search,
                "page_size": page_size,
            }
        )

    async def create(self, **fields: Unpack[CampaignCreate]) -> Campaign:
        """Create a campaign: ``name`` (required), ``status``, ``domain``, ``offer``, ``source`` (ids)."""
        return await self._create(fields)

    async def update(self, campaign_id: Id, **fields: Unpack[CampaignUpdate]) -> Campaign:
        """Change the given fields only (PATCH); ``domain=None`` unlinks the domain."""
        return await self._update(campaign_id, fields)


class Domains(_Collection[Domain]):
    """``client.domains``: needs ``read:domains`` / ``write:domains``."""

    path = "domains"

    def list(self, *, search: str | None = None, page_size: int | None = None) -> AsyncPaginator[Domain]:
        """Every domain (optionally matching `search`), fetched page by page as iterated."""
        return self._list({"search": search, "page_size": page_size})

    async def create(self, **fields: Unpack[DomainCreate]) -> Domain:
        """Create a domain: ``hostname``."""
        return await self._create(fields)

    async def update(self, domain_id: Id, **fields: Unpack[DomainUpdate]) -> Domain:
        """Change the given fields only (PATCH)."""
        return await self._update(domain_id, fields)


class Offers(_Collection[Offer]):
    """``client.offers``: needs ``read:offers`` / ``write:offers``."""

    path = "offers"

    def list(
        self, *, network: Id | None = None, search: str | None = None, page_size: int | None = None
    ) -> AsyncPaginator[Offer]:
        """Every offer matching the filters, fetched page by page as iterated."""
        return self._list({"network": network, "search": search, "page_size": page_size})

    async def create(self, **fields: Unpack[OfferCreate]) -> Offer:
        """Create an offer: ``name`` and ``url`` (required), ``payout`` (decimal string), ``network`` (id)."""
        return await self._create(fields)

    async def update(self, offer_id: Id, **fields: Unpack[OfferUpdate]) -> Offer:
        """Change the given fields only (PATCH)."""
        return await self._update(offer_id, fields)


class Sources(_Collection[Source]):
    """``client.sources``: needs ``read:sources`` / ``write:sources``."""

    path = "sources"

    def list(
        self, *, kind: SourceKind | None = None, search: str | None = None, page_size: int | None = None
    ) -> AsyncPaginator[Source]:
        """Every traffic source matching the filters, fetched page by page as iterated."""
        return self._list({"kind": kind, "search": search, "page_size": page_size})

    async def create(self, **fields: Unpack[SourceCreate]) -> Source:
        """Create a traffic source: ``name`` (required), ``kind``."""
        return await self._create(fields)

    async def update(self, source_id: Id, **fields: Unpack[SourceUpdate]) -> Source:
        """Change the given fields only (PATCH)."""
        return await self._update(source_id, fields)


class Networks(_Collection[Network]):
    """``client.networks``: needs ``read:networks`` / ``write:networks``."""

    path = "networks"

    def list(self, *, search: str | None = None, page_size: int | None = None) -> AsyncPaginator[Network]:
        """Every affiliate network (optionally matching `search`), fetched page by page as iterated."""
        return self._list({"search": search, "page_size": page_size})

    async def create(self, **fields: Unpack[NetworkCreate]) -> Network:
        """Create a network: ``name`` (required), ``postback_url``."""
        return await self._create(fields)

    async def update(self, network_id: Id, **fields: Unpack[NetworkUpdate]) -> Network:
        """Change the given fields only (PATCH)."""
        return await self._update(network_id, fields)


class APIKeys:
    """``client.api_keys``: the team's keys. Key management needs a login, never a key."""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(self, *, status: str | None = None, page_size: int | None = None) -> AsyncPaginator[APIKey]:
        """My keys in this team (an admin's: every key of the team); `status`: active, revoked, expired."""
        return self._client._paginate("auth/api-keys", {"status": status, "page_size": page_size})

    async def create(
        self,
        name: str,
        permissions: Sequence[str],
        *,
        expires_at: datetime | str | None = None,
        allowed_ips: Sequence[str] | None = None,
        rate_limits: Sequence[RateLimit] | None = None,
        monthly_quota: int | None = None,
    ) -> IssuedAPIKey:
        """Create a key with these scopes (``read:campaigns``, ..., or legacy ``read``/``write``/``admin``).
        Optionally: `allowed_ips` (addresses or CIDR networks it may be used from), `rate_limits`
        (``[{"limit": 10, "seconds": 1}, ...]``) and `monthly_quota` (requests per calendar month).

        The answer's ``raw_key`` is the secret: it is shown this once and never again.
        """
        body: dict[str, object] = {"name": name, "permissions": builtins.list(permissions)}
        if expires_at is not None:
            body["expires_at"] = _core.iso(expires_at)
        if allowed_ips is not None:
            body["allowed_ips"] = builtins.list(allowed_ips)
        if rate_limits is not None:
            body["rate_limits"] = [dict(window) for window in rate_limits]
        if monthly_quota is not None:
            body["monthly_quota"] = monthly_quota
        return cast(IssuedAPIKey, await self._client._request("POST", "auth/api-keys", json=body, team_scoped=True))

    async def govern(self, key_id: Id, **changes: Unpack[KeyGovernance]) -> APIKey:
        """Replace what governs a key's use: ``allowed_ips``, ``rate_limits``, ``monthly_quota``
        (None: none of its own; the team's defaults apply). Effective from its next request."""
        return cast(
            APIKey,
            await self._client._request(
                "PATCH", f"auth/api-keys/{segment(key_id)}", json=dict(changes), team_scoped=True
            ),
        )

    async def get(self, key_id: Id) -> APIKey:
        """One key (masked)."""
        return cast(APIKey, await self._client._request("GET", f"auth/api-keys/{segment(key_id)}", team_scoped=True))

    async def rename(self, key_id: Id, name: str) -> APIKey:
        """Rename a key (the only change a key accepts)."""
        return cast(
            APIKey,
            await self._client._request(
                "PATCH", f"auth/api-keys/{segment(key_id)}", json={"name": name}, team_scoped=True
            ),
        )

    async def revoke(self, key_id: Id) -> APIKey:
        """Revoke a key: instant and final (both of its secrets, if it was regenerated)."""
        return cast(
            APIKey, await self._client._request("PUT", f"auth/api-keys/{segment(key_id)}/revoke", team_scoped=True)
        )

    async def disable(self, key_id: Id) -> APIKey:
        """Disable a key: refused (``key_disabled``) from the next request until it is enabled."""
        return cast(
            APIKey, await self._client._request("POST", f"auth/api-keys/{segment(key_id)}/disable", team_scoped=True)
        )

    async def enable(self, key_id: Id) -> APIKey:
        """Enable a disabled key again (a revoked one stays revoked: ``key_is_revoked``)."""
        return cast(
            APIKey, await self._client._request("POST", f"auth/api-keys/{segment(key_id)}/enable", team_scoped=True)
        )

    async def regenerate(self, key_id: Id, *, grace_seconds: int = 0) -> IssuedAPIKey:
        """A new secret for the key (its owner only); the old one keeps working `grace_seconds`
        (0..86400). The answer's ``raw_key`` is shown this once."""
        return cast(
            IssuedAPIKey,
            await self._client._request(
                "POST",
                f"auth/api-keys/{segment(key_id)}/regenerate",
                json={"grace_seconds": grace_seconds},
                team_scoped=True,
            ),
        )

    async def delete(self, key_id: Id) -> None:
        """Delete a key (its audit events stay, with the key's name and prefix)."""
        await self._client._request("DELETE", f"auth/api-keys/{segment(key_id)}", team_scoped=True)

    def audit_log(
        self,
        key_id: Id,
        *,
        action: str | None = None,
        status: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[AuditEvent]:
        """What this key did, newest first (its owner or an admin)."""
        params = {"action": action, "status": status, "since": since, "until": until, "page_size": page_size}
        return self._client._paginate(f"auth/api-keys/{segment(key_id)}/audit-log", params)

    async def usage(self, key_id: Id, *, granularity: Granularity = "hour", periods: int | None = None) -> Usage:
        """This key's requests per hour (the last 24 by default) or day (30), by status class and
        refusal, its busiest routes and where it was last used from (its owner or an admin)."""
        return await self._client._usage(f"auth/api-keys/{segment(key_id)}/usage", granularity, periods)


class Teams:
    """``client.teams``: my teams (needs a login), and one team by id."""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(self, *, page_size: int | None = None) -> AsyncPaginator[TeamWithRole]:
        """The teams I belong to, with my role in each (no team needed)."""
        return self._client._paginate("teams", {"page_size": page_size}, team_scoped=False)

    async def create(self, name: str) -> TeamWithRole:
        """Create a team; I become its owner."""
        return cast(TeamWithRole, await self._client._request("POST", "teams", json={"name": name}))

    async def current(self) -> Team:
        """The client's team (``X-Team-Id``)."""
        return cast(Team, await self._client._request("GET", "team", team_scoped=True))

    async def get(self, team_id: Id) -> Team:
        """One of my teams by id."""
        return cast(Team, await self._client._request("GET", "team", team_id=segment(team_id), team_scoped=True))

    async def rename(self, team_id: Id, name: str) -> Team:
        """Rename a team (``admin``)."""
        return cast(
            Team,
            await self._client._request(
                "PATCH", "team", json={"name": name}, team_id=segment(team_id), team_scoped=True
            ),
        )

    async def delete(self, team_id: Id) -> None:
        """Delete a team (its owner, with a login)."""
        await self._client._request("DELETE", "team", team_id=segment(team_id), team_scoped=True)

    async def key_policy(self) -> KeyPolicy:
        """The client's team's policy for API keys (``admin``)."""
        return cast(KeyPolicy, await self._client._request("GET", "team/key-policy", team_scoped=True))

    async def set_key_policy(self, **policy: Unpack[KeyPolicy]) -> KeyPolicy:
        """Replace the team's key policy (its owner, with a recent re-authentication): expiry
        required, the longest lifetime, what happens to unused keys, the default limits."""
        return cast(
            KeyPolicy, await self._client._request("PUT", "team/key-policy", json=dict(policy), team_scoped=True)
        )

    async def usage(self, *, granularity: Granularity = "hour", periods: int | None = None) -> Usage:
        """The client's team's requests (every key and integration) per hour or day (``admin``)."""
        return await self._client._usage("usage", granularity, periods)


class Members:
    """``client.members``: the people in the client's team."""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(self, *, page_size: int | None = None) -> AsyncPaginator[Member]:
        """Every member with their role (any member may list)."""
        return self._client._paginate("team/members", {"page_size": page_size})

    async def set_role(self, user_id: Id, role: Role) -> Member:
        """Change a member's role (``admin``; never above your own; the last owner stays)."""
        return cast(
            Member,
            await self._client._request(
                "PATCH", f"team/members/{segment(user_id)}", json={"role": role}, team_scoped=True
            ),
        )

    async def remove(self, user_id: Id) -> None:
        """Remove a member (``admin``, or yourself); their keys in this team are revoked."""
        await self._client._request("DELETE", f"team/members/{segment(user_id)}", team_scoped=True)


class Invitations:
    """``client.invitations``: invite people to the client's team (``admin``) and accept invitations."""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(self, *, page_size: int | None = None) -> AsyncPaginator[Invitation]:
        """The team's invitations."""
        return self._client._paginate("team/invitations", {"page_size": page_size})

    async def create(self, email: str, role: Role = "member") -> Invitation:
        """Invite an address with a role no higher than yours; the token goes by e-mail."""
        return cast(
            Invitation,
            await self._client._request(
                "POST", "team/invitations", json={"email": email, "role": role}, team_scoped=True
            ),
        )

    async def cancel(self, invitation_id: Id) -> None:
        """Withdraw a pending invitation."""
        await self._client._request("DELETE", f"team/invitations/{segment(invitation_id)}", team_scoped=True)

    async def accept(self, token: str) -> TeamWithRole:
        """Accept an invitation (the token from its e-mail) as the logged-in user; returns the team."""
        return cast(TeamWithRole, await self._client._request("POST", "invitations/accept", json={"token": token}))


class AuditLog:
    """``client.audit_log``: the team's audit log (``admin``): the listing, and the live stream."""

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(
        self,
        *,
        action: str | None = None,
        key: Id | None = None,
        integration: Id | None = None,
        actor: Id | None = None,
        status: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[AuditEvent]:
        """Events newest first. Filters: `action` (``key.created``, ...), `key`, `integration` and `actor` (ids),
        `status` (``2xx``..``5xx``), `since` / `until` (datetimes)."""
        params = {
            "action": action,
            "key": key,
            "integration": integration,
            "actor": actor,
            "status": status,
            "since": since,
            "until": until,
            "page_size": page_size,
        }
        return self._client._paginate("audit-log", params)

    def stream(
        self,
        *,
        action: str | None = None,
        key: Id | None = None,
        integration: Id | None = None,
        actor: Id | None = None,
        status: str | None = None,
        last_event_id: str | None = None,
        on_gap: GapHandler | None = None,
        retry: RetryPolicy = STREAM_RETRY,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> AsyncAuditStream:
        """The events as they are written (``GET audit-log/stream``), oldest first, each once;
        nothing is sent until you iterate. Filters as ``list`` (no `since`/`until`).

        The iterator resumes by itself after a dropped connection or a server-initiated end
        (``Last-Event-ID``: nothing lost, nothing repeated), and ends only by ``break``,
        ``aclose()`` or :class:`ghostflow_client.StreamRevoked` (the holder may no longer watch).
        `last_event_id`: start after this event (what was missed is replayed first); else now.
        `on_gap(detail)`: called when the server could not replay everything since
        `last_event_id` (default: a warning on the ``ghostflow_client`` logger). `retry`: how
        (re)opening is retried. `read_timeout`: seconds without a byte (the server sends a
        heartbeat every 15 s) after which the connection is taken for dead and resumed.
        """
        params = stream_params(action=action, key=key, integration=integration, actor=actor, status=status)
        timeout = stream_timeout(self._client._http.timeout, read_timeout)

        async def connect(headers: Mapping[str, str]) -> httpx.Response:
            return await self._client._send(
                "GET",
                STREAM_PATH,
                params=params,
                headers=headers,
                team_scoped=True,
                stream=True,
                retry=retry,
                timeout=timeout,
            )

        return AsyncAuditStream(connect, _Resume(last_event_id, on_gap, retry))

    async def stream_url(
        self,
        *,
        action: str | None = None,
        key: Id | None = None,
        integration: Id | None = None,
        actor: Id | None = None,
        status: str | None = None,
        last_event_id: str | None = None,
    ) -> str:
        """The stream's URL for a browser's ``EventSource`` (which cannot send headers), as
        Ghostly's ``runEventsUrl()`` builds it: a stream token minted now (``POST
        audit-log/stream-token``: opens this team's stream once, within 60 s) in ``?token=``,
        the filters, and ``last_event_id`` to resume after that event. Hand it to the page that
        opens the stream; it is a credential until then, so do not log it."""
        params = stream_params(action=action, key=key, integration=integration, actor=actor, status=status)
        issued = await self._client._request("POST", TOKEN_PATH, team_scoped=True)
        return browser_url(self._client.base_url, str(issued["token"]), params, last_event_id)


class Integrations:
    """``client.integrations``: the team's integrations (``admin``, with a login: neither a key nor
    an integration manages integrations).

    An integration belongs to the team, not to a person. Its Admin key (``{id}:{secret}``) is in
    the answers of ``create`` and ``regenerate_admin_key`` only; use it as
    ``AsyncGhostFlow(url, admin_key=..., team_id=...)``. Its Content key is publishable (read-only
    public data: :class:`ghostflow_client.AsyncGhostFlowContent`) and listed with it.
    """

    def __init__(self, client: AsyncGhostFlow) -> None:
        self._client = client

    def list(self, *, page_size: int | None = None) -> AsyncPaginator[Integration]:
        """The team's integrations, newest first, fetched page by page as iterated."""
        return self._client._paginate("integrations", {"page_size": page_size})

    async def get(self, integration_id: Id) -> Integration:
        """One integration (the Admin key's id only, never its secret)."""
        return cast(
            Integration, await self._client._request("GET", f"integrations/{segment(integration_id)}", team_scoped=True)
        )

    async def create(
        self,
        name: str,
        permissions: Sequence[str],
        *,
        description: str | None = None,
        allowed_origins: Sequence[str] | None = None,
    ) -> IssuedIntegration:
        """Create an integration with these scopes (as for keys; at most your role's).

        The answer's ``admin_key`` is the secret: it is shown this once and never again.
        ``allowed_origins``: browser origins (``https://shop.example.com``) that may call the
        Content API with its Content key.
        """
        body: dict[str, object] = {"name": name, "permissions": builtins.list(permissions)}
        if description is not None:
            body["description"] = description
        if allowed_origins is not None:
            body["allowed_origins"] = builtins.list(allowed_origins)
        return cast(IssuedIntegration, await self._client._request("POST", "integrations", json=body, team_scoped=True))

    async def update(self, integration_id: Id, **fields: Unpack[IntegrationUpdate]) -> Integration:
        """Change the given fields only (PATCH): ``name``, ``description``, ``permissions``, ``allowed_origins``."""
        return cast(
            Integration,
            await self._client._request(
                "PATCH", f"integrations/{segment(integration_id)}", json=dict(fields), team_scoped=True
            ),
        )

    async def delete(self, integration_id: Id) -> None:
        """Delete an integration: both of its keys stop at once (its audit events stay)."""
        await self._client._request("DELETE", f"integrations/{segment(integration_id)}", team_scoped=True)

    async def regenerate_admin_key(self, integration_id: Id) -> IssuedIntegration:
        """A new Admin key (id and secret); the old one stops at once. The answer's ``admin_key``
        is shown this once."""
        return cast(
            IssuedIntegration,
            await self._client._request(
                "POST", f"integrations/{segment(integration_id)}/regenerate-admin-key", team_scoped=True
            ),
        )

    async def regenerate_content_key(self, integration_id: Id) -> Integration:
        """A new Content key (in the answer's ``content_key``); the old one stops at once."""
        return cast(
            Integration,
            await self._client._request(
                "POST", f"integrations/{segment(integration_id)}/regenerate-content-key", team_scoped=True
            ),
        )

    def audit_log(
        self,
        integration_id: Id,
        *,
        action: str | None = None,
        status: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[AuditEvent]:
        """What the integration did and what was done to it, newest first."""
        params = {"action": action, "status": status, "since": since, "until": until, "page_size": page_size}
        return self._client._paginate(f"integrations/{segment(integration_id)}/audit-log", params)

    audit = audit_log

    async def usage(
        self, integration_id: Id, *, granularity: Granularity = "hour", periods: int | None = None
    ) -> Usage:
        """The integration's requests (Admin key and Content key) per hour or day."""
        return await self._client._usage(f"integrations/{segment(integration_id)}/usage", granularity, periods)
