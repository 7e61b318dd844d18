from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The rollup registers itself as a periodic job of the worker (infra.background.PERIODIC).
        from . import rollup  # noqa: F401
