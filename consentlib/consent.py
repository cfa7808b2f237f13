"""A visitor's consent, and the two signed cookies that carry it between requests.

``consent`` is readable by scripts (the banner reads it): base64url JSON holding the
policy revision, the granted categories and the decision time, nothing else. The
decision time is floored to a day (see :func:`time_resolution`), so the value is the
same for everyone who made the same choice on the same day: it identifies nobody.

``consent_id`` is HttpOnly: the pseudonymous consent id that links a visitor's
receipts. It is bound to the decision in ``consent`` (revision, categories, time), so
an id cookie that belongs to another decision is ignored. A lasting id that every
script on the page could read, even after "Reject all", is exactly the tracking the
visitor refused (ePrivacy Art 5(3)).

Their names depend on the request (:func:`cookie_names`): over https they carry a
cookie prefix (RFC 6265bis §4.1.3), ``__Host-consent`` and ``__Host-consent_id``, so
that no sibling subdomain can plant them; with ``cookie_domain`` they are
``__Secure-consent`` and ``__Secure-consent_id``, shared with every host under that
domain. Only the names of the request's kind are read.

Both are signed with itsdangerous, which makes them unforgeable; neither holds a
secret. Keys rotate without logging anyone out: a cookie signed with an older key is
accepted and re-signed with the newest one. A ``consent`` cookie of the first format
(``{r, c, id, t}``, the id readable by scripts) is still accepted and re-issued as the
two cookies on the next response.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from itsdangerous import Signer

from consentlib.gate.bounded import BoundedCache
from consentlib.errors import ConfigurationError
from consentlib.policy import Policy

#: The consent cookie's name over plain http; see :func:`cookie_names` for https.
COOKIE_NAME = "consent"
#: The HttpOnly cookie that carries the consent id (scripts cannot read it), over plain http.
ID_COOKIE_NAME = "consent_id"
# RFC 6265bis §4.1.3.2: a browser keeps a "__Host-" cookie only when it is Secure, has
# Path=/ and no Domain: only this very host can have set it.
HOST_PREFIX = "__Host-"
# RFC 6265bis §4.1.3.1: a "__Secure-" cookie must be Secure; any host under its Domain
# may still set it.
SECURE_PREFIX = "__Secure-"
DEFAULT_LIFETIME = 180 * 24 * 3600  # CNIL: keep a choice about six months, then ask again.
# Browsers keep at most 4096 bytes per cookie (RFC 6265 §6.1); anything longer is junk.
MAX_COOKIE_LENGTH = 4096
# Verified values remembered: up to 1 KiB each (a genuine cookie is about 200
# characters), 1 MiB in all; a longer value is verified each time instead.
_CACHE_MAX_VALUE = 1024
_CACHE_BUDGET = 1024 * 1024
# Seconds a decision may seem to come from the future: clock skew between hosts.
CLOCK_SKEW = 300
# The units a decision time readable by scripts is floored to, coarsest first.
_TIME_UNITS = (24 * 3600, 3600, 60, 1)


@dataclass(frozen=True, slots=True)
class CookieNames:
    """The two consent cookies' names on one kind of request, and their ``Domain``."""

    consent: str
    consent_id: str
    domain: str | None = None  # None: host-only, the browser sends them to this host alone


def cookie_names(secure: bool, domain: str | None = None) -> CookieNames:
    """The consent cookies' names for a request whose cookies are ``Secure`` (or not).

    Secure and host-only: ``__Host-consent``/``__Host-consent_id``; a browser accepts
    them from this host alone, so a sibling subdomain cannot plant a genuine "accept
    all" pair (which identifies nobody, so any visitor's would do) and fix a consent
    id. Secure with ``domain``: ``__Secure-consent``/``__Secure-consent_id``, which any
    host under ``domain`` can read and set. Over plain http (development) a prefix
    cannot be had (browsers refuse to set either prefix without ``Secure``):
    ``consent``/``consent_id``.
    """
    if not secure:
        return CookieNames(COOKIE_NAME, ID_COOKIE_NAME, domain)
    prefix = SECURE_PREFIX if domain else HOST_PREFIX
    return CookieNames(prefix + COOKIE_NAME, prefix + ID_COOKIE_NAME, domain)


#: Every name a consent cookie has on some request: the gate passes these to the app
#: and drops an app's ``Set-Cookie`` line named like one of them.
ALL_COOKIE_NAMES: tuple[str, ...] = tuple(
    prefix + name for prefix in ("", HOST_PREFIX, SECURE_PREFIX) for name in (COOKIE_NAME, ID_COOKIE_NAME))


def time_resolution(lifetime: int) -> int:
    """Seconds the decision time in the readable cookie is floored to, for ``lifetime``.

    A day, or for lifetimes under ten days the coarsest of an hour, a minute, a second
    that is at most a tenth of the lifetime. At one-second resolution the time, with the
    categories, tells one visitor from another; floored to the day it is shared by every
    visitor who chose alike that day. The price: a choice counts from the start of its
    day, so it expires up to one resolution step early (a day of 180) and the visitor is
    asked again that much sooner, never later.
    """
    return next((unit for unit in _TIME_UNITS if unit * 10 <= lifetime), 1)


