"""The browser's session mode of login, refresh and logout: the refresh token in an HttpOnly cookie.

A request opts in with `X-GhostFlow-Session: cookie`; without that header the endpoints work on
JSON bodies exactly as API clients use them, and never read the cookie. The cookie is HttpOnly
(page scripts never see the token), SameSite=Strict, Secure (REFRESH_COOKIE_SECURE) and scoped to
`/api/v1/auth/`, so the browser sends it to the auth endpoints only.

Because the browser attaches the cookie on its own, refresh and logout defend against cross-site
requests twice: the custom header (an HTML form cannot set one, and a cross-origin script cannot
send one without a CORS preflight, which this API never grants), and the `Origin` header, which
must be present and be this site's origin (SITE_URL's, or the request's own).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings

from infra.errors import Forbidden

SESSION_HEADER = "X-GhostFlow-Session"
COOKIE_MODE = "cookie"
COOKIE_NAME = "gf_refresh"
COOKIE_PATH = "/api/v1/auth/"
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


def refresh_cookie(request) -> str | None:
    return request.COOKIES.get(COOKIE_NAME) or None


def _set(response, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def set_refresh_cookie(response, *, token: str, expires_at: int) -> None:
    """The refresh token, for as long as it lives (its `exp`)."""
    _set(response, token, max(0, expires_at - int(time.time())))


def clear_refresh_cookie(response) -> None:
    """Max-Age=0 with the same name, path and attributes: the browser drops its copy."""
    _set(response, "", 0)
