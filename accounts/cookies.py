"""The browser's session mode of login, refresh and logout: the refresh token in an HttpOnly cookie.

A request opts in with `X-GhostFlow-Session: cookie`; without that header the endpoints work on
JSON bodies exactly as API clients use them, and never read the cookie. The cookie is HttpOnly
(page scripts never see the token) and SameSite=Strict.

Its name and path depend on REFRESH_COOKIE_SECURE. Secure (production): `__Host-gf_refresh`, with
Path=/ and no Domain, which the `__Host-` prefix demands: a browser accepts that name only from
this very host over HTTPS, so a sibling subdomain cannot plant one (cookie tossing). Path=/ sends
it with every request to this host, not only to /api/v1/auth/; only refresh and logout ever read
it, and only with the custom header and the `Origin` check below. Not Secure (development over
http): `gf_refresh`, Path=/api/v1/auth/. A request carrying the cookie twice (a planted copy beside
the real one; Django's own parsing keeps the last) is refused by refresh (400
`refresh_cookie_duplicated`: nothing is rotated), while logout ends every session the copies name
and clears the cookie, so a planted copy can never keep a browser from signing out.

Because the browser attaches the cookie on its own, refresh and logout defend against cross-site
requests twice: the custom header (an HTML form cannot set one, and a cross-origin script cannot
send one without a CORS preflight, which this API never grants), and the `Origin` header, which
must be present and be this site's origin (SITE_URL's, or the request's own).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings

from infra.errors import BadRequest, Forbidden

SESSION_HEADER = "X-GhostFlow-Session"
COOKIE_MODE = "cookie"
PLAIN_NAME = "gf_refresh"  # not Secure (development), and every cookie set before the prefix
PLAIN_PATH = "/api/v1/auth/"
HOST_NAME = "__Host-gf_refresh"  # Secure: bound to this host; the prefix requires Path=/
HOST_PATH = "/"
DUPLICATED = "More than one refresh cookie came with this request; log in again."
ORIGIN_MISMATCH = "This request must come from the dashboard's own origin."


def is_cookie_mode(request) -> bool:
    return request.headers.get(SESSION_HEADER, "").strip().lower() == COOKIE_MODE


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request) -> set[str]:
    """SITE_URL's origin, and the request's own (scheme://host[:port] as Django sees it)."""
    return {_origin(settings.SITE_URL), request.build_absolute_uri("/").rstrip("/").lower()}


def check_origin(request) -> None:
    """403 `origin_mismatch` unless `Origin` names this site. A missing `Origin` is refused too:
    browsers send it on every POST, so only a non-browser client omits it, and that client can
    use the body mode."""
    origin = request.headers.get("Origin", "").strip().lower()
    if not origin or origin not in allowed_origins(request):
        raise Forbidden(ORIGIN_MISMATCH, code="origin_mismatch")


def cookie_name() -> str:
    return HOST_NAME if settings.REFRESH_COOKIE_SECURE else PLAIN_NAME


def cookie_path() -> str:
    return HOST_PATH if settings.REFRESH_COOKIE_SECURE else PLAIN_PATH


def _values(request, name: str) -> list[str]:
    """Every value of cookie `name` in the raw Cookie header, split where browsers and Django split
    it: at `;` only. (A comma belongs to a value: `x=1,__Host-gf_refresh=...` is a cookie named `x`,
    which a sibling subdomain may set, not ours.) Django's request.COOKIES is a dict: the last
    one wins, so duplicates can only be seen here."""
    values = []
    for chunk in request.META.get("HTTP_COOKIE", "").split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip() == name:
            values.append(value.strip())
    return values


def _duplicated(values: list[str]) -> bool:
    # A refresh token never holds a comma: one that does is two Cookie headers an ASGI server
    # joined with "," (Django's ASGI request does), i.e. the cookie sent twice.
    return len(values) > 1 or any("," in value for value in values)


def refresh_cookie(request) -> str | None:
    """The refresh token of the cookie, or None. 400 `refresh_cookie_duplicated` when the request
    carries it more than once: which one is the browser's own cannot be told."""
    values = _values(request, cookie_name())
    if _duplicated(values):
        raise BadRequest(DUPLICATED, code="refresh_cookie_duplicated")
    return values[0] if values and values[0] else None


def every_refresh_cookie(request) -> list[str]:
    """Every refresh token the request carries in the cookie, duplicates included: signing out
    ends each of them, so a planted copy cannot keep the browser's own session alive."""
    name = cookie_name()
    found = []
    for value in _values(request, name):
        first, *rest = value.split(",")
        found.append(first)
        found.extend(piece.partition("=")[2].strip() for piece in rest if piece.partition("=")[0].strip() == name)
    return [value for value in found if value]


def _set(response, name: str, path: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def _drop_plain_cookie(request, response) -> None:
    """With the `__Host-` cookie, a browser may still hold the cookie of the old name (set before
    it): it is never read, and is dropped here."""
    if settings.REFRESH_COOKIE_SECURE and _values(request, PLAIN_NAME):
        _set(response, PLAIN_NAME, PLAIN_PATH, "", 0)


def set_refresh_cookie(request, response, *, token: str, expires_at: int) -> None:
    """The refresh token, for as long as it lives (its `exp`)."""
    _set(response, cookie_name(), cookie_path(), token, max(0, expires_at - int(time.time())))
    _drop_plain_cookie(request, response)


def clear_refresh_cookie(request, response) -> None:
    """Max-Age=0 with the same name, path and attributes: the browser drops its copy."""
    _set(response, cookie_name(), cookie_path(), "", 0)
    _drop_plain_cookie(request, response)
