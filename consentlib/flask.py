"""Flask integration: ``FlaskConsent(app, policy, secret_key=..., store=...)`` or ``init_app``.

It wraps ``app.wsgi_app`` in :class:`~consentlib.ConsentMiddleware` and adds to
templates: ``consent`` (``consent.allows("analytics")``), ``consent_banner()``,
``consent_script("analytics", src=...)`` and ``consent_embed("marketing", src=..., title=...,
provider=...)``. Per-app state lives in
``app.extensions["consentlib"]``; the extension keeps no app of its own, and reads
``app.config`` once, in ``init_app``.

Every option of :data:`consentlib.options.OPTIONS` is a typed keyword of both, and can
come from ``app.config`` as ``CONSENTLIB_<KEY>`` (see :data:`CONFIG_KEYS`): a keyword
given to ``init_app`` wins over one given to ``FlaskConsent``, which wins over the
config. A keyword or a ``CONSENTLIB_`` key that is no option's is refused, naming the
nearest one; ``CONSENTLIB_POLICY`` may be a path, read by
:func:`consentlib.options.load_policy`.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from flask import Flask, current_app, g, has_request_context, request
from markupsafe import Markup

from consentlib.consent import Consent, ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.options import load_policy, no_such_option, options_of
from consentlib.policy import Policy
from consentlib.web.embeds import embed_html
from consentlib.web.tags import banner_tags, page_of, script_tag
from consentlib.wsgi.middleware import ENVIRON_KEY, ConsentMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from consentlib.store import Store

# The options FlaskConsent takes (consentlib.options.OPTIONS), by name.
_OPTIONS = {option.name: option for option in options_of("flask")}
#: ``app.config`` key -> option, from consentlib.options.OPTIONS. ``CONSENTLIB_SECRET_KEYS``
#: falls back to ``SECRET_KEY``.
CONFIG_KEYS: dict[str, str] = {f"CONSENTLIB_{option.setting}": name for name, option in _OPTIONS.items()}
# Per app: they may come from each app's config.
_CONSENT_MODE = "consentlib.consent_mode"
_CSP_NONCE = "consentlib.csp_nonce"


def _default_nonce() -> str | None:
    nonce: str | None = g.get("csp_nonce") or request.environ.get("csp_nonce")
    return nonce


def _given(owner: str, arguments: dict[str, Any], typos: dict[str, Any]) -> dict[str, Any]:
    """The options given as keywords: those not None (None falls back to ``app.config``).

    ``typos`` are keywords that are no option: refused by name, with the nearest option,
    as mypy refuses them before the code runs (they are typed ``NoReturn``).
    """
    if typos:
        raise no_such_option(owner, next(iter(typos)), _OPTIONS)
    return {name: arguments[name] for name in _OPTIONS if arguments.get(name) is not None}


class FlaskConsent:
    """The Flask face of consentlib.

    Every option of :data:`consentlib.options.OPTIONS` is a keyword here, and can
    come from ``app.config["CONSENTLIB_<KEY>"]`` instead (:data:`CONFIG_KEYS`): a
    keyword given to ``init_app`` wins over one given here, which wins over the config.
    None means "not given". Besides :class:`~consentlib.ConsentMiddleware`'s options:
    ``csp_nonce`` is a callable that returns this request's CSP nonce (default:
    ``g.csp_nonce``, else ``request.environ["csp_nonce"]``), added to the tags rendered;
    ``consent_mode`` maps categories to Google Consent Mode types for the banner;
    ``locale_selector`` (e.g. the one you give Flask-Babel) returns the request's language,
    which the banner and consentlib's pages then use before ``Accept-Language``.
    A keyword that is no option raises :class:`~consentlib.ConfigurationError`, naming
    the nearest option.
    """

    def __init__(
        self,
        app: Flask | None = None,
        policy: Policy | None = None,
        *,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        store: str | Store | None = None,
        prefix: str | None = None,
        lifetime: int | None = None,
        secure: bool | None = None,
        cookie_domain: str | None = None,
        trusted_origins: Iterable[str] | None = None,
        honour_dnt: bool | None = None,
        gpc_last_update: str | None = None,
        max_body: int | None = None,
        etag_body_limit: int | None = None,
        is_minor: Callable[[WSGIEnvironment], bool] | None = None,
        guardian_mailer: Callable[[str, str, list[str]], None] | None = None,
        site_url: str | None = None,
        on_change: Callable[[dict[str, Any]], object] | None = None,
        templates: str | os.PathLike[str] | None = None,
        locale_dirs: Sequence[str | os.PathLike[str]] | None = None,
        mode: str | None = None,
        third_party_csp: str | None = None,
        region_header: str | None = None,
        subdivision_header: str | None = None,
        geoip: str | None = None,
        consent_mode: dict[str, list[str]] | None = None,
        csp_nonce: Callable[[], str | None] | None = None,
        locale_selector: Callable[[], str | None] | None = None,
        **typos: NoReturn,
    ) -> None:
        # Checked now, not at init_app: a mistake is found where it was written.
        self.options = _checked(_given("FlaskConsent", locals(), typos))
        self.policy = policy
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        policy: Policy | None = None,
        *,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        store: str | Store | None = None,
        prefix: str | None = None,
        lifetime: int | None = None,
        secure: bool | None = None,
        cookie_domain: str | None = None,
        trusted_origins: Iterable[str] | None = None,
        honour_dnt: bool | None = None,
        gpc_last_update: str | None = None,
        max_body: int | None = None,
        etag_body_limit: int | None = None,
        is_minor: Callable[[WSGIEnvironment], bool] | None = None,
        guardian_mailer: Callable[[str, str, list[str]], None] | None = None,
        site_url: str | None = None,
        on_change: Callable[[dict[str, Any]], object] | None = None,
        templates: str | os.PathLike[str] | None = None,
        locale_dirs: Sequence[str | os.PathLike[str]] | None = None,
        mode: str | None = None,
        third_party_csp: str | None = None,
        region_header: str | None = None,
        subdivision_header: str | None = None,
        geoip: str | None = None,
        consent_mode: dict[str, list[str]] | None = None,
        csp_nonce: Callable[[], str | None] | None = None,
        locale_selector: Callable[[], str | None] | None = None,
        **typos: NoReturn,
    ) -> None:
        """Gate ``app``: options from keywords, else ``app.config["CONSENTLIB_*"]``."""
        options = _given("FlaskConsent.init_app", locals(), typos)
        if "consentlib" in app.extensions:
            raise ConfigurationError(
                f"consentlib is already set up on the Flask app {app.name!r}: a second init_app would gate every "
                "request twice and record every choice twice. Set it up once, and use that FlaskConsent "
                "(or app.extensions['consentlib']) everywhere."
            )
        settings, sources = self._settings(app, options)
        if settings.get("policy") is None:
            raise TypeError("FlaskConsent needs a Policy: FlaskConsent(app, policy, secret_key=...), "
                            "init_app(app, policy), or app.config['CONSENTLIB_POLICY'] = 'mysite.consent:POLICY'.")
        settings["policy"] = load_policy(settings["policy"], sources["policy"])
        if "secret_key" not in settings:
            raise ConfigurationError(
                "consentlib needs a secret key to sign visitors' choices: pass secret_key=[key] or set "
                "app.config['CONSENTLIB_SECRET_KEYS'] = [key]; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if sources["secret_key"].startswith("app.config"):
            _check_key_from_config(settings["secret_key"], sources["secret_key"])
        settings = _checked(settings, sources)
        consent_mode = settings.pop("consent_mode", None)
        policy = settings["policy"]
        unknown = sorted(set(consent_mode or ()) - set(policy.category_names))
        if unknown:
            raise ConfigurationError(f"consent_mode names categories the policy does not have: {', '.join(unknown)}; "
                                     f"its categories are: {', '.join(policy.category_names)}.")
        csp_nonce = settings.pop("csp_nonce", None) or _default_nonce
        locale_selector = settings.pop("locale_selector", None)
        if "store" not in settings:
            # Flask's place for per-instance data; not the working directory, which
            # differs between `flask run`, a WSGI server and a test runner.
            os.makedirs(app.instance_path, exist_ok=True)
            settings["store"] = "sqlite:///" + os.path.join(app.instance_path, "consent.db")
        middleware = ConsentMiddleware(app.wsgi_app, settings.pop("policy"), **settings)
        app.wsgi_app = middleware  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
        if locale_selector is not None:
            app.wsgi_app = _LanguageChooser(app, middleware, locale_selector)  # type: ignore[method-assign]
        app.extensions["consentlib"] = middleware
        app.extensions[_CONSENT_MODE] = consent_mode
        app.extensions[_CSP_NONCE] = csp_nonce
        app.context_processor(lambda: {
            "consent": self,
            "consent_banner": self.banner,
            "consent_script": self.script,
            "consent_embed": self.embed,
        })

    def _settings(self, app: Flask, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The options and where each came from: keywords win over ``app.config``."""
        settings: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key in app.config:
            if key.startswith("CONSENTLIB_") and key not in CONFIG_KEYS:
                # A misspelt key would leave its option at the default, silently.
                raise no_such_option("consentlib's app.config", key, CONFIG_KEYS, what="key")
        for key, option in CONFIG_KEYS.items():
            if key in app.config:
                settings[option], sources[option] = app.config[key], f"app.config[{key!r}]"
        if "secret_key" not in settings and app.config.get("SECRET_KEY") is not None:
            settings["secret_key"], sources["secret_key"] = app.config["SECRET_KEY"], "app.config['SECRET_KEY']"
        for option, value in {**self.options, **options}.items():
            settings[option], sources[option] = value, f"the {option} argument"
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
                                  nonce=_nonce(), consent_mode=current_app.extensions.get(_CONSENT_MODE),
                                  notice_url=site.policy.notice_url, storage=site.policy.storage))

    def script(self, category: str, *, src: str | None = None, **attrs: str) -> Markup:
        return Markup(script_tag(self.current, category, src=src, nonce=_nonce(), **attrs))

    def embed(self, category: str, *, src: str, title: str, provider: str, **attrs: str) -> Markup:
        """A third party's ``<iframe>`` when the visitor allows ``category``, else a
        placeholder whose one click allows it (:func:`consentlib.web.embeds.embed_html`),
        in the request's language."""
        site = self._middleware()
        page = page_of(request.environ, site.core.templates)
        query = request.query_string.decode("latin-1")
        path = request.script_root + request.path + (f"?{query}" if query else "")
        return embed_html(self.current, site.policy, page, category, src=src, title=title, provider=provider,
                          prefix=site.prefix, path=path, **attrs)


