"""The peer's address as the server gave it (``REMOTE_ADDR``, ASGI's ``client``).

A dual-stack server (listening on ``::``) reports an IPv4 client as an IPv4-mapped IPv6
address (``::ffff:203.0.113.9``, RFC 4291 §2.5.5.2): it is read here as the IPv4 address
it stands for, so that a receipt cuts it to its /24 and a MaxMind lookup finds it in the
IPv4 networks, whichever way the server listens.
"""
from __future__ import annotations

import ipaddress

__all__ = ["peer_ip"]


def peer_ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``address`` as an IP address (IPv4-mapped ones as IPv4), None when it is none."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip
