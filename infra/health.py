"""Probes for the orchestrator; no authentication, no rate limit, exempt from the SSL redirect.

/healthz is liveness: the process answers. It touches neither the database nor the cache, so an
outage of either never gets healthy workers restarted. /readyz is readiness: the database and
the cache (rate limits live there) are each checked; 503 with Retry-After names the one down.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse

from infra.errors import problem_response

from .ratelimit import CACHE_ERRORS

logger = logging.getLogger("ghostflow.health")

READYZ_RETRY_AFTER = 5


def healthz(request):
    """Liveness: 200 as long as the process serves requests."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Readiness: database unavailable (%s)", type(exc).__name__)
        return False
    return True


def _cache_ok() -> bool:
    # A write and a read back: the rate limits need both.
    key, token = "readyz:probe", uuid.uuid4().hex
    try:
        cache.set(key, token, 30)
        if cache.get(key) == token:
            return True
        logger.warning("Readiness: cache does not keep what it is given")
    except CACHE_ERRORS as exc:
        logger.warning("Readiness: cache unavailable (%s)", type(exc).__name__)
    return False


def readyz(request):
    """Readiness: 200 when the database and the cache both answer; 503 with which is down."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    states = {name: "ok" if ok else "down" for name, ok in checks.items()}
    if all(checks.values()):
        return JsonResponse({"status": "ok", **states})
    down = " and ".join(name for name, ok in checks.items() if not ok)
    response = problem_response(503, "service_unavailable", f"Not ready: the {down} is unavailable.", **states)
    response["Retry-After"] = str(READYZ_RETRY_AFTER)
    return response
