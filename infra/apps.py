from django.apps import AppConfig


class InfraConfig(AppConfig):
    """Shared runtime infrastructure: start-up adjustments that apply everywhere; one table (used
    single-use tokens)."""

    name = "infra"

    def ready(self):
        from django.db.backends.signals import connection_created

        from . import prepared, strict

        strict.apply()
        connection_created.connect(prepared.install, dispatch_uid="infra.prepared")
