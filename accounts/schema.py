"""How a login's access token appears in the OpenAPI schema (drf-spectacular's extension for its authentication
class; registered by this app's AppConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import JWTAuthentication


class JWTScheme(OpenApiAuthenticationExtension):
    target_class = JWTAuthentication
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
