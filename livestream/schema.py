"""How a stream token appears in the OpenAPI schema (drf-spectacular's extension for its authentication
class; registered by this app's AppConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from infra.schema import STREAM_TOKEN_SCHEME

from .authentication import StreamTokenAuthentication


class StreamTokenScheme(OpenApiAuthenticationExtension):
    target_class = StreamTokenAuthentication
    name = STREAM_TOKEN_SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": (
                "A stream token from `POST /api/v1/audit-log/stream-token`: the live audit stream only, once, "
                "within 60 seconds. It names its team (no X-Team-Id needed)."
            ),
        }
