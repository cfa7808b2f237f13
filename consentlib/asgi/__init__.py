"""consentlib for ASGI 3 apps: Starlette, FastAPI, Quart, Django under ASGI.

``ConsentMiddleware`` has the options and the HTTP contract of the WSGI
:class:`consentlib.ConsentMiddleware`; ``consent_banner``, ``consent_script`` and
``consent_embed`` render the banner's tags, consent-gated scripts and click-to-load
embeds in Jinja2 templates.
"""
from consentlib.asgi.middleware import ConsentMiddleware
from consentlib.asgi.templates import consent_banner, consent_embed, consent_script

__all__ = ["ConsentMiddleware", "consent_banner", "consent_embed", "consent_script"]
