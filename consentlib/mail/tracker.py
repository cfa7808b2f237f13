"""MailTracker: unsubscribe headers and links always; opens and clicks only with consent.

``prepare`` takes an :class:`email.message.EmailMessage` and returns a copy ready to
send. Every mail carries ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` (RFC 2369,
RFC 8058) and a visible unsubscribe link. Only a recipient who allowed tracking on the
list gets the open pixel, signed click URLs and a link that withdraws that permission
(ePrivacy Art 5(3): a pixel reads the device like a cookie does). A recipient who
unsubscribed is never mailed again: ``prepare`` raises :class:`Suppressed`.

URLs carry signed tokens, never an address: a token holds the recipient's number in
the store, the campaign and the list (and, for a click, the target).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from html import escape
from typing import Any
from urllib.parse import urlsplit

from consentlib.errors import ConfigurationError, ConsentError, UnusableMessage
from consentlib.mail.addresses import email_address
from consentlib.mail.compose import add_before_body_end, rewrite_links, unsubscribe_header
from consentlib.mail.tokens import MailTokens, check_name, is_web_url, secret_keys
from consentlib.store import Store, open_store


class Suppressed(ConsentError):
    """The recipient unsubscribed from this list; the mail must not be sent."""

    def __init__(self, recipient: str, list_id: str) -> None:
        super().__init__(
            f"This recipient unsubscribed from list {list_id!r}; an unsubscribe is never undone "
            "by a later send, so this mail must not go out."
        )
        self.recipient = recipient
        self.list_id = list_id


@dataclass(frozen=True)
class MailStats:
    """One campaign's engagement. Machine opens and scanner clicks are never a person's."""

    campaign: str
    sent: int = 0
    human_opens: int = 0  # unique recipients
    machine_opens: int = 0  # fetches by mail proxies and robots
    human_clicks: int = 0
    scanner_clicks: int = 0
    unsubscribes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_address(recipient: Any) -> str:
    """Strip it and lower-case the domain (RFC 5321 §2.4: only the domain is case-blind),
    by the one address check of consentlib (:mod:`consentlib.mail.addresses`)."""
    if not isinstance(recipient, str):
        raise TypeError(f"recipient must be an e-mail address string, not {type(recipient).__name__}.")
    address = email_address(recipient)
    if address is None:
        raise ValueError(f"{recipient[:100]!r} is not an e-mail address like ana@example.com.")
    return address


class MailTracker:
    """Prepares mail for one site; the site's ConsentMiddleware answers the URLs.

    ``base_url``
        The site's origin, ``https://example.com``: unsubscribe, pixel and click URLs
        point there. Mailbox providers require https for one-click unsubscribe.
    ``secret_key``
        The middleware's keys, newest first. Anyone with a key can unsubscribe anyone.
    ``store``
        The middleware's store (URL or object): permissions and unsubscribes live there.
    ``prefix``
        The middleware's prefix.
    ``unsubscribe_mailto``
        An address (or ``mailto:`` URL) listed after the https URL in ``List-Unsubscribe``
        for clients that only mail; you process what arrives there.
    ``on_change``
        ``on_change(change)`` is told of every unsubscribe, tracking choice and erasure
        (to pass on to a mail provider or a CRM), at least once, from the store's durable
        queue; see :mod:`consentlib.records.changes` for the change's shape and for making the
        handler idempotent.
    """

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str | bytes | Sequence[str | bytes],
        store: str | Store = "sqlite:///consent.db",
        prefix: str = "/_consent/",
        unsubscribe_mailto: str | None = None,
        on_change: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not is_web_url(base_url) or urlsplit(base_url).path.strip("/") \
                or urlsplit(base_url).query or urlsplit(base_url).fragment:
            raise ConfigurationError(f"base_url must be the site's origin, like 'https://example.com', not {base_url!r}.")
        if not (isinstance(prefix, str) and prefix.startswith("/") and prefix.endswith("/") and len(prefix) > 2):
            raise ConfigurationError(f"prefix must start and end with '/', like '/_consent/', not {prefix!r}.")
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix
        keys = secret_keys(secret_key)
        self.tokens = MailTokens(keys)
        self.store = open_store(store, secret_key=keys)
        self.unsubscribe_mailto = _mailto(unsubscribe_mailto)
        self.changes = None
        if on_change is not None:
            from consentlib.records.changes import ChangeDelivery

            self.changes = ChangeDelivery(self.store, on_change, topics=("mail",))
            self.changes.notify()  # what was queued before a restart

    # -- permissions --------------------------------------------------------------------------

    def set_tracking(self, recipient: str, *, list_id: str, allowed: bool, source: str = "api") -> None:
        """Record the recipient's own choice about open and click tracking on ``list_id``.

        Ask with an unticked box: silence is not consent (GDPR Art 4(11)).
        """
        if not isinstance(allowed, bool):
            raise TypeError(f"allowed must be True or False, not {allowed!r}.")
        self.store.set_mail_tracking(normalise_address(recipient), list_id=check_name("list_id", list_id),
                                     allowed=allowed, source=check_name("source", source))
        self._changed()

    def tracking_allowed(self, recipient: str, *, list_id: str) -> bool:
        return self.store.mail_tracking_allowed(normalise_address(recipient), list_id=list_id)

    def unsubscribe(self, recipient: str, *, list_id: str, source: str = "api") -> bool:
        """Unsubscribe for good (a mailto request, a complaint); True when it is new."""
        new = self.store.suppress_mail(normalise_address(recipient), list_id=check_name("list_id", list_id),
                                       source=check_name("source", source))
        self._changed()
        return new

    def is_suppressed(self, recipient: str, *, list_id: str) -> bool:
        return self.store.mail_suppressed(normalise_address(recipient), list_id=list_id)

    # -- the recipient's rights ------------------------------------------------------------------

    def forget(self, recipient: str) -> dict[str, Any]:
        """Erase ``recipient`` on request (GDPR Art 17), in one transaction: opens, clicks,
        tracking permissions and the address go; sends stay only as counts; unsubscribes
        stay as a keyed hash of the address (HMAC with the site's key), so that
        ``is_suppressed`` stays true and ``prepare`` still raises :class:`Suppressed`
        (Art 17(3)(b), 21(3)). ``found`` is False for an address the store never had.

        One change, ``mail-erasure``, carries the address to ``on_change`` (to erase it
        at the mail provider too, Art 17(2), 19); it is deleted once delivered.
        """
        result = self.store.forget_mail_recipient(normalise_address(recipient))
        self._changed()
        return result

    def data(self, recipient: str) -> dict[str, Any]:
        """Everything the store keeps about ``recipient`` (GDPR Art 15, 20)."""
        address = normalise_address(recipient)
        return {"recipient": address, "permissions": self.store.mail_permissions(recipient=address),
                **self.store.mail_data(address)}

    def _changed(self) -> None:
        if self.changes is not None:
            self.changes.notify()

    # -- preparing a mail ------------------------------------------------------------------------

    def prepare(self, message: EmailMessage, *, recipient: str, campaign: str, list_id: str) -> EmailMessage:
        """A copy of ``message`` for ``recipient``, ready to send (sign it with DKIM after,
        covering the List-Unsubscribe headers). Raises :class:`Suppressed`, and
        :class:`~consentlib.errors.UnusableMessage` for a message without a readable
        text or HTML body."""
        if not isinstance(message, EmailMessage) or not isinstance(message.policy, EmailPolicy):
            raise TypeError("prepare needs an email.message.EmailMessage with an email.policy policy "
                            "(e.g. email.policy.default), not a compat32 Message.")
        address = normalise_address(recipient)
        check_name("campaign", campaign)
        check_name("list_id", list_id)
        msg = copy.deepcopy(message)
        bodies = _text_bodies(msg)  # before the store: an unusable message is not recorded as sent
        number, tracked, suppressed = self.store.mail_recipient(address, list_id=list_id)
        if suppressed:
            raise Suppressed(address, list_id)
        ids = [number, campaign, list_id]
        unsubscribe_url = self.url("u", self.tokens.dumps("unsubscribe", ids))
        untrack_url = self.url("t", self.tokens.dumps("untrack", ids)) if tracked else None
        # GDPR Art 15, 17: every mail leads to what we keep about its reader, and to erasure.
        data_url = self.url("d", self.tokens.dumps("data", ids))
        pixel_url = self.url("o", self.tokens.dumps("open", ids) + ".gif") if tracked else None

        def click_url(target: str, index: int, count: int) -> str:
            return self.url("c", self.tokens.dumps("click", [*ids, target, index, count]))

        links = 0
        for part, text in bodies:
            if part.get_content_subtype() == "html":
                if tracked:
                    text, links = rewrite_links(text, click_url)
                text = add_before_body_end(text, _html_footer(unsubscribe_url, untrack_url, pixel_url, data_url))
            else:
                text = text.rstrip("\n") + _text_footer(unsubscribe_url, untrack_url, data_url)
            _replace_text(part, text)
        for name in ("List-Unsubscribe", "List-Unsubscribe-Post"):
            del msg[name]
        msg["List-Unsubscribe"] = unsubscribe_header(unsubscribe_url, self.unsubscribe_mailto)
        # RFC 8058 §3.1: exactly this value; with it, a mail client may POST to the URL.
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        self.store.record_mail_send(campaign=campaign, recipient=address, list_id=list_id, links=links, tracked=tracked)
        return msg

    def url(self, route: str, token: str) -> str:
        return f"{self.base_url}{self.prefix}m/{route}/{token}"

    # -- reporting ---------------------------------------------------------------------------------

    def stats(self, campaign: str) -> MailStats:
        rows = self.store.mail_stats(campaign=campaign)
        return MailStats(**rows[0]) if rows else MailStats(campaign)

    def export_stats(self) -> list[dict[str, Any]]:
        """Every campaign's stats as dicts (``consentlib mail stats``)."""
        return self.store.mail_stats()

    def export(self, *, recipient: str | None = None) -> list[dict[str, Any]]:
        """Tracking permissions and unsubscribes, oldest first: proof, and the access right."""
        return self.store.mail_permissions(recipient=normalise_address(recipient) if recipient is not None else None)


def _text_bodies(msg: EmailMessage) -> list[tuple[EmailMessage, str]]:
    """The text/plain and text/html parts that are not attachments, with their text:
    each gets the unsubscribe footer. Raises :class:`UnusableMessage` when there is none
    or one cannot be read."""
    parts = [p for p in msg.walk() if not p.is_multipart() and p.get_content_disposition() != "attachment"
             and p.get_content_type() in ("text/html", "text/plain")]
    if not parts:
        raise UnusableMessage(
            f"The message has no text or HTML body (it is {msg.get_content_type()}) to carry the unsubscribe link: "
            "give it one with message.set_content(...) or add_alternative(..., subtype='html') before prepare.")
    bodies = []
    for part in parts:
        if part.get_payload() in (None, ""):
            raise UnusableMessage(
                "The message has no body: set one with message.set_content('...') before prepare "
                "(the unsubscribe link is added to it).")
        try:
            bodies.append((part, part.get_content()))
        except (LookupError, UnicodeError, ValueError, AttributeError) as exc:
            raise UnusableMessage(
                f"A {part.get_content_type()} part of the message cannot be read ({exc}): "
                "set it with message.set_content(...) in a charset Python knows, such as utf-8.") from None
    return bodies


def _mailto(value: str | None) -> str | None:
    if value is None:
        return None
    url = value if isinstance(value, str) and value.startswith("mailto:") else f"mailto:{value}"
    if not isinstance(value, str) or "@" not in url or any(ord(ch) < 0x21 or ch in "<>," for ch in url):
        raise ConfigurationError(f"unsubscribe_mailto must be an address like unsubscribe@example.com, not {value!r}.")
    return url


def _html_footer(unsubscribe_url: str, untrack_url: str | None, pixel_url: str | None, data_url: str) -> str:
    links = f'<a href="{escape(unsubscribe_url)}">Unsubscribe</a>'
    if untrack_url:
        links += f' &middot; <a href="{escape(untrack_url)}">Stop tracking my opens</a>'
    links += f' &middot; <a href="{escape(data_url)}">Your data</a>'
    pixel = f'<img src="{escape(pixel_url)}" width="1" height="1" alt="">' if pixel_url else ""
    return f'\n<p class="consentlib-mail-footer">{links}</p>{pixel}\n'


def _text_footer(unsubscribe_url: str, untrack_url: str | None, data_url: str) -> str:
    text = f"\n\nUnsubscribe: {unsubscribe_url}\n"
    if untrack_url:
        text += f"Stop tracking my opens: {untrack_url}\n"
    return text + f"Your data (download it, or have us forget you): {data_url}\n"


def _replace_text(part: EmailMessage, text: str) -> None:
    # set_content clears the part's Content-* headers; keep what describes the part.
    disposition, cid = part.get_content_disposition(), part.get("Content-ID")
    part.set_content(text, subtype=part.get_content_subtype(), charset="utf-8", disposition=disposition, cid=cid)
