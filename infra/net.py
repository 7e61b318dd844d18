"""The client's address, trusting X-Forwarded-For only as far as the operator says; and the
client as rate limits count it."""

import ipaddress

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


def client_source(request) -> str:
    """The client as rate limits count it: an IPv4 address; an IPv6 address by its /64 (what one
    subscriber is usually given: counting whole addresses would give each subscriber 2^64
    budgets); an IPv4-mapped IPv6 address as the IPv4 address it carries (a dual-stack listener
    or proxy shows IPv4 clients that way: by /64 they would all be one client). "unknown" when
    there is no valid address."""
    ip = client_ip(request)
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)
