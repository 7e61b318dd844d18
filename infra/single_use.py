"""Single use for short-lived tokens (an Admin-key JWT with a `jti`), recorded in the database.

A record of use kept only in the cache is lost with it: after Redis restarted empty, or came back
from an older snapshot, a spent token was accepted again. The database is the record that
survives, so each use is a row keyed by a digest of (kind, issuer, jti), kept until the token
would have expired anyway. The first use inserts it; any later one finds it (the primary key
decides, so two concurrent uses cannot both be first). A use inside a request that is rolled back
(a 5xx) is not recorded: the act did not happen, so a retry with the same token is allowed.

Expired rows are deleted by the uses themselves, a batch now and then (there is no scheduler
yet), through the index on `expires_at`.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import UsedToken

PRUNE_EVERY = 64  # uses, on average
PRUNE_BATCH = 1000


def digest(kind: str, issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{kind}\x00{issuer}\x00{jti}".encode()).hexdigest()


def use(*, kind: str, issuer: str, jti: str, expires_at: datetime) -> bool:
    """True the first time this token is used, False on every later use."""
    try:
        with transaction.atomic():  # a savepoint inside the request's transaction
            UsedToken.objects.create(digest=digest(kind, issuer, jti), expires_at=expires_at)
    except IntegrityError:
        return False
    if random.randrange(PRUNE_EVERY) == 0:  # noqa: S311 - spreading work, not a secret
        prune()
    return True


def prune(*, now: datetime | None = None) -> int:
    """Delete up to PRUNE_BATCH records of tokens that have expired; how many were deleted."""
    expired = UsedToken.objects.filter(expires_at__lt=now or timezone.now()).values_list("pk", flat=True)[:PRUNE_BATCH]
    deleted, _ = UsedToken.objects.filter(pk__in=list(expired)).delete()
    return deleted
