"""ConsentMiddleware: the WSGI wrapper that enforces a visitor's consent.

On every request it reads the signed consent cookies (and ``Sec-GPC``), removes from
the incoming ``Cookie`` header what the visitor did not consent to, answers blocked
beacons itself, and drops from the response every ``Set-Cookie`` line the consent does
not cover. Its own endpoints (``/_consent/...``) are answered without calling the app.
"""
from __future__ import annotations

import logging
import os
from dataclasses import replace
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from consentlib.consent import COOKIE_NAME, DEFAULT_LIFETIME, ID_COOKIE_NAME, Consent, ConsentCookie, CookiePayload
from consentlib.web.context import EndpointContext
from consentlib.gate.cookies import CookieGate, UndeclaredCookies
from consentlib.web.endpoints import Endpoints
from consentlib.web.exchange import BODY_METHODS, Answer, Request, settle
from consentlib.errors import ConfigurationError
from consentlib.gate.responses import ResponseGate
from consentlib.web.guardian import Guardians
from consentlib.options import endpoint_options, flag, iso_date, origins, whole_number
from consentlib.web.pixel import untrackable_response, wants_image
from consentlib.policy import Beacon, Policy
from consentlib.store import Store, open_store
from consentlib.web.templates import Templates
from consentlib.gate.visits import Visit, Visits

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("consentlib")

ENVIRON_KEY = "consentlib.consent"
GPC_WELL_KNOWN = "/.well-known/gpc.json"


