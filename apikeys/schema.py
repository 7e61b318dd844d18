"""How a gf_ key appears in the OpenAPI schema (drf-spectacular's extension for its authentication
class; registered by this app's AppConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import APIKeyAuthentication


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = APIKeyAuthentication
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
