"""ConsentMiddleware: the WSGI door (PEP 3333) to consentlib's core.

On every request the core (:class:`consentlib.core.ConsentCore`) reads the signed
consent cookies (and ``Sec-GPC``), says which incoming cookies the app may see, whether
the path is a consent endpoint or a blocked beacon, and which ``Set-Cookie`` lines of the
response leave. This module only reads the environ and calls ``start_response``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from consentlib.consent import DEFAULT_LIFETIME, Consent, CookiePayload
from consentlib.core import ConsentCore, HoldsCore
from consentlib.gate.beacons import ENDPOINT
from consentlib.options import arguments_of
from consentlib.gate.regions import with_vary
from consentlib.web.tags import TEMPLATES_KEY
from consentlib.policy import Policy
from consentlib.store import Store
from consentlib.web.exchange import BODY_METHODS, Request, settle
from consentlib.web.pixel import untrackable_response, wants_image

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRON_KEY = "consentlib.consent"


class ConsentMiddleware(HoldsCore):
    """Wrap a WSGI ``app`` so that only what ``policy`` and the visitor allow gets through.

    Security consequences of the options:

    ``secret_key``
        Keys newest first. Anyone with a key can forge any visitor's consent; rotate by
        putting a new key first and dropping the old one after the cookie lifetime.
    ``secure``
        ``None`` marks the consent cookies ``Secure`` when the request came over https
        (``wsgi.url_scheme``). Behind a TLS-terminating proxy that does not pass the
        scheme, set ``True``: the consent endpoints then also take the site's origin
        to be https. ``X-Forwarded-Proto`` is never trusted here. Secure consent cookies
        are named ``__Host-consent`` and ``__Host-consent_id`` (RFC 6265bis §4.1.3: no
        other host can set them), and only those names are read on such a request.
    ``cookie_domain``
        ``"example.com"`` shares the consent cookies with every host under it, named
        ``__Secure-consent`` and ``__Secure-consent_id`` with that ``Domain``: any of
        those hosts can then read them, and a compromised one can set them (a choice
        or a consent id of its making). None keeps them to this host.
    ``trusted_origins``
        Extra origins (``"https://www.example.com"``) whose pages may post choices.
        Every origin listed can change your visitors' consent.
    ``honour_dnt``
        ``DNT: 1`` is always recorded; with ``True`` it also denies ``gpc`` categories
        like a GPC signal does (LG Berlin 16 O 420/19 held DNT to be a valid objection).
    ``is_minor``
        ``is_minor(environ) -> bool``: the site says when a visitor is known to be
        below the age of digital consent (from the account's birth date, a kids
        section, a self-declared age; ``Policy.is_minor(age, jurisdiction)`` helps).
        consentlib never guesses ages. For a minor, only required categories are
        granted, whatever the visitor clicks, until a guardian consents (GDPR Art 8).
    ``guardian_mailer``
        ``guardian_mailer(address, confirm_url, category_labels)`` sends a guardian
        the signed link that confirms consent for a minor. Without it, minors can only
        have required categories. Needs ``site_url``.
    ``site_url``
        The site's public origin (``https://example.com``) for links that are mailed,
        and for the redirect after a posted choice. Mailed links are never built from
        the request's ``Host``, which any client can forge to make the site mail a
        genuine token on a link to someone else's server.
    ``on_change``
        ``on_change(change)`` is told of every recorded choice and receipt erasure (to
        pass a withdrawal on to an analytics deletion API, a CRM), at least once, from
        the store's durable queue, in a background thread; see :mod:`consentlib.records.changes`
        for the change's shape and for making the handler idempotent.
    ``templates``
        A directory whose files win over the shipped templates and message catalogues
        of consentlib's own pages (``page.html``, ``messages/fr.json``...); see
        :mod:`consentlib.web.templates`. The pages speak the visitor's language
        (:mod:`consentlib.web.language`). Everything put into a template is HTML-escaped;
        a template that is the site's own is trusted like the site's code.
    ``locale_dirs``
        Directories of gettext catalogues laid out like ``consentlib/locale``
        (``<language>/LC_MESSAGES/consentlib.po``), compiled now: they add languages
        or replace shipped texts, for the pages and the banner.
    ``mode``
        ``"report"`` decides as ``"enforce"`` does but lets everything through: cookies
        both ways, beacons, validators. What it would have blocked is logged once each
        and counted in the store (:func:`consentlib.records.would_block.would_block`).
        For a first deploy only: in report mode nothing is protected.
    ``third_party_csp``
        ``"enforce"`` adds a ``Content-Security-Policy`` to every HTML response that lets
        the page reach only ``'self'`` and the declared hosts (``Policy(hosts=...)``) of
        the categories the visitor granted; ``"report"`` sends it Report-Only. Browsers
        report refusals to ``{prefix}csp-report``; see docs/third-parties.md.
    ``region_header``, ``subdivision_header``, ``geoip``
        Where a visitor's region is read, which decides the regime of ``Policy.regions``
        (see docs/regions.md). Name only a header your CDN or proxy sets and overwrites
        on every request (``CF-IPCountry``): a client can send any header, and one the
        CDN passes through unchanged lets a visitor pick the law that suits a tracker.
    """

    def __init__(
        self,
        app: WSGIApplication,
        policy: Policy,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        store: str | Store = "sqlite:///consent.db",
        prefix: str = "/_consent/",
        lifetime: int = DEFAULT_LIFETIME,
        secure: bool | None = None,
        cookie_domain: str | None = None,
        trusted_origins: Iterable[str] = (),
        honour_dnt: bool = False,
        gpc_last_update: str | None = None,
        max_body: int = 16 * 1024,
        etag_body_limit: int = 1 << 20,
        is_minor: Callable[[WSGIEnvironment], bool] | None = None,
        guardian_mailer: Callable[[str, str, list[str]], None] | None = None,
        site_url: str | None = None,
        on_change: Callable[[dict[str, Any]], object] | None = None,
        templates: str | os.PathLike[str] | None = None,
        locale_dirs: Sequence[str | os.PathLike[str]] = (),
        mode: str = "enforce",
        third_party_csp: str | None = None,
        region_header: str | None = None,
        subdivision_header: str | None = None,
        geoip: str | None = None,
    ) -> None:
        self.core = core = ConsentCore(arguments_of("wsgi", locals()), door="wsgi")
        self.app = app
        # The core's parts __call__ reads on every request, one attribute lookup away.
        self.visits, self.routes, self.responses = core.visits, core.routes, core.responses
        self._gates = core.responses.gates[False]
        self._is_minor = is_minor is not None
        # The secure option, read on every request (None: the request's scheme decides).
        self._secure_option = core.secure
        self._templates = core.templates
        self._reads_region = core.reads_region
        self._region_vary = core.region_vary()
        # Whether a response's validator depends on consent (the ETag firewall runs).
        self._etags_category = policy.etags
        self._inner = self._build_inner(app, core.etag_body_limit)

    def _build_inner(self, app: WSGIApplication, etag_body_limit: int) -> WSGIApplication:
        # In report mode validators pass both ways (the response gate notes them).
        if self.policy.etags is None or not self.core.enforcing:
            return app
        from consentlib.wsgi.etag import ETagFirewall

        category = self.policy.etags
        return ETagFirewall(
            app,
            applies=lambda environ: category not in environ[ENVIRON_KEY].granted,
            max_body=etag_body_limit,
        )

    def read_consent(self, environ: WSGIEnvironment) -> tuple[Consent, CookiePayload | None]:
        """The visitor's consent on this request, and the verified cookie payload.

        Anything that is not a genuine, current cookie is "undecided": never an error.
        """
        visit = self.visits.of(environ.get("HTTP_COOKIE") or "", environ.get("HTTP_SEC_GPC") == "1",
                               environ.get("HTTP_DNT") == "1", self._secure(environ), self._region(environ))
        return visit.consent, visit.payload

    # -- serving ------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # The hot path: every request of the site passes here, so its lookups are local.
        get = environ.get
        header = get("HTTP_COOKIE") or ""
        secure = self._secure_option  # the consent cookies' names follow it
        if secure is None:
            secure = get("wsgi.url_scheme") == "https"
        region = self._region(environ) if self._reads_region else None
        # GPC spec: only the exact value "1" counts.
        visit = self.visits.of(header, get("HTTP_SEC_GPC") == "1", get("HTTP_DNT") == "1", secure, region)
        if self._region_vary:
            start_response = with_vary(start_response, self._region_vary)
        if self._is_minor:
            # The site's rule may read the visitor's region (consent.region) for the age of
            # digital consent there: Policy.is_minor(age, jurisdiction=consent.region).
            environ[ENVIRON_KEY] = visit.consent
            if self.core.guardians.is_minor(environ):
                visit = self.core.minor_visit(visit, header)
        consent, payload, filtered, refused, _, stripped, gpc_refused, resign = visit
        environ[ENVIRON_KEY] = consent
        environ[TEMPLATES_KEY] = self._templates  # the banner tag's catalogues (consentlib.web.tags)
        path = get("PATH_INFO", "")
        granted = consent.granted
        where = self.routes.route(path, granted, get("SCRIPT_NAME", ""))
        if where:
            if where == ENDPOINT:
                return self.serve_endpoint(environ, start_response, consent, path)
            return untrackable_response(environ, start_response, image=wants_image(environ))

        if stripped:
            # The app sees fewer cookies than were sent: what it answers depends on consent.
            environ["HTTP_COOKIE"] = filtered
        if refused or resign:
            gate = self.responses.headers_gate(granted, self.core.extra_headers(visit, secure), gpc_refused, stripped)
        else:
            # Nothing of this request's own to add: the gate for this consent is reused.
            key = (granted, gpc_refused, stripped)
            gate = self._gates.get(key) or self.responses.new_gate(key, raw=False)

        def gated(status: str, headers: list[tuple[str, str]],
                  exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            # PEP 3333: drops, keeps and Vary-marks the app's headers as its consent says.
            return start_response(status, gate(headers), exc_info) if exc_info else start_response(status, gate(headers))

        # With the etags category granted the firewall has nothing to do: skip its layer.
        app = self.app if self._etags_category in granted else self._inner
        return app(environ, gated)

    def serve_endpoint(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent,
                       path: str) -> Iterable[bytes]:
        """Answer a consent endpoint at ``path`` (``PATH_INFO``): its store work runs here,
        in the request's thread."""
        method = environ.get("REQUEST_METHOD", "GET")
        request = Request.from_environ(environ, self.core.max_body if method in BODY_METHODS else None)
        if request.path != path:
            request = replace(request, path=path)
        response = settle(self.core.answer_endpoint(request, consent))
        start_response(response.status_line, response.headers)
        return [response.body] if response.body else []


    def _region(self, environ: WSGIEnvironment) -> str | None:
        """The region the core reads from this request's trusted header or address."""
        country_key, subdivision_key = self.core.region_environ
        return self.core.region_of(environ.get(country_key) if country_key else None,
                                   environ.get(subdivision_key) if subdivision_key else None,
                                   environ.get("REMOTE_ADDR"))

    def _secure(self, environ: WSGIEnvironment) -> bool:
        # As core.is_secure, inline in __call__.
        return self.core.is_secure(environ.get("wsgi.url_scheme") == "https")
