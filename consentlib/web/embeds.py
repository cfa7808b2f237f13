"""Click-to-load embeds: a third party's ``<iframe>`` (a video, a map) only with consent.

:func:`embed_html` renders the frame itself when the visitor allows its category, and
otherwise a placeholder: a plain form that posts ``action=grant`` for that one category
to the consent endpoint (docs/http.md), naming the provider and the category, in the
request's language. One click records a receipt (method ``"embed"``) and the 303 brings
the visitor back to the embed (``next`` ends in its ``#id``), where the page, rendered
again, holds the frame. It needs no script, so it adds nothing to the banner's first
paint, and it works under an enforced ``third_party_csp``: only a new page view can carry
a policy that lets the frame's host in (docs/third-parties.md, "Embeds").

The doors' template helpers (Flask, Django, ASGI) call this with what they know of the
request; the returned HTML is escaped, as :class:`markupsafe.Markup`.
"""
from __future__ import annotations

import hashlib
import re
from html import escape

from markupsafe import Markup

from consentlib.consent import Consent
from consentlib.locale.texts import localized
from consentlib.policy import Policy
from consentlib.web.templates import Page

__all__ = ["embed_html"]

# HTML attribute names (HTML Living Standard 13.1.2.3) as a template writes them; a
# keyword's "_" becomes "-" (data_x -> data-x), as consent_script does.
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,60}")
# Given as arguments of their own, or written by this module.
_OWN = frozenset({"src", "title", "srcdoc"})


def embed_html(consent: Consent, policy: Policy, page: Page, category: str, *, src: str, title: str,
               provider: str, prefix: str, path: str, **attrs: str) -> Markup:
    """The ``<iframe>`` of ``src`` when ``consent`` allows ``category``, else its placeholder.

    ``title`` names the frame for assistive technology (WCAG 2.2 SC 4.1.2), so it is
    required; ``provider`` is who serves it ("YouTube"), as the placeholder names it.
    ``prefix`` is the consent endpoint's (``/_consent/``); ``path`` the current page's
    path and query, where the click comes back to. Further keywords are the frame's
    attributes (``width``, ``height``, ``allow``, ``referrerpolicy``...; ``loading`` is
    ``"lazy"`` unless given); ``id`` is the frame's and the placeholder's, the anchor the
    click returns to (by default one made from the category and ``src``).

    A mistake a template could make (an empty title, a ``src`` that is not an http(s)
    URL or a path, an unknown category) raises :class:`ValueError`, which names it.
    """
    found = policy.category(category)
    if found is None:
        raise ValueError(f"consent_embed: unknown category {category!r}; this site's categories are: "
                         f"{', '.join(policy.category_names)}.")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("consent_embed needs a title that says what the frame shows (title=\"Product video\"): "
                         "screen readers announce a frame by its title.")
    if not isinstance(provider, str) or not provider.strip():
        raise ValueError("consent_embed needs the provider's name (provider=\"YouTube\"): the placeholder names it.")
    if not src.startswith(("https://", "http://", "/")) or src.startswith("//"):
        raise ValueError(f"consent_embed: src must be an https:// or http:// URL or a path on this site, "
                         f"not {src[:60]!r}.")
    frame_attrs = {"loading": "lazy"}
    for key, value in attrs.items():
        name = key.replace("_", "-").lower()
        if not _ATTRIBUTE.fullmatch(key) or name in _OWN:
            raise ValueError(f"consent_embed: {key!r} cannot be an attribute of the frame; give src and title "
                             "as their own arguments, and attributes by their HTML names (width, allow...).")
        frame_attrs[name] = str(value)
    anchor = frame_attrs.pop("id", None) or _anchor(category, src)
    if consent.allows(category):
        extra = "".join(f' {name}="{escape(value)}"' for name, value in frame_attrs.items())
        return Markup(f'<iframe id="{escape(anchor)}" src="{escape(src)}" title="{escape(title)}"{extra}></iframe>')
    label = localized(found.label, page.language, policy.default_language)
    return Markup(
        f'<form method="post" action="{escape(prefix)}" class="consent-embed" id="{escape(anchor)}"'
        f' aria-label="{escape(title)}" lang="{escape(page.language)}" dir="{page.direction}"'
        f' data-consent-embed="{escape(category)}">'
        f'<p>{page.text("embed_notice", provider=provider, category=label)}</p>'
        f"{_action(consent, policy, page, category, provider, path, anchor)}</form>"
    )


def _action(consent: Consent, policy: Policy, page: Page, category: str, provider: str, path: str,
            anchor: str) -> str:
    """The placeholder's button, or why there is none: a click could not grant it."""
    if consent.minor and category not in consent.guardian_allowed:
        # GDPR Art 8: below the age of digital consent only a guardian can opt in
        # (the endpoint refuses a minor's grant); the placeholder says so.
        return f'<p class="consent-embed-note">{page.text("minor_ask_guardian")}</p>'
    if consent.gpc and (category in policy.gpc_categories
                        or (consent.regime == "opt-out" and category in policy.sale_or_share_categories)):
        # GPC wins over an opt-in made while the signal is on (11 CCR §7025(c)): a click
        # would be recorded and the category kept off, so the placeholder says why.
        return f'<p class="consent-embed-note">{page.text("banner2_off")}</p>'
    back = f"{path.split('#', 1)[0]}#{anchor}"
    return (
        '<input type="hidden" name="action" value="grant">'
        f'<input type="hidden" name="category" value="{escape(category)}">'
        f'<input type="hidden" name="next" value="{escape(back)}">'
        f'<button type="submit">{page.text("embed_load", provider=provider)}</button>'
    )


def _anchor(category: str, src: str) -> str:
    """A stable id for an embed: the same frame gets the same anchor on every page view."""
    return "consent-embed-" + hashlib.sha256(f"{category} {src}".encode()).hexdigest()[:10]
