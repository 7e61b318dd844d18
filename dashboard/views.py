"""The dashboard: one HTML shell for every page; the app (static ES modules) does the rest through
the public REST API, like any customer's script. The shell carries configuration only (the scope
catalog and role map, whether Google sign-in is on): never a team's data."""

import json

from django.conf import settings
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from access import scopes
from audit.models import Action

# The app is same-origin only: its scripts, styles and API calls. Google sign-in is a top-level
# navigation to Google and back, not a script from Google.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)


def _config() -> dict:
    return {
        "api": "/api/v1",
        "catalog": scopes.CATALOG,
        "resources": list(scopes.RESOURCES),
        "legacy": {name: scopes.sorted_scopes(granted) for name, granted in scopes.LEGACY.items()},
        "roles": {role: scopes.sorted_scopes(granted) for role, granted in scopes.ROLE_SCOPES.items()},
        "role_rank": dict(scopes.ROLE_RANK),
        "google_client_id": settings.GOOGLE_CLIENT_ID or None,
        "audit_actions": list(Action.values),
        # The usage charts' library (uPlot, vendored by `make vendor`), loaded by the pages that draw one.
        "chart_script": static("dashboard/vendor/uplot/uPlot.iife.min.js"),
        "chart_style": static("dashboard/vendor/uplot/uPlot.min.css"),
    }


@require_safe
def shell(request, path: str = ""):
    response = render(request, "dashboard/index.html", {"config": json.dumps(_config())})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response
