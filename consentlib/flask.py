"""Flask integration: ``FlaskConsent(app, policy, secret_key=..., store=...)`` or ``init_app``.

It wraps ``app.wsgi_app`` in :class:`~consentlib.ConsentMiddleware` and adds to
templates: ``consent`` (``consent.allows("analytics")``), ``consent_banner()`` and
``consent_script("analytics", src=...)``. Per-app state lives in
``app.extensions["consentlib"]``; the extension keeps no app of its own.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from markupsafe import Markup

from consentlib.consent import Consent
from consentlib.middleware import ENVIRON_KEY, ConsentMiddleware
from consentlib.policy import Policy
from consentlib.tags import banner_tags, script_tag


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
        self.consent_mode = consent_mode
        self.options = options
        self.csp_nonce = csp_nonce
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, policy: Policy | None = None, **options: Any) -> None:
        policy = policy or self.policy
        if policy is None:
            raise TypeError("FlaskConsent needs a Policy: FlaskConsent(app, policy, secret_key=...) or init_app(app, policy).")
        settings = {**self.options, **options}
        if "secret_key" not in settings:
            settings["secret_key"] = app.config.get("CONSENTLIB_SECRET_KEYS") or app.config.get("SECRET_KEY")
        if "store" not in settings and app.config.get("CONSENTLIB_STORE"):
            settings["store"] = app.config["CONSENTLIB_STORE"]
        middleware = ConsentMiddleware(app.wsgi_app, policy, **settings)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["consentlib"] = middleware
        app.context_processor(lambda: {
            "consent": self,
            "consent_banner": self.banner,
            "consent_script": self.script,
        })

    @staticmethod
    def _middleware() -> ConsentMiddleware:
        return current_app.extensions["consentlib"]

    @property
    def current(self) -> Consent:
        """This request's :class:`~consentlib.Consent`."""
        return request.environ[ENVIRON_KEY]

    def allows(self, category: str) -> bool:
        """True when this request's visitor allows ``category``."""
        return self.current.allows(category)

    def banner(self) -> Markup:
        site = self._middleware()
        return Markup(banner_tags(request.environ, prefix=site.prefix, revision=site.policy.revision,
                                  nonce=self.csp_nonce(), consent_mode=self.consent_mode))

    def script(self, category: str, *, src: str | None = None, **attrs: str) -> Markup:
        return Markup(script_tag(self.current, category, src=src, nonce=self.csp_nonce(), **attrs))
