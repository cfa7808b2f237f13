"""The consent endpoints of the HTTP contract (docs/http.md), answered by the middleware.

GET   {prefix}              the visitor's state as JSON
POST  {prefix}              record a choice (form or JSON)
GET   {prefix}preferences   the no-JavaScript preferences form
GET   {prefix}opt-out       "Do Not Sell or Share My Personal Information" (POST: opt out)
GET   {prefix}receipts      this visitor's receipts (GDPR Art 7(1) proof, Art 15 access)
GET   {prefix}banner.*      the banner's assets
GET   {prefix}declaration.json  the site's declaration (categories, cookies, beacons; ?lang=)
POST  {prefix}csp-report    where browsers report what the third-party CSP refused (third_party_csp)
GET   /.well-known/gpc.json the site's GPC support statement

Each takes a plain :class:`~consentlib.web.exchange.Request` and gives a Response, or a
Pending that carries the store work the answer waits for: the door runs that work where
blocking is allowed (see consentlib.web.exchange), so no handler touches the store itself.
Recording a choice is in :mod:`consentlib.web.choices`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from consentlib.consent import Consent
from consentlib.errors import StoreUnavailable
from consentlib.web.assets import lookup as static_asset
from consentlib.web.choices import Choices, state_of
from consentlib.web.context import EndpointContext
from consentlib.web.csp_report import CspReports
from consentlib.web.declaration import asked_language, declaration
from consentlib.web.opt_out import OptOut
from consentlib.web.own_cookies import own_cookies
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.guardian import Guardians
from consentlib.web.http import respond, respond_html, safe_next
from consentlib.web.pages import preferences_page
from consentlib.web.receipts import receipts as visitor_receipts

if TYPE_CHECKING:
    from consentlib.mail.endpoints import MailEndpoints

    #: An endpoint: answers one request of a visitor with ``consent``.
    Handler = Callable[[Request, Consent], Answer]

GPC_WELL_KNOWN = "/.well-known/gpc.json"


class Endpoints:
    """The consent endpoints of one site; the guardian and mail endpoints below them."""

    def __init__(self, context: EndpointContext, guardians: Guardians, *,
                 csp_reports: CspReports | None = None) -> None:
        self.context = context
        # Only with third_party_csp on: otherwise no page is told to report here.
        self.csp_reports = csp_reports
        self.policy = context.policy
        self.guardians = guardians
        self.choices = Choices(context)
        self.opt_out = OptOut(context, self.choices)
        self._mail: MailEndpoints | None = None
        self._mail_lock = threading.Lock()

    @property
    def mail(self) -> MailEndpoints:
        """The mail endpoints (built on first use: a site that sends no mail never needs
        their event buffer and its thread)."""
        if self._mail is None:
            with self._mail_lock:
                if self._mail is None:
                    from consentlib.mail.endpoints import MailEndpoints

                    self._mail = MailEndpoints(self.context)
        return self._mail

    def __call__(self, request: Request, consent: Consent) -> Answer:
        """The answer to ``request`` (its path below the mount point): a Response, or the
        store work it waits for (see consentlib.web.exchange); HEAD gets no body."""
        try:
            answer = self._route(request, consent)
        except StoreUnavailable:
            answer = _unavailable()
        return _guarded(request.method, answer)

    def _route(self, request: Request, consent: Consent) -> Answer:
        method, path = request.method, request.path
        route = "gpc" if path == GPC_WELL_KNOWN else path[len(self.context.prefix):]
        if route == "":
            if method == "POST":
                return self.choices.record(request, consent)
            return self._get_only(request, "GET, HEAD, POST", self.state_response, consent)
        if route == "preferences":
            return self._get_only(request, "GET, HEAD", self.preferences, consent)
        if route == "opt-out":
            return self.opt_out(request, consent)
        if route == "receipts":
            return self._get_only(request, "GET, HEAD", self.receipts, consent)
        if route == "gpc":
            return self._get_only(request, "GET, HEAD", self.gpc_json, consent)
        if route == "declaration.json":
            return self._get_only(request, "GET, HEAD", self.declaration_json, consent)
        if route == "guardian":
            if method != "POST":
                return respond(405, {"error": "Use POST here."}, headers=[("Allow", "POST")])
            return self.guardians.request(request, consent)
        if route == "csp-report" and self.csp_reports is not None:
            return self.csp_reports(request)
        if route.startswith("guardian/"):
            return self.guardians.page(request, route[len("guardian/"):])
        if route.startswith("m/"):
            # Email beacons (open pixel, click, unsubscribe): see consentlib.mail.endpoints.
            return self.mail(request, route[2:])
        asset = static_asset(route)
        if asset is not None:
            return self._get_only(request, "GET, HEAD", asset.respond, consent)
        return respond(404, {"error": f"No consent endpoint at {path}."})

    @staticmethod
    def _get_only(request: Request, allow: str, handler: Handler, consent: Consent) -> Answer:
        if request.method not in ("GET", "HEAD"):
            return respond(405, {"error": f"Use {allow} here."}, headers=[("Allow", allow)])
        return handler(request, consent)

    # -- state -------------------------------------------------------------------------------

    def state(self, consent: Consent, language: str = "en") -> dict[str, Any]:
        return state_of(self.policy, consent, language)

    def state_response(self, request: Request, consent: Consent) -> Response:
        # The labels are in the request's language (consentlib.web.language).
        page = self.context.templates.for_request(request)
        state = self.state(consent, page.language)
        if consent.regime == "opt-out":
            # Cal. Civ. Code §1798.135(a)(1): the banner links the opt-out page under its
            # title (in the request's language, as the page it links); given here, so the
            # banner carries no text of its own for it. JSON: the catalogue's plain text.
            state["opt_out"] = [f"{self.context.prefix}opt-out", page.catalogue.texts["opt_out_title"]]
        if consent.minor:
            # GDPR Art 8: the banner tells a visitor below the age of digital consent to ask a
            # guardian, in these words (not in every page's banner tag: few visitors need them).
            state["minor_notice"] = page.catalogue.texts["banner_minor"]
        # The region's header is added to Vary by the door, with every other answer's.
        return respond(200, state,
                       headers=[("Vary", "Cookie, Sec-GPC, Accept-Language"), ("Content-Language", page.language)])

    def gpc_json(self, request: Request, consent: Consent) -> Response:
        body: dict[str, Any] = {"gpc": True}
        if self.context.gpc_last_update:
            body["lastUpdate"] = self.context.gpc_last_update
        return respond(200, body, cache="public, max-age=86400")

    def declaration_json(self, request: Request, consent: Consent) -> Response:
        # The same for every visitor: public, and cacheable for an hour (a new policy
        # revision is picked up within that time).
        # consentlib's own cookies are listed under the names this scheme gives them. The
        # texts are in the language ?lang= names (the banner's tag's, for its second layer):
        # such a URL is its own cache entry and depends on no header, so it says its
        # language but no Vary (RFC 9110 §12.5.5). Without it (or with a lang no catalogue
        # has), the request's language: caches keep one per Accept-Language.
        asked = asked_language(self.context.templates, request.args.get("lang"))
        page = asked or self.context.templates.for_request(request)
        headers = [("Content-Language", page.language)] if asked else page.headers
        return respond(200, declaration(self.policy, lifetime=self.context.cookie.lifetime,
                                        secure=self.context.secure_over(request.scheme),
                                        cookie_domain=self.context.cookie_domain, page=page),
                       headers=headers, cache="public, max-age=3600")

    def receipts(self, request: Request, consent: Consent) -> Answer:
        """The visitor's receipts: a page or JSON (see :mod:`consentlib.web.receipts`)."""
        return visitor_receipts(self.context, request, consent)

    def preferences(self, request: Request, consent: Consent) -> Response:
        next_path = safe_next(request, request.args.get("next"))
        page = self.context.templates.for_request(request)
        own = own_cookies(self.policy, lifetime=self.context.cookie.lifetime,
                          secure=self.context.secure_over(request.scheme), cookie_domain=self.context.cookie_domain)
        html = preferences_page(self.policy, consent, action=self.context.prefix, next_path=next_path,
                                guardians=self.context.guardian_mailer is not None, page=page, own=own,
                                lifetime=self.context.cookie.lifetime)
        return respond_html(200, html, headers=page.headers)

def _unavailable() -> Response:
    return respond(503, {"error": "The consent store is unavailable, so nothing was read or recorded. Try again shortly."})


def _guarded(method: str, answer: Answer) -> Answer:
    """``answer`` with the store's being unavailable answered 503 wherever it is raised,
    and HEAD's body dropped, through every step of its store work."""
    if isinstance(answer, Response):
        return answer.for_method(method)
    pending = answer

    def step(go: Callable[[Any], Answer], value: Any) -> Answer:
        try:
            following = go(value)
        except StoreUnavailable:
            following = _unavailable()
        return _guarded(method, following)

    return Pending(pending.work, lambda result: step(pending.then, result), lambda exc: step(pending.failed, exc))
