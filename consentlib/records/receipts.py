"""Consent receipts: the proof that a choice was made, shaped after ISO/IEC TS 27560:2023.

A receipt names the subject only by a pseudonymous consent id; the IP address is cut
to its network (/24 for IPv4, /48 for IPv6) and the user agent to its family, so the
proof is not itself a tracker.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from consentlib.gate.peer import peer_ip
from consentlib.locale.texts import localized
from consentlib.policy import Policy
from consentlib.store.clock import time_text

SCHEMA = "consentlib.receipt/1 (ISO/IEC TS 27560:2023)"
METHODS = frozenset({"banner", "form", "api", "withdraw", "guardian", "opt-out", "embed"})


def truncate_ip(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of ``address``; None when it is not an IP."""
    ip = peer_ip(address)
    if ip is None:
        return None
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
    shown: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One receipt for one decision. ``granted`` must hold only the policy's categories;
    ``shown`` is what the visitor read (:func:`shown`), None when unknown.

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
        "shown": dict(shown) if shown is not None else None,
    }


def canonical_texts(language: str, messages: Mapping[str, str], policy: Policy) -> bytes:
    """The texts a visitor was shown, as the bytes a receipt's ``texts_sha256`` hashes.

    A JSON object (RFC 8259) of ``language``, ``messages`` (every text of that language's
    catalogue, as the site had it: the banner's two layers and the pages, by key) and
    ``policy`` (each category's name, label and description, each cookie's name and
    purpose, in that language and in the policy's order), written with sorted keys, no
    whitespace (``","`` and ``":"``), non-ASCII characters as themselves, encoded UTF-8:
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``.
    For these values (strings, lists, objects) that is the RFC 8785 canonical form, so a
    third party holding the same texts gets the same bytes in any language.
    """
    def said(text: Any) -> str:
        return localized(text, language, policy.default_language)

    value = {
        "language": language,
        "messages": dict(messages),
        "policy": {
            "categories": [{"name": c.name, "label": said(c.label), "description": said(c.description)}
                           for c in policy.categories],
            "cookies": [{"name": c.name, "purpose": said(c.purpose)} for c in policy.cookies],
        },
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def shown(language: str, messages: Mapping[str, str], policy: Policy) -> dict[str, str]:
    """A receipt's ``shown``: the language and the SHA-256 (hex) of :func:`canonical_texts`,
    so that what the visitor read can be proven later from the texts kept in version control."""
    return {"language": language,
            "texts_sha256": hashlib.sha256(canonical_texts(language, messages, policy)).hexdigest()}


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
