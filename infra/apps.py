from django.apps import AppConfig


class InfraConfig(AppConfig):
    """Shared runtime infrastructure: no models; start-up adjustments that apply everywhere."""

    name = "infra"

    def ready(self):
        from . import strict

        strict.apply()
