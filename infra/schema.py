"""OpenAPI: security schemes for both credentials and for X-Team-Id (which team-scoped operations
require together with a credential), one tag per resource, and the problem-details error responses
on every operation."""

from drf_spectacular import openapi
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ProblemSerializer = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(help_text="Stable machine-readable error code."),
        "errors": serializers.DictField(required=False, help_text="Field errors (code validation_error)."),
        "required_scope": serializers.CharField(required=False),
    },
)

# Swagger UI groups operations by tag: one per resource, in this order (first match wins).
TAGS: tuple[tuple[str, str], ...] = (
    ("auth/api-keys", "API keys"),
    ("secret-scanning", "API keys"),
    ("auth/", "Authentication"),
    ("me/", "Account"),
    ("team/invitations", "Invitations"),
    ("invitations/", "Invitations"),
    ("team", "Teams"),
    ("audit-log", "Audit log"),
    ("usage", "Usage"),
    ("integrations", "Integrations"),
    ("campaigns", "Campaigns"),
    ("domains", "Domains"),
    ("offers", "Offers"),
    ("sources", "Sources"),
    ("networks", "Networks"),
    ("stats", "Stats"),
    ("billing", "Billing"),
)
# X-Team-Id is also declared as a security scheme, so Swagger UI's "Authorize" dialog holds it once
# for every call (like the dashboard's team selector) instead of a field on every operation.
TEAM_SCHEME = "teamId"
# The stream token's scheme (livestream/schema.py): it names its own team, so no X-Team-Id with it.
STREAM_TOKEN_SCHEME = "streamToken"
TEAM_SCHEME_DEFINITION = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Team-Id",
    "description": "The team to act in (a team UUID from `GET /api/v1/teams`). A key works only with its own team.",
}


class AutoSchema(openapi.AutoSchema):
    def get_tags(self) -> list[str]:
        path = self.path.removeprefix("/api/v1/")
        for prefix, tag in TAGS:
            if path.startswith(prefix):
                return [tag]
        return super().get_tags()

    def get_auth(self):
        auth = super().get_auth()
        if getattr(self.view, "team_scoped", False):
            # Every credential, together with the team (a stream token names its own team).
            auth = [
                requirement if STREAM_TOKEN_SCHEME in requirement else {**requirement, TEAM_SCHEME: []}
                for requirement in auth
                if requirement
            ]
        return auth


PROBLEM_RESPONSE = {
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    "description": "",
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the problem-document errors every operation can answer, and errors a
    view declares itself as problem documents too."""
    # DRF's as_view() keeps the view class on the function it returns (`cls`, with `initkwargs`).
    views = {
        (path, method.lower()): callback.cls(**getattr(callback, "initkwargs", {}))
        for path, _regex, method, callback in generator.endpoints
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            view = views.get((path, method))
            responses = operation.setdefault("responses", {})
            codes = ["400", "429"]
            # Public auth endpoints (login, refresh, ...) answer 401/403 as well: they declare an
            # authenticate header although they take no credential.
            if operation.get("security") or (view is not None and view.get_authenticate_header(None)):
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            for code in codes:
                responses.setdefault(code, PROBLEM_RESPONSE)
            if method == "get" and "414" not in responses:
                # A query string longer than the HTTP server accepts (gunicorn: 4094 bytes per
                # request line) never reaches the application; the server answers in plain text.
                responses["414"] = {"description": "URI too long (answered by the HTTP server)."}
            for code, response in responses.items():
                content = response.get("content", {}) if code.isdigit() and int(code) >= 400 else {}
                if "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    return result


def add_team_scheme(result, generator, request, public):
    """Postprocessing hook: declare the X-Team-Id security scheme used by team-scoped operations."""
    result.setdefault("components", {}).setdefault("securitySchemes", {})[TEAM_SCHEME] = TEAM_SCHEME_DEFINITION
    return result


def drop_trailing_slash_aliases(endpoints, **kwargs):
    """Preprocessing hook: the tolerated `.../` aliases (main and Content API) are not separate operations."""
    return [e for e in endpoints if not (e[0].startswith(("/api/v1/", "/api/content/")) and e[0].endswith("/"))]
