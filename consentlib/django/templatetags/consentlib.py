"""Django template tags: ``{% load consentlib %}``, ``{% consent_banner %}``, ``{% consent_script %}``,
``{% consent_embed "marketing" src=... title=... provider=... %}``,
``{% consent_allows "analytics" %}...{% else %}...{% endconsent_allows %}``.

``consentlib.django`` in ``INSTALLED_APPS`` makes them loadable; naming
``"consentlib.django"`` in ``TEMPLATES[...]["OPTIONS"]["builtins"]`` makes them
available without ``{% load %}``. They need the ``request`` context processor and
``consentlib.django.ConsentMiddleware`` in ``MIDDLEWARE`` (or the WSGI middleware
around the project). The CSP nonce is read from ``request.csp_nonce`` when the site
sets one.
"""
from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from consentlib.django.consent import configured_policy, consent_of
from consentlib.wsgi.middleware import ENVIRON_KEY
from consentlib.web.embeds import embed_html
from consentlib.web.tags import banner_tags, page_of, script_tag

register = template.Library()


def _request(context: Any) -> Any:
    request = context.get("request")
    if request is None or ENVIRON_KEY not in request.META:
        raise template.TemplateSyntaxError(
            "consentlib tags need the request in the template context (the "
            "'django.template.context_processors.request' context processor) and "
            "'consentlib.django.ConsentMiddleware' first in MIDDLEWARE."
        )
    return request


def _configured(key: str, default: Any) -> Any:
    configured = getattr(settings, "CONSENTLIB", None)
    return configured.get(key, default) if isinstance(configured, dict) else default


class ConsentAllowsNode(template.Node):
    """``{% consent_allows category %}`` yes ``{% else %}`` no ``{% endconsent_allows %}``."""

    def __init__(self, category: Any, allowed: template.NodeList, refused: template.NodeList) -> None:
        self.category, self.allowed, self.refused = category, allowed, refused

    def render(self, context: Any) -> SafeString:
        allows = consent_of(_request(context)).allows(str(self.category.resolve(context)))
        return (self.allowed if allows else self.refused).render(context)


@register.tag
def consent_allows(parser: Any, token: Any) -> ConsentAllowsNode:
    """Render the block only when the visitor allows the category (the ``else`` part otherwise).

    For markup that is not a script: a script that waits for consent is
    ``{% consent_script %}``, which the banner can switch on without a reload; an embedded
    video or map that one click can allow is ``{% consent_embed %}``.
    """
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f"{bits[0]} takes one category, as in {{% {bits[0]} \"analytics\" %}}...{{% end{bits[0]} %}}; "
            f"it was given {len(bits) - 1}.")
    allowed = parser.parse(("else", f"end{bits[0]}"))
    refused = template.NodeList()
    if parser.next_token().contents == "else":
        refused = parser.parse((f"end{bits[0]}",))
        parser.delete_first_token()
    return ConsentAllowsNode(parser.compile_filter(bits[1]), allowed, refused)


@register.simple_tag(takes_context=True)
def consent_script(context: Any, category: str, src: str | None = None, **attrs: str) -> SafeString:
    """A script that runs only when ``category`` is allowed (inert ``text/plain`` otherwise)."""
    request = _request(context)
    return mark_safe(script_tag(request.META[ENVIRON_KEY], category, src=src,
                                nonce=getattr(request, "csp_nonce", None), **attrs))


@register.simple_tag(takes_context=True)
def consent_banner(context: Any, prefix: str | None = None, notice_url: str | None = None) -> SafeString:
    """The banner's stylesheet and script (nothing for crawlers).

    The first layer links the privacy notice at ``notice_url``; without it, the notice
    URL of ``settings.CONSENTLIB["POLICY"]`` (give ``notice_url`` when the policy is
    configured elsewhere, e.g. with the WSGI middleware in ``wsgi.py``). The banner removes
    the refused categories' Web Storage keys that policy declares (its ``storage``).
    """
    request = _request(context)
    # A visitor's Consent always carries the policy's current revision.
    revision = request.META[ENVIRON_KEY].revision
    policy = configured_policy()
    return mark_safe(banner_tags(request.META, prefix=prefix or _configured("PREFIX", "/_consent/"),
                                 revision=revision, nonce=getattr(request, "csp_nonce", None),
                                 consent_mode=_configured("CONSENT_MODE", None),
                                 notice_url=notice_url or (policy.notice_url if policy else "/privacy"),
                                 storage=policy.storage if policy else ()))


@register.simple_tag(takes_context=True)
def consent_embed(context: Any, category: str, src: str, title: str, provider: str, **attrs: str) -> SafeString:
    """A third party's ``<iframe>`` when the visitor allows ``category``, else a placeholder
    whose one click allows it, in the request's language
    (:func:`consentlib.web.embeds.embed_html`):
    ``{% consent_embed "marketing" src=video_url title="Product tour" provider="YouTube" width="560" %}``.

    The category's label comes from ``settings.CONSENTLIB["POLICY"]``.
    """
    request = _request(context)
    policy = configured_policy()
    if policy is None:
        raise template.TemplateSyntaxError(
            "consent_embed names the category by its label, from settings.CONSENTLIB['POLICY']: set it to the "
            "site's Policy (or its dotted path), as consentlib.django.ConsentMiddleware reads it.")
    meta = request.META
    return mark_safe(embed_html(meta[ENVIRON_KEY], policy, page_of(meta), category, src=src, title=title,
                                provider=provider, prefix=_configured("PREFIX", "/_consent/"),
                                path=request.get_full_path(), **attrs))
