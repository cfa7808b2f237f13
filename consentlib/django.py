"""Django template tags: ``{% consent_banner %}`` and ``{% consent_script "analytics" src=... %}``.

The middleware itself is plain WSGI; in ``wsgi.py``::

    from consentlib import ConsentMiddleware
    from mysite.consent import POLICY
    application = ConsentMiddleware(get_wsgi_application(), POLICY, secret_key=[...], store="sqlite:///consent.db")

To use the tags, name this module in ``TEMPLATES[...]["OPTIONS"]["builtins"]`` (or in
``"libraries"`` and ``{% load consentlib %}``). The CSP nonce is read from
``request.csp_nonce`` when the site sets one.
"""
from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from consentlib.middleware import ENVIRON_KEY
from consentlib.tags import banner_tags, script_tag

register = template.Library()


def _request(context):
    request = context.get("request")
    if request is None or ENVIRON_KEY not in request.META:
        raise template.TemplateSyntaxError(
            "consentlib tags need the request in the template context (the 'request' context processor) "
            "and the app wrapped in consentlib.ConsentMiddleware in wsgi.py."
        )
    return request


@register.simple_tag(takes_context=True)
def consent_script(context, category: str, src: str | None = None, **attrs: str) -> str:
    """A script that runs only when ``category`` is allowed (inert ``text/plain`` otherwise)."""
    request = _request(context)
    return mark_safe(script_tag(request.META[ENVIRON_KEY], category, src=src,
                                nonce=getattr(request, "csp_nonce", None), **attrs))


@register.simple_tag(takes_context=True)
def consent_banner(context, prefix: str = "/_consent/") -> str:
    """The banner's stylesheet and script (nothing for crawlers)."""
    request = _request(context)
    # A visitor's Consent always carries the policy's current revision.
    revision = request.META[ENVIRON_KEY].revision
    return mark_safe(banner_tags(request.META, prefix=prefix, revision=revision,
                                 nonce=getattr(request, "csp_nonce", None)))