class _LanguageChooser:
    """Asks the app's ``locale_selector`` for the request's language, in a request context
    of its own, before the middleware answers (its pages too), and leaves the answer in
    ``environ["consentlib.language"]``, the site's own choice (consentlib.web.language)."""

    def __init__(self, app: Flask, middleware: ConsentMiddleware, selector: Callable[[], str | None]) -> None:
        self.app, self.middleware, self.selector = app, middleware, selector

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "consentlib.language" not in environ:
            with self.app.request_context(environ):
                language = self.selector()
            if language:
                environ["consentlib.language"] = str(language)
        return self.middleware(environ, start_response)


def _nonce() -> str | None:
    """This request's CSP nonce, by the app's own ``csp_nonce`` option."""
    csp_nonce: Callable[[], str | None] = current_app.extensions.get(_CSP_NONCE, _default_nonce)
    return csp_nonce()


def _checked(settings: dict[str, Any], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """``settings`` as the schema's checks return them; the policy is loaded apart
    (``load_policy``), as it may be given by its path. An error names the option, and
    the config key when the value came from ``app.config``."""
    checked = dict(settings)
    for name, value in settings.items():
        if name == "policy":
            continue
        try:
            checked[name] = _OPTIONS[name].check(name, value)
        except ConfigurationError as exc:
            source = (sources or {}).get(name, "")
            if not source.startswith("app.config"):
                raise
            raise ConfigurationError(f"{exc} It came from {source}.") from None
    return checked


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

