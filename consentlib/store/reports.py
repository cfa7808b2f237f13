"""What a site's pages reached and what report mode let through: counts, never visitors.

Two tables, in the SQLite and the PostgreSQL store alike (created with the others on
first use, so an older database gains them on its next start):

- ``csp_reports``: one row per blocked origin (scheme, host and port of a CSP report's
  ``blocked-uri``: never its path or query) and directive, whether the policy declares
  that origin and its category, a count, and the first and last day it was reported.
  No address, page, user agent or time of day is kept: nothing that names a visitor.
- ``would_block``: one row per kind (``cookie``, ``beacon``, ``validator``, ``csp``) and
  name of what ``mode="report"`` let through that ``"enforce"`` would have blocked, with a
  count and the first and last time it was seen.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from consentlib.store.clock import time_text
from consentlib.store.rights import Dialect, Params, Row

T = TypeVar("T")

_TABLES = """
CREATE TABLE IF NOT EXISTS csp_reports (
    origin TEXT{c} NOT NULL,
    directive TEXT{c} NOT NULL,
    declared {int} NOT NULL,
    category TEXT{c},
    first_day TEXT{c} NOT NULL,
    last_day TEXT{c} NOT NULL,
    count {int} NOT NULL,
    PRIMARY KEY (origin, directive)
);
CREATE TABLE IF NOT EXISTS would_block (
    kind TEXT{c} NOT NULL,
    name TEXT{c} NOT NULL,
    first_seen TEXT{c} NOT NULL,
    last_seen TEXT{c} NOT NULL,
    count {int} NOT NULL,
    PRIMARY KEY (kind, name)
);
"""
#: The tables in SQLite, and in PostgreSQL (byte order, as every other text column there).
SQLITE_REPORTS_SCHEMA = _TABLES.format(c="", int="INTEGER")
POSTGRES_REPORTS_SCHEMA = _TABLES.format(c=' COLLATE "C"', int="BIGINT")

_NOTE_CSP = """
INSERT INTO csp_reports (origin, directive, declared, category, first_day, last_day, count)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (origin, directive) DO UPDATE SET declared = excluded.declared, category = excluded.category,
    last_day = excluded.last_day, count = csp_reports.count + excluded.count
"""
_NOTE_WOULD_BLOCK = """
INSERT INTO would_block (kind, name, first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kind, name) DO UPDATE SET last_seen = excluded.last_seen, count = would_block.count + excluded.count
"""
_CSP_COLUMNS = ("origin", "directive", "declared", "category", "first_day", "last_day", "count")
_WOULD_BLOCK_COLUMNS = ("kind", "name", "first_seen", "last_seen", "count")


class ReportTables:
    """The two tables' reads and writes, for a store with ``dialect``, ``_transact`` and
    ``_read`` (both backends)."""

    dialect: Dialect

    def _transact(self, work: Callable[[Any], T]) -> T:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _read(self, sql: str, params: Params = ()) -> list[Row]:  # pragma: no cover - the store's
        raise NotImplementedError

    def note_csp_report(self, origin: str, directive: str, category: str | None, *, count: int = 1) -> None:
        """Count ``count`` CSP reports of ``origin`` under ``directive``; ``category`` is
        the declared host's, None for an origin the policy does not declare."""
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        params = (origin[:300], directive[:40], int(category is not None), category, day, day, count)
        self._transact(lambda conn: conn.execute(self.dialect.q(_NOTE_CSP), params))

    def csp_reports(self) -> list[dict[str, Any]]:
        """Every origin reported, most reported first: origin, directive, declared,
        category, first_day, last_day, count."""
        rows = self._read(f"SELECT {', '.join(_CSP_COLUMNS)} FROM csp_reports ORDER BY count DESC, origin, directive", ())
        return [{**dict(zip(_CSP_COLUMNS, row)), "declared": bool(row[2])} for row in rows]

    def note_would_block(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``counts`` (by kind and name) of what report mode let through, in one transaction."""
        if not counts:
            return
        now = time_text()
        rows = [(kind, name[:200], now, now, count) for (kind, name), count in counts.items()]

        def work(conn: Any) -> None:
            for row in rows:
                conn.execute(self.dialect.q(_NOTE_WOULD_BLOCK), row)

        self._transact(work)

    def would_block(self, kinds: Iterable[str] = ()) -> list[dict[str, Any]]:
        """What report mode let through that enforce mode would have blocked, by kind and
        name (only ``kinds``, if given): kind, name, first_seen, last_seen, count."""
        rows = self._read(f"SELECT {', '.join(_WOULD_BLOCK_COLUMNS)} FROM would_block ORDER BY kind, name", ())
        wanted = set(kinds)
        return [dict(zip(_WOULD_BLOCK_COLUMNS, row)) for row in rows if not wanted or row[0] in wanted]
