"""The site's newsletter, outbox, mail stats and kids pages."""
from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from email.message import EmailMessage
from html import escape

from flask import Blueprint, abort, current_app, g, redirect, render_template, request
from markupsafe import Markup

from consentlib import MailTracker, Suppressed
from consentlib.mail.addresses import email_address
from consentlib.web.http import cross_origin_refusal
from consentlib.web.pages import guardian_form

LIST_ID = "news"
CAMPAIGN = "welcome"
SENDER = "newsletter@consentlib.example"

OUTBOX_COOKIE = "outbox"
_OUTBOX_KEY = re.compile(r"[A-Za-z0-9_-]{32,64}")
# The outbox key of the request being served, for the guardian mailer: the middleware
# calls it outside Flask's request context (see remember_outbox_key).
_current_key: ContextVar[str | None] = ContextVar("outbox_key", default=None)

bp = Blueprint("mail", __name__)


def _key_in(cookie_header: str) -> str | None:
    from werkzeug.http import parse_cookie

    key = parse_cookie(cookie_header).get(OUTBOX_COOKIE)
    return key if key and _OUTBOX_KEY.fullmatch(key) else None


def remember_outbox_key(wsgi_app):
    """Wrap the site (outside ConsentMiddleware): the browser's outbox key, for the mail
    the middleware's guardian_mailer sends while answering this request."""
    def app(environ, start_response):
        token = _current_key.set(_key_in(environ.get("HTTP_COOKIE") or ""))
        try:
            return wsgi_app(environ, start_response)
        finally:
            _current_key.reset(token)

    return app


@bp.before_app_request
def read_outbox_key():
    g.outbox_key = _key_in(request.headers.get("Cookie", ""))


def outbox_key() -> str:
    """This browser's outbox key, made (and set in a necessary cookie) by the pages from
    which a visitor can cause a mail: only they ever carry the cookie."""
    if g.outbox_key is None:
        g.outbox_key = g.new_outbox_key = secrets.token_urlsafe(32)
    return g.outbox_key


@bp.after_app_request
def set_outbox_key(response):
    if g.get("new_outbox_key"):
        response.set_cookie(OUTBOX_COOKIE, g.new_outbox_key, max_age=365 * 86400, httponly=True, samesite="Lax")
    return response


def tracker() -> MailTracker:
    return current_app.extensions["site_tracker"]


def outbox():
    return current_app.extensions["site_outbox"]


def welcome_mail(address: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = address
    message["Subject"] = "Welcome to the consentlib newsletter"
    message["List-Id"] = f"consentlib news <{LIST_ID}.consentlib.example>"
    site = tracker().base_url
    message.set_content(f"Thanks for subscribing.\n\nRead the privacy notice: {site}/privacy\n")
    message.add_alternative(
        "<html><body><h1>Welcome</h1><p>Thanks for subscribing.</p>"
        f'<p>Read our <a href="{site}/privacy">privacy notice</a> or see '
        f'<a href="{site}/privacy/cookies">your cookie settings</a>.</p></body></html>',
        subtype="html",
    )
    return message


@bp.route("/newsletter", methods=["GET", "POST"])
def newsletter():
    if request.method == "GET":
        return render_template("newsletter.html", sent=None, suppressed=False)
    # Another site must not sign visitors up (or switch their tracking): same checks as
    # the consent endpoints. A real site also confirms the address (double opt-in)
    # before recording a tracking permission in someone's name.
    refusal = cross_origin_refusal(request.environ, current_app.extensions["consentlib"].core.trusted_origins)
    if refusal:
        return render_template("newsletter.html", sent=None, suppressed=False, error=refusal), 403
    address = email_address(request.form.get("email"))
    if address is None:
        return render_template("newsletter.html", sent=None, suppressed=False,
                               error="Please give an e-mail address like ana@example.com."), 400
    mail = tracker()
    # The box is unticked by default: only a tick is consent (GDPR Art 4(11)).
    mail.set_tracking(address, list_id=LIST_ID, allowed=request.form.get("track_opens") == "yes",
                      source="newsletter form")
    try:
        mail_id = outbox().send(mail.prepare(welcome_mail(address), recipient=address, campaign=CAMPAIGN,
                                             list_id=LIST_ID), key=outbox_key())
    except Suppressed:
        return render_template("newsletter.html", sent=None, suppressed=True), 409
    return render_template("newsletter.html", sent=mail_id, suppressed=False)


@bp.get("/outbox")
def outbox_list():
    return render_template("outbox.html", mails=outbox().visible_to(g.outbox_key))


@bp.get("/outbox/<int:mail_id>")
def outbox_mail(mail_id: int):
    message = outbox().get(mail_id, key=g.outbox_key)  # another browser's mail: 404, as if none
    if message is None:
        abort(404)
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    return render_template("outbox_mail.html", mail_id=mail_id, headers=list(message.items()),
                           html=html.get_content() if html else "", text=text.get_content() if text else "")


@bp.get("/newsletter/stats")
def newsletter_stats():
    return render_template("stats.html", rows=tracker().export_stats())


@bp.route("/kids", methods=["GET"])
def kids():
    site = current_app.extensions["consentlib"]
    # The library's own guardian form (the no-JS preferences page shows the same one).
    form = Markup(guardian_form(site.policy, action=site.prefix, next_path="/kids"))
    outbox_key()  # the guardian request is answered by the middleware, which sets no site cookie
    response = current_app.make_response(render_template("kids.html", guardian_form=form))
    # Self-declared age: the visitor says they are under the age of digital consent.
    response.set_cookie("age_group", "child", max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.post("/kids/leave")
def kids_leave():
    response = redirect("/")
    response.delete_cookie("age_group")
    return response


def send_guardian_mail(app, address: str, confirm_url: str, labels: list[str]) -> None:
    """The middleware's guardian_mailer: a plain mail with the signed confirmation link."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = address
    message["Subject"] = "Your child asks for your consent"
    allowed = ", ".join(labels) or "nothing optional"
    message.set_content(
        "A child using the consentlib reference site, below the age of digital consent, asks you to allow: "
        f"{allowed}.\n\nTo answer, open this link (it works for 7 days):\n{confirm_url}\n\n"
        "Nothing changes unless you choose. You can withdraw at any time.\n"
    )
    message.add_alternative(
        f"<html><body><p>A child using the consentlib reference site, below the age of digital consent, asks you "
        f"to allow: <strong>{escape(allowed)}</strong>.</p><p><a id=\"guardian-link\" href=\"{escape(confirm_url)}\">Answer the "
        f"request</a> (the link works for 7 days). Nothing changes unless you choose.</p></body></html>",
        subtype="html",
    )
    app.extensions["site_outbox"].send(message, key=_current_key.get())


def is_minor(environ) -> bool:
    """The site's rule: a visitor who declared themselves a child on /kids."""
    from werkzeug.http import parse_cookie

    return parse_cookie(environ.get("HTTP_COOKIE") or "").get("age_group") == "child"
