"""Where receipts, mail permissions and unsubscribes are kept durably.

A store is chosen by URL: ``sqlite:///consent.db`` (relative path),
``sqlite:////var/lib/site/consent.db`` (absolute path). SQLite is the embedded
default: the file is created on first use. ``postgresql://user:password@host:5432/db``
(or ``postgres://``) keeps them in PostgreSQL, for a site served by several hosts; it
needs the ``postgres`` extra (psycopg 3). Tables are created on first use, and the
tables of a database made by an earlier consentlib get what is new.

Retention is set once, in the URL's query: ``sqlite:///consent.db?receipts_days=400&mail_days=180``
(PostgreSQL: after its own parameters, ``...?sslmode=require&receipts_days=400``).
``receipts_days`` is how long a receipt is kept after it was written, ``mail_days`` how
long opens, clicks and sends are; ``consentlib receipts prune`` and ``consentlib mail
prune`` apply them. Unset means kept until you prune with ``--older-than``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, overload

from consentlib.errors import ConfigurationError
from consentlib.store.base import (
    RETENTION_OPTIONS,
    ForgottenConsentId,
    STORE_METHODS,
    Retention,
    SecretKeys,
    Store,
    seal_of,
    split_retention,
)

if TYPE_CHECKING:
    from consentlib.store.postgres import PostgresStore
    from consentlib.store.sqlite import SQLiteStore

__all__ = ["RETENTION_OPTIONS", "ForgottenConsentId", "Retention", "SecretKeys", "Store", "open_store"]


@overload
def open_store(url: str, *, secret_key: SecretKeys = None) -> SQLiteStore | PostgresStore: ...


@overload
def open_store(url: Store, *, secret_key: SecretKeys = None) -> Store: ...


def open_store(url: str | Store, *, secret_key: SecretKeys = None) -> Store:
    """The store a URL names; a ``Store`` object is returned as it is.

    ``secret_key`` (the site's keys, newest first) lets the store seal the receipt
    chain and recognise forgotten addresses and erased consent ids; the middleware and
    ``MailTracker`` pass theirs. A store object that has no keys yet is given these.
    """
    seal = seal_of(secret_key)
    if not isinstance(url, str):
        if isinstance(url, Store):
            if seal is not None and getattr(url, "seal", None) is None:
                setattr(url, "seal", seal)  # an attribute the Store protocol does not require
            return url
        missing = sorted(name for name in STORE_METHODS if not callable(getattr(url, name, None)))
        if missing and len(missing) < len(STORE_METHODS):
            raise ConfigurationError(
                f"{type(url).__name__} is not a complete consentlib Store: it lacks {', '.join(missing)}. "
                "Implement them (see consentlib.store.Store) or pass a URL such as 'sqlite:///consent.db'."
            )
        raise ConfigurationError(f"store must be a URL such as 'sqlite:///consent.db' or a Store object, not {url!r}.")
    url, retention = split_retention(url)
    store = _open_url(url)
    store.seal = seal
    store.retention = retention
    return store


def _open_url(url: str) -> SQLiteStore | PostgresStore:
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
