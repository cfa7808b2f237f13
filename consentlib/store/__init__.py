"""Where receipts, mail permissions and unsubscribes are kept durably.

A store is chosen by URL: ``sqlite:///consent.db`` (relative path),
``sqlite:////var/lib/site/consent.db`` (absolute path). SQLite is the embedded
default: the file is created on first use. ``postgresql://user:password@host:5432/db``
(or ``postgres://``) keeps them in PostgreSQL, for a site served by several hosts; it
needs the ``postgres`` extra (psycopg 3). Tables are created on first use.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from consentlib.errors import ConfigurationError


@runtime_checkable
class Store(Protocol):
    """What consentlib needs from a database. Every write is committed before it returns."""

    def add_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        """Append ``receipt``; fill in ``replaces`` with the consent id's previous record."""

    def receipts(self, *, consent_id: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        """Receipts, oldest first, of one consent id or all, from ``since`` on."""

    def prune_receipts(self, *, before: datetime) -> int:
        """Delete receipts older than ``before``; return how many."""

    def note_undeclared_cookie(self, name: str) -> None:
        """Remember that the app tried to set a cookie the policy does not declare."""

    def undeclared_cookies(self) -> list[dict[str, Any]]:
        """Cookies the app set without a declaration: name, first_seen, last_seen, count."""

    # -- mail (consentlib.mail): permissions and unsubscribes are committed at once --

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

    def close(self) -> None: ...


_STORE_METHODS = tuple(
    name for name, value in vars(Store).items() if callable(value) and not name.startswith("_")
)


def open_store(url: str | Store) -> Store:
    """The store a URL names; a ``Store`` object is returned as it is."""
    if not isinstance(url, str):
        if isinstance(url, Store):
            return url
        missing = sorted(name for name in _STORE_METHODS if not callable(getattr(url, name, None)))
        if missing and len(missing) < len(_STORE_METHODS):
            raise ConfigurationError(
                f"{type(url).__name__} is not a complete consentlib Store: it lacks {', '.join(missing)}. "
                "Implement them (see consentlib.store.Store) or pass a URL such as 'sqlite:///consent.db'."
            )
        raise ConfigurationError(f"store must be a URL such as 'sqlite:///consent.db' or a Store object, not {url!r}.")
    if url.startswith("sqlite:///"):
        from consentlib.store.sqlite import SQLiteStore

        path = url[len("sqlite:///"):]
        if not path:
            raise ConfigurationError("A SQLite store URL needs a file: 'sqlite:///consent.db'.")
        return SQLiteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from consentlib.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigurationError(
                f"A PostgreSQL store needs psycopg 3, which is not installed ({exc}): "
                "pip install 'consentlib[postgres]'."
            ) from None
        return PostgresStore(url)
    raise ConfigurationError(
        f"Unknown store URL {url!r}: use 'sqlite:///relative.db', 'sqlite:////absolute/path.db' "
        "or 'postgresql://user:password@host:5432/dbname'."
    )
