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
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from consentlib.consent import Consent, new_consent_id
from consentlib.web.context import EndpointContext
from consentlib.web.declaration import declaration
from consentlib.errors import StoreUnavailable
from consentlib.web.guardian import ASK_GUARDIAN, Guardians
from consentlib.web.http import (
    bounded_request,
    cross_origin_refusal,
    respond,
    respond_html,
    safe_next,
    script_reads_answer,
    site_location,
)
from consentlib.web.pages import preferences_page, redirect_page
from consentlib.records.receipts import build_receipt, presented
from consentlib.store.base import ForgottenConsentId
from consentlib.web.assets import lookup as static_asset

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from consentlib.mail.endpoints import MailEndpoints

    #: An endpoint: answers one request of a visitor with ``consent``.
    Handler = Callable[[WSGIEnvironment, StartResponse, Consent], Iterable[bytes]]

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

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent,
                 path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/.well-known/gpc.json":
            route = "gpc"
        else:
            route = path[len(self.context.prefix):]
        try:
            if route == "":
                if method == "POST":
                    return self.record(environ, start_response, consent)
                return self._get_only(environ, start_response, method, "GET, HEAD, POST", self.state_response, consent)
            if route == "preferences":
                return self._get_only(environ, start_response, method, "GET, HEAD", self.preferences, consent)
            if route == "receipts":
                return self._get_only(environ, start_response, method, "GET, HEAD", self.receipts, consent)
            if route == "gpc":
                return self._get_only(environ, start_response, method, "GET, HEAD", self.gpc_json, consent)
            if route == "declaration.json":
                return self._get_only(environ, start_response, method, "GET, HEAD", self.declaration_json, consent)
            if route == "guardian":
                if method != "POST":
                    return respond(environ, start_response, 405, {"error": "Use POST here."}, headers=[("Allow", "POST")])
                return self.guardians.request(environ, start_response, consent)
            if route.startswith("guardian/"):
                return self.guardians.page(environ, start_response, route[len("guardian/"):])
            if route.startswith("m/"):
                # Email beacons (open pixel, click, unsubscribe): see consentlib.mail.endpoints.
                return self.mail(environ, start_response, route[2:])
            asset = static_asset(route)
            if asset is not None:
                return self._get_only(environ, start_response, method, "GET, HEAD", asset.respond, consent)
        except StoreUnavailable:
            return respond(environ, start_response, 503, {
                "error": "The consent store is unavailable, so nothing was read or recorded. Try again shortly."
            })
        return respond(environ, start_response, 404, {"error": f"No consent endpoint at {path}."})

    def _get_only(self, environ: WSGIEnvironment, start_response: StartResponse, method: str, allow: str,
                  handler: Handler, consent: Consent) -> Iterable[bytes]:
        if method not in ("GET", "HEAD"):
            return respond(environ, start_response, 405, {"error": f"Use {allow} here."}, headers=[("Allow", allow)])
        return handler(environ, start_response, consent)

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

    def state_response(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent) -> list[bytes]:
        return respond(environ, start_response, 200, self.state(consent), headers=[("Vary", "Cookie, Sec-GPC")])

    def gpc_json(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent) -> list[bytes]:
        body: dict[str, Any] = {"gpc": True}
        if self.context.gpc_last_update:
            body["lastUpdate"] = self.context.gpc_last_update
        return respond(environ, start_response, 200, body, cache="public, max-age=86400")

    def declaration_json(self, environ: WSGIEnvironment, start_response: StartResponse,
                         consent: Consent) -> list[bytes]:
        # The same for every visitor: public, and cacheable for an hour (a new policy
        # revision is picked up within that time).
        return respond(environ, start_response, 200, declaration(self.policy), cache="public, max-age=3600")

    def receipts(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent) -> list[bytes]:
        """The visitor's receipts; with ``?download=1``, everything the store holds about
        them as a JSON file (GDPR Art 15 access, Art 20 portability)."""
        if script_reads_answer(environ):
            # The consent id and the record ids are lasting identifiers: a script on the
            # page (fetch, an iframe) must not read them, or HttpOnly would hide nothing.
            return respond(environ, start_response, 403, {
                "error": "Receipts are shown only to a visitor who opens this address, not to scripts on a page."},
                headers=[("Vary", "Sec-Fetch-Mode, Sec-Fetch-Dest")])
        store = self.context.store
        consent_id = consent.consent_id
        if consent_id is not None and store.consent_id_forgotten(consent_id):
            # An erased id (GDPR Art 17) is answered as no id: its kept proof is the
            # site's, not shown again to whoever holds the old cookie.
            consent_id = None
        found = presented(store.receipts(consent_id=consent_id)) if consent_id else []
        body: dict[str, Any] = {"consent_id": consent_id, "receipts": found}
        # Opened in a window by a page's script (window.open), the answer is a sandboxed,
        # opaque-origin document that the opener cannot read; never framed.
        headers = [("Vary", "Cookie, Sec-Fetch-Mode, Sec-Fetch-Dest"),
                   ("Content-Security-Policy", "sandbox; frame-ancestors 'none'")]
        if Request(environ).args.get("download") == "1":
            body["pending_changes"] = store.changes(subject=consent_id) if consent_id else []
            body["kept"] = KEPT_NOTE
            headers.append(("Content-Disposition", 'attachment; filename="my-consent-data.json"'))
        return respond(environ, start_response, 200, body, headers=headers)

    def preferences(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent) -> list[bytes]:
        next_path = safe_next(environ, Request(environ).args.get("next"))
        page = self.context.templates.for_request(environ)
        html = preferences_page(self.policy, consent, action=self.context.prefix, next_path=next_path,
                                guardians=self.context.guardian_mailer is not None, page=page)
        return respond_html(environ, start_response, 200, html, headers=page.headers)

    # -- recording a choice ----------------------------------------------------------------------

    def record(self, environ: WSGIEnvironment, start_response: StartResponse, consent: Consent) -> Iterable[bytes]:
        refusal = cross_origin_refusal(environ, self.context.trusted_origins)
        if refusal:
            return respond(environ, start_response, 403, {"error": refusal})
        request = bounded_request(environ, self.context.max_body)
        is_json = request.mimetype == "application/json"
        if not is_json and request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return respond(environ, start_response, 415, {
                "error": "Post a form (application/x-www-form-urlencoded) or JSON (application/json)."
            })
        try:
            if request.content_length is not None and request.content_length > self.context.max_body:
                return respond(environ, start_response, 413, {
                    "error": f"The request body is over {self.context.max_body} bytes; a choice needs far less."
                })
            chosen, method = self._parse_json(request) if is_json else self._parse_form(request)
        except BadChoice as exc:
            return respond(environ, start_response, 400, {"error": str(exc)})
        except HTTPException as exc:
            code = exc.code or 400
            return respond(environ, start_response, code, {"error": exc.description or "The request body could not be read."})

        if consent.minor and not chosen <= (consent.guardian_allowed | self.policy.required):
            # GDPR Art 8: below the age of digital consent only a guardian can opt in;
            # a minor may narrow what the guardian allowed, never widen it.
            return respond(environ, start_response, 403, {"error": ASK_GUARDIAN, "minor": True})
        if consent.gpc or (consent.dnt and self.context.honour_dnt):
            # GPC wins over an opt-in made while the signal is on (11 CCR §7025(c)).
            chosen -= self.policy.gpc_categories
        granted = chosen | self.policy.required
        # What the visitor had recorded, not what this request grants: under GPC a stored
        # opt-in for a gpc category that is now taken back is "withdrawn".
        previously = (consent.chosen | self.policy.required) if consent.decided else frozenset()
        choice = (environ, start_response, request, consent, granted, method)
        if consent.consent_id is None:
            return self._store_choice(*choice, new_consent_id(), previously)
        try:
            return self._store_choice(*choice, consent.consent_id, previously)
        except ForgottenConsentId:
            # The visitor had this id erased (GDPR Art 17): it must never link anything
            # again, so the choice starts a new id, with no history, and both cookies carry
            # it. The store checks in the receipt's own transaction: no read on page views.
            return self._store_choice(*choice, new_consent_id(), frozenset())

    def _store_choice(self, environ: WSGIEnvironment, start_response: StartResponse, request: Request,
                      consent: Consent, granted: frozenset[str], method: str, consent_id: str,
                      previously: frozenset[str]) -> Iterable[bytes]:
        """Build the whole answer for a choice under ``consent_id``, store its receipt,
        then send the answer (the store raises ForgottenConsentId for an erased id)."""
        is_json = request.mimetype == "application/json"
        receipt = build_receipt(
            policy=self.policy,
            consent_id=consent_id,
            granted=granted,
            previously_granted=previously,
            method=method,
            gpc=consent.gpc,
            dnt=consent.dnt,
            lifetime=self.context.cookie.lifetime,
            ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
        )
        # The whole answer first, then the receipt, then the answer sent: a choice is never
        # reported as saved unless it is, and no receipt is stored for an answer that
        # could not be built.
        decision = self.context.cookie.decide(revision=self.policy.revision, categories=granted, consent_id=consent_id)
        headers = self.context.consent_cookie_headers(environ, decision)
        headers += self._expire_withdrawn(environ, granted)
        if is_json:
            new_consent = Consent(True, granted, granted, consent_id, self.policy.revision, decision.decided_at,
                                  consent.gpc, consent.dnt, consent.minor)
            state = self.state(new_consent)
        else:
            location = safe_next(environ, request.form.get("next"))
            headers.append(("Location", site_location(self.context.site_url, environ, location)))
            page = self.context.templates.for_request(environ)
            headers += page.headers
            html = redirect_page(location, page=page)
        self.context.store.add_receipt(receipt)
        self.context.changed()
        if is_json:
            return respond(environ, start_response, 200, state, headers=headers)
        return respond_html(environ, start_response, 303, html, headers=headers)

    def _parse_json(self, request: Request) -> tuple[frozenset[str], str]:
        try:
            data = json.loads(request.get_data(cache=False))
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            raise BadChoice('The body is not valid JSON; send {"categories": ["analytics", ...]}.') from None
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise BadChoice('Send a JSON object with a "categories" list, e.g. {"categories": ["analytics"]}.')
        method = data.get("method", "api")
        if method not in ("banner", "api"):
            raise BadChoice('"method" must be "banner" or "api".')
        return self._known(data["categories"]), method

    def _parse_form(self, request: Request) -> tuple[frozenset[str], str]:
        action = request.form.get("action")
        if action is None:
            raise BadChoice(f"Say what to record: send action= one of {', '.join(_FORM_ACTIONS)}.")
        if action not in _FORM_ACTIONS:
            raise BadChoice(f"Unknown action {action[:40]!r}; use one of: {', '.join(_FORM_ACTIONS)}.")
        if action == "accept_all":
            return frozenset(self.policy.category_names), "form"
        if action in ("reject_all", "withdraw"):
            return frozenset(), "withdraw" if action == "withdraw" else "form"
        return self._known(request.form.getlist("category")), "form"

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

    def _expire_withdrawn(self, environ: WSGIEnvironment, granted: frozenset[str]) -> list[tuple[str, str]]:
        """Expire the cookies the browser sent whose category the new choice refuses."""
        gate = self.context.gate
        refused = gate.filter_request_cookies(environ.get("HTTP_COOKIE") or "", granted)[1]
        return gate.expiry_headers(refused, secure=self.context.is_secure(environ))
