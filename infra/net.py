"""The client's address, trusting X-Forwarded-For only as far as the operator says."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT = N the N-th address from the right of
    X-Forwarded-For (the one our own outermost proxy saw). A client can prepend anything to that
    header, so entries further left are never used."""
    ip = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            ip = forwarded[-hops]
    try:
        validate_ipv46_address(ip or "")
    except ValidationError:
        return None
    return ip
