"""The consent cookies of the consent managers the audit knows, read for what they grant.

A consent cookie that grants every purpose before the visitor answered is pre-ticked
consent, which is no consent: "consent is not validly constituted if ... a pre-checked
checkbox" (CJEU C-673/17 *Planet49*, 2019; GDPR Recital 32). Formats, from each
manager's documentation:

- OneTrust ``OptanonConsent``: a query string whose ``groups`` lists ``ID:1`` (granted)
  or ``ID:0``; ``C0001`` is "strictly necessary", always ``1``.
- Cookiebot ``CookieConsent``: ``{stamp:'..',necessary:true,preferences:true,
  statistics:true,marketing:true,...}``, URL-encoded; ``-2`` means no consent is asked.
- consentlib ``consent``: signed base64url JSON whose ``c`` lists the granted
  categories; it grants all when it lists every category the site declares.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from urllib.parse import parse_qs, unquote

from consentlib.consent import COOKIE_NAME, HOST_PREFIX, SECURE_PREFIX

# consentlib's choice cookie under each name it takes (https: __Host-, a cookie_domain: __Secure-).
_CONSENTLIB_CHOICE = frozenset(prefix + COOKIE_NAME for prefix in ("", HOST_PREFIX, SECURE_PREFIX))

_COOKIEBOT_PURPOSES = ("preferences", "statistics", "marketing")


def grants_all(name: str, value: str, declared: Collection[str] = ()) -> str | None:
    """How cookie ``name`` grants every non-necessary purpose, in words; None when it does not.

    ``declared`` are the site's declared categories (a consentlib site's ``consent``
    cookie can only be read against them).
    """
    if name == "OptanonConsent":
        groups = parse_qs(value).get("groups", [""])[0]
        granted = dict(g.split(":", 1) for g in groups.split(",") if ":" in g)
        optional = {g: v for g, v in granted.items() if g != "C0001"}
        if optional and all(v == "1" for v in optional.values()):
            return f"OneTrust's OptanonConsent grants every group ({', '.join(sorted(optional))})"
    elif name == "CookieConsent":
        text = unquote(value)
        flags = dict(re.findall(r"(\w+):(true|false)", text))
        if all(flags.get(p) == "true" for p in _COOKIEBOT_PURPOSES):
            return "Cookiebot's CookieConsent grants preferences, statistics and marketing"
    elif name in _CONSENTLIB_CHOICE and declared:
        categories = _consentlib_categories(value)
        wanted = set(declared) - {"necessary"}
        if categories is not None and wanted and wanted <= categories:
            return f"consentlib's consent cookie grants every declared category ({', '.join(sorted(wanted))})"
    return None


def _consentlib_categories(value: str) -> set[str] | None:
    payload = value.split(".", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), list):
        return None
    return {c for c in data["c"] if isinstance(c, str)}
