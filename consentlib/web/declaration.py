"""The site's published declaration: what it may store or read, and why.

Served at ``GET {prefix}declaration.json`` so that audits, cookie tables and the
banner's second layer read the site's own words instead of guessing (ePrivacy Art 5(3)
asks for clear and comprehensive information about each cookie's purpose). It is built
from the policy alone: the same for every visitor of a language, public and cacheable;
labels, descriptions, purposes and lifetimes are in the request's language.

It also carries, under ``"texts"``, the banner's second-layer texts (the catalogue's
``banner2_*``, by their short keys: ``banner2_cats`` -> ``cats``): the banner's tag holds
only the first layer's, to keep the first paint small, and the second layer fetches this
file in the tag's language (``?lang=``, see :func:`asked_language`) when a visitor first
opens "Customize". One more text goes with them: ``separate`` (the catalogue's
``separate_consent``, with its ``{label}`` left for the banner to fill in with a category's
label), the sentence that asks a ``separate`` category apart, as the preferences page does.
"""
from __future__ import annotations

from typing import Any

from consentlib.consent import DEFAULT_LIFETIME
from consentlib.locale.texts import Text, localized
from consentlib.policy import Policy
from consentlib.web.own_cookies import own_cookies
from consentlib.web.templates import Page, Templates, default_templates

#: Bump when a key is renamed or removed; adding a key does not change it.
SCHEMA_VERSION = 1
# The second layer's texts in the catalogues (consentlib/locale/consentlib.pot).
_SECOND_LAYER = "banner2_"
# ...and the sentence that asks a separate category apart (PIPL Art 23, 29, 39), the same
# words as the preferences page's, so that no language needs a new translation.
_SEPARATE = "separate_consent"


def asked_language(templates: Templates, lang: str | None) -> Page | None:
    """The page of the catalogue ``lang`` names (a shipped or site catalogue's tag, as the
    banner's tag gives it: ``data-consent-lang``), or None for any other value, when the
    usual language rule (:mod:`consentlib.web.language`) applies."""
    if lang is not None and lang in templates.catalogues:
        return templates.page(lang)
    return None


def _second_layer_texts(page: Page) -> dict[str, str]:
    """The banner's second-layer texts in ``page``'s language, by their short keys."""
    texts = page.catalogue.texts
    return {**{key[len(_SECOND_LAYER):]: text for key, text in texts.items() if key.startswith(_SECOND_LAYER)},
            "separate": texts[_SEPARATE]}


def declaration(policy: Policy, *, lifetime: int = DEFAULT_LIFETIME, secure: bool = True,
                cookie_domain: str | None = None, page: Page | None = None) -> dict[str, Any]:
    """The policy as plain JSON data (no visitor state in it).

    Its cookies start with consentlib's own two (see :mod:`consentlib.web.own_cookies`),
    named as on a request whose cookies are ``secure`` (with ``cookie_domain``), living
    ``lifetime`` seconds; the consent id cookie is the one with ``http_only`` true. The
    texts are in ``page``'s language (English without one), said in ``"language"``;
    ``"texts"`` holds the banner's second-layer texts in it.
    """
    own = own_cookies(policy, lifetime=lifetime, secure=secure, cookie_domain=cookie_domain, page=page)
    language = page.language if page is not None else "en"

    def said(text: Text) -> str:
        return localized(text, language, policy.default_language)

    return {
        "schema": SCHEMA_VERSION,
        "language": language,
        "revision": policy.revision,
        "notice_url": policy.notice_url,
        "controller": policy.controller,
        "categories": [
            {"name": c.name, "required": c.required, "gpc": c.gpc, "label": said(c.label),
             "description": said(c.description), "sale_or_share": c.sale_or_share, "separate": c.separate}
            for c in policy.categories
        ],
        "cookies": [
            {"name": c.name, "glob": c.is_glob, "category": c.category, "purpose": said(c.purpose),
             "lifetime": c.lifetime, "path": c.path, "domain": c.domain, "third_party": c.third_party,
             "http_only": c is own[1]}
            for c in (*own, *policy.cookies)
        ],
        # Web Storage keys (ePrivacy Art 5(3) covers them as it covers cookies), exact ones
        # first: the first that matches a key declares it. "*" is the only pattern character.
        "storage": [
            {"name": s.name, "glob": s.is_glob, "category": s.category, "purpose": said(s.purpose),
             "areas": list(s.areas), "third_party": s.third_party}
            for s in policy.storage
        ],
        "beacons": [{"path": b.path, "category": b.category} for b in policy.beacons],
        "hosts": [{"pattern": h.pattern, "category": h.category, "provider": h.provider} for h in policy.hosts],
        "etags": policy.etags,
        # Which law the site follows where (docs/regions.md): the same for every visitor.
        "regions": [{"name": r.name, "regime": r.regime, "countries": list(r.countries)} for r in policy.regions],
        "default_regime": policy.default_regime,
        "texts": _second_layer_texts(page or default_templates().page()),
    }
