from django.apps import AppConfig


class APIKeysConfig(AppConfig):
    name = "apikeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from teams import services as team_services

        from . import invalidation, schema, services  # noqa: F401 (schema: registers its extension)

        team_services.MEMBER_REMOVED.append(services.revoke_keys_of_removed_member)
        invalidation.connect()
