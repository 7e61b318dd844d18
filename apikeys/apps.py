from django.apps import AppConfig


class APIKeysConfig(AppConfig):
    name = "apikeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from teams import services as team_services

        # schema registers its OpenAPI extension; maintenance, its periodic job (infra.background).
        from . import invalidation, maintenance, schema, services  # noqa: F401

        team_services.MEMBER_REMOVED.append(services.revoke_keys_of_removed_member)
        invalidation.connect()
