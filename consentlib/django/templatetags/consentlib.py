"""Django template tags: ``{% load consentlib %}``, ``{% consent_banner %}``, ``{% consent_script %}``.

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

from consentlib.middleware import ENVIRON_KEY
from consentlib.tags import banner_tags, script_tag

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


@register.simple_tag(takes_context=True)
def consent_script(context: Any, category: str, src: str | None = None, **attrs: str) -> SafeString:
    """A script that runs only when ``category`` is allowed (inert ``text/plain`` otherwise)."""
    request = _request(context)
    return mark_safe(script_tag(request.META[ENVIRON_KEY], category, src=src,
                                nonce=getattr(request, "csp_nonce", None), **attrs))


@register.simple_tag(takes_context=True)
def consent_banner(context: Any, prefix: str | None = None) -> SafeString:
    """The banner's stylesheet and script (nothing for crawlers)."""
    request = _request(context)
    # A visitor's Consent always carries the policy's current revision.
    revision = request.META[ENVIRON_KEY].revision
    return mark_safe(banner_tags(request.META, prefix=prefix or _configured("PREFIX", "/_consent/"),
                                 revision=revision, nonce=getattr(request, "csp_nonce", None),
                                 consent_mode=_configured("CONSENT_MODE", None)))
