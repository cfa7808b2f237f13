"""HTML a page includes: the banner's tags, and scripts that run only with consent.

Framework-neutral (the Flask extension and any template engine call these); the
returned strings are already escaped HTML.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from consentlib.mail.agents import is_crawler
from consentlib.consent import Consent
from consentlib.declarations import Storage
from consentlib.web.assets import manifest
from consentlib.web.storage import keys_by_category
from consentlib.web.templates import Page, Templates, default_templates

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Where the WSGI door leaves its templates (the site's catalogues) for the banner tag.
TEMPLATES_KEY = "consentlib.templates"
#: Where the site (or an outer middleware) names the request's language.
LANGUAGE_KEY = "consentlib.language"
# The banner's first-layer texts travel in its tag, in the request's language only; their
# keys there are the catalogue's without the prefix ("banner_title" -> "title"). The second
# layer's (banner2_*) are not in the tag: the first paint never shows them, and they would
# cost it about 120 bytes gzip; declaration.json carries them (consentlib.web.declaration).
_PREFIX = "banner_"
# Nor is a minor's notice: it comes with the consent state that says the visitor is one
# (``minor_notice``, consentlib.web.endpoints), since few visitors ever read it and it is
# the longest text of the first layer (about 95 bytes gzip of every first paint).
_WITH_THE_STATE = frozenset({"banner_minor"})


def banner_texts(page: Page) -> dict[str, str]:
    """The banner's first-layer texts in ``page``'s language, by their short keys."""
    return {key[len(_PREFIX):]: text for key, text in page.catalogue.texts.items()
            if key.startswith(_PREFIX) and key not in _WITH_THE_STATE}


def _single_quoted(text: str) -> str:
    """``text`` for a single-quoted attribute (HTML Living Standard 13.1.2.3): JSON's many
    double quotes stay one byte each rather than ``&quot;``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


def _storage_attr(storage: Sequence[Storage]) -> str:
    """``data-consent-storage`` (:func:`~consentlib.web.storage.keys_by_category`), or "" for a
    policy that declares no storage key."""
    areas = keys_by_category(storage)
    if not areas:
        return ""
    return f" data-consent-storage='{_single_quoted(json.dumps(areas, ensure_ascii=False, separators=(',', ':')))}'"


def _nonce_attr(nonce: str | None) -> str:
    return f' nonce="{escape(nonce)}"' if nonce else ""


def page_of(environ: WSGIEnvironment, templates: Templates | None = None) -> Page:
    """consentlib's texts in a WSGI request's language, by the rule its pages follow
    (:mod:`consentlib.web.language`: ``environ["consentlib.language"]``, then
    ``Accept-Language``, then the default), from ``templates`` (by default the ones the
    middleware left in the environ)."""
    language = environ.get(LANGUAGE_KEY)
    return (templates or environ.get(TEMPLATES_KEY) or default_templates()).for_language(
        environ.get("HTTP_ACCEPT_LANGUAGE"), str(language) if language is not None else None)


def banner_tags(environ: WSGIEnvironment, *, prefix: str, revision: int, nonce: str | None = None,
                consent_mode: dict[str, list[str]] | None = None, notice_url: str = "/privacy",
                templates: Templates | None = None, storage: Sequence[Storage] = ()) -> str:
    """The banner's stylesheet and script, or "" for crawlers.

    Crawlers get no banner: they stay undecided, so nothing optional runs for them.
    The script is not deferred: placed in ``<head>`` before any tag, it issues Google
    Consent Mode's ``gtag('consent', 'default', ...)`` (all denied) before a tag can
    fire. ``consent_mode`` maps categories to Consent Mode types, e.g.
    ``{"analytics": ["analytics_storage"]}``; without it the banner's default applies.
    ``notice_url`` is the privacy notice the banner's first layer links (the policy's
    ``notice_url``). ``storage`` is the policy's ``storage``: the banner removes the keys of
    every category the visitor has not granted (on a refusal, and on every page load).
    The second layer's script and stylesheet are not named here: the
    banner loads them from next to its own file when a visitor opens "Customize".

    The tag carries the banner's first-layer texts in the request's language, chosen by the rule the
    pages follow (:mod:`consentlib.web.language`: ``environ["consentlib.language"]``, then
    ``Accept-Language``, then the default), from ``templates`` (by default the ones the
    middleware left in the environ): ``lang``, ``dir`` and ``data-consent-texts``.
    """
    return banner_html(environ.get("HTTP_USER_AGENT"), prefix=prefix, revision=revision, nonce=nonce,
                       consent_mode=consent_mode, notice_url=notice_url, page=page_of(environ, templates),
                       storage=storage)


def banner_html(user_agent: str | None, *, prefix: str, revision: int, nonce: str | None = None,
                consent_mode: dict[str, list[str]] | None = None, notice_url: str = "/privacy",
                page: Page | None = None, storage: Sequence[Storage] = ()) -> str:
    """:func:`banner_tags` for any server interface, from the ``User-Agent`` header; ``page``
    is the request's language (:meth:`Templates.for_language`), English without it."""
    if is_crawler(user_agent):
        return ""
    names = manifest()
    css = names.get("banner.css", "banner.css")
    js = names.get("banner.js", "banner.js")
    mapping = ""
    if consent_mode is not None:
        mapping = f' data-consent-mode="{escape(json.dumps(consent_mode, separators=(",", ":")))}"'
    page = page or default_templates().page()
    # ensure_ascii=False: the texts as they are (UTF-8 pages), so the first paint's bytes
    # are the language's own, not six-byte escapes of every letter of Arabic or Chinese.
    texts = json.dumps(banner_texts(page), ensure_ascii=False, separators=(",", ":"))
    return (
        f'<link rel="stylesheet" href="{escape(prefix + css)}">'
        f'<script src="{escape(prefix + js)}" data-consent-endpoint="{escape(prefix)}"'
        f' data-consent-revision="{int(revision)}" data-consent-notice="{escape(notice_url)}"'
        f' data-consent-lang="{escape(page.language)}" data-consent-dir="{page.direction}"'
        f" data-consent-texts='{_single_quoted(texts)}'{mapping}{_storage_attr(storage)}{_nonce_attr(nonce)}></script>"
    )


def script_tag(consent: Consent, category: str, *, src: str | None = None, body: str = "",
               nonce: str | None = None, **attrs: str) -> str:
    """A ``<script>`` that runs only when ``category`` is allowed.

    Without consent the tag is inert (``type="text/plain"``, the URL in
    ``data-consent-src``): the browser neither fetches nor runs it, and the banner
    switches it on if the visitor accepts on this page.
    """
    extra = "".join(f' {escape(k.replace("_", "-"))}="{escape(v)}"' for k, v in attrs.items())
    nonce_attr = _nonce_attr(nonce)
    if consent.allows(category):
        source = f' src="{escape(src)}"' if src else ""
        return f"<script{source}{nonce_attr}{extra}>{body}</script>"
    source = f' data-consent-src="{escape(src)}"' if src else ""
    return f'<script type="text/plain" data-consent="{escape(category)}"{source}{nonce_attr}{extra}>{body}</script>'
