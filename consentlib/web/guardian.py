"""Guardian consent for visitors below the age of digital consent (GDPR Art 8, PIPL Art 31).

The site tells the middleware who is a minor (``is_minor=``); consentlib does not
guess ages. For a minor only required categories are granted whatever the visitor
clicks, until a parent or guardian confirms through a signed link that the site mails
them (``guardian_mailer=``). That confirmation is a receipt like any other, with method
"guardian"; the guardian can withdraw it at any time through a second link.

POST       {prefix}guardian            a minor asks a guardian (form: guardian, category…)
GET, POST  {prefix}guardian/<token>    the guardian's page: allow / decline / withdraw

Link scanners open every URL in a mail, so GET only shows the page; POST decides.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from consentlib.consent import CLOCK_SKEW, Consent, new_consent_id
from consentlib.errors import StoreUnavailable
from consentlib.mail.addresses import email_address
from consentlib.records.receipts import build_receipt
from consentlib.store.base import ForgottenConsentId
from consentlib.web.context import EndpointContext
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.http import cross_origin_refusal, respond, respond_html, safe_next, site_location, site_origin
from consentlib.web.pages import message_page, redirect_page

if TYPE_CHECKING:
    from markupsafe import Markup

    from consentlib.web.templates import Page

_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,2000}")
log = logging.getLogger("consentlib")
CONFIRM_LIFETIME = 7 * 24 * 3600  # a request a guardian has not answered in a week is stale
ASK_GUARDIAN = "You are below the age of digital consent: ask a parent or guardian to allow optional cookies."


class Guardians:
    """Guardian requests, confirmations and withdrawals for one site.

    ``is_minor`` is the site's hook (see ``ConsentMiddleware``); a door asks
    :meth:`is_minor` with its own request object (the WSGI environ, an ASGI scope).
    """

    def __init__(self, context: EndpointContext, is_minor: Callable[[Any], object] | None = None) -> None:
        self.context = context
        self.policy = context.policy
        self._is_minor = is_minor
        # itsdangerous verifies with every key, newest last; the context lists newest first.
        self.serializer = URLSafeTimedSerializer(list(reversed(context.secret_keys)), salt="consentlib.guardian")

    # -- the minor's side ------------------------------------------------------------------

    def is_minor(self, environ: Any) -> bool:
        """The site's ``is_minor`` hook; a hook that fails counts as "minor" (fail closed).

        ``environ`` is what the door has: a WSGI environ, or an ASGI scope.
        """
        hook = self._is_minor
        if hook is None:
            return False  # without a hook no visitor is known to be a minor
        try:
            return bool(hook(environ))
        except Exception:
            log.exception("consentlib: is_minor raised; treating the visitor as a minor")
            return True

    def minor_consent(self, consent: Consent) -> Consent:
        """Only what a guardian allowed (narrowed by the minor's own later choice)."""
        try:
            guardian = self.grant(consent)
        except StoreUnavailable:
            guardian = None  # a guardian's consent cannot be proven: only what needs none
        required = self.policy.required
        gpc_denied = consent.gpc or (consent.dnt and self.context.honour_dnt)
        allowed = required
        if guardian is not None:
            allowed, own_later = guardian
            if own_later is not None:
                # The child may always narrow, never widen, what the guardian allowed.
                allowed = allowed & (own_later | required)
        granted = (allowed | required) - (self.policy.gpc_categories if gpc_denied else frozenset())
        return replace(consent, decided=consent.decided or guardian is not None, granted=granted, minor=True,
                       guardian_allowed=guardian[0] if guardian is not None else frozenset())

    def grant(self, consent: Consent) -> tuple[frozenset[str], frozenset[str] | None] | None:
        """What a guardian allowed for this visitor, and the minor's own later choice.

        None without a guardian decision that still counts: one given under this
        policy's revision and within its lifetime (a new notice needs a new answer; an
        old one lapses like any consent). Receipts are compared in the order they were
        stored, so "later" is exact, not a matter of clock seconds.
        """
        if not consent.consent_id:
            return None
        store = self.context.store
        guardian, own = store.guardian_receipts(consent.consent_id, revision=self.policy.revision)
        if guardian is None or not self._counts(guardian):
            return None
        if store.consent_id_forgotten(consent.consent_id):
            # GDPR Art 17: the id was erased (its receipts kept only as proof). A grant
            # read through it would keep using the erased id for this child: none counts
            # until a guardian answers anew, under the fresh id the next request starts.
            return None
        names = frozenset(self.policy.category_names)
        own_later = None
        if own is not None:
            # A lapsed narrowing must not widen what the child gets: it grants nothing.
            own_later = frozenset(own["granted"]) & names if self._counts(own) else frozenset()
        return frozenset(guardian["granted"]) & names, own_later

    def _counts(self, receipt: dict[str, Any]) -> bool:
        """Given under this revision, and neither past its own expiry nor older than the
        site's lifetime now (a site that shortens it shortens every grant)."""
        try:
            given, expires = _timestamp(receipt["time"]), _timestamp(receipt["expires"])
        except (KeyError, TypeError, ValueError):
            return False  # a receipt that cannot be read proves nothing
        age = time.time() - given
        return (receipt.get("revision") == self.policy.revision and -CLOCK_SKEW <= age < self.context.cookie.lifetime
                and time.time() < expires)

    def request(self, request: Request, consent: Consent) -> Answer:
        """A minor asks a guardian: mail them a signed confirmation link."""
        mailer = self.context.guardian_mailer
        if mailer is None:
            return respond(404, {"error": "This site does not offer guardian consent."})
        if not consent.minor:
            return respond(400, {"error": "Guardian consent is only for visitors below the age of digital consent."})
        refusal = cross_origin_refusal(request, self.context.trusted_origins)
        if refusal:
            return respond(403, {"error": refusal})
        try:
            form = request.form(self.context.max_body)
        except HTTPException as exc:
            return respond(exc.code or 400, {"error": exc.description})
        guardian = email_address(form.get("guardian"))
        if guardian is None:
            return respond(400, {"error": "Give the parent's or guardian's e-mail address, like parent@example.com."})
        asked = form.getlist("category")
        unknown = [c for c in asked if self.policy.category(c) is None]
        if unknown or not asked or len(asked) > 100:
            return respond(400, {
                "error": f"Name the categories to ask for; this site's are: {', '.join(self.policy.category_names)}."})
        categories = sorted(set(asked) - self.policy.required)
        store = self.context.store

        def forgotten() -> bool:
            return consent.consent_id is not None and store.consent_id_forgotten(consent.consent_id)

        def ask(erased: bool) -> Answer:
            # The whole answer first; then the receipt, then the mail: nothing is stored or
            # mailed for a request whose answer could not be built.
            headers = []
            # An erased id (GDPR Art 17) must not be linked to a guardian's answer: the
            # request starts a new id, as for a browser without one.
            consent_id = None if erased else consent.consent_id
            if consent_id is None:
                # The guardian's answer must find this browser again: give it a consent id,
                # recorded like any decision, granting only what needs no consent.
                consent_id = new_consent_id()
                headers += self.context.consent_cookie_lines(self.context.cookie.decide(
                    revision=self.policy.revision, categories=self.policy.required, consent_id=consent_id),
                    self.context.secure_over(request.scheme))
            location = safe_next(request, form.get("next"))
            page = self.context.templates.for_request(request)
            answer = redirect_page(location, "sent", page=page)
            token = self.serializer.dumps({"id": consent_id, "c": categories, "g": self.guardian_id(guardian),
                                           "n": secrets.token_hex(8), "k": "confirm"})
            url = f"{self.context.site_url}{self.context.prefix}guardian/{token}"
            new_id = consent_id

            def record_and_mail() -> bool:
                # Blocking I/O both: the store, then the site's mailer.
                if new_id != consent.consent_id:
                    self._record(request, new_id, self.policy.required, "form", consent, None)
                try:
                    mailer(guardian, url, [self._label(c) for c in categories])
                except Exception:
                    log.exception("consentlib: guardian_mailer raised")
                    return False
                return True

            def sent(mailed: bool) -> Response:
                if not mailed:
                    # The new consent id is recorded: the browser keeps it, so a retry reuses it.
                    return respond(503, {
                        "error": "The e-mail to your parent or guardian could not be sent. Try again later."},
                        headers=headers)
                return respond_html(303, answer, headers=[
                    *headers, ("Location", site_location(self.context.site_url, request, location)), *page.headers])

            return Pending(record_and_mail, sent)

        return Pending(forgotten, ask)

    # -- the guardian's side ---------------------------------------------------------------------

    def guardian_id(self, address: str) -> str:
        """A keyed hash of the guardian's address: names who confirmed without storing it."""
        return hmac.new(self.context.secret_keys[0], address.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]

    def page(self, request: Request, token: str) -> Answer:
        method = request.method
        if method not in ("GET", "HEAD", "POST"):
            return respond(405, {"error": "Use GET or POST here."}, headers=[("Allow", "GET, HEAD, POST")])
        page = self.context.templates.for_request(request)
        data, problem = self._load(token)
        if problem or data is None:
            status, text = problem or (404, "link_invalid")
            return self._answer(status, page, page.text(text))
        if method != "POST":
            return respond_html(200, self._question(data, page), headers=page.headers)
        refusal = cross_origin_refusal(request, self.context.trusted_origins)
        if refusal:
            return respond(403, {"error": refusal})
        try:
            action = request.form(self.context.max_body).get("action")
        except HTTPException as exc:
            return respond(exc.code or 400, {"error": exc.description})
        allowed_actions = ("withdraw",) if data["k"] == "withdraw" else ("allow", "decline")
        if action is None or action not in allowed_actions:
            return respond(400, {"error": f"Choose one of: {', '.join(allowed_actions)}."})
        granted = self.policy.required | (frozenset(data["c"]) if action == "allow" else frozenset())

        def record() -> bool:
            if data["k"] == "confirm" and self._used(data):
                return False
            self._record(request, data["id"], granted, "guardian", None, data)
            return True

        def recorded(done: bool) -> Response:
            if not done:
                return self._answer(409, page, page.text("link_used"))
            withdraw = self.serializer.dumps({"id": data["id"], "g": data["g"], "c": [], "n": "", "k": "withdraw"})
            withdraw_url = f"{self.context.site_url or site_origin(request)}{self.context.prefix}guardian/{withdraw}"
            said = page.text({"allow": "guardian_allowed", "decline": "guardian_declined",
                              "withdraw": "guardian_withdrawn"}[action])
            body = page.render("guardian-done.html", said=said, withdraw_url=withdraw_url)
            return respond_html(200, page.document(page.text("guardian_title"), body), headers=page.headers)

        def failed(exc: Exception) -> Response:
            if isinstance(exc, ForgottenConsentId):
                # The minor's consent id was erased after this link was mailed (GDPR Art 17):
                # nothing may be recorded under it again; the minor asks anew from their new id.
                return self._answer(410, page, page.text("link_expired"))
            raise exc

        return Pending(record, recorded, failed)

    @staticmethod
    def _answer(status: int, page: Page, message: Markup) -> Response:
        html = message_page(page, page.text("guardian_title"), message)
        return respond_html(status, html, headers=page.headers)

    def _load(self, token: str) -> tuple[dict[str, Any] | None, tuple[int, str] | None]:
        # base64 decoding skips characters outside its alphabet; refuse them up front so
        # that only the exact token that was issued is accepted.
        if not _TOKEN.fullmatch(token):
            return None, (404, "link_invalid")
        try:
            data, signed_at = self.serializer.loads(token, return_timestamp=True)
        except (BadData, UnicodeError, ValueError):
            return None, (404, "link_invalid")
        if not (isinstance(data, dict) and data.get("k") in ("confirm", "withdraw")
                and isinstance(data.get("id"), str) and isinstance(data.get("g"), str)
                and isinstance(data.get("n"), str) and isinstance(data.get("c"), list)
                and all(isinstance(c, str) and self.policy.category(c) is not None for c in data["c"])):
            return None, (404, "link_invalid")
        # A withdrawal link must work for as long as the consent does; a request expires.
        if data["k"] == "confirm" and time.time() - signed_at.timestamp() > CONFIRM_LIFETIME:
            return None, (410, "link_expired")
        return data, None

    def _label(self, name: str) -> str:
        """The label of category ``name`` (checked to be the policy's when the link was read)."""
        category = self.policy.category(name)
        return category.label if category is not None else name

    def _used(self, data: dict[str, Any]) -> bool:
        return self.context.store.guardian_token_used(data["id"], data["n"])

    def _question(self, data: dict[str, Any], page: Page) -> str:
        labels = page.catalogue.texts["separator"].join(self._label(c) for c in data["c"])
        chosen = page.render("guardian-labels.html", labels=labels or page.text("nothing_optional"))
        body = page.render("guardian-question.html", withdraw=data["k"] == "withdraw", labels=chosen)
        return page.document(page.text("guardian_title"), body)

    def _record(self, request: Request, consent_id: str, granted: frozenset[str], method: str,
                consent: Consent | None, token: dict[str, Any] | None) -> None:
        """Store a receipt (store work: reads the guardian's grant, then writes)."""
        previous = self.grant(Consent(False, frozenset(), consent_id=consent_id)) if method == "guardian" else None
        if previous is not None and previous[1] is not None:
            previous = (previous[0] & previous[1], None)
        receipt = build_receipt(
            policy=self.policy, consent_id=consent_id, granted=frozenset(granted),
            previously_granted=previous[0] if previous else frozenset(), method=method,
            gpc=consent.gpc if consent else False, dnt=consent.dnt if consent else False,
            lifetime=self.context.cookie.lifetime, ip=request.client, user_agent=request.header("user-agent"),
        )
        if token is not None:
            receipt["guardian"] = {"id": token["g"], "verified_by": "signed e-mail link", "token": token["n"]}
        self.context.store.add_receipt(receipt)
        self.context.changed()


def _timestamp(text: str) -> float:
    """A receipt's UTC time text (consentlib.records.receipts) as a POSIX timestamp."""
    # fromisoformat, not strptime: this runs on every page view of a minor, and strptime
    # costs some 35 µs where fromisoformat costs under one.
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if moment.tzinfo is None:
        raise ValueError(f"receipt time {text!r} has no time zone")
    return moment.timestamp()
