"""The Store protocol, and the parts of a store URL that are consentlib's own.

A leaf: the backends (:mod:`consentlib.store.sqlite`, :mod:`consentlib.store.postgres`)
import it, and :func:`consentlib.store.open_store` imports them, one way only.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlencode

from consentlib.errors import ConfigurationError, ConsentError

if TYPE_CHECKING:
    from consentlib.store.seal import Seal

RETENTION_OPTIONS = ("receipts_days", "mail_days")
#: The site's secret keys: one, or several newest first; None for a store without keys.
SecretKeys = str | bytes | Iterable[str | bytes] | None


class ForgottenConsentId(ConsentError):
    """A receipt was to be recorded under a consent id that was erased on the visitor's
    request (GDPR Art 17). Nothing was recorded: record it under a new consent id."""


@dataclass(frozen=True)
class Retention:
    """How long a store keeps what it keeps, in days (None: until pruned by hand)."""

    receipts_days: int | None = None
    mail_days: int | None = None


@runtime_checkable
class Store(Protocol):
    """What consentlib needs from a database. Every write is committed before it returns."""

    def add_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        """Append ``receipt``; fill in ``replaces`` with the consent id's previous record.
        Raise :class:`ForgottenConsentId`, recording nothing, when its consent id was
        erased (``minimise_receipts``)."""

    def receipts(self, *, consent_id: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        """Receipts, oldest first, of one consent id or all, from ``since`` on."""

    def prune_receipts(self, *, before: datetime) -> int:
        """Delete receipts older than ``before``; return how many."""

    def guardian_receipts(self, consent_id: str, *, revision: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """A minor's grant under ``revision``: the latest receipt with method "guardian",
        and the latest receipt of another method stored after it (the minor's own later
        choice), both of that revision; ``(None, None)`` without a guardian receipt.
        Read on every page view of a minor: one indexed lookup, whatever the count of
        receipts."""

    def guardian_token_used(self, consent_id: str, token: str) -> bool:
        """Whether a guardian receipt of ``consent_id`` was recorded for the confirmation
        link with nonce ``token`` (a link is answered once)."""

    def note_undeclared_cookie(self, name: str) -> None:
        """Remember that the app tried to set a cookie the policy does not declare."""

    def undeclared_cookies(self) -> list[dict[str, Any]]:
        """Cookies the app set without a declaration: name, first_seen, last_seen, count."""

    # -- mail (consentlib.mail.tracker): permissions and unsubscribes are committed at once --

    def mail_recipient(self, recipient: str, *, list_id: str) -> tuple[int, bool, bool]:
        """The recipient's number (created on first use), whether tracking is allowed on
        ``list_id``, whether they unsubscribed from it."""

    def mail_address(self, recipient_id: int) -> str | None:
        """The address behind a recipient number, or None."""

    def set_mail_tracking(self, recipient: str, *, list_id: str, allowed: bool, source: str) -> None:
        """Append a tracking permission (or its withdrawal); the latest one counts."""

    def mail_tracking_allowed(self, recipient: str, *, list_id: str) -> bool: ...

    def suppress_mail(self, recipient: str, *, list_id: str, source: str, campaign: str | None = None) -> bool:
        """Unsubscribe ``recipient`` from ``list_id`` for good; True when it is new."""

    def mail_suppressed(self, recipient: str, *, list_id: str) -> bool: ...

    def record_mail_send(self, *, campaign: str, recipient: str, list_id: str, links: int, tracked: bool) -> None: ...

    def add_mail_events(self, events: Sequence[Any]) -> int:
        """Insert opens/clicks (``consentlib.store.mail.MailEvent``), keeping only those of
        a recipient who allowed tracking before the event and has not unsubscribed."""

    def mark_click_burst(self, *, recipient_id: int, campaign: str, links: int, since: str) -> int:
        """Mark as a scanner's the clicks since ``since`` when they cover all ``links``."""

    def mail_stats(self, *, campaign: str | None = None) -> list[dict[str, Any]]:
        """Per campaign: sent, human_opens (unique), machine_opens, human_clicks,
        scanner_clicks, unsubscribes."""

    def mail_permissions(self, *, recipient: str | None = None) -> list[dict[str, Any]]:
        """Tracking permissions and unsubscribes, oldest first (proof, access right)."""

    # -- the visitor's rights (consentlib.store.rights): erasure, retention, proof, changes --

    def receipt_chain(self) -> Any:
        """The receipt hash chain as one snapshot (``consentlib.store.chain.ChainState``)."""

    def minimise_receipts(self, consent_id: str) -> int:
        """Erase the IP network and user agent of a visitor's receipts, keeping the proof,
        and keep the id only as a keyed fingerprint, in one transaction; return how many
        receipts the visitor has (0: unknown, nothing done). Needs a store opened with
        the site's keys."""

    def consent_id_forgotten(self, consent_id: str) -> bool:
        """Whether ``consent_id`` was erased (``minimise_receipts``), by its fingerprint
        under any of the site's keys. Read where a choice is recorded or receipts are
        shown, and on a minor's page view when a guardian's grant counts; never on
        other page views."""

    def forget_mail_recipient(self, recipient: str) -> dict[str, Any]:
        """Erase an address in one transaction; unsubscribes stay as a keyed hash. Needs a
        store opened with the site's keys. ``found`` says whether there was anything."""

    def mail_data(self, recipient: str) -> dict[str, Any]:
        """Everything kept about an address: ``sends``, ``events`` (access right)."""

    def prune_mail(self, *, before: datetime) -> dict[str, int]:
        """Delete opens, clicks, sends and queued mail changes older than ``before``."""

    def claim_changes(self, *, topics: Sequence[str] | None = None, limit: int = 100,
                      lease_seconds: float = 60.0) -> list[dict[str, Any]]:
        """Due changes, oldest first, leased to the caller for ``lease_seconds``."""

    def finish_change(self, change_id: str, *, error: str | None = None, retry_at: datetime | None = None) -> None:
        """Mark a claimed change delivered (deleted) or failed (due again at ``retry_at``)."""

    def changes(self, *, subject: str | None = None) -> list[dict[str, Any]]:
        """Changes waiting to be delivered, oldest first (of one consent id or address)."""

    def close(self) -> None: ...


STORE_METHODS = tuple(
    name for name, value in vars(Store).items() if callable(value) and not name.startswith("_")
)


def seal_of(secret_key: SecretKeys) -> Seal | None:
    """The seal of the receipt chain for the site's keys (newest first), or None."""
    if secret_key is None:
        return None
    from consentlib.store.seal import Seal

    keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
    return Seal([k.encode() if isinstance(k, str) else k for k in keys])


def split_retention(url: str) -> tuple[str, Retention]:
    """The URL without consentlib's own query options, and the retention they set."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, Retention()
    kept, days = [], {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in RETENTION_OPTIONS:
            if not value.isdigit() or int(value) < 1:
                raise ConfigurationError(
                    f"{name} in the store URL must be a whole number of days, at least 1, not {value!r}."
                )
            days[name] = int(value)
        else:
            kept.append((name, value))
    if not days:
        return url, Retention()
    if base.startswith("sqlite:///") and kept:
        raise ConfigurationError(
            f"A SQLite store URL takes only {' and '.join(RETENTION_OPTIONS)} as options, not "
            f"{', '.join(name for name, _ in kept)}."
        )
    return (f"{base}?{urlencode(kept, quote_via=quote)}" if kept else base), Retention(**days)
