"""The site's published declaration: what it may store or read, and why.

Served at ``GET {prefix}declaration.json`` so that audits, cookie tables and the
banner's second layer read the site's own words instead of guessing (ePrivacy Art 5(3)
asks for clear and comprehensive information about each cookie's purpose). It is built
from the policy alone: the same for every visitor, public and cacheable.
"""
from __future__ import annotations

from typing import Any

from consentlib.policy import Policy

#: Bump when a key is renamed or removed; adding a key does not change it.
SCHEMA_VERSION = 1


def declaration(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON data (no visitor state in it)."""
    return {
        "schema": SCHEMA_VERSION,
        "revision": policy.revision,
        "notice_url": policy.notice_url,
        "controller": policy.controller,
        "categories": [
            {"name": c.name, "required": c.required, "gpc": c.gpc, "label": c.label, "description": c.description}
            for c in policy.categories
        ],
        "cookies": [
            {"name": c.name, "glob": c.is_glob, "category": c.category, "purpose": c.purpose,
             "lifetime": c.lifetime, "path": c.path, "domain": c.domain, "third_party": c.third_party}
            for c in policy.cookies
        ],
        "beacons": [{"path": b.path, "category": b.category} for b in policy.beacons],
        "hosts": [{"pattern": h.pattern, "category": h.category, "provider": h.provider} for h in policy.hosts],
        "etags": policy.etags,
    }
