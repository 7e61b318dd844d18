"""E-mail: plain-text templates (infra/templates/email/) through Django's e-mail framework.

Sending happens after the database work commits, in the background worker (infra.background; at
once in the tests), so an answer never waits on (or reveals, through its timing) whether a mail went
out. A failed send is logged with the template and a hashed recipient, never with the code or token,
and retried with backoff (infra.background.RETRY_DELAYS) before it is given up.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from . import background

logger = logging.getLogger("ghostflow.email")

SUBJECTS = {
    "verify_email": "Your GhostFlow verification code",
    "account_exists": "You already have a GhostFlow account",
    "password_reset": "Reset your GhostFlow password",
    "invitation": "You are invited to a GhostFlow team",
    "recovery_code_used": "A GhostFlow recovery code was used",
    "email_change_code": "Confirm your new GhostFlow e-mail address",
    "email_change_taken": "Someone tried to move a GhostFlow account to this address",
    "email_changed": "Your GhostFlow e-mail address was changed",
    "key_leaked": "A GhostFlow API key was found in public",
    "key_expiring": "A GhostFlow API key expires soon",
    "team_second_factor_required": "Your GhostFlow team now requires two-step verification",
    "team_second_factor_not_required": "Your GhostFlow team no longer requires two-step verification",
}


@background.work
def _deliver(template: str, to: str, context: dict) -> None:
    try:
        body = render_to_string(f"email/{template}.txt", {**context, "site_url": settings.SITE_URL})
        send_mail(SUBJECTS[template], body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    except Exception:
        recipient = hashlib.sha256(to.lower().encode()).hexdigest()[:12]
        # The traceback goes to the log once, with the attempt: infra.background.
        logger.error("E-mail %s to recipient %s failed to send", template, recipient)
        raise


def send(template: str, to: str, **context) -> None:
    background.run_later(_deliver, template=template, to=to, context=context)
