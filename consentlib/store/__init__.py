"""Where receipts (and, later, mail permissions) are kept durably.

A store is chosen by URL: ``sqlite:///consent.db`` (relative path),
``sqlite:////var/lib/site/consent.db`` (absolute path). SQLite is the embedded
default: the file is created on first use.
"""
from __future__ import annotations

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

    def close(self) -> None: ...


def open_store(url: str | Store) -> Store:
    """The store a URL names; a ``Store`` object is returned as it is."""
    if not isinstance(url, str):
        if isinstance(url, Store):
            return url
        raise ConfigurationError(f"store must be a URL such as 'sqlite:///consent.db' or a Store object, not {url!r}.")
    if url.startswith("sqlite:///"):
        from consentlib.store.sqlite import SQLiteStore

        path = url[len("sqlite:///"):]
        if not path:
            raise ConfigurationError("A SQLite store URL needs a file: 'sqlite:///consent.db'.")
        return SQLiteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(
            "PostgreSQL stores are not available in this version; use 'sqlite:///consent.db'."
        )
    raise ConfigurationError(
        f"Unknown store URL {url!r}: use 'sqlite:///relative.db' or 'sqlite:////absolute/path.db'."
    )
