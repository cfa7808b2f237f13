"""consentlib's own two cookies, declared like the site's wherever cookies are listed.

The consent cookie and the consent id cookie are strictly necessary: they carry the
choice itself (ePrivacy Art 5(3) exempts storage strictly necessary for a service the
visitor asked for, and the choice is one; EDPB Guidelines 05/2020 §3.1). They still
belong in every cookie table, with their purpose and lifetime (ePrivacy Art 5(3):
"clear and comprehensive information"): ``declaration.json``, the preferences page and
``consentlib cookies`` list them, under the names the request's kind of connection
gives them (:func:`consentlib.consent.cookie_names`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from consentlib.consent import DEFAULT_LIFETIME, cookie_names
from consentlib.policy import Cookie, Policy

if TYPE_CHECKING:
    from consentlib.web.templates import Page

#: Their purposes in English (declaration.json, the command line); the pages take
#: theirs from the message catalogues (``own_consent_purpose``, ``own_consent_id_purpose``).
CONSENT_PURPOSE = "Records your choice: which categories you allowed, and when (signed; the banner reads it)."
CONSENT_ID_PURPOSE = ("Links your choice to its receipts, the proof of consent (signed; HttpOnly: scripts "
                      "cannot read it).")
# The units a lifetime is said in, largest first, with their catalogue keys.
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def own_cookies(policy: Policy, *, lifetime: int = DEFAULT_LIFETIME, secure: bool = True,
                cookie_domain: str | None = None, page: Page | None = None) -> tuple[Cookie, Cookie]:
    """The consent cookie and the consent id cookie as declarations: named as on a request
    whose cookies are ``secure`` (the default, https: what a site in production sets),
    in the policy's first required category, living ``lifetime`` seconds; their purpose
    and lifetime in ``page``'s language (the request's), English without one."""
    names = cookie_names(secure, cookie_domain)
    category = next((c.name for c in policy.categories if c.required), "necessary")
    count, unit = lifetime_parts(lifetime)
    if page is None:
        when = f"{count} {unit}{'' if count == 1 else 's'}"
        purposes = (CONSENT_PURPOSE, CONSENT_ID_PURPOSE)
    else:
        texts = page.catalogue.texts
        when = texts[f"lifetime_{unit}" if count == 1 else f"lifetime_{unit}s"].replace("{count}", str(count))
        purposes = (texts["own_consent_purpose"], texts["own_consent_id_purpose"])
    return (Cookie(names.consent, category, purposes[0], when, "/", names.domain),
            Cookie(names.consent_id, category, purposes[1], when, "/", names.domain))


def lifetime_parts(seconds: int) -> tuple[int, str]:
    """``seconds`` in the largest unit that says it exactly: (180, "day"), (36, "hour")."""
    for size, unit in _UNITS:
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "second"  # not reached: every whole number divides by one

