"""``GET {prefix}receipts``: a visitor's consent receipts, as a page for a person or as
JSON for a program (GDPR Art 7(1): the proof of consent; Art 15: access to it).

Which one is content negotiation on ``Accept`` (RFC 9110 §12.5.1): a page when the
client prefers ``text/html`` to ``application/json`` (a browser's navigation does),
JSON otherwise, so ``curl`` and scripts of earlier releases get what they had; both
answers say ``Vary: Accept``. ``?download=1`` is always the JSON file.

Only a person who opens the address reads it: a page's script (fetch, an iframe)
gets a 403 (Fetch Metadata), and the answer is a sandboxed document that no opener
can read (CSP ``sandbox``), because the consent id and the record ids it shows are
lasting identifiers that HttpOnly keeps from scripts.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from consentlib.consent import Consent
from consentlib.records.receipts import presented
from consentlib.web.context import EndpointContext
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.http import respond, respond_html, script_reads_answer
from consentlib.web.templates import Page

#: What ``?download=1`` says of the receipts it holds.
KEPT_NOTE = (
    "Receipts are the proof that you made these choices (GDPR Art 7(1)); they are kept for the site's "
    "retention period even after an erasure request (Art 17(3)(b),(e)), then deleted. Your IP network and "
    "browser family are erased on request. You are named only by a random consent id."
)
# What the answer depends on: the id cookie, whether a script asks, and for which form.
_VARY = ("Vary", "Cookie, Sec-Fetch-Mode, Sec-Fetch-Dest, Accept")
# Opened in a window by a page's script (window.open), the answer is an opaque-origin
# document its opener cannot read; never framed. The page's stylesheet still loads.
_SANDBOX = ("Content-Security-Policy", "sandbox; frame-ancestors 'none'")
_Found = tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]


def wants_html(accept: str | None) -> bool:
    """Whether ``Accept`` prefers ``text/html`` to ``application/json`` (RFC 9110
    §12.5.1, wildcards and q-values counted); no ``Accept`` at all is a tie: JSON."""
    accepted = parse_accept_header(accept, MIMEAccept)
    return accepted.quality("text/html") > accepted.quality("application/json")


def receipts(context: EndpointContext, request: Request, consent: Consent) -> Answer:
    """The visitor's receipts; with ``?download=1``, everything the store holds about
    them as a JSON file (GDPR Art 15 access, Art 20 portability)."""
    if script_reads_answer(request):
        return respond(403, {
            "error": "Receipts are shown only to a visitor who opens this address, not to scripts on a page."},
            headers=[("Vary", "Sec-Fetch-Mode, Sec-Fetch-Dest")])
    store = context.store
    download = request.args.get("download") == "1"
    page = None if download or not wants_html(request.header("accept")) else \
        context.templates.for_request(request)

    def read() -> _Found:
        consent_id = consent.consent_id
        if consent_id is not None and store.consent_id_forgotten(consent_id):
            # An erased id (GDPR Art 17) is answered as no id: its kept proof is the
            # site's, not shown again to whoever holds the old cookie.
            consent_id = None
        if consent_id is None:
            return None, [], []
        return consent_id, store.receipts(consent_id=consent_id), store.changes(subject=consent_id) if download else []

    def answer(found: _Found) -> Response:
        consent_id, kept, changes = found
        if page is not None:
            html = receipts_page(context, page, consent_id, presented(kept))
            return respond_html(200, html, headers=[_VARY, _SANDBOX, *page.headers])
        body: dict[str, Any] = {"consent_id": consent_id, "receipts": presented(kept)}
        headers = [_VARY, _SANDBOX]
        if download:
            body["pending_changes"] = changes
            body["kept"] = KEPT_NOTE
            headers.append(("Content-Disposition", 'attachment; filename="my-consent-data.json"'))
        return respond(200, body, headers=headers)

    return Pending(read, answer)


def receipts_page(context: EndpointContext, page: Page, consent_id: str | None, shown: list[dict[str, Any]]) -> str:
    """The receipts as a page in ``page``'s language, newest first."""
    labels = {c.name: c.label or c.name for c in context.policy.categories}
    separator = page.text("separator")

    def said(names: list[str]) -> Markup | str:
        return Markup(separator).join(labels.get(name, name) for name in names) if names else "—"

    rows = "".join(
        page.render(
            "receipt-row.html", time=str(r.get("time", "")), when=_readable(r.get("time")),
            how=page.text(f"method_{r['method']}") if f"method_{r.get('method')}" in page.catalogue.texts
            else str(r.get("method", "")),
            allowed=said(list(r.get("granted", []))), not_allowed=said(list(r.get("denied", []))),
            status=page.text(f"receipt_{r['status']}"), expires=_readable(r.get("expires")))
        for r in reversed(shown))
    body = page.render("receipts.html", consent_id=consent_id or "", rows=Markup(rows),
                       download_url=f"{context.prefix}receipts?download=1",
                       preferences_url=f"{context.prefix}preferences")
    return page.document(page.text("receipts_title"), body)


def _readable(moment: object) -> str:
    """A stored UTC time (``2026-12-05T10:23:18.123456Z``) to the minute, for people."""
    text = str(moment or "")
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 else text
