"""consentlib for ASGI 3 apps: Starlette, FastAPI, Quart, Django under ASGI.

``ConsentMiddleware`` has the options and the HTTP contract of the WSGI
:class:`consentlib.ConsentMiddleware`; ``consent_banner`` and ``consent_script`` render
the banner's tags and consent-gated scripts in Jinja2 templates.
"""
from consentlib.asgi.middleware import ConsentMiddleware
from consentlib.asgi.templates import consent_banner, consent_script

__all__ = ["ConsentMiddleware", "consent_banner", "consent_script"]
