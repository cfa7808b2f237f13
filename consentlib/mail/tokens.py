"""Mail tokens: what the URLs of a tracked mail carry, signed, instead of an address.

A token holds the recipient's number in the store, the campaign and the list (and, for
a click, the target). :class:`consentlib.mail.tracker.MailTracker` signs them when it prepares a
mail; the mail endpoints (:mod:`consentlib.mail.endpoints`) verify them. A leaf: composing a
mail (:mod:`consentlib.mail.compose`) and serving its links both import it.
"""
from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from consentlib.errors import ConfigurationError

# Tracking tokens (pixel, click) may expire; CNIL and the EDPB ask that tracking stop
# being possible long after the mail. Unsubscribe and withdrawal tokens never expire:
# Gmail and Yahoo's 2024 rules want unsubscribe to keep working, RFC 8058 gives no limit.
TRACKING_TOKEN_MAX_AGE = 90 * 24 * 3600
KINDS = ("open", "click", "unsubscribe", "untrack", "data")
MAX_TOKEN_LENGTH = 2048
_TOKEN = re.compile(r"[A-Za-z0-9_\-.]+")
MAX_NAME = 200


class MailToken(NamedTuple):
    """What a verified token says."""

    kind: str
    recipient_id: int
    campaign: str
    list_id: str
    signed_at: float  # UNIX time the mail was prepared
    target: str | None = None  # clicks: where to send the reader
    link: int | None = None  # clicks: this link's index in the mail
    links: int | None = None  # clicks: how many tracked links the mail has


def secret_keys(secret_key: str | bytes | Sequence[str | bytes]) -> tuple[bytes, ...]:
    keys: Sequence[object] = [secret_key] if isinstance(secret_key, (str, bytes)) else secret_key
    if not isinstance(keys, Sequence) or not keys:
        keys = [None]
    given = [k.encode() if isinstance(k, str) else k for k in keys]
    out = tuple(k for k in given if isinstance(k, bytes))
    if len(out) != len(given) or any(len(k) < 16 for k in out):
        raise ConfigurationError(
            "secret_key must be a key or a list of keys, newest first, each at least 16 characters, "
            "the same as the ConsentMiddleware's; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return out


class MailTokens:
    """Signs and verifies mail tokens; one salt per kind, so no kind passes for another."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        newest_last = list(reversed(keys))  # itsdangerous signs with the last key
        self._serializers = {
            kind: URLSafeTimedSerializer(
                newest_last,
                salt=f"consentlib.mail.{kind}",
                signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
            )
            for kind in KINDS
        }

    def dumps(self, kind: str, payload: list[Any]) -> str:
        return self._serializers[kind].dumps(payload)

    def loads(self, kind: str, token: str, *, now: float | None = None) -> MailToken | None:
        """The token's content, or None for anything forged, expired, foreign or malformed."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not _TOKEN.fullmatch(token):
            return None
        try:
            data, signed = self._serializers[kind].loads(token, return_timestamp=True)
        except (BadData, ValueError, TypeError, OverflowError):
            return None
        signed_at = signed.timestamp()
        if kind in ("open", "click") and (time.time() if now is None else now) - signed_at > TRACKING_TOKEN_MAX_AGE:
            return None
        return _shape(kind, data, signed_at)


def _shape(kind: str, data: Any, signed_at: float) -> MailToken | None:
    expected = 6 if kind == "click" else 3
    if not isinstance(data, list) or len(data) != expected:
        return None
    recipient_id, campaign, list_id = data[:3]
    if type(recipient_id) is not int or recipient_id < 1 or not is_name(campaign) or not is_name(list_id):
        return None
    if kind != "click":
        return MailToken(kind, recipient_id, campaign, list_id, signed_at)
    target, link, links = data[3:]
    if not (isinstance(target, str) and is_web_url(target)):
        return None
    if type(link) is not int or type(links) is not int or not 0 <= link < links <= 10_000:
        return None
    return MailToken(kind, recipient_id, campaign, list_id, signed_at, target, link, links)


def is_name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host and no control characters: safe to redirect to."""
    if len(url) > 4000 or any(ord(ch) < 0x21 or ch == "\x7f" for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_name(what: str, value: Any) -> str:
    if not is_name(value):
        raise ValueError(f"{what} must be a non-empty printable string of at most {MAX_NAME} characters, not {value!r}.")
    name: str = value
    return name
