"""Shared pieces of the mail tests: a site behind ConsentMiddleware and a MailTracker on
the same SQLite file (two store objects, like a web process and a mailing job)."""
from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import urlsplit

from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client

from consentlib import Category, ConsentMiddleware, MailTracker, Policy
from consentlib.mail.endpoints import mail_endpoints

KEYS = ["mail-test-key-newest-0123456789", "mail-test-key-older-0123456789"]
POLICY = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")])
BASE = "https://example.com"


def app_setting_cookies(environ, start_response):
    """An app that would leak a cookie if it were ever called for a mail URL."""
    body = b"app"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("Set-Cookie", "sid=app; Path=/")])
    return [body]


class BufferedClient(Client):
    """Reads and closes every response, as a server would (LintMiddleware checks close())."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@dataclass
class MailSite:
    middleware: ConsentMiddleware
    tracker: MailTracker
    client: Client
    store_url: str

    def flush(self) -> int:
        return mail_endpoints(self.middleware).events.flush()

    def stats(self, campaign: str = "2026-11"):
        self.flush()
        return self.tracker.stats(campaign)


def make_site(tmp_path, **tracker_options) -> MailSite:
    store_url = f"sqlite:///{tmp_path / 'consent.db'}"
    middleware = ConsentMiddleware(app_setting_cookies, POLICY, secret_key=KEYS, store=store_url)
    tracker = MailTracker(base_url=BASE, secret_key=KEYS, store=store_url, **tracker_options)
    return MailSite(middleware, tracker, BufferedClient(LintMiddleware(middleware)), store_url)


def newsletter(html: str | None = None, text: str | None = "Hello,\nthe November news.\n") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "November news"
    msg["From"] = "news@example.com"
    msg["To"] = "ana@example.com"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg


HTML = (
    '<html><body><p>Hello, <a href="https://shop.example/a?x=1&amp;y=2">the sale</a> and '
    '<a href="https://blog.example/b">the blog</a>.</p></body></html>'
)


def reparse(msg: EmailMessage) -> EmailMessage:
    return BytesParser(policy=email.policy.default).parsebytes(msg.as_bytes())


def part(msg: EmailMessage, subtype: str) -> str:
    for p in msg.walk():
        if p.get_content_type() == f"text/{subtype}":
            return p.get_content()
    raise AssertionError(f"no text/{subtype} part")


def urls(msg: EmailMessage) -> dict[str, list[str]]:
    """Every consentlib mail URL in the HTML and text parts, by route letter, as paths."""
    found: dict[str, list[str]] = {}
    text = "".join(p.get_content() for p in msg.walk() if p.get_content_maintype() == "text")
    for url in re.findall(r"https://example\.com/_consent/m/[a-z]/[A-Za-z0-9_\-.]+", text):
        path = urlsplit(url).path
        route = path.split("/")[3]
        if path not in found.setdefault(route, []):
            found[route].append(path)
    return found


def unsubscribe_path(msg: EmailMessage) -> str:
    header = str(msg["List-Unsubscribe"])
    return urlsplit(header[1:header.index(">")]).path


def prepared(site: MailSite, recipient="ana@example.com", *, tracked=True, campaign="2026-11",
             list_id="news", html=HTML) -> EmailMessage:
    site.tracker.set_tracking(recipient, list_id=list_id, allowed=tracked)
    return reparse(site.tracker.prepare(newsletter(html), recipient=recipient, campaign=campaign, list_id=list_id))


BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
