"""ConsentCore: one site's gate, endpoints and store, built once from the options.

Every door (WSGI, ASGI, Django) holds one and asks it everything: what a request's
``Cookie`` header and privacy signals decide (:mod:`consentlib.gate.visits`), where a
path goes (:mod:`consentlib.gate.beacons`), which response headers leave
(:mod:`consentlib.gate.responses`), and how a consent endpoint answers
(:mod:`consentlib.web.endpoints`). A door only translates its server interface to and
from these plain values, so every door makes the same decisions by the same code.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from consentlib.consent import ALL_COOKIE_NAMES, Consent, ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.gate.beacons import Routes
from consentlib.gate.cookies import CookieGate, UndeclaredCookies
from consentlib.gate.csp import ThirdPartyCsp
from consentlib.gate.regions import Regions, environ_key
from consentlib.gate.report import ReportRoutes, ReportVisits
from consentlib.gate.responses import ResponseGate
from consentlib.gate.visits import Visit, Visits
from consentlib.options import checked
from consentlib.policy import Cookie, Policy
from consentlib.records.changes import ChangeDelivery
from consentlib.records.would_block import WouldBlock
from consentlib.store import Store, open_store
from consentlib.web.context import EndpointContext
from consentlib.web.csp_report import CspReports
from consentlib.web.endpoints import Endpoints
from consentlib.web.exchange import Answer, Request
from consentlib.web.guardian import Guardians
from consentlib.web.own_cookies import own_cookies
from consentlib.web.templates import Templates

log = logging.getLogger("consentlib")


class ConsentCore:
    """The decisions and the endpoints of one site; see :class:`consentlib.ConsentMiddleware`
    for each option and its security consequences.

    ``door`` says whose options these are in the schema (``"wsgi"``, ``"asgi"``), and
    ``owner`` names the class the user built in the errors raised for a wrong option, so
    the sentence points at what the user wrote.
    """

    def __init__(self, options: Mapping[str, Any], *, door: str = "wsgi", owner: str = "ConsentMiddleware") -> None:
        """``options``: the keyword arguments the user gave the door (``policy`` among
        them), by the names of the one schema (consentlib.options.OPTIONS)."""
        policy = options.get("policy")
        if not isinstance(policy, Policy):
            raise ConfigurationError(f"{owner} needs a consentlib.Policy, not {policy!r}.")
        # Every option through its check in the one schema (consentlib.options): a string
        # where a list belongs, "no" where a bool belongs, is refused with a sentence
        # before anything is opened or started.
        given = checked(options, door=door, owner=owner)
        secret_key, prefix, lifetime, max_body = given["secret_key"], given["prefix"], given["lifetime"], given["max_body"]
        is_minor, guardian_mailer, site_url = given["is_minor"], given["guardian_mailer"], given["site_url"]
        #: Where a request's region is read (consentlib.gate.regions): only these.
        self.regions = Regions(given["region_header"], given["subdivision_header"], given["geoip"])
        header, sub = self.regions.header, self.regions.subdivision_header
        #: The environ keys (PEP 3333) of the trusted headers, for the WSGI door; None: not read.
        self.region_environ: tuple[str | None, str | None] = (
            environ_key(header) if header else None, environ_key(sub) if sub else None)
        #: The lower-case names of the trusted headers, for the ASGI door.
        self.region_names: tuple[str | None, str | None] = (
            header.lower() if header else None, sub.lower() if sub else None)
        #: Whether a request's region is looked up at all (a site without regions or
        #: region options reads nothing and pays nothing).
        self.reads_region = self.regions.configured and bool(policy.regions or policy.default_regime != "opt-in")
        self.etag_body_limit: int = given["etag_body_limit"]
        self.secure: bool | None = given["secure"]
        self.cookie_domain: str | None = given["cookie_domain"]
        self.honour_dnt: bool = given["honour_dnt"]
        self.trusted_origins: frozenset[str] = given["trusted_origins"]
        self.gpc_last_update: str | None = given["gpc_last_update"]
        # The site's catalogues are compiled here, once, when the middleware starts.
        self.templates = Templates(given["templates"], prefix=prefix, locale_dirs=given["locale_dirs"],
                                   default_language=policy.default_language)
        self.policy = policy
        self.prefix: str = prefix
        self.max_body: int = max_body
        self.cookie = ConsentCookie(secret_key, lifetime=lifetime)
        # Newest first, as validated by ConsentCookie; the mail endpoints verify their
        # tokens with the same keys.
        keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
        self.secret_keys: tuple[bytes, ...] = tuple(k.encode() if isinstance(k, str) else k for k in keys)
        # With the keys, the store seals the receipt chain (consentlib.store.chain).
        self.store: Store = open_store(given["store"], secret_key=self.secret_keys)
        _check_retention(self.store, lifetime)
        self.changes: ChangeDelivery | None = None
        if given["on_change"] is not None:
            self.changes = ChangeDelivery(self.store, given["on_change"], topics=("consent",))
            self.changes.notify()  # what was queued before a restart
        # The consent cookies under every name they have (consentlib.consent.cookie_names)
        # reach the app as they are, and no app line may set one.
        self.gate = CookieGate(policy, ALL_COOKIE_NAMES)
        #: "enforce" blocks; "report" lets everything through and lists what it would block.
        self.mode: str = given["mode"]
        self.enforcing = self.mode == "enforce"
        self.would_block: WouldBlock | None = None if self.enforcing else WouldBlock(self.store)
        note = self.would_block.note if self.would_block is not None else None
        # Report mode sends the third-party CSP Report-Only too: nothing is blocked.
        csp_mode = given["third_party_csp"] if self.enforcing else given["third_party_csp"] and "report"
        self.csp = ThirdPartyCsp(policy, prefix, csp_mode) if csp_mode else None
        self.undeclared = UndeclaredCookies(self.store, policy.category_names)
        self.responses = ResponseGate(policy, self.gate, self.undeclared, csp=self.csp, note=note)
        # The parts a door asks on every request: in report mode, ones that let through
        # and note (consentlib.gate.report); in enforce mode the enforcing ones, unwrapped.
        self.routes: Routes | ReportRoutes = Routes(prefix, policy.beacons)
        self.visits: Visits | ReportVisits = Visits(policy, self.cookie, self.gate, honour_dnt=self.honour_dnt,
                                                    cookie_domain=self.cookie_domain)
        if note is not None:
            self.routes, self.visits = ReportRoutes(self.routes, note), ReportVisits(self.visits, note)
        self.is_minor = is_minor
        self.guardian_mailer = guardian_mailer
        self.site_url = site_url.rstrip("/") if site_url else None
        # What the endpoints know of the site: they take this, never a door.
        self.context = EndpointContext(
            policy=policy, store=self.store, cookie=self.cookie, secret_keys=self.secret_keys, prefix=prefix,
            max_body=max_body, trusted_origins=self.trusted_origins, site_url=self.site_url, secure=self.secure,
            honour_dnt=self.honour_dnt, gpc_last_update=self.gpc_last_update, gate=self.gate,
            guardian_mailer=guardian_mailer, changed=self.changed, templates=self.templates,
            cookie_domain=self.cookie_domain,
            reload_for=frozenset(host.category for host in policy.hosts) if csp_mode == "enforce" else frozenset(),
        )
        self.guardians = Guardians(self.context, is_minor)
        csp_reports = CspReports(policy, self.store, note=note) if self.csp is not None else None
        self.endpoints = Endpoints(self.context, self.guardians, csp_reports=csp_reports)

    def changed(self) -> None:
        """A change was queued (a receipt): let ``on_change`` hear of it soon."""
        if self.changes is not None:
            self.changes.notify()

    def record_undeclared_with(self, undeclared: UndeclaredCookies) -> None:
        """Note undeclared cookies with ``undeclared`` (the ASGI door's, which writes to
        the store from a worker thread rather than on the event loop)."""
        self.undeclared = self.responses.undeclared = undeclared

    # -- what a request decides ------------------------------------------------------------

    def visit_of(self, header: str, gpc: bool, dnt: bool, secure: bool = False, region: str | None = None) -> Visit:
        """What follows from one request's ``Cookie`` header and signals (GPC spec: only
        the exact value "1" counts; the door says whether it was), on a request whose
        cookies are ``secure`` (:meth:`is_secure`), from ``region`` (:meth:`region_of`):
        remembered per distinct header."""
        return self.visits.of(header, gpc, dnt, secure, region)

    def region_of(self, country: str | None, subdivision: str | None = None, client: str | None = None) -> str | None:
        """The region code of a request whose trusted headers (``region_header``,
        ``subdivision_header``) say ``country`` and ``subdivision``, from address
        ``client`` (for ``geoip``): None when unknown or when the site reads no region."""
        return self.regions.of(country, subdivision, client) if self.reads_region else None

    def region_vary(self) -> tuple[str, ...]:
        """The request headers every response varies on through the region (RFC 9110 §12.5.5):
        the trusted headers, and ``Sec-GPC`` where an opt-out region lets GPC deny the
        sale_or_share categories (the gate marks it for gpc categories alone)."""
        if not self.reads_region:
            return ()
        policy = self.policy
        opt_out = policy.default_regime == "opt-out" or any(r.regime == "opt-out" for r in policy.regions)
        gpc = ("Sec-GPC",) if opt_out and policy.sale_or_share_categories else ()
        return (*self.regions.vary, *gpc)

    def minor_visit(self, visit: Visit, header: str) -> Visit:
        """``visit`` for a visitor the site says is a minor: what a guardian allowed.

        Reads the store (the guardian's grant): an ASGI door calls it off the event loop.
        """
        return self.visits.derive(self.guardians.minor_consent(visit.consent), visit.payload, header, visit.valid_until)

    def is_endpoint(self, path: str) -> bool:
        """Whether ``path`` is answered by the consent endpoints, never by the app."""
        return self.routes.is_endpoint(path)

    def blocks_beacon(self, path: str, granted: frozenset[str], mount: str = "") -> bool:
        """Whether ``path`` (below ``mount``: ``SCRIPT_NAME``, ASGI's ``root_path``) is a
        beacon whose category ``granted`` lacks.

        ePrivacy Art 5(3): a beacon hit reads the device; without consent the app must
        not even see it, and the door answers with nothing that can track.
        """
        return self.routes.blocks_beacon(path, granted, mount)

    def answer_endpoint(self, request: Request, consent: Consent) -> Answer:
        """The consent endpoints' answer to ``request``, for every door: a Response, or the
        store work it waits for (:mod:`consentlib.web.exchange`), which the door runs
        (the WSGI door inline, the ASGI door in a worker thread)."""
        if self.secure and request.scheme != "https":
            # secure=True: served over https by a proxy that does not say so. The
            # endpoints judge Origin (a browser sends https://) and build Location
            # from the scheme: without this, every choice posted would be a 403.
            request = request.with_scheme("https")
        return self.endpoints(request, consent)

    def is_secure(self, https: bool) -> bool:
        """Whether cookies set on this request get ``Secure``: the ``secure`` option, or
        else whether the request came over https (``X-Forwarded-Proto`` is never trusted)."""
        return self.secure if self.secure is not None else https

    def own_cookies(self, secure: bool) -> tuple[Cookie, Cookie]:
        """consentlib's two cookies as declarations, for a site's own cookie table: named
        as on a request whose cookies are ``secure`` (:meth:`is_secure`), with this
        site's lifetime and ``cookie_domain`` (see :mod:`consentlib.web.own_cookies`)."""
        return own_cookies(self.policy, lifetime=self.cookie.lifetime, secure=secure, cookie_domain=self.cookie_domain)

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


class HoldsCore:
    """What a door built on a :class:`ConsentCore` shows of it, under the names users and
    tests reach for (those of earlier releases): the same for every door."""

    core: ConsentCore

    @property
    def policy(self) -> Policy:
        return self.core.policy

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def cookie(self) -> ConsentCookie:
        return self.core.cookie

    @property
    def prefix(self) -> str:
        return self.core.prefix

    @property
    def changes(self) -> ChangeDelivery | None:
        """The delivery of changes to ``on_change`` (None without one), run by the core."""
        return self.core.changes
