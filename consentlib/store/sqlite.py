"""The embedded default store: one SQLite file, safe for several processes at once.

WAL lets readers run beside the one writer; ``BEGIN IMMEDIATE`` takes the write lock
up front so two processes never deadlock upgrading a read lock; a busy timeout makes
a writer wait its turn instead of failing. ``synchronous=FULL`` because an answered
"saved" (a receipt, an unsubscribe) must survive a crash right after it.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import consentlib.store.rights as rights
from consentlib.errors import StoreUnavailable
from consentlib.store.clock import time_text
from consentlib.store.mail import SQLiteMailTables
from consentlib.store.reports import SQLITE_REPORTS_SCHEMA, ReportTables
from consentlib.store.visitor_rights import VisitorRights

BUSY_TIMEOUT_SECONDS = 15.0
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL UNIQUE,
    consent_id TEXT NOT NULL,
    time TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_consent ON receipts (consent_id, seq);
CREATE INDEX IF NOT EXISTS receipts_time ON receipts (time);
CREATE TABLE IF NOT EXISTS undeclared_cookies (
    name TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL
);
"""

# A minor's grant is looked up on every page view (consentlib.web.guardian): a partial index
# holds only guardian receipts, by visitor and revision. The queries below repeat its
# expressions exactly, or SQLite would not use it.
_GUARDIAN_SCHEMA = """
CREATE INDEX IF NOT EXISTS receipts_guardian
    ON receipts (consent_id, json_extract(data, '$.revision'), seq)
    WHERE json_extract(data, '$.method') = 'guardian'
"""
_GUARDIAN_RECEIPTS = """
SELECT g.data, (
    SELECT o.data FROM receipts o
    WHERE o.consent_id = g.consent_id AND o.seq > g.seq
      AND json_extract(o.data, '$.method') != 'guardian' AND json_extract(o.data, '$.revision') = :revision
    ORDER BY o.seq DESC LIMIT 1)
FROM receipts g
WHERE g.consent_id = :consent_id AND json_extract(g.data, '$.revision') = :revision
  AND json_extract(g.data, '$.method') = 'guardian'
ORDER BY g.seq DESC LIMIT 1
"""
_GUARDIAN_TOKEN_USED = """
SELECT 1 FROM receipts
WHERE consent_id = :consent_id AND json_extract(data, '$.method') = 'guardian'
  AND json_extract(data, '$.guardian.token') = :token
LIMIT 1
"""


SQLITE = rights.Dialect("sqlite", receipt_out=lambda receipt: json.dumps(receipt, sort_keys=True),
                        receipt_in=json.loads, clean=lambda value: value, lock="")


class SQLiteStore(SQLiteMailTables, VisitorRights, ReportTables):
    """A :class:`~consentlib.store.Store` in one SQLite file (created on first use)."""

    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    # -- connections ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: sqlite3 connections must not
        # cross a fork, and a pre-fork server forks after the app is built.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"Cannot open the SQLite store {self.path!r}: {exc}") from exc
        self._local.conn = conn
        self._local.pid = os.getpid()
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    self._create_schema(conn)
                    self._schema_ready = True
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(_GUARDIAN_SCHEMA)
                self._mail_schema(conn)
                rights.run_script(conn, rights.SQLITE_SCHEMA)
                rights.run_script(conn, SQLITE_REPORTS_SCHEMA)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(receipts)")}
                rights.migrate(conn, SQLITE, columns)
                self._extra_schema(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Cannot create the tables of {self.path!r}: {exc}") from exc

    def _extra_schema(self, conn: sqlite3.Connection) -> None:
        """Hook for subclasses and mixins that keep more tables in the same file."""

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"The SQLite store {self.path!r} cannot be written: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreUnavailable(f"Writing to the SQLite store {self.path!r} failed: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise

    def _transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._write() as conn:
            return work(conn)

    def _read(self, sql: str, params: rights.Params = ()) -> list[rights.Row]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Reading the SQLite store {self.path!r} failed: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- receipts ------------------------------------------------------------------

    def receipts(self, *, consent_id: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT data FROM receipts WHERE 1=1", []
        if consent_id is not None:
            sql += " AND consent_id = ?"
            params.append(consent_id)
        if since is not None:
            sql += " AND time >= ?"
            params.append(time_text(since))
        sql += " ORDER BY seq"
        return [json.loads(data) for (data,) in self._read(sql, tuple(params))]

    def guardian_receipts(self, consent_id: str, *, revision: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        rows = self._read(_GUARDIAN_RECEIPTS, {"consent_id": consent_id, "revision": revision})
        if not rows:
            return None, None
        guardian, own_later = rows[0]
        return json.loads(guardian), json.loads(own_later) if own_later is not None else None

    def guardian_token_used(self, consent_id: str, token: str) -> bool:
        return bool(self._read(_GUARDIAN_TOKEN_USED, {"consent_id": consent_id, "token": token}))

    # -- undeclared cookies ----------------------------------------------------------

    def note_undeclared_cookie(self, name: str) -> None:
        now = time_text()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO undeclared_cookies (name, first_seen, last_seen, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen, count = count + 1",
                (name[:200], now, now),
            )

    def undeclared_cookies(self) -> list[dict[str, Any]]:
        rows = self._read("SELECT name, first_seen, last_seen, count FROM undeclared_cookies ORDER BY name")
        return [dict(zip(("name", "first_seen", "last_seen", "count"), row)) for row in rows]


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a brand-new file to WAL needs a lock for which SQLite does not call the
    # busy handler: processes that open a new store at the same moment (pre-fork workers
    # on first start) get "database is locked" at once. Wait as a writer would.
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
