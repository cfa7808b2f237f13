"""Flask integration: ``FlaskConsent(app, policy, secret_key=..., store=...)`` or ``init_app``.

It wraps ``app.wsgi_app`` in :class:`~consentlib.ConsentMiddleware` and adds to
templates: ``consent`` (``consent.allows("analytics")``), ``consent_banner()`` and
``consent_script("analytics", src=...)``. Per-app state lives in
``app.extensions["consentlib"]``; the extension keeps no app of its own, and reads
``app.config`` once, in ``init_app``.

Every option can come from ``app.config`` as ``CONSENTLIB_<OPTION>`` (see
:data:`CONFIG_KEYS`); a keyword argument wins over the config.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from markupsafe import Markup

from consentlib.consent import Consent, ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.wsgi.middleware import ENVIRON_KEY, ConsentMiddleware
from consentlib.options import function, strings
from consentlib.policy import Policy
from consentlib.web.tags import banner_tags, script_tag

#: ``app.config`` key -> option. ``CONSENTLIB_SECRET_KEYS`` falls back to ``SECRET_KEY``.
CONFIG_KEYS: dict[str, str] = {
    "CONSENTLIB_POLICY": "policy",
    "CONSENTLIB_SECRET_KEYS": "secret_key",
    "CONSENTLIB_STORE": "store",
    "CONSENTLIB_PREFIX": "prefix",
    "CONSENTLIB_LIFETIME": "lifetime",
    "CONSENTLIB_SECURE": "secure",
    "CONSENTLIB_TRUSTED_ORIGINS": "trusted_origins",
    "CONSENTLIB_HONOUR_DNT": "honour_dnt",
    "CONSENTLIB_GPC_LAST_UPDATE": "gpc_last_update",
    "CONSENTLIB_MAX_BODY": "max_body",
    "CONSENTLIB_ETAG_BODY_LIMIT": "etag_body_limit",
    "CONSENTLIB_IS_MINOR": "is_minor",
    "CONSENTLIB_GUARDIAN_MAILER": "guardian_mailer",
    "CONSENTLIB_SITE_URL": "site_url",
    "CONSENTLIB_CONSENT_MODE": "consent_mode",
    "CONSENTLIB_ON_CHANGE": "on_change",
    "CONSENTLIB_TEMPLATES": "templates",
}
_CONSENT_MODE = "consentlib.consent_mode"  # per app: it may come from each app's config


def _consent_mode(mapping: Any) -> dict[str, list[str]] | None:
    """``{"analytics": ["analytics_storage"]}``: a list of Consent Mode types per category."""
    if mapping is None:
        return None
    if not isinstance(mapping, Mapping) or not all(isinstance(k, str) for k in mapping):
        raise ConfigurationError(
            f"consent_mode must map category names to lists of Consent Mode types, like "
            f"{{'analytics': ['analytics_storage']}}, not {mapping!r}.")
    return {name: strings(f"consent_mode[{name!r}]", types, "analytics_storage") for name, types in mapping.items()}


def _default_nonce() -> str | None:
    return g.get("csp_nonce") or request.environ.get("csp_nonce")


class FlaskConsent:
    """The Flask face of consentlib.

    ``csp_nonce`` is a callable that returns this request's CSP nonce (default:
    ``g.csp_nonce``, else ``request.environ["csp_nonce"]``), added to the tags rendered.
    ``consent_mode`` maps categories to Google Consent Mode types for the banner.
    Other keyword options go to :class:`~consentlib.ConsentMiddleware`.
    """

    def __init__(self, app: Flask | None = None, policy: Policy | None = None, *,
                 csp_nonce: Callable[[], str | None] = _default_nonce,
                 consent_mode: dict[str, list[str]] | None = None, **options: Any) -> None:
        self.policy = policy
        self.consent_mode = _consent_mode(consent_mode)
        self.options = options
        self.csp_nonce = function("csp_nonce", csp_nonce, optional=False, shape="returning this request's nonce or None")
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, policy: Policy | None = None, **options: Any) -> None:
        """Gate ``app``: options from keywords, else ``app.config["CONSENTLIB_*"]``."""
        if "consentlib" in app.extensions:
            raise ConfigurationError(
                f"consentlib is already set up on the Flask app {app.name!r}: a second init_app would gate every "
                "request twice and record every choice twice. Set it up once, and use that FlaskConsent "
                "(or app.extensions['consentlib']) everywhere."
            )
        settings, sources = self._settings(app, policy, options)
        policy = settings.pop("policy", None)
        if policy is None:
            raise TypeError("FlaskConsent needs a Policy: FlaskConsent(app, policy, secret_key=...), "
                            "init_app(app, policy), or app.config['CONSENTLIB_POLICY'] = 'mysite.consent:POLICY'.")
        if isinstance(policy, str):
            policy = _import(policy, sources["policy"])
        consent_mode = _consent_mode(settings.pop("consent_mode", self.consent_mode))
        unknown = sorted(set(consent_mode or ()) - set(policy.category_names))
        if unknown:
            raise ConfigurationError(f"consent_mode names categories the policy does not have: {', '.join(unknown)}; "
                                     f"its categories are: {', '.join(policy.category_names)}.")
        if "secret_key" not in settings:
            raise ConfigurationError(
                "consentlib needs a secret key to sign visitors' choices: pass secret_key=[key] or set "
                "app.config['CONSENTLIB_SECRET_KEYS'] = [key]; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if sources["secret_key"].startswith("app.config"):
            _check_key_from_config(settings["secret_key"], sources["secret_key"])
        if "store" not in settings:
            # Flask's place for per-instance data; not the working directory, which
            # differs between `flask run`, a WSGI server and a test runner.
            os.makedirs(app.instance_path, exist_ok=True)
            settings["store"] = "sqlite:///" + os.path.join(app.instance_path, "consent.db")
        middleware = ConsentMiddleware(app.wsgi_app, policy, **settings)
        app.wsgi_app = middleware  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
        app.extensions["consentlib"] = middleware
        app.extensions[_CONSENT_MODE] = consent_mode
        app.context_processor(lambda: {
            "consent": self,
            "consent_banner": self.banner,
            "consent_script": self.script,
        })

    def _settings(self, app: Flask, policy: Policy | None,
                  options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The options and where each came from: keywords win over ``app.config``."""
        settings: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, option in CONFIG_KEYS.items():
            if key in app.config:
                settings[option], sources[option] = app.config[key], f"app.config[{key!r}]"
        if "secret_key" not in settings and app.config.get("SECRET_KEY") is not None:
            settings["secret_key"], sources["secret_key"] = app.config["SECRET_KEY"], "app.config['SECRET_KEY']"
        for option, value in {**self.options, **options}.items():
            settings[option], sources[option] = value, f"the {option} argument"
        if policy is not None or self.policy is not None:
            settings["policy"] = policy or self.policy
            sources["policy"] = "the policy argument"
        return settings, sources

    @staticmethod
    def _middleware() -> ConsentMiddleware:
        middleware: ConsentMiddleware = current_app.extensions["consentlib"]
        return middleware

    @property
    def current(self) -> Consent:
        """This request's :class:`~consentlib.Consent`.

        Outside a request that went through the middleware (``app.test_request_context()``,
        a CLI command rendering a template), the visitor is undecided: only required
        categories are allowed.
        """
        consent: Consent | None = request.environ.get(ENVIRON_KEY) if has_request_context() else None
        if consent is None:
            policy = self._middleware().policy
            return Consent(False, policy.required, revision=policy.revision)
        return consent

    def allows(self, category: str) -> bool:
        """True when this request's visitor allows ``category``."""
        return self.current.allows(category)

    def banner(self) -> Markup:
        site = self._middleware()
        return Markup(banner_tags(request.environ, prefix=site.prefix, revision=site.policy.revision,
                                  nonce=self.csp_nonce(), consent_mode=current_app.extensions.get(_CONSENT_MODE),
                                  notice_url=site.policy.notice_url))

    def script(self, category: str, *, src: str | None = None, **attrs: str) -> Markup:
        return Markup(script_tag(self.current, category, src=src, nonce=self.csp_nonce(), **attrs))


def _check_key_from_config(value: Any, source: str) -> None:
    """Say where a bad key came from: Flask apps often have ``SECRET_KEY = "dev"``."""
    try:
        ConsentCookie(value)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"The consent key came from {source}, and it is not usable: {exc} Set "
            "app.config['CONSENTLIB_SECRET_KEYS'] = [key], a key of its own, so that rotating Flask's "
            "SECRET_KEY does not reset every visitor's choice."
        ) from None


def _import(target: str, source: str) -> Policy:
    """``"package.module:NAME"`` -> the Policy object it names."""
    module_name, sep, attribute = target.partition(":")
    try:
        value = getattr(import_module(module_name), attribute) if sep and attribute else None
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"{source} names {target!r}, which could not be imported ({exc}).") from None
    if not isinstance(value, Policy):
        raise ConfigurationError(
            f"{source} must be a consentlib.Policy or 'package.module:NAME' naming one, not {target!r}.")
    return value
