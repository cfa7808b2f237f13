"""``consent_of(request)``: the visitor's consent, as a view reads it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

from consentlib.consent import Consent
from consentlib.policy import Policy

if TYPE_CHECKING:
    from django.http import HttpRequest


def consent_of(request: HttpRequest) -> Consent:
    """The visitor's :class:`~consentlib.Consent` on ``request``: ``consent_of(request).allows("analytics")``.

    A request that did not go through ``ConsentMiddleware`` (``RequestFactory`` in a unit
    test, a project without the middleware) is an undecided visitor's: only the
    required categories of ``settings.CONSENTLIB["POLICY"]`` are allowed, or none when
    that policy cannot be read. Never more than the gate would allow.
    """
    # Imported here: Django imports this package from INSTALLED_APPS, and the core need not
    # load before the first request.
    from consentlib.wsgi.middleware import ENVIRON_KEY

    consent = request.META.get(ENVIRON_KEY)
    if isinstance(consent, Consent):
        return consent
    policy = configured_policy()
    if policy is None:
        return Consent(False, frozenset())
    return Consent(False, policy.required, revision=policy.revision)


def configured_policy() -> Policy | None:
    """``settings.CONSENTLIB["POLICY"]`` (a Policy or its dotted path), None when it is not one."""
    given = getattr(settings, "CONSENTLIB", None)
    policy = given.get("POLICY") if isinstance(given, dict) else None
    if isinstance(policy, str):
        try:
            policy = import_string(policy.replace(":", "."))
        except ImportError:
            return None
    return policy if isinstance(policy, Policy) else None
