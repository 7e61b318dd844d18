"""IP allowlists (of API keys and integrations): CIDR lists, validated when they are set, checked
against the client address (infra.net.client_ip, which trusts X-Forwarded-For only as far as
TRUSTED_PROXY_COUNT says). Empty: any address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from rest_framework import serializers

MAX_ENTRIES = 100

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse(values: Iterable[str]) -> tuple[Network, ...]:
    """Networks from stored entries (already validated; a bad one would be skipped, never widened)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=True))
        except ValueError:
            continue
    return tuple(networks)


def allows(networks: tuple[Network, ...], ip: str | None) -> bool:
    """Whether `ip` is in one of `networks` (an IPv4-mapped IPv6 address counts as its IPv4
    address). No address at all is never allowed by a list."""
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in networks)


class AllowlistField(serializers.ListField):
    """A list of IPv4/IPv6 addresses or CIDR networks, stored in canonical form ("10.0.0.0/24",
    "2001:db8::/32"; a single address as /32 or /128). Host bits set ("10.0.0.1/24") are refused
    rather than guessed."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=64))
        kwargs.setdefault("max_length", MAX_ENTRIES)
        kwargs.setdefault(
            "help_text",
            "IPv4/IPv6 addresses or CIDR networks this credential may be used from; empty: any address.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if len(values) > MAX_ENTRIES:  # before the duplicates go: what was sent is what counts
            raise serializers.ValidationError(f"At most {MAX_ENTRIES} entries.")
        canonical, errors = [], {}
        for index, value in enumerate(values):
            try:
                network = ipaddress.ip_network(value.strip(), strict=True)
            except ValueError as exc:
                errors[index] = [f"{value!r} is not an IP address or a CIDR network ({exc})."]
                continue
            canonical.append(str(network))
        if errors:
            raise serializers.ValidationError(errors)
        return list(dict.fromkeys(canonical))
