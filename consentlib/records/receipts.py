"""Consent receipts: the proof that a choice was made, shaped after ISO/IEC TS 27560:2023.

A receipt names the subject only by a pseudonymous consent id; the IP address is cut
to its network (/24 for IPv4, /48 for IPv6) and the user agent to its family, so the
proof is not itself a tracker.
"""
from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from consentlib.policy import Policy
from consentlib.store.clock import time_text

SCHEMA = "consentlib.receipt/1 (ISO/IEC TS 27560:2023)"
METHODS = frozenset({"banner", "form", "api", "withdraw", "guardian", "opt-out"})


def truncate_ip(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of ``address``; None when it is not an IP."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def user_agent_family(header: str | None) -> str | None:
    """'Chrome 131 / Linux': enough to explain a receipt, too little to single anyone out."""
    if not header:
        return None
    from consentlib.mail.agents import parse_agent

    agent = parse_agent(header[:512])
    browser = f"{agent.browser.family} {agent.browser.version_string.split('.')[0]}".strip()
    return f"{browser} / {agent.os.family}"


def build_receipt(
    *,
    policy: Policy,
    consent_id: str,
    granted: frozenset[str],
    previously_granted: frozenset[str],
    method: str,
    gpc: bool,
    dnt: bool,
    lifetime: int,
    ip: str | None,
    user_agent: str | None,
    when: datetime | None = None,
    region: str | None = None,
    regime: str = "opt-in",
) -> dict[str, Any]:
    """One receipt for one decision. ``granted`` must hold only the policy's categories.

    ``region`` (ISO 3166, None: unknown) and ``regime`` say which law the choice was
    made under (docs/regions.md): a "given" under opt-out means "not opted out".
    """
    when = when or datetime.now(timezone.utc)
    statuses = {}
    for name in policy.category_names:
        if name in granted:
            statuses[name] = "given"
        elif name in previously_granted:
            statuses[name] = "withdrawn"
        else:
            statuses[name] = "refused"
    return {
        "schema": SCHEMA,
        "record_id": uuid.uuid4().hex,
        "consent_id": consent_id,
        "controller": policy.controller,
        "notice": {"revision": policy.revision, "url": policy.notice_url},
        "revision": policy.revision,
        "time": time_text(when),
        "expires": time_text(when + timedelta(seconds=lifetime)),
        "categories": statuses,
        "granted": sorted(granted),
        "denied": sorted(set(policy.category_names) - granted),
        "method": method,
        # ISO/IEC TS 27560 Annex F: signals present when the choice was made.
        "signals": {"gpc": gpc, "dnt": dnt},
        "region": region,
        "regime": regime,
        "ip_network": truncate_ip(ip),
        "user_agent": user_agent_family(user_agent),
        "replaces": None,
    }


def presented(receipts: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """Receipts as exports show them, each with its ISO/IEC TS 27560 ``status``:
    ``superseded`` (a later record of the same visitor replaces it), ``expired`` (the
    latest record, past its expiry: every category then reads "expired", since the
    choice no longer counts and the visitor is asked again) or ``active``."""
    now_text = time_text(now)
    replaced = {r.get("replaces") for r in receipts}
    out = []
    for receipt in receipts:
        shown = dict(receipt)
        if receipt.get("record_id") in replaced:
            shown["status"] = "superseded"
        elif str(receipt.get("expires", "9999")) < now_text:
            shown["status"] = "expired"
            shown["categories"] = {name: "expired" for name in receipt.get("categories", {})}
        else:
            shown["status"] = "active"
        out.append(shown)
    return out
