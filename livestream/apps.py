from django.apps import AppConfig


class LivestreamConfig(AppConfig):
    """The live audit stream: stream tokens, the SSE view, the fan-out of committed events to the
    stream servers and the periodic re-check of who holds each stream. Above every app whose
    credentials it re-checks; audit (below) records and lists, and tells this app of each event it
    records through `audit.services.RECORDED`."""

    name = "livestream"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import services

        from . import fanout, schema  # noqa: F401 (schema: registers its extension)

        if fanout.announce not in services.RECORDED:
            services.RECORDED.append(fanout.announce)
