"""The consent endpoints of the HTTP contract (docs/http.md), answered by the middleware.

GET   {prefix}              the visitor's state as JSON
POST  {prefix}              record a choice (form or JSON)
GET   {prefix}preferences   the no-JavaScript preferences form
GET   {prefix}receipts      this visitor's receipts (GDPR Art 7(1) proof, Art 15 access)
GET   {prefix}banner.*      the banner's assets
GET   {prefix}declaration.json  the site's declaration (categories, cookies, beacons)
GET   /.well-known/gpc.json the site's GPC support statement
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from consentlib.consent import Consent, new_consent_id
from consentlib.errors import StoreUnavailable
from consentlib.records.receipts import build_receipt, presented
from consentlib.store.base import ForgottenConsentId
from consentlib.web.assets import lookup as static_asset
from consentlib.web.context import EndpointContext
from consentlib.web.declaration import declaration
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.guardian import ASK_GUARDIAN, Guardians
from consentlib.web.http import cross_origin_refusal, respond, respond_html, safe_next, script_reads_answer, site_location
from consentlib.web.pages import preferences_page, redirect_page

from collections.abc import Callable

if TYPE_CHECKING:
    from consentlib.mail.endpoints import MailEndpoints

    #: An endpoint: answers one request of a visitor with ``consent``.
    Handler = Callable[[Request, Consent], Answer]

GPC_WELL_KNOWN = "/.well-known/gpc.json"
_FORM_ACTIONS = ("accept_all", "reject_all", "save", "withdraw")
KEPT_NOTE = (
    "Receipts are the proof that you made these choices (GDPR Art 7(1)); they are kept for the site's "
    "retention period even after an erasure request (Art 17(3)(b),(e)), then deleted. Your IP network and "
    "browser family are erased on request. You are named only by a random consent id."
)


class BadChoice(Exception):
    """A posted choice that cannot be recorded; the message goes to the client (400)."""


class Endpoints:
    """The consent endpoints of one site; the guardian and mail endpoints below them."""

    def __init__(self, context: EndpointContext, guardians: Guardians) -> None:
        self.context = context
        self.policy = context.policy
        self.guardians = guardians
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
                return self.record(request, consent)
            return self._get_only(request, "GET, HEAD, POST", self.state_response, consent)
        if route == "preferences":
            return self._get_only(request, "GET, HEAD", self.preferences, consent)
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

    def state(self, consent: Consent) -> dict[str, Any]:
        return {
            "revision": self.policy.revision,
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "gpc": consent.gpc,
            "dnt": consent.dnt,
            "minor": consent.minor,
            "categories": [
                {"name": c.name, "label": c.label, "description": c.description, "required": c.required, "gpc": c.gpc}
                for c in self.policy.categories
            ],
        }

    def state_response(self, request: Request, consent: Consent) -> Response:
        return respond(200, self.state(consent), headers=[("Vary", "Cookie, Sec-GPC")])

    def gpc_json(self, request: Request, consent: Consent) -> Response:
        body: dict[str, Any] = {"gpc": True}
        if self.context.gpc_last_update:
            body["lastUpdate"] = self.context.gpc_last_update
        return respond(200, body, cache="public, max-age=86400")

    def declaration_json(self, request: Request, consent: Consent) -> Response:
        # The same for every visitor: public, and cacheable for an hour (a new policy
        # revision is picked up within that time).
        return respond(200, declaration(self.policy), cache="public, max-age=3600")

    def receipts(self, request: Request, consent: Consent) -> Answer:
        """The visitor's receipts; with ``?download=1``, everything the store holds about
        them as a JSON file (GDPR Art 15 access, Art 20 portability)."""
        if script_reads_answer(request):
            # The consent id and the record ids are lasting identifiers: a script on the
            # page (fetch, an iframe) must not read them, or HttpOnly would hide nothing.
            return respond(403, {
                "error": "Receipts are shown only to a visitor who opens this address, not to scripts on a page."},
                headers=[("Vary", "Sec-Fetch-Mode, Sec-Fetch-Dest")])
        store = self.context.store
        download = request.args.get("download") == "1"

        def read() -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
            consent_id = consent.consent_id
            if consent_id is not None and store.consent_id_forgotten(consent_id):
                # An erased id (GDPR Art 17) is answered as no id: its kept proof is the
                # site's, not shown again to whoever holds the old cookie.
                consent_id = None
            if consent_id is None:
                return None, [], []
            return consent_id, store.receipts(consent_id=consent_id), store.changes(subject=consent_id) if download else []

        def answer(found: tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]) -> Response:
            consent_id, receipts, changes = found
            body: dict[str, Any] = {"consent_id": consent_id, "receipts": presented(receipts)}
            # Opened in a window by a page's script (window.open), the answer is a sandboxed,
            # opaque-origin document that the opener cannot read; never framed.
            headers = [("Vary", "Cookie, Sec-Fetch-Mode, Sec-Fetch-Dest"),
                       ("Content-Security-Policy", "sandbox; frame-ancestors 'none'")]
            if download:
                body["pending_changes"] = changes
                body["kept"] = KEPT_NOTE
                headers.append(("Content-Disposition", 'attachment; filename="my-consent-data.json"'))
            return respond(200, body, headers=headers)

        return Pending(read, answer)

    def preferences(self, request: Request, consent: Consent) -> Response:
        next_path = safe_next(request, request.args.get("next"))
        page = self.context.templates.for_language(request.header("accept-language"))
        html = preferences_page(self.policy, consent, action=self.context.prefix, next_path=next_path,
                                guardians=self.context.guardian_mailer is not None, page=page)
        return respond_html(200, html, headers=page.headers)

    # -- recording a choice ----------------------------------------------------------------------

    def record(self, request: Request, consent: Consent) -> Answer:
        refusal = cross_origin_refusal(request, self.context.trusted_origins)
        if refusal:
            return respond(403, {"error": refusal})
        is_json = request.mimetype == "application/json"
        if not is_json and request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return respond(415, {"error": "Post a form (application/x-www-form-urlencoded) or JSON (application/json)."})
        if request.over_limit:
            return respond(413, {
                "error": f"The request body is over {self.context.max_body} bytes; a choice needs far less."})
        try:
            chosen, method, target = self._parse_json(request) if is_json else self._parse_form(request)
        except BadChoice as exc:
            return respond(400, {"error": str(exc)})
        except HTTPException as exc:
            return respond(exc.code or 400, {"error": exc.description or "The request body could not be read."})

        if consent.minor and not chosen <= (consent.guardian_allowed | self.policy.required):
            # GDPR Art 8: below the age of digital consent only a guardian can opt in;
            # a minor may narrow what the guardian allowed, never widen it.
            return respond(403, {"error": ASK_GUARDIAN, "minor": True})
        if consent.gpc or (consent.dnt and self.context.honour_dnt):
            # GPC wins over an opt-in made while the signal is on (11 CCR §7025(c)).
            chosen -= self.policy.gpc_categories
        granted = chosen | self.policy.required
        # What the visitor had recorded, not what this request grants: under GPC a stored
        # opt-in for a gpc category that is now taken back is "withdrawn".
        previously = (consent.chosen | self.policy.required) if consent.decided else frozenset()
        choice = _Choice(request, consent, granted, method, is_json, target)
        if consent.consent_id is None:
            return self._store_choice(choice, new_consent_id(), previously, retry=False)
        return self._store_choice(choice, consent.consent_id, previously, retry=True)

    def _store_choice(self, choice: _Choice, consent_id: str, previously: frozenset[str], *, retry: bool) -> Pending:
        """The whole answer for a choice under ``consent_id``, waiting for its receipt to
        be stored (the store raises ForgottenConsentId for an erased id)."""
        request, consent, granted = choice.request, choice.consent, choice.granted
        receipt = build_receipt(
            policy=self.policy,
            consent_id=consent_id,
            granted=granted,
            previously_granted=previously,
            method=choice.method,
            gpc=consent.gpc,
            dnt=consent.dnt,
            lifetime=self.context.cookie.lifetime,
            ip=request.client,
            user_agent=request.header("user-agent"),
        )
        # The whole answer first, then the receipt, then the answer sent: a choice is never
        # reported as saved unless it is, and no receipt is stored for an answer that
        # could not be built.
        decision = self.context.cookie.decide(revision=self.policy.revision, categories=granted, consent_id=consent_id)
        secure = self.context.secure_over(request.scheme)
        headers = self.context.consent_cookie_lines(decision, secure)
        headers += self._expire_withdrawn(request, granted, secure)
        if choice.is_json:
            new_consent = Consent(True, granted, granted, consent_id, self.policy.revision, decision.decided_at,
                                  consent.gpc, consent.dnt, consent.minor)
            answer = respond(200, self.state(new_consent), headers=headers)
        else:
            location = safe_next(request, choice.target)
            headers.append(("Location", site_location(self.context.site_url, request, location)))
            page = self.context.templates.for_language(request.header("accept-language"))
            headers += page.headers
            answer = respond_html(303, redirect_page(location, page=page), headers=headers)

        def stored(_: object) -> Response:
            self.context.changed()
            return answer

        def failed(exc: Exception) -> Answer:
            if retry and isinstance(exc, ForgottenConsentId):
                # The visitor had this id erased (GDPR Art 17): it must never link anything
                # again, so the choice starts a new id, with no history, and both cookies carry
                # it. The store checks in the receipt's own transaction: no read on page views.
                return self._store_choice(choice, new_consent_id(), frozenset(), retry=False)
            raise exc

        return Pending(lambda: self.context.store.add_receipt(receipt), stored, failed)

    def _parse_json(self, request: Request) -> tuple[frozenset[str], str, None]:
        try:
            data = json.loads(request.data())
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            raise BadChoice('The body is not valid JSON; send {"categories": ["analytics", ...]}.') from None
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise BadChoice('Send a JSON object with a "categories" list, e.g. {"categories": ["analytics"]}.')
        method = data.get("method", "api")
        if method not in ("banner", "api"):
            raise BadChoice('"method" must be "banner" or "api".')
        return self._known(data["categories"]), method, None

    def _parse_form(self, request: Request) -> tuple[frozenset[str], str, str | None]:
        form: MultiDict[str, str] = request.form(self.context.max_body)
        action = form.get("action")
        if action is None:
            raise BadChoice(f"Say what to record: send action= one of {', '.join(_FORM_ACTIONS)}.")
        if action not in _FORM_ACTIONS:
            raise BadChoice(f"Unknown action {action[:40]!r}; use one of: {', '.join(_FORM_ACTIONS)}.")
        target = form.get("next")
        if action == "accept_all":
            return frozenset(self.policy.category_names), "form", target
        if action in ("reject_all", "withdraw"):
            return frozenset(), "withdraw" if action == "withdraw" else "form", target
        return self._known(form.getlist("category")), "form", target

    def _known(self, names: list[Any]) -> frozenset[str]:
        if len(names) > 100:
            raise BadChoice("Too many categories in one choice.")
        for name in names:
            if not isinstance(name, str):
                raise BadChoice(f"Category names must be strings, not {type(name).__name__}.")
            if self.policy.category(name) is None:
                known = ", ".join(self.policy.category_names)
                raise BadChoice(f"Unknown category {name[:40]!r}; this site's categories are: {known}.")
        return frozenset(names)

    def _expire_withdrawn(self, request: Request, granted: frozenset[str], secure: bool) -> list[tuple[str, str]]:
        """Expire the cookies the browser sent whose category the new choice refuses."""
        gate = self.context.gate
        refused = gate.filter_request_cookies(request.header("cookie") or "", granted)[1]
        return gate.expiry_headers(refused, secure=secure)


@dataclass(frozen=True, slots=True)
class _Choice:
    """A choice read from a request, before it has a consent id."""

    request: Request
    consent: Consent
    granted: frozenset[str]
    method: str
    is_json: bool
    target: str | None  # the form's ``next``


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
