"""The Django door: ``MIDDLEWARE``, ``settings.CONSENTLIB``, ``{% load consentlib %}``.

::

    INSTALLED_APPS = [..., "consentlib.django"]
    MIDDLEWARE = ["consentlib.django.ConsentMiddleware", ...]   # first: before SessionMiddleware
    CONSENTLIB = {"POLICY": "mysite.consent.POLICY", "SECRET_KEYS": [...],
                  "STORE": f"sqlite:///{BASE_DIR / 'consent.db'}"}

Views read ``consent_of(request)`` (or ``request.consent``); templates
``{% consent_banner %}``, ``{% consent_script "analytics" src="..." %}`` and
``{% consent_allows "analytics" %}...{% else %}...{% endconsent_allows %}``.
``manage.py check`` reports what keeps the gate from working (:mod:`consentlib.django.checks`).
The same gate runs under WSGI, ASGI and ``django.test.Client``: the middleware only
translates Django's request and response for consentlib's core (see
:mod:`consentlib.django.middleware`).
"""
from __future__ import annotations

from typing import Any

from consentlib.django.consent import consent_of

__all__ = ["ConsentMiddleware", "consent_of"]


def __getattr__(name: str) -> Any:
    # Importing the middleware needs configured settings; the package itself must not
    # (Django imports it from INSTALLED_APPS before settings are ready).
    if name == "ConsentMiddleware":
        from consentlib.django.middleware import ConsentMiddleware

        return ConsentMiddleware
    if name == "register":
        # "consentlib.django" named in TEMPLATES' "builtins" (the set-up before the app
        # existed) keeps working.
        from consentlib.django.templatetags.consentlib import register

        return register
    raise AttributeError(f"module 'consentlib.django' has no attribute {name!r}")
