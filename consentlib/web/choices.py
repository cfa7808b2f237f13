"""Recording a visitor's choice: ``POST {prefix}`` with a form or JSON (docs/http.md).

The whole answer is built first, then the receipt is stored (store work, returned as a
:class:`~consentlib.web.exchange.Pending`), then the answer is sent: a choice is never
reported as saved unless it is, and no receipt is stored for an answer that could not
be built.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from consentlib.consent import Consent, new_consent_id
from consentlib.locale.texts import localized
from consentlib.policy import Policy
from consentlib.records.receipts import build_receipt, shown
from consentlib.store.base import ForgottenConsentId
from consentlib.web.context import EndpointContext
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.guardian import ASK_GUARDIAN
from consentlib.web.http import cross_origin_refusal, respond, respond_html, safe_next, site_location
from consentlib.web.pages import redirect_page

_FORM_ACTIONS = ("accept_all", "reject_all", "save", "withdraw", "grant")


class BadChoice(Exception):
    """A posted choice that cannot be recorded; the message goes to the client (400)."""


def state_of(policy: Policy, consent: Consent, language: str = "en") -> dict[str, Any]:
    """The visitor's state, as ``GET {prefix}`` and a JSON choice answer it; the categories'
    labels and descriptions in ``language`` (the banner shows them)."""
    return {
        "revision": policy.revision,
        "decided": consent.decided,
        "granted": sorted(consent.granted),
        "gpc": consent.gpc,
        "dnt": consent.dnt,
        "minor": consent.minor,
        # Where the visitor is, as the site's trusted header says (None: unknown), and
        # the regime there (docs/regions.md).
        "region": consent.region,
        "regime": consent.regime,
        # The law there grants before a choice (opt-out, notice): the banner is a notice.
        "notice_only": consent.regime != "opt-in" and not consent.decided,
        "categories": [
            {"name": c.name, "label": localized(c.label, language, policy.default_language),
             "description": localized(c.description, language, policy.default_language),
             "required": c.required, "gpc": c.gpc, "sale_or_share": c.sale_or_share, "separate": c.separate}
            for c in policy.categories
        ],
    }


class Choices:
    """Records the choices posted to one site's consent endpoint."""

    def __init__(self, context: EndpointContext) -> None:
        self.context = context
        self.policy = context.policy

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
        ticked: frozenset[str] | None = None  # the banner's separate categories, when it asked them
        try:
            if is_json:
                chosen, method, target, ticked = self._parse_json(request)
            else:
                chosen, method, target = self._parse_form(request, consent)
        except BadChoice as exc:
            return respond(400, {"error": str(exc)})
        except HTTPException as exc:
            return respond(exc.code or 400, {"error": exc.description or "The request body could not be read."})

        if consent.minor and not chosen <= (consent.guardian_allowed | self.policy.required):
            # GDPR Art 8: below the age of digital consent only a guardian can opt in;
            # a minor may narrow what the guardian allowed, never widen it.
            return respond(403, {"error": ASK_GUARDIAN, "minor": True})
        if method == "banner":
            chosen = self._banner_separate(consent, chosen, ticked)
        return self.store(request, consent, chosen, method, target, is_json=is_json)

    def _banner_separate(self, consent: Consent, chosen: frozenset[str],
                         ticked: frozenset[str] | None) -> frozenset[str]:
        """What a banner post grants of the separate categories (PIPL Art 23, 29, 39: each
        needs its own act of consent, which a one-step "Accept all" is not; docs/regions.md).

        The second layer asks them apart and names the ticked ones in ``separate``: exactly
        those are granted, so one left unticked is withdrawn. Without ``separate`` ("Accept
        all") they stay as they stand; "Reject all" (nothing chosen) withdraws them with the rest.
        """
        separate = self.policy.separate
        if ticked is not None:
            return (chosen - separate) | ticked
        if not chosen:
            return chosen
        return (chosen - separate) | (consent.chosen & separate if consent.decided else frozenset())

    def store(self, request: Request, consent: Consent, chosen: frozenset[str], method: str, target: str | None,
              *, is_json: bool = False) -> Answer:
        """Record ``chosen`` (the policy's category names) for the visitor of ``consent``:
        the receipt, both cookies, and the answer (JSON, or a 303 to ``target``)."""
        if consent.gpc or (consent.dnt and self.context.honour_dnt):
            # GPC wins over an opt-in made while the signal is on (11 CCR §7025(c)); in an
            # opt-out region it is also an opt-out of sale or sharing (§7025(c)(1)).
            chosen -= self.policy.gpc_categories
            if consent.regime == "opt-out":
                chosen -= self.policy.sale_or_share_categories
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
        # What the visitor read: the texts of the request's language (receipts' "shown").
        page = self.context.templates.for_request(request)
        receipt = build_receipt(
            policy=self.policy,
            shown=shown(page.language, page.catalogue.texts, self.policy),
            consent_id=consent_id,
            granted=granted,
            previously_granted=previously,
            method=choice.method,
            gpc=consent.gpc,
            dnt=consent.dnt,
            region=consent.region,
            regime=consent.regime,
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
                                  consent.gpc, consent.dnt, consent.minor, region=consent.region,
                                  regime=consent.regime)
            page = self.context.templates.for_request(request)
            state = state_of(self.policy, new_consent, page.language)
            # The page that posted was sent a third-party CSP for what it had then: a host
            # of a category granted now stays refused there, so the banner loads the page again.
            state["reload"] = bool((granted - consent.granted) & self.context.reload_for)
            answer = respond(200, state, headers=[*headers, *page.headers])
        else:
            location = safe_next(request, choice.target)
            headers.append(("Location", site_location(self.context.site_url, request, location)))
            page = self.context.templates.for_request(request)
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

    def _parse_json(self, request: Request) -> tuple[frozenset[str], str, None, frozenset[str] | None]:
        """The categories, the method, no target, and ``separate`` (None when not sent)."""
        try:
            data = json.loads(request.data())
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            raise BadChoice('The body is not valid JSON; send {"categories": ["analytics", ...]}.') from None
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise BadChoice('Send a JSON object with a "categories" list, e.g. {"categories": ["analytics"]}.')
        method = data.get("method", "api")
        if method not in ("banner", "api"):
            raise BadChoice('"method" must be "banner" or "api".')
        chosen = self._known(data["categories"])
        return chosen, method, None, self._ticked_apart(data.get("separate"), chosen)

    def _ticked_apart(self, names: Any, chosen: frozenset[str]) -> frozenset[str] | None:
        """``separate``: the separate categories the visitor ticked on their own, each also in
        ``categories`` (the whole choice); None when the body has none."""
        if names is None:
            return None
        if not isinstance(names, list):
            raise BadChoice('"separate" must be a list of category names, e.g. {"categories": ["transfer"], '
                            '"separate": ["transfer"]}.')
        ticked = self._known(names)
        for name in sorted(ticked):
            if name not in self.policy.separate:
                raise BadChoice(f"Category {name!r} does not need a separate consent: name it in \"categories\" "
                                "only; \"separate\" lists the separate categories the visitor ticked.")
            if name not in chosen:
                raise BadChoice(f"Category {name!r} is in \"separate\" but not in \"categories\": a ticked "
                                "separate category is part of the choice, so name it in both.")
        return ticked

    def _parse_form(self, request: Request, consent: Consent) -> tuple[frozenset[str], str, str | None]:
        form: MultiDict[str, str] = request.form(self.context.max_body)
        action = form.get("action")
        if action is None:
            raise BadChoice(f"Say what to record: send action= one of {', '.join(_FORM_ACTIONS)}.")
        if action not in _FORM_ACTIONS:
            raise BadChoice(f"Unknown action {action[:40]!r}; use one of: {', '.join(_FORM_ACTIONS)}.")
        target = form.get("next")
        if action == "accept_all":
            # PIPL Art 23, 29, 39: a separate category needs its own consent, which one
            # button for everything is not; it is granted only when ticked on its own.
            return frozenset(self.policy.category_names) - self.policy.separate, "form", target
        if action in ("reject_all", "withdraw"):
            return frozenset(), "withdraw" if action == "withdraw" else "form", target
        if action == "grant":
            return self._granted(consent, form.getlist("category")), "embed", target
        return self._known(form.getlist("category")), "form", target

    def _granted(self, consent: Consent, names: list[Any]) -> frozenset[str]:
        """What a click on an embed's placeholder (consentlib.web.embeds) chooses: the
        visitor's recorded choice and the named categories.

        Never what the page's hidden inputs say beyond the names: a cached page must not
        grant again a category withdrawn since. An undecided visitor has recorded nothing:
        under opt-in that is the required categories alone; where the law grants before a
        choice (opt-out, notice), what they have now, since a click that allows one more
        purpose is no opt-out of the others. PIPL Art 23, 29, 39: a separate category is
        granted only by a placeholder that names it alone, a specific act for that one
        purpose (docs/third-parties.md, "Embeds").
        """
        named = self._known(names)
        if not named:
            raise BadChoice("Name what to allow: send category=<name> with action=grant.")
        if len(named) > 1:
            named -= self.policy.separate
        return (consent.chosen if consent.decided else consent.granted) | named

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