class ConsentMiddleware:
    """Wrap a WSGI ``app`` so that only what ``policy`` and the visitor allow gets through.

    Security consequences of the options:

    ``secret_key``
        Keys newest first. Anyone with a key can forge any visitor's consent; rotate by
        putting a new key first and dropping the old one after the cookie lifetime.
    ``secure``
        ``None`` marks the consent cookies ``Secure`` when the request came over https
        (``wsgi.url_scheme``). Behind a TLS-terminating proxy that does not pass the
        scheme, set ``True``: the consent endpoints then also take the site's origin
        to be https. ``X-Forwarded-Proto`` is never trusted here.
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
        (``Accept-Language``): English and Simplified Chinese ship, and a catalogue adds
        one. Everything put into a template is HTML-escaped; a template that is the
        site's own is trusted like the site's code.
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
    ) -> None:
        if not isinstance(policy, Policy):
            raise ConfigurationError(f"ConsentMiddleware needs a consentlib.Policy, not {policy!r}.")
        endpoint_options(prefix=prefix, is_minor=is_minor, guardian_mailer=guardian_mailer, site_url=site_url,
                         max_body=max_body)
        # A string where a list belongs, "no" where a bool belongs: refused (consentlib.options),
        # before anything is opened or started.
        whole_number("lifetime", lifetime, minimum=1, unit="seconds")
        whole_number("etag_body_limit", etag_body_limit, minimum=0, unit="bytes")
        secure, honour_dnt = flag("secure", secure, optional=True), flag("honour_dnt", honour_dnt)
        trusted, gpc_last_update = origins("trusted_origins", trusted_origins), iso_date("gpc_last_update", gpc_last_update)
        self.templates = Templates(templates)
        self.app = app
        self.policy = policy
        self.cookie = ConsentCookie(secret_key, lifetime=lifetime)
        # Newest first, as validated by ConsentCookie; the mail endpoints (consentlib.mail.endpoints)
        # verify their tokens with the same keys.
        keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
        self.secret_keys: tuple[bytes, ...] = tuple(k.encode() if isinstance(k, str) else k for k in keys)
        # With the keys, the store seals the receipt chain (consentlib.store.chain).
        self.store = open_store(store, secret_key=self.secret_keys)
        _check_retention(self.store, lifetime)
        self.changes = None
        if on_change is not None:
            from consentlib.records.changes import ChangeDelivery

            self.changes = ChangeDelivery(self.store, on_change, topics=("consent",))
            self.changes.notify()  # what was queued before a restart
        self.prefix = prefix
        self.secure = secure
        self.trusted_origins = trusted
        self.honour_dnt = honour_dnt
        self.gpc_last_update = gpc_last_update
        self.max_body = max_body
        self.gate = CookieGate(policy, (COOKIE_NAME, ID_COOKIE_NAME))
        self._has_beacons = bool(policy.beacons)
        # Exact beacon paths, looked up first; Policy.beacon() knows the prefixes and
        # reads a path as the app's router will.
        self._beacon_paths = {b.path: b for b in reversed(policy.beacons) if not b.path.endswith("/")}
        # Whether a response's validator depends on consent (the ETag firewall runs).
        self._etags_category = policy.etags
        self.undeclared = UndeclaredCookies(self.store, policy.category_names)
        self.responses = ResponseGate(policy, self.gate, self.undeclared)
        self.visits = Visits(policy, self.cookie, self.gate, honour_dnt=honour_dnt)
        self._inner = self._build_inner(app, etag_body_limit)
        self.is_minor = is_minor
        self.guardian_mailer = guardian_mailer
        self.site_url = site_url.rstrip("/") if site_url else None
        # What the endpoints know of the site: they take this, never the middleware.
        self.context = EndpointContext(
            policy=policy, store=self.store, cookie=self.cookie, secret_keys=self.secret_keys, prefix=prefix,
            max_body=max_body, trusted_origins=trusted, site_url=self.site_url, secure=secure,
            honour_dnt=honour_dnt, gpc_last_update=gpc_last_update, gate=self.gate,
            guardian_mailer=guardian_mailer, changed=self.changed, templates=self.templates,
        )
        self.guardians = Guardians(self.context, is_minor)
        self.endpoints = Endpoints(self.context, self.guardians)

    def changed(self) -> None:
        """A change was queued (a receipt): let ``on_change`` hear of it soon."""
        if self.changes is not None:
            self.changes.notify()

    def _build_inner(self, app: WSGIApplication, etag_body_limit: int) -> WSGIApplication:
        if self.policy.etags is None:
            return app
        from consentlib.wsgi.etag import ETagFirewall

        category = self.policy.etags
        return ETagFirewall(
            app,
            applies=lambda environ: category not in environ[ENVIRON_KEY].granted,
            max_body=etag_body_limit,
        )

    # -- reading the visitor's consent --------------------------------------------------

    def read_consent(self, environ: WSGIEnvironment) -> tuple[Consent, CookiePayload | None]:
        """The visitor's consent on this request, and the verified cookie payload.

        Anything that is not a genuine, current cookie is "undecided": never an error.
        """
        visit = self._visit(environ)
        return visit.consent, visit.payload

    def _visit(self, environ: WSGIEnvironment) -> Visit:
        # As __call__ reads them (written out there: it runs on every request).
        return self.visits.of(environ.get("HTTP_COOKIE") or "", environ.get("HTTP_SEC_GPC") == "1",
                              environ.get("HTTP_DNT") == "1")

    def visit_of(self, header: str, gpc: bool, dnt: bool) -> Visit:
        """What follows from one request's ``Cookie`` header and signals, for every door
        (WSGI here, ASGI in consentlib.asgi): remembered per distinct header."""
        return self.visits.of(header, gpc, dnt)

    # -- serving ------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # GPC spec: only the exact value "1" counts.
        visit = self.visits.of(environ.get("HTTP_COOKIE") or "", environ.get("HTTP_SEC_GPC") == "1",
                               environ.get("HTTP_DNT") == "1")
        if self.is_minor is not None and self.guardians.is_minor(environ):
            visit = self.minor_visit(visit, environ.get("HTTP_COOKIE") or "")
        consent, payload, filtered, refused, _, stripped, gpc_refused, resign = visit
        environ[ENVIRON_KEY] = consent
        path = environ.get("PATH_INFO", "")
        # is_endpoint and blocks_beacon's first test, inline: this runs on every request.
        if path.startswith(self.prefix) or path == GPC_WELL_KNOWN:
            return self.serve_endpoint(environ, start_response, consent, path)

        granted = consent.granted
        if self._has_beacons and self.blocks_beacon(path, granted, environ.get("SCRIPT_NAME", "")):
            return untrackable_response(environ, start_response, image=wants_image(environ))

        if stripped:
            # The app sees fewer cookies than were sent: what it answers depends on consent.
            environ["HTTP_COOKIE"] = filtered
        extra = self.extra_headers(visit, self._secure(environ)) if refused or resign else ()
        # With the etags category granted the firewall has nothing to do: skip its layer.
        app = self.app if self._etags_category in granted else self._inner
        return app(environ, self.responses.start_response(start_response, granted, extra, gpc_refused, stripped))

    # -- decisions every door makes the same way (WSGI here, ASGI in consentlib.asgi) ---------

    def minor_visit(self, visit: Visit, header: str) -> Visit:
        """``visit`` for a visitor the site says is a minor: what a guardian allowed.

        Reads the store (the guardian's grant): an ASGI door calls it off the event loop.
        """
        return self.visits.derive(self.guardians.minor_consent(visit.consent), visit.payload, header, visit.valid_until)

    def is_endpoint(self, path: str) -> bool:
        """Whether ``path`` is answered by the consent endpoints, never by the app."""
        return path.startswith(self.prefix) or path == GPC_WELL_KNOWN

    def serve_endpoint(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent,
                       path: str) -> Iterable[bytes]:
        """Answer a consent endpoint at ``path`` (``PATH_INFO``): its store work runs here,
        in the request's thread."""
        method = environ.get("REQUEST_METHOD", "GET")
        request = Request.from_environ(environ, self.max_body if method in BODY_METHODS else None)
        if request.path != path:
            request = replace(request, path=path)
        response = settle(self.answer_endpoint(request, consent))
        start_response(response.status_line, response.headers)
        return [response.body] if response.body else []

    def answer_endpoint(self, request: Request, consent: Consent) -> Answer:
        """The consent endpoints' answer to ``request``, for every door: a Response, or the
        store work it waits for (consentlib.web.exchange), which the door runs."""
        if self.secure and request.scheme != "https":
            # secure=True: served over https by a proxy that does not say so. The
            # endpoints judge Origin (a browser sends https://) and build Location
            # from the scheme: without this, every choice posted would be a 403.
            request = request.with_scheme("https")
        return self.endpoints(request, consent)

    def blocks_beacon(self, path: str, granted: frozenset[str], mount: str = "") -> bool:
        """Whether ``path`` (below ``mount``: ``SCRIPT_NAME``, ASGI's ``root_path``) is a
        beacon whose category ``granted`` lacks.

        ePrivacy Art 5(3): a beacon hit reads the device; without consent the app must
        not even see it, and the middleware answers with nothing that can track.
        """
        if not self._has_beacons:
            return False
        beacon = self._beacon_paths.get(path) or self.policy.beacon(path)
        if beacon is None and mount:
            beacon = self._mounted_beacon(mount, path)
        if beacon is None or beacon.category in granted:
            return False
        if log.isEnabledFor(logging.DEBUG):
            log.debug("consentlib answered beacon %s itself: its category %r is not granted", path, beacon.category)
        return True

    def extra_headers(self, visit: Visit, secure: bool) -> Sequence[tuple[str, str]]:
        """``Set-Cookie`` lines the response gets besides the app's own."""
        payload, refused, resign = visit.payload, visit.refused, visit.resign
        extra: Sequence[tuple[str, str]] = ()
        if refused:
            # The browser still holds cookies the visitor no longer allows (a withdrawal,
            # a GPC signal, a new revision): expire them so they stop travelling.
            extra = self.gate.expiry_headers(refused, secure=secure)
        if resign and payload is not None:  # only a verified payload is ever re-signed
            # Signed with an older key: re-sign with the newest so the old key can retire.
            # In the first format: move the id out of script reach. Both cookies together.
            extra = [*extra, *self.context.consent_cookie_lines(self.cookie.reissued(payload), secure)]
        return extra

    def _mounted_beacon(self, script_name: str, path: str) -> Beacon | None:
        """The beacon declared as the browser asked for it (``SCRIPT_NAME`` + ``PATH_INFO``),
        when the middleware is mounted below the site's root; ``PATH_INFO`` alone,
        relative to the mount, was looked up already."""
        # The extra '/' makes Policy.beacon merge whatever slashes meet here.
        return self.policy.beacon(script_name + "/" + path)

    # -- helpers shared with the endpoints ---------------------------------------------------

    def _secure(self, environ: WSGIEnvironment) -> bool:
        return self.context.is_secure(environ)

    def consent_cookie_headers(self, environ: WSGIEnvironment, payload: CookiePayload) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` lines that record ``payload``: always both cookies together
        (see :meth:`consentlib.web.context.EndpointContext.consent_cookie_lines`)."""
        return self.context.consent_cookie_headers(environ, payload)


def _check_retention(store: Store, lifetime: int) -> None:
    """Refuse a receipt retention shorter than the consent lifetime.

    A receipt is the proof of a choice that is still in use (GDPR Art 7(1)), and an
    erased id's fingerprint must last while a browser may still send the id (Art 17):
    both would be pruned while the consent they concern still counts.
    """
    days = getattr(getattr(store, "retention", None), "receipts_days", None)
    if days is not None and days * 86400 < lifetime:
        needed = -(-lifetime // 86400)
        raise ConfigurationError(
            f"The store keeps receipts {days} days (receipts_days={days}), less than the consent "
            f"lifetime of {needed} days: a choice still in use would lose its proof (GDPR Art 7(1)). "
            f"Set receipts_days to at least {needed} in the store URL, or shorten lifetime."
        )
