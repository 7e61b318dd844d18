"""How an integration's Admin-key token appears in the OpenAPI schema (drf-spectacular's
extension for its authentication class; registered by this app's AppConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import AdminTokenAuthentication


class AdminTokenScheme(OpenApiAuthenticationExtension):
    target_class = AdminTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Ghost <token>`: a JWT (HS256, at most 5 minutes, `aud` /admin/ or /v1/admin/, "
                "`kid` = the Admin key's id) signed with an integration's Admin key. `Bearer <token>` is accepted too."
            ),
        }
