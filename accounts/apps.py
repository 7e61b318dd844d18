from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from access import context

        # schema registers its OpenAPI extension; recovery and registration their background work.
        from . import mfa, recovery, registration, schema, sessions  # noqa: F401

        # Which logins are still signed in: asked by access, which cannot import accounts.
        context.SESSION_RULE.append(sessions.signed_in)
        # When a session last proved who it is: asked by the step-up check (access.permissions).
        context.AUTHENTICATED_AT_RULE.append(sessions.authenticated_at)
        # Whether a person has a second factor: asked by a team's rule (access.context.enter_team).
        context.SECOND_FACTOR_RULE.append(mfa.has_enrolled)