@dataclass(frozen=True, slots=True)
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
    #: Where the visitor is (ISO 3166 code from the site's trusted header), None: unknown.
    region: str | None = None
    #: The regime there (:data:`consentlib.policy.REGIMES`): "opt-in" unless the policy says.
    regime: str = "opt-in"

    def allows(self, category: str) -> bool:
        """True when processing for ``category`` may happen on this request."""
        return category in self.granted


@dataclass(frozen=True)
class CookiePayload:
    """The verified content of a consent cookie, with the consent id when it is known.

    ``consent_id`` comes from a ``consent_id`` cookie bound to this decision, or from a
    ``consent`` cookie of the first format (``legacy``); otherwise it is None.
    """

    revision: int
    categories: frozenset[str]
    decided_at: int
    key_index: int  # 0 = signed with the newest key (with the id cookie: both were)
    consent_id: str | None = None
    legacy: bool = False  # the first format, id readable by scripts: re-issue it

    @property
    def decision(self) -> tuple[int, frozenset[str], int]:
        """What a ``consent_id`` cookie must name to belong to this decision."""
        return (self.revision, self.categories, self.decided_at)

    @property
    def needs_reissue(self) -> bool:
        """Signed with an older key, or in the first format: write it anew."""
        return self.legacy or self.key_index > 0


@dataclass(frozen=True)
class IdPayload:
    """The verified content of a ``consent_id`` cookie."""

    consent_id: str
    decision: tuple[int, frozenset[str], int]
    key_index: int


def new_consent_id() -> str:
    """128 random bits: a pseudonymous id that links a visitor's receipts, nothing more."""
    return secrets.token_hex(16)


# payload.signature, both unpadded base64url; an HMAC-SHA256 is 32 bytes, 43 characters.
_SIGNED = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _is_consent_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32


_Payload = TypeVar("_Payload", CookiePayload, IdPayload)


