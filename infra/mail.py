"""E-mail: plain-text templates (infra/templates/email/) through Django's e-mail framework.

Sending happens after the database work commits, off the request thread (infra.background;
at once with EMAIL_SEND_INLINE, as in tests), so an answer never waits on (or reveals, through its
timing) whether a mail went out. A failure is logged with the template and a hashed recipient, never
with the code or token, and never silently dropped.
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
}


def _deliver(template: str, to: str, context: dict) -> bool:
    try:
        body = render_to_string(f"email/{template}.txt", {**context, "site_url": settings.SITE_URL})
        send_mail(SUBJECTS[template], body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    except Exception:
        recipient = hashlib.sha256(to.lower().encode()).hexdigest()[:12]
        logger.exception("E-mail %s to recipient %s failed to send", template, recipient)
        return False
    return True


def send(template: str, to: str, **context) -> None:
    background.run_later(_deliver, template=template, to=to, context=context)
