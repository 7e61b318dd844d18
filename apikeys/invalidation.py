"""When the principal cache must forget: every saved or deleted key, membership, team or user
replaces the shared generation (infra.coherence), in the transaction that makes the change.

Receivers rather than calls in each service because deletions also cascade (deleting a team
deletes its memberships and keys) and Django admin saves rows directly; they hold no business
logic, only "this changed". Changes made with queryset.update() send no signal: the services
that use one call infra.coherence.invalidate() themselves (revoke_key, revoke_keys_of).
"""

from django.db.models.signals import post_delete, post_save

from infra import coherence


def _changed(sender, **kwargs) -> None:
    coherence.invalidate()


def connect() -> None:
    from django.apps import apps

    for label in ("apikeys.APIKey", "teams.Membership", "teams.Team", "accounts.User"):
        model = apps.get_model(label)
        post_save.connect(_changed, sender=model, dispatch_uid=f"principal-cache-save-{label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"principal-cache-delete-{label}")
