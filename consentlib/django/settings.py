"""``settings.CONSENTLIB``: the middleware's options, the Django way.

Every :class:`~consentlib.ConsentMiddleware` option has a key, in capitals::

    CONSENTLIB = {
        "POLICY": "mysite.consent.POLICY",   # a Policy, or the dotted path of one
        "SECRET_KEYS": [env("CONSENT_KEY")],  # else settings.SECRET_KEY
        "STORE": "sqlite:///consent.db",
    }

``IS_MINOR`` and ``GUARDIAN_MAILER`` take a function or its dotted path; ``IS_MINOR``
is called with ``request.META``.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from consentlib.consent import ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.policy import Policy

#: ``CONSENTLIB`` key -> option.
KEYS: dict[str, str] = {
    "POLICY": "policy",
    "SECRET_KEYS": "secret_key",
    "STORE": "store",
    "PREFIX": "prefix",
    "LIFETIME": "lifetime",
    "SECURE": "secure",
    "TRUSTED_ORIGINS": "trusted_origins",
    "HONOUR_DNT": "honour_dnt",
    "GPC_LAST_UPDATE": "gpc_last_update",
    "MAX_BODY": "max_body",
    "ETAG_BODY_LIMIT": "etag_body_limit",
    "IS_MINOR": "is_minor",
    "GUARDIAN_MAILER": "guardian_mailer",
    "SITE_URL": "site_url",
    "CONSENT_MODE": "consent_mode",
    "ON_CHANGE": "on_change",
    "TEMPLATES": "templates",
}
_IMPORTABLE = ("POLICY", "IS_MINOR", "GUARDIAN_MAILER", "ON_CHANGE")


def options() -> dict[str, Any]:
    """The options ``settings.CONSENTLIB`` gives, checked; raises ConfigurationError."""
    given = getattr(settings, "CONSENTLIB", None)
    if not isinstance(given, dict):
        raise ConfigurationError(
            "settings.CONSENTLIB must be a dict such as {'POLICY': 'mysite.consent.POLICY', "
            f"'SECRET_KEYS': [...]}}, not {given!r}.")
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ConfigurationError(
            f"settings.CONSENTLIB has unknown key(s) {', '.join(unknown)}; the keys are: {', '.join(KEYS)}.")
    result: dict[str, Any] = {}
    for key, value in given.items():
        if key in _IMPORTABLE and isinstance(value, str):
            try:
                value = import_string(value.replace(":", "."))
            except ImportError as exc:
                raise ConfigurationError(
                    f"settings.CONSENTLIB['{key}'] names {value!r}, which could not be imported ({exc}).") from None
        result[KEYS[key]] = value
    if not isinstance(result.get("policy"), Policy):
        raise ConfigurationError(
            "settings.CONSENTLIB['POLICY'] must be a consentlib.Policy or the dotted path of one "
            f"('mysite.consent.POLICY'), not {given.get('POLICY')!r}.")
    source = "CONSENTLIB['SECRET_KEYS']"
    if "secret_key" not in result:
        result["secret_key"], source = getattr(settings, "SECRET_KEY", None), "settings.SECRET_KEY"
    try:
        ConsentCookie(result["secret_key"])
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"The consent key came from {source}, and it is not usable: {exc} Set "
            "CONSENTLIB['SECRET_KEYS'] = [key], a key of its own, so that rotating Django's SECRET_KEY "
            "does not reset every visitor's choice.") from None
    return result


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``manage.py check``: a bad ``CONSENTLIB`` setting, reported as a sentence."""
    from django.core.checks import Error

    try:
        built = options()
        # Build the gate as the middleware will: every option is validated there.
        from consentlib.wsgi.middleware import ConsentMiddleware

        built.pop("consent_mode", None)
        ConsentMiddleware(lambda environ, start_response: [], **built)
    except ConfigurationError as exc:
        return [Error(str(exc), hint="See the CONSENTLIB setting in your settings module.", id="consentlib.E001")]
    return []
