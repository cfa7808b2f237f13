"""The site's secret keys, applied to what the store keeps: seals on the receipt chain
and keyed hashes of forgotten addresses and erased consent ids.

A store that was opened with the site's keys (``open_store(url, secret_key=...)``; the
middleware and ``MailTracker`` do so) seals every receipt it appends and can recognise
an address or a consent id it was asked to forget. Keys are newest first, like the middleware's: the
newest seals and hashes, every key is tried when checking, so rotate by putting a new
key first and keep an old one as long as what it sealed or hashed is kept.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

# One derived key per purpose, so a seal can never pass for an address hash, an erased
# id's fingerprint or a consent cookie signature made with the same site key.
_PURPOSES = ("receipt-chain", "forgotten-address", "forgotten-consent-id")


class Seal:
    """HMAC-SHA256 with keys derived from the site's secret keys (newest first)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("A Seal needs at least one key.")
        self._keys = {
            purpose: [hmac.new(key, f"consentlib.{purpose}".encode(), hashlib.sha256).digest() for key in keys]
            for purpose in _PURPOSES
        }

    def sign(self, text: str) -> str:
        """``text`` sealed with the newest key: ``<key id>:<hex HMAC>``."""
        key = self._keys["receipt-chain"][0]
        return f"{_key_id(key)}:{hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}"

    def check(self, text: str, seal: str | None) -> bool | None:
        """True when ``seal`` is a seal of ``text`` by one of the keys, False when it is
        not, None when it was made with a key this Seal does not hold."""
        key_id, _, mac = (seal or "").partition(":")
        for key in self._keys["receipt-chain"]:
            if _key_id(key) == key_id:
                return hmac.compare_digest(hmac.new(key, text.encode(), hashlib.sha256).hexdigest(), mac)
        return None if key_id and mac else False

    def address_hashes(self, address: str) -> list[str]:
        """The keyed hashes that stand for a forgotten ``address``, newest key first.

        Kept instead of the address so that an unsubscribe outlives an erasure (GDPR
        Art 17(3)(b): the controller must go on honouring the objection, Art 21(3)) while
        nobody reading the database learns who it was.
        """
        return self._hashes("forgotten-address", address)

    def consent_id_fingerprints(self, consent_id: str) -> list[str]:
        """The keyed fingerprints that stand for an erased ``consent_id``, newest key first.

        Kept instead of the id, so that a browser still holding the erased id is
        recognised and given a fresh one at its next choice (GDPR Art 17: the erased id
        never links anything again) while the list of erased ids names none of them.
        """
        return self._hashes("forgotten-consent-id", consent_id)

    def _hashes(self, purpose: str, text: str) -> list[str]:
        return [f"hmac-sha256:{hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}"
                for key in self._keys[purpose]]

def _key_id(derived: bytes) -> str:
    """A short public name for a key, so a seal says which key made it."""
    return hashlib.sha256(b"consentlib.key-id" + derived).hexdigest()[:8]
