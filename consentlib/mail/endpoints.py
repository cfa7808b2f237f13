"""The mail endpoints, answered by ConsentMiddleware (see consentlib.web.endpoints):

GET        {prefix}m/o/<token>.gif   open pixel: always the 1x1 GIF; an open is recorded
                                     only for a tracked, subscribed recipient
GET        {prefix}m/c/<token>       click: 302 to the signed target, or 404
GET, POST  {prefix}m/u/<token>       unsubscribe: a page (GET) / RFC 8058 one-click (POST)
GET, POST  {prefix}m/t/<token>       stop tracking my opens: a page (GET) / withdraw (POST)
GET, POST  {prefix}m/d/<token>       your data: a page with a download (GET ?download=1,
                                     GDPR Art 15, 20) and "forget me" (POST, Art 17)

docs/rules.md, "Email": link scanners and mail proxies fetch every URL of a mail, so no GET
or HEAD changes anything; state changes only on POST. The POSTs need no cookie and no
CSRF token and are not refused cross-origin: mail clients post from anywhere, and the
signed token is the credential.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from consentlib.errors import StoreUnavailable
from consentlib.mail.agents import classify_mail_click, classify_mail_open
from consentlib.mail.tokens import MailToken, MailTokens
from consentlib.records.receipts import user_agent_family
from consentlib.store.events import EventBuffer
from consentlib.store.mail import MailEvent
from consentlib.store.clock import time_text
from consentlib.web.context import EndpointContext
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.http import ascii_uri, respond, respond_html
from consentlib.web.pages import message_page
from consentlib.web.pixel import untrackable

if TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

log = logging.getLogger("consentlib")

BURST_SECONDS = 2.0  # every link of a mail clicked within this: a scanner vetting them


def mail_endpoints(site: Any) -> MailEndpoints:
    """The mail endpoints of ``site`` (a door: a ConsentMiddleware of any kind, or its
    :class:`~consentlib.core.ConsentCore`): built on first use, then kept."""
    endpoints: MailEndpoints = getattr(site, "core", site).endpoints.mail
    return endpoints


class MailEndpoints:
    def __init__(self, context: EndpointContext) -> None:
        self.context = context
        self.tokens = MailTokens(context.secret_keys)
        # Opens are batched (see EventBuffer for the loss window); clicks, unsubscribes
        # and withdrawals are written before the answer.
        self.events = EventBuffer(context.store)
        self.clock = time.time  # tests set it to judge "seconds after sending" at known times

    def __call__(self, request: Request, route: str) -> Answer:
        kind, _, token = route.partition("/")
        if kind == "o":
            return self.open(request, token)
        if kind == "c":
            return self.click(request, token)
        if kind == "u":
            return self.confirm(request, token, "unsubscribe")
        if kind == "t":
            return self.confirm(request, token, "untrack")
        if kind == "d":
            return self.your_data(request, token)
        return self._page(request, 404, "not_found_title", "nothing_here")

    # -- open pixel ------------------------------------------------------------------------

    def open(self, request: Request, token: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._not_allowed(request, "GET, HEAD")
        if request.method == "GET" and token.endswith(".gif"):
            found = self.tokens.loads("open", token[:-4])
            if found is not None:
                agent = request.header("user-agent")
                # Buffered, not written: the buffer's own thread writes (no store I/O here).
                self.events.add(MailEvent(
                    found.recipient_id, found.campaign, found.list_id, "open", classify_mail_open(agent),
                    time_text_of(self.clock()), user_agent_family(agent), None,
                ))
        # Whatever the token: the same 43 bytes, no cookie, no validator, never cached,
        # so the answer itself tells nobody anything (docs/rules.md, "Email").
        status, headers, body = untrackable(image=True, head=False)
        return Response(int(status[:3]), headers, body)

    # -- click -------------------------------------------------------------------------------

    def click(self, request: Request, token: str) -> Answer:
        if request.method not in ("GET", "HEAD"):
            return self._not_allowed(request, "GET, HEAD")
        found = self.tokens.loads("click", token)
        if found is None or found.target is None:
            # OWASP unvalidated redirects: a link we did not sign goes nowhere.
            return self._page(request, 404, "link_not_valid_title", "click_invalid")
        answer = Response(302, [
            ("Location", ascii_uri(found.target)),
            ("Content-Length", "0"),
            ("Cache-Control", "no-store"),
            # The click URL holds a token; the target has no business seeing it.
            ("Referrer-Policy", "no-referrer"),
        ])
        if request.method != "GET":
            return answer
        return Pending(lambda: self._record_click(request, found), lambda _: answer)

    def _record_click(self, request: Request, found: MailToken) -> None:
        now = self.clock()
        agent = request.header("user-agent")
        kind = classify_mail_click(agent, sent_at=found.signed_at, now=now)
        event = MailEvent(found.recipient_id, found.campaign, found.list_id, "click", kind,
                          time_text_of(now), user_agent_family(agent), found.link)
        store = self.context.store
        try:
            if store.add_mail_events([event]) and kind == "human" and found.links is not None and found.links >= 2:
                store.mark_click_burst(recipient_id=found.recipient_id, campaign=found.campaign,
                                       links=found.links, since=time_text_of(now - BURST_SECONDS))
        except StoreUnavailable:
            # A statistic lost is better than a reader stranded: follow the link anyway.
            log.exception("consentlib could not record a mail click")

    # -- unsubscribe and stop tracking ---------------------------------------------------------

    def confirm(self, request: Request, token: str, kind: str) -> Answer:
        method = request.method
        if method not in ("GET", "HEAD", "POST"):
            return self._not_allowed(request, "GET, HEAD, POST")
        found = self.tokens.loads(kind, token)
        if found is None:
            return self._page(request, 404, "link_not_valid_title", "mail_link_invalid")
        store = self.context.store
        list_name = found.list_id

        def look() -> tuple[str | None, bool]:
            address = store.mail_address(found.recipient_id)
            if address is None or method == "POST":
                return address, False
            return address, self._already(kind, address, found)

        def answer(looked: tuple[str | None, bool]) -> Answer:
            address, already = looked
            if address is None:
                return self._page(request, 404, "link_not_valid_title", "no_record")
            if method != "POST":
                # Scanners and mail proxies follow links: a GET only shows the button.
                title, message, form = _form_page(kind, already)
                return self._page(request, 200, title, message, form, data_link=self._data_link(found), list=list_name)
            posted = _read_form(request, self.context.max_body)
            if isinstance(posted, tuple):
                return self._page(request, posted[0], "not_done", posted[1])
            if kind == "unsubscribe":
                if posted.get("List-Unsubscribe") != "One-Click":
                    return self._page(request, 400, "not_done", "one_click_needed")
                source = "page" if posted.get("via") == "page" else "one-click"
                # Committed before the answer (RFC 8058 §3.2; Gmail/Yahoo 2024: honour at once).
                return Pending(
                    lambda: store.suppress_mail(address, list_id=found.list_id, campaign=found.campaign, source=source),
                    lambda _: self._page(request, 200, "unsubscribed_title", "unsubscribed_done", list=list_name))
            if posted.get("tracking") != "off":
                return self._page(request, 400, "not_done", "tracking_off_needed")
            return Pending(
                lambda: store.set_mail_tracking(address, list_id=found.list_id, allowed=False, source="mail-link"),
                lambda _: self._page(request, 200, "tracking_stopped_title", "tracking_stopped_done", list=list_name))

        return Pending(look, answer)

    # -- the recipient's data --------------------------------------------------------------------

    def _data_link(self, found: MailToken) -> str:
        """The address of the recipient's data page, for the unsubscribe and stop-tracking pages."""
        token = self.tokens.dumps("data", [found.recipient_id, found.campaign, found.list_id])
        return f"{self.context.prefix}m/d/{token}"

    def your_data(self, request: Request, token: str) -> Answer:
        method = request.method
        if method not in ("GET", "HEAD", "POST"):
            return self._not_allowed(request, "GET, HEAD, POST")
        found = self.tokens.loads("data", token)
        if found is None:
            return self._page(request, 404, "link_not_valid_title", "data_no_record")
        store = self.context.store
        download = method != "POST" and request.args.get("download") == "1"

        def look() -> tuple[str | None, dict[str, Any] | None]:
            address = store.mail_address(found.recipient_id)
            if address is None or not download:
                return address, None
            return address, {"recipient": address, "permissions": store.mail_permissions(recipient=address),
                             **store.mail_data(address), "pending_changes": store.changes(subject=address)}

        def answer(looked: tuple[str | None, dict[str, Any] | None]) -> Answer:
            address, data = looked
            if address is None:
                return self._page(request, 404, "link_not_valid_title", "data_no_record")
            if method == "POST":
                posted = _read_form(request, self.context.max_body)
                if isinstance(posted, tuple):
                    return self._page(request, posted[0], "not_done", posted[1])
                if posted.get("forget") != "yes":
                    return self._page(request, 400, "not_done", "forget_needed")
                return Pending(lambda: store.forget_mail_recipient(address),
                               lambda _: self._page(request, 200, "forgotten_title", "forgotten_done"))
            if data is not None:
                return respond(200, data, headers=[
                    ("Content-Disposition", 'attachment; filename="my-mail-data.json"'),
                    ("Referrer-Policy", "no-referrer")])
            # A GET only shows the page: link scanners fetch every URL of a mail (docs/rules.md, "Email").
            return self._page(request, 200, "your_data_title", "your_data_intro", "your-data-form.html")

        return Pending(look, answer)

    def _page(self, request: Request, status: int, title: str, message: str, form: str | None = None, *,
              data_link: str | None = None, **values: Any) -> Response:
        """A page of the texts ``title`` and ``message`` (keys of the visitor's catalogue),
        with the template ``form`` and a link to the recipient's data page under it."""
        page = self.context.templates.for_request(request)
        below = "".join([page.render(form, **values) if form else "",
                         page.render("data-link.html", href=data_link) if data_link else ""])
        html = message_page(page, page.text(title), page.text(message, **values), Markup(below))
        # The token in the URL must not leak to whatever the page links to.
        return respond_html(status, html, headers=[("Referrer-Policy", "no-referrer"), *page.headers])

    def _not_allowed(self, request: Request, allow: str) -> Response:
        page = self.context.templates.for_request(request)
        html = message_page(page, page.text("method_not_allowed_title"), page.text("use_methods", allow=allow))
        return respond_html(405, html, headers=[("Allow", allow), *page.headers])

    def _already(self, kind: str, address: str, found: MailToken) -> bool:
        store = self.context.store
        if kind == "unsubscribe":
            return store.mail_suppressed(address, list_id=found.list_id)
        return not store.mail_tracking_allowed(address, list_id=found.list_id)


def time_text_of(moment: float) -> str:
    return time_text(datetime.fromtimestamp(moment, timezone.utc))


def _read_form(request: Request, limit: int) -> MultiDict[str, str] | tuple[int, str]:
    """The posted form, or (status, the key of a text) for a body that is not one."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return 415, "form_needed"
    if request.over_limit:
        return 413, "body_too_large"
    try:
        return request.form(limit, parts=20)
    except HTTPException as exc:
        return exc.code or 400, "body_unreadable"
    except ValueError:
        return 400, "body_unreadable"


def _form_page(kind: str, already: bool) -> tuple[str, str, str | None]:
    """The title and message (keys of texts) and the form template of an unsubscribe or
    stop-tracking page."""
    if kind == "unsubscribe":
        if already:
            return "unsubscribed_title", "unsubscribed_already", None
        return "unsubscribe_title", "unsubscribe_question", "unsubscribe-form.html"
    if already:
        return "tracking_stopped_title", "tracking_already", None
    return "stop_tracking", "stop_tracking_question", "untrack-form.html"
