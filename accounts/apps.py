from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from access import context

        from . import sessions

        # Which logins are still signed in: asked by access and audit, which cannot import accounts.
        context.SESSION_RULE.append(sessions.signed_in)
