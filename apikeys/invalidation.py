"""When the principal cache must forget: every key, membership, team or user about to be saved
or deleted marks the shared generation token dirty *before* the write (so a failure to do so
stops the write), and replaces it with a clean one after the commit (infra.coherence).

Receivers rather than calls in each service because deletions also cascade (deleting a team
deletes its memberships and keys) and Django admin or a shell saves rows directly; they hold no
business logic, only "this changes". Writes made with queryset.update() send no signal: the
services that use one wrap it in infra.coherence.invalidate_around() (revoke_key, revoke_keys_of).
"""

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from infra import coherence


def _changing(sender, instance=None, **kwargs) -> None:
    # A row being created narrows nothing (nothing cached can refer to it: misses are not kept).
    if instance is not None and instance._state.adding:
        return
    coherence.changing()


def _changed(sender, created=False, **kwargs) -> None:
    if not created:
        coherence.changed()


def connect() -> None:
    from django.contrib.auth import get_user_model

    from teams.models import Membership, Team

    from .models import APIKey

    for model in (APIKey, Membership, Team, get_user_model()):
        label = model._meta.label
        for signal, receiver, name in (
            (pre_save, _changing, "pre-save"),
            (pre_delete, _changing, "pre-delete"),
            (post_save, _changed, "save"),
            (post_delete, _changed, "delete"),
        ):
            signal.connect(receiver, sender=model, dispatch_uid=f"principal-cache-{name}-{label}")
