"""OpenAPI: security schemes for both credentials, the X-Team-Id header on team-scoped
operations and the problem-details error responses on every operation."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
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

TEAM_HEADER = OpenApiParameter(
    name="X-Team-Id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.HEADER,
    required=True,
    description="The team to act in. A key works only with its own team.",
)


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if getattr(self.view, "team_scoped", False):
            parameters.append(TEAM_HEADER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error = OpenApiResponse(ProblemSerializer)
        codes = ["400", "429"]
        # Public auth endpoints (login, refresh, ...) answer 401/403 as well: they declare an
        # authenticate header although they take no credential.
        if self.get_auth() or self.view.get_authenticate_header(None):
            codes += ["401", "403"]
        if self.path_regex and "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    error, code, media_types=["application/problem+json"], direction=direction
                )
        for code, response in responses.items():
            # Errors declared by a view are problem documents too.
            content = response.get("content", {}) if code.isdigit() and int(code) >= 400 else {}
            if "application/json" in content:
                content["application/problem+json"] = content.pop("application/json")
        return responses


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.APIKeyAuthentication"
    name = ["apiKeyBearer", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):
        return [{"apiKeyBearer": []}, {"apiKeyHeader": []}]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "gf_ API key",
                "description": "`Authorization: Bearer gf_...`",
            },
            {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "`X-Api-Key: gf_...`"},
        ]


class JWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def drop_trailing_slash_aliases(endpoints, **kwargs):
    """Preprocessing hook: the tolerated `/api/v1/.../` aliases are not separate operations."""
    return [e for e in endpoints if not (e[0].startswith("/api/v1/") and e[0].endswith("/"))]
