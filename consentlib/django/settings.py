"""``settings.CONSENTLIB``: the middleware's options, the Django way.

Every :class:`~consentlib.ConsentMiddleware` option has a key, in capitals::

    CONSENTLIB = {
        "POLICY": "mysite.consent:POLICY",   # a Policy, or its path (mysite.consent.POLICY also works)
        "SECRET_KEYS": [env("CONSENT_KEY")],  # else settings.SECRET_KEY
        "STORE": "sqlite:///consent.db",
    }

The keys are those of :data:`consentlib.options.OPTIONS` that Django takes (:data:`KEYS`).
``IS_MINOR``, ``GUARDIAN_MAILER`` and ``ON_CHANGE`` take a function or its path, written
like the policy's (``"package.module:NAME"`` or ``"package.module.NAME"``); ``IS_MINOR``
is called with ``request.META``.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from consentlib.checks import consent_mode
from consentlib.consent import ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.options import did_you_mean, import_path, load_policy, options_of

#: ``CONSENTLIB`` key -> option: every option of consentlib.options.OPTIONS that Django takes.
KEYS: dict[str, str] = {option.setting: option.name for option in options_of("django")}
# Options that take a function may name it by its path, as POLICY names the Policy.
_IMPORTABLE = tuple(option.setting for option in options_of("django") if option.type.startswith("Callable"))


def options() -> dict[str, Any]:
    """The options ``settings.CONSENTLIB`` gives, checked; raises ConfigurationError."""
    given = getattr(settings, "CONSENTLIB", None)
    if not isinstance(given, dict):
        raise ConfigurationError(
            "settings.CONSENTLIB must be a dict such as {'POLICY': 'mysite.consent:POLICY', "
            f"'SECRET_KEYS': [...]}}, not {given!r}.")
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ConfigurationError(
            f"settings.CONSENTLIB has unknown key(s) {', '.join(unknown)}"
            f"{did_you_mean(unknown[0], KEYS).rstrip('.')}; the keys are: {', '.join(KEYS)}.")
    result: dict[str, Any] = {}
    for key, value in given.items():
        if key in _IMPORTABLE and isinstance(value, str):
            value = import_path(value, f"settings.CONSENTLIB[{key!r}]")
        result[KEYS[key]] = value
    result["policy"] = load_policy(given.get("POLICY"), "settings.CONSENTLIB['POLICY']")
    if "consent_mode" in result:
        result["consent_mode"] = consent_mode("CONSENTLIB['CONSENT_MODE']", result["consent_mode"])
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
