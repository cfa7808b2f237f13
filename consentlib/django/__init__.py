"""The Django door: ``MIDDLEWARE``, ``settings.CONSENTLIB``, ``{% load consentlib %}``.

::

    INSTALLED_APPS = [..., "consentlib.django"]
    MIDDLEWARE = ["consentlib.django.ConsentMiddleware", ...]   # first: before SessionMiddleware
    CONSENTLIB = {"POLICY": "mysite.consent.POLICY", "SECRET_KEYS": [...], "STORE": "sqlite:///consent.db"}

Views read ``consent_of(request)`` (or ``request.consent``); templates
``{% consent_banner %}``, ``{% consent_script "analytics" src="..." %}`` and
``{% consent_allows "analytics" %}...{% else %}...{% endconsent_allows %}``. The same gate runs under WSGI, ASGI
and ``django.test.Client``: the middleware only translates Django's request and
response for consentlib's core (see :mod:`consentlib.django.middleware`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consentlib.consent import Consent

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["ConsentMiddleware", "consent_of"]


def consent_of(request: HttpRequest) -> Consent:
    """The visitor's :class:`~consentlib.Consent` on ``request``: ``consent_of(request).allows("analytics")``.

    A request that did not go through ``ConsentMiddleware`` (``RequestFactory`` in a unit
    test, a project without the middleware) is an undecided visitor's: only the
    required categories of ``settings.CONSENTLIB["POLICY"]`` are allowed, or none when
    that policy cannot be read. Never more than the gate would allow.
    """
    from consentlib.wsgi.middleware import ENVIRON_KEY

    consent = request.META.get(ENVIRON_KEY)
    if isinstance(consent, Consent):
        return consent
    from consentlib.django.checks import configured_policy

    policy = configured_policy()
    if policy is None:
        return Consent(False, frozenset())
    return Consent(False, policy.required, revision=policy.revision)


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
