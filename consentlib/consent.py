"""A visitor's consent, and the signed cookie that carries it between requests.

The cookie holds no secret: its payload is base64url JSON that the banner may read,
and the itsdangerous signature makes it unforgeable. Keys rotate without logging
anyone out: a cookie signed with an older key is accepted and re-signed with the
newest one.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from consentlib.bounded import BoundedCache
from consentlib.errors import ConfigurationError
from consentlib.policy import Policy

COOKIE_NAME = "consent"
DEFAULT_LIFETIME = 180 * 24 * 3600  # CNIL: keep a choice about six months, then ask again.
# Browsers keep at most 4096 bytes per cookie (RFC 6265 §6.1); anything longer is junk.
MAX_COOKIE_LENGTH = 4096
# Verified values remembered: up to 1 KiB each (a genuine cookie is about 200
# characters), 1 MiB in all; a longer value is verified each time instead.
_CACHE_MAX_VALUE = 1024
_CACHE_BUDGET = 1024 * 1024
# Seconds a decision may seem to come from the future: clock skew between hosts.
CLOCK_SKEW = 300


@dataclass(frozen=True)
class Consent:
    """One visitor's consent on one request.

    ``granted`` is the effective set for this request: required categories are always
    in it, and with a GPC signal the policy's ``gpc`` categories never are.
    ``chosen`` is what the visitor recorded (empty while undecided).
    """

    decided: bool
    granted: frozenset[str]
    chosen: frozenset[str] = frozenset()
    consent_id: str | None = None
    revision: int = 0
    decided_at: int | None = None
    gpc: bool = False
    dnt: bool = False
    minor: bool = False
    #: For a minor: what a guardian allowed, the most the minor can choose themselves.
    guardian_allowed: frozenset[str] = frozenset()

    def allows(self, category: str) -> bool:
        """True when processing for ``category`` may happen on this request."""
        return category in self.granted


@dataclass(frozen=True)
class CookiePayload:
    """The verified content of a consent cookie."""

    revision: int
    categories: frozenset[str]
    consent_id: str
    decided_at: int
    key_index: int  # 0 = signed with the newest key


def new_consent_id() -> str:
    """128 random bits: a pseudonymous id that links a visitor's receipts, nothing more."""
    return secrets.token_hex(16)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ConsentCookie:
    """Signs and verifies the consent cookie's value.

    ``secret_keys`` lists keys newest first. Verified values are cached (bounded) so a
    repeat visitor costs a dictionary lookup; the cache only remembers what the
    signature proved, so expiry and revision are still checked on every request, and
    a key removed from the list means a new ``ConsentCookie`` with an empty cache.
    """

    def __init__(self, secret_keys: str | bytes | Sequence[str | bytes], *, lifetime: int = DEFAULT_LIFETIME) -> None:
        if isinstance(secret_keys, (str, bytes)):
            secret_keys = [secret_keys]
        elif not isinstance(secret_keys, Sequence):
            secret_keys = [None]  # None (e.g. Flask without SECRET_KEY) or a number: no usable key
        keys = [k.encode() if isinstance(k, str) else k for k in secret_keys]
        if not keys or any(not isinstance(k, bytes) or len(k) < 16 for k in keys):
            raise ConfigurationError(
                "secret_key must be a non-empty list of keys, newest first, each at least 16 "
                "characters; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if not isinstance(lifetime, int) or lifetime <= 0:
            raise ConfigurationError(f"Consent lifetime must be a positive number of seconds, not {lifetime!r}.")
        self.lifetime = lifetime
        self._signers = [
            Signer(key, salt="consentlib.consent", key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]
        self._cache = BoundedCache(budget=_CACHE_BUDGET, max_size=_CACHE_MAX_VALUE)

    def dumps(self, *, revision: int, categories: frozenset[str] | set[str], consent_id: str, decided_at: int) -> str:
        payload = json.dumps(
            {"r": revision, "c": sorted(categories), "id": consent_id, "t": decided_at},
            separators=(",", ":"),
        )
        return self._signers[0].sign(_b64encode(payload.encode())).decode("ascii")

    def resign(self, payload: CookiePayload) -> str:
        return self.dumps(
            revision=payload.revision,
            categories=payload.categories,
            consent_id=payload.consent_id,
            decided_at=payload.decided_at,
        )

    def verify(self, value: str) -> CookiePayload | None:
        """The payload a genuine cookie carries, or None for anything else.

        Expiry and revision are the caller's business (see :meth:`is_current`).
        """
        try:
            return self._cache[value]
        except KeyError:
            pass
        payload = self._verify_uncached(value)
        self._cache.remember(value, payload)
        return payload

    def _verify_uncached(self, value: str) -> CookiePayload | None:
        if not value or len(value) > MAX_COOKIE_LENGTH or not value.isascii():
            return None
        raw = value.encode("ascii")
        for index, signer in enumerate(self._signers):
            try:
                body = signer.unsign(raw)
                break
            except BadSignature:
                continue
        else:
            return None
        try:
            data = json.loads(_b64decode(body.decode("ascii")))
            revision, categories, consent_id, decided_at = data["r"], data["c"], data["id"], data["t"]
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if (
            type(revision) is not int
            or type(decided_at) is not int
            or not isinstance(consent_id, str)
            or len(consent_id) != 32
            or not isinstance(categories, list)
            or not all(isinstance(c, str) for c in categories)
        ):
            return None
        return CookiePayload(revision, frozenset(categories), consent_id, decided_at, index)

    def is_current(self, payload: CookiePayload, policy: Policy, now: float | None = None) -> bool:
        """A verified choice still counts: same policy revision, within its lifetime."""
        if payload.revision != policy.revision:
            return False
        age = (time.time() if now is None else now) - payload.decided_at
        return -CLOCK_SKEW <= age < self.lifetime
