"""Template helpers for Jinja2 under Starlette and FastAPI: the tags of consentlib.web.tags.

    templates = Jinja2Templates(directory="templates")
    templates.env.globals.update(consent_banner=consent_banner, consent_script=consent_script,
                                 consent_embed=consent_embed)

    {{ consent_banner(request) }}
    {{ consent_script(request, "analytics", src="https://example.com/a.js") }}
    {{ consent_embed(request, "marketing", src="https://www.youtube-nocookie.com/embed/ID",
                     title="Product tour", provider="YouTube") }}

``request`` is anything with the ASGI ``scope`` (Starlette's ``Request``, or the scope
itself). The CSP nonce, when none is given, is ``request.state.csp_nonce`` or
``scope["csp_nonce"]``, whichever the app set.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from consentlib.asgi.middleware import MIDDLEWARE_KEY, SCOPE_KEY
from consentlib.consent import Consent
from consentlib.web.embeds import embed_html
from consentlib.web.tags import banner_html, script_tag
from consentlib.web.templates import Page, Templates


def _scope(request: Any) -> dict[str, Any]:
    scope = getattr(request, "scope", request)
    if not isinstance(scope, dict) or SCOPE_KEY not in scope:
        raise LookupError("consent_banner, consent_script and consent_embed need the request of an app wrapped in "
                          "consentlib.asgi.ConsentMiddleware; add it with app.add_middleware(ConsentMiddleware, ...).")
    return scope


def _nonce(request: Any, scope: dict[str, Any]) -> str | None:
    state = scope.get("state")
    nonce: str | None = state.get("csp_nonce") if isinstance(state, dict) else None
    return nonce or scope.get("csp_nonce")


def _page(scope: dict[str, Any]) -> Page:
    """consentlib's texts in the request's language (consentlib.web.language)."""
    language = scope.get("consentlib.language")
    templates: Templates = scope[MIDDLEWARE_KEY].core.templates
    return templates.for_language(_header(scope, b"accept-language"), language if isinstance(language, str) else None)


def _header(scope: dict[str, Any], wanted: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name.lower() == wanted:
            return value.decode("latin-1")
    return None


def consent_banner(request: Any, *, nonce: str | None = None,
                   consent_mode: dict[str, list[str]] | None = None) -> Markup:
    """The banner's stylesheet and script tags (nothing for crawlers), for ``<head>``.

    ``consent_mode`` maps categories to Google Consent Mode types, as
    :func:`consentlib.web.tags.banner_tags` describes; the banner links the policy's
    ``notice_url``.
    """
    scope = _scope(request)
    middleware = scope[MIDDLEWARE_KEY]
    policy = middleware.policy
    return Markup(banner_html(_header(scope, b"user-agent"), prefix=middleware.prefix, revision=policy.revision,
                              nonce=nonce or _nonce(request, scope), consent_mode=consent_mode,
                              notice_url=policy.notice_url, page=_page(scope), storage=policy.storage))


def consent_script(request: Any, category: str, *, src: str | None = None, body: str = "",
                   nonce: str | None = None, **attrs: str) -> Markup:
    """A ``<script>`` that runs only when the visitor allows ``category``; inert otherwise,
    until the banner switches it on (see :func:`consentlib.web.tags.script_tag`)."""
    scope = _scope(request)
    consent: Consent = scope[SCOPE_KEY]
    return Markup(script_tag(consent, category, src=src, body=body, nonce=nonce or _nonce(request, scope), **attrs))


def consent_embed(request: Any, category: str, *, src: str, title: str, provider: str, **attrs: str) -> Markup:
    """A third party's ``<iframe>`` when the visitor allows ``category``, else a placeholder
    whose one click allows it, in the request's language (see
    :func:`consentlib.web.embeds.embed_html`)."""
    scope = _scope(request)
    middleware = scope[MIDDLEWARE_KEY]
    query = scope.get("query_string", b"").decode("latin-1")
    # The path as the browser asked for it: servers put the mount point (root_path) in it.
    path = str(scope.get("path") or "/") + (f"?{query}" if query else "")
    return embed_html(scope[SCOPE_KEY], middleware.policy, _page(scope), category, src=src, title=title,
                      provider=provider, prefix=middleware.prefix, path=path, **attrs)
