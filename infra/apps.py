from django.apps import AppConfig


class InfraConfig(AppConfig):
    """Shared runtime infrastructure: signal receivers that apply everywhere; one table (used
    single-use tokens)."""

    name = "infra"

    def ready(self):
        from django.core.signals import request_started
        from django.db.backends.signals import connection_created

        from . import db_health, prepared

        connection_created.connect(prepared.install, dispatch_uid="infra.prepared")
        request_started.connect(db_health.close_connections_the_server_ended, dispatch_uid="infra.db_health")