class ConsentCookie:
    """Signs and verifies the ``consent`` and ``consent_id`` cookies' values.

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
        given: list[object] = [k.encode() if isinstance(k, str) else k for k in secret_keys]
        keys = [k for k in given if isinstance(k, bytes)]
        if not keys or len(keys) != len(given) or any(len(k) < 16 for k in keys):
            raise ConfigurationError(
                "secret_key must be a non-empty list of keys, newest first, each at least 16 "
                "characters; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if not isinstance(lifetime, int) or lifetime <= 0:
            raise ConfigurationError(f"Consent lifetime must be a positive number of seconds, not {lifetime!r}.")
        self.lifetime = lifetime
        self.resolution = time_resolution(lifetime)
        self._signers = [
            Signer(key, salt="consentlib.consent", key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]
        # A different salt: an id cookie can never pass as a consent cookie, nor the reverse.
        self._id_signers = [
            Signer(key, salt="consentlib.consent-id", key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]
        # The keys each signer derives (HMAC of the secret and the salt), for verifying.
        self._verify_keys = [signer.derive_key() for signer in self._signers]
        self._id_verify_keys = [signer.derive_key() for signer in self._id_signers]
        # Keys: ("c", value) for consent cookies, ("i", value) for id cookies.
        self._cache: BoundedCache[tuple[str, str], CookiePayload | IdPayload | None] = BoundedCache(
            budget=_CACHE_BUDGET, max_size=_CACHE_MAX_VALUE)

    def decide(self, *, revision: int, categories: frozenset[str] | set[str], consent_id: str,
               now: float | None = None) -> CookiePayload:
        """A decision made now, its time floored to :attr:`resolution`, ready to be written."""
        now = int(time.time() if now is None else now)
        return CookiePayload(revision, frozenset(categories), now - now % self.resolution, 0, consent_id)

    def reissued(self, payload: CookiePayload) -> CookiePayload:
        """``payload`` as it is written anew: in the current format, its time floored."""
        return replace(payload, decided_at=payload.decided_at - payload.decided_at % self.resolution,
                       key_index=0, legacy=False)

    def dumps(self, *, revision: int, categories: frozenset[str] | set[str], decided_at: int) -> str:
        """The ``consent`` cookie's value: what scripts may read, and no consent id."""
        return self._sign(self._signers[0], {"r": revision, "c": sorted(categories), "t": decided_at})

    def dumps_id(self, *, consent_id: str, revision: int, categories: frozenset[str] | set[str],
                 decided_at: int) -> str:
        """The ``consent_id`` cookie's value: the id, bound to the decision it belongs to."""
        return self._sign(self._id_signers[0],
                          {"id": consent_id, "r": revision, "c": sorted(categories), "t": decided_at})

    def values(self, payload: CookiePayload) -> tuple[str, str | None]:
        """Both cookies' values for ``payload``, signed with the newest key (no id: None)."""
        revision, categories, decided_at = payload.revision, payload.categories, payload.decided_at
        consent = self.dumps(revision=revision, categories=categories, decided_at=decided_at)
        if not payload.consent_id:
            return consent, None
        return consent, self.dumps_id(consent_id=payload.consent_id, revision=revision, categories=categories,
                                      decided_at=decided_at)

    @staticmethod
    def _sign(signer: Signer, data: dict[str, object]) -> str:
        return signer.sign(_b64encode(json.dumps(data, separators=(",", ":")).encode())).decode("ascii")

    def verify(self, value: str) -> CookiePayload | None:
        """The payload a genuine ``consent`` cookie carries, or None for anything else.

        Expiry and revision are the caller's business (see :meth:`is_current`).
        """
        return self._cached("c", value, self._verify_consent)

    def verify_id(self, value: str) -> IdPayload | None:
        """The payload a genuine ``consent_id`` cookie carries, or None for anything else."""
        return self._cached("i", value, self._verify_id)

    def bind(self, payload: CookiePayload, id_values: Sequence[str]) -> CookiePayload:
        """``payload`` with the consent id of the first genuine id cookie of its decision.

        An id cookie that is forged, or belongs to another decision, is ignored: the
        choice still counts, but no receipt is ever linked to an id it cannot prove.
        """
        if payload.consent_id is not None:
            return payload  # the first format carries its own, signed with the decision
        for value in id_values:
            found = self.verify_id(value)
            if found is not None and found.decision == payload.decision:
                return replace(payload, consent_id=found.consent_id, key_index=max(payload.key_index, found.key_index))
        return payload

    def _cached(self, kind: str, value: str, verify: Callable[[str], _Payload | None]) -> _Payload | None:
        key = (kind, value)
        try:
            return self._cache[key]  # type: ignore[return-value]  # kind "c" holds CookiePayloads, "i" IdPayloads
        except KeyError:
            pass
        payload = verify(value)
        self._cache.remember(key, payload, len(value))
        return payload

    @staticmethod
    def _unsign(keys: list[bytes], value: str) -> tuple[dict[str, Any], int] | None:
        """The JSON object a genuine value carries and the index of the key that signed it.

        The check is itsdangerous's own format (``payload.base64(HMAC-SHA256(derived key,
        payload))``), made here with each signer's derived key computed once: itsdangerous
        derives it again on every call, which doubled the cost of a first visit.
        """
        # Only the exact shape signing makes: base64 decoding would skip stray characters.
        if len(value) > MAX_COOKIE_LENGTH or not _SIGNED.fullmatch(value):
            return None
        body, _, signature = value.rpartition(".")
        try:
            mac = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (ValueError, binascii.Error):
            return None
        message = body.encode("ascii")
        for index, key in enumerate(keys):
            if hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), mac):
                break
        else:
            return None
        try:
            data = json.loads(_b64decode(body))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return (data, index) if isinstance(data, dict) else None

    @staticmethod
    def _decision(data: dict[str, Any]) -> tuple[int, frozenset[str], int] | None:
        revision, categories, decided_at = data.get("r"), data.get("c"), data.get("t")
        if (
            type(revision) is not int
            or type(decided_at) is not int
            or not isinstance(categories, list)
            or not all(isinstance(c, str) for c in categories)
        ):
            return None
        return revision, frozenset(categories), decided_at

    def _verify_consent(self, value: str) -> CookiePayload | None:
        found = self._unsign(self._verify_keys, value)
        if found is None:
            return None
        data, index = found
        decision = self._decision(data)
        if decision is None:
            return None
        if "id" in data:
            # The first format: the id sat where scripts read it. Accepted, so nobody is
            # asked again for an upgrade, and re-issued as two cookies (needs_reissue).
            if not _is_consent_id(data["id"]):
                return None
            return CookiePayload(*decision, index, data["id"], legacy=True)
        return CookiePayload(*decision, index)

    def _verify_id(self, value: str) -> IdPayload | None:
        found = self._unsign(self._id_verify_keys, value)
        if found is None:
            return None
        data, index = found
        decision = self._decision(data)
        if decision is None or not _is_consent_id(data.get("id")):
            return None
        return IdPayload(data["id"], decision, index)

    def is_current(self, payload: CookiePayload, policy: Policy, now: float | None = None) -> bool:
        """A verified choice still counts: same policy revision, within its lifetime."""
        if payload.revision != policy.revision:
            return False
        age = (time.time() if now is None else now) - payload.decided_at
        return -CLOCK_SKEW <= age < self.lifetime

    def remaining(self, payload: CookiePayload, now: float | None = None) -> int:
        """Seconds until ``payload`` stops counting (at most the lifetime): the cookies' Max-Age."""
        left = payload.decided_at + self.lifetime - int(time.time() if now is None else now)
        return min(left, self.lifetime)
