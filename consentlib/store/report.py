"""The report's queries (``consentlib report``): receipts and mail events grouped in the
database, so that only a few hundred aggregate rows ever reach Python, whatever the
count of receipts.

Each query groups by the few fields a figure needs (revision, the granted and denied
lists as the receipt holds them, method, GPC, and region and language when a receipt
carries them), so the rows are one per distinct combination, not one per receipt. The
mail queries differ between SQLite and PostgreSQL only in the parameter mark; the
receipts' query also in how a JSON field is read (``json_extract(data, '$.x')``
against ``data->'x'``) and in how "latest" is found, each the way its planner runs fast.

The receipts are read once (the JSON of each parsed once): per day and choice, how
many receipts and how many of them are their visitor's latest. SQLite does it a day at
a time through the indexes every store has, receipts_time for the day and
receipts_consent for "latest"; PostgreSQL in one statement, with hashes.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from consentlib.store.rights import Dialect, Params, Row

MMAP_BYTES = 1 << 32  # an upper bound: SQLite maps at most the file's size
POSTGRES_WORK_MEM = "256MB"  # per hash, for the report's one transaction
# The fields read from a receipt's JSON, in the order the queries return them.
FIELDS = ("revision", "granted", "denied", "method", "gpc", "region", "language")
_SQLITE_FIELDS = {
    "revision": "json_extract(data, '$.revision')",
    "granted": "json_extract(data, '$.granted')",
    "denied": "json_extract(data, '$.denied')",
    "method": "json_extract(data, '$.method')",
    "gpc": "json_extract(data, '$.signals.gpc')",
    "region": "json_extract(data, '$.region')",
    "language": "json_extract(data, '$.language')",
}
# jsonb values group and compare by value; ->> gives text where text is wanted.
_POSTGRES_FIELDS = {
    "revision": "data->'revision'",
    "granted": "data->'granted'",
    "denied": "data->'denied'",
    "method": "data->>'method'",
    "gpc": "data->'signals'->'gpc'",
    "region": "data->>'region'",
    "language": "data->>'language'",
}


class ReadableStore(Protocol):
    """What the report needs of a store: its dialect, a read, and (PostgreSQL) a transaction."""

    dialect: Dialect

    def _read(self, sql: str, params: Params = ()) -> list[Row]: ...

    def _transact(self, work: Callable[[Any], Any]) -> Any: ...


@dataclass(frozen=True)
class Decision:
    """What a receipt records of the visitor's choice."""

    revision: Any
    granted: tuple[str, ...]
    denied: tuple[str, ...]
    method: str | None
    gpc: bool
    region: str | None
    language: str | None


def _fields(store: ReadableStore) -> str:
    names = _POSTGRES_FIELDS if store.dialect.name == "postgres" else _SQLITE_FIELDS
    return ", ".join(names[field] for field in FIELDS)


def _names(value: Any) -> tuple[str, ...]:
    """A granted or denied list as SQLite (JSON text) or psycopg (a list) gives it."""
    if value is None:
        return ()
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(sorted(str(item) for item in items)) if isinstance(items, list) else ()


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _decision(row: Row) -> Decision:
    revision, granted, denied, method, gpc, region, language = row
    return Decision(revision, _names(granted), _names(denied), _text(method), bool(gpc), _text(region),
                    _text(language))


@dataclass(frozen=True)
class DayGroup:
    """The receipts of one UTC day (``YYYY-MM-DD``) that record the same ``decision``:
    ``receipts`` of them, of which ``latest`` are their visitor's latest receipt."""

    day: str
    decision: Decision
    receipts: int
    latest: int


def day_groups(store: ReadableStore, since: str) -> list[DayGroup]:
    """Receipts from ``since`` on (the stores' time text; "" for all), grouped by UTC
    day and by what they record, each receipt read once.

    ``latest`` counts the receipts no later receipt of the same consent id follows:
    each visitor once, by the latest choice. It is one seek per receipt in the
    receipts_consent index, (consent_id, seq). A visitor whose latest receipt is in
    the period is counted by it; one whose latest is before ``since`` has no receipt
    in the period (times grow with seq) and is not counted.
    """
    # substr of the fixed-width time text (consentlib.store.clock) is its UTC date, in both.
    if store.dialect.name == "sqlite":
        rows = _sqlite_day_by_day(store, (
            f"SELECT substr(r.time, 1, 10), {_fields(store)}, COUNT(*), "
            "SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM receipts o WHERE o.consent_id = r.consent_id AND o.seq > r.seq) "
            "THEN 1 ELSE 0 END) FROM receipts r WHERE r.time >= ? AND r.time < ? GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"),
            since)
    else:
        rows = store._transact(lambda conn: _postgres_at_once(conn, (
            f"SELECT substr(r.time, 1, 10), {_fields(store)}, COUNT(*), COUNT(l.latest) FROM receipts r "
            "LEFT JOIN (SELECT MAX(seq) AS latest FROM receipts GROUP BY consent_id) l ON l.latest = r.seq "
            "WHERE r.time >= %s GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"), since))
    return [DayGroup(str(row[0]), _decision(row[1:8]), int(row[8]), int(row[9] or 0)) for row in rows]


def _postgres_at_once(conn: Any, sql: str, since: str) -> list[Row]:
    """PostgreSQL hashes: the visitors' latest receipts (a hash of the consent ids, about
    120 MB for a million) joined to one scan, and one hash of the groups. The planner
    guesses a group per receipt, so with the default work_mem it would sort a million
    rows on disk and run the "latest" lookup once per receipt (20 s, over the store's
    statement timeout, on a million); given the memory, it hashes (4 s). JIT compiling
    the query costs more than it saves here. Both settings end with this transaction."""
    conn.execute(f"SET LOCAL work_mem = '{POSTGRES_WORK_MEM}'")
    conn.execute("SET LOCAL jit = off")
    rows: list[Row] = conn.execute(sql, (since,)).fetchall()
    return rows


def _sqlite_day_by_day(store: ReadableStore, sql: str, since: str) -> list[Row]:
    """SQLite groups by sorting every row first: a million receipts in one statement is
    a sort of about 800 MB, spilled to temporary files or held in memory. Day by day
    (a range of the receipts_time index) each sort holds one day's receipts, kept in
    memory. The file is read through mmap meanwhile: the "latest" seeks jump around the
    consent-id index, and mapped pages (the OS's file cache, not the process's memory)
    make them about a quarter cheaper than SQLite's own small page cache."""
    bounds = store._read("SELECT MIN(time), MAX(time) FROM receipts WHERE time >= ?", (since,))
    if not bounds or bounds[0][0] is None:
        return []
    day, last = date.fromisoformat(bounds[0][0][:10]), date.fromisoformat(bounds[0][1][:10])
    saved = {name: store._read(f"PRAGMA {name}")[0][0] for name in ("temp_store", "mmap_size")}
    store._read("PRAGMA temp_store = MEMORY")
    store._read(f"PRAGMA mmap_size = {MMAP_BYTES}")
    rows: list[Row] = []
    try:
        while day <= last:
            rows += store._read(sql, (max(day.isoformat(), since), (day + timedelta(days=1)).isoformat()))
            day += timedelta(days=1)
    finally:
        for name, value in saved.items():
            store._read(f"PRAGMA {name} = {int(value)}")
    return rows


@dataclass(frozen=True)
class Campaign:
    """A mail campaign's figures from ``since`` on. Opens by people count each person
    once; a mail proxy's fetches and a scanner's clicks count as they came."""

    campaign: str
    sent: int = 0
    human_opens: int = 0
    machine_opens: int = 0
    human_clicks: int = 0
    scanner_clicks: int = 0
    unsubscribes: int = 0


def campaigns(store: ReadableStore, since: str) -> list[Campaign]:
    """Per campaign: sends, opens and clicks (people and machines), unsubscribes."""
    q = store.dialect.q
    figures: dict[str, dict[str, int]] = {}

    def add(name: str, field: str, count: int) -> None:
        row = figures.setdefault(name, {})
        row[field] = row.get(field, 0) + int(count)

    for name, count in store._read(q("SELECT campaign, COUNT(*) FROM mail_sends WHERE sent_at >= ? "
                                     "GROUP BY campaign"), (since,)):
        add(name, "sent", count)
    for name, event, kind, count, people in store._read(q(
            "SELECT campaign, event, kind, COUNT(*), COUNT(DISTINCT recipient) FROM mail_events "
            "WHERE time >= ? GROUP BY campaign, event, kind"), (since,)):
        if event == "open":
            add(name, "human_opens" if kind == "human" else "machine_opens", people if kind == "human" else count)
        elif event == "click":
            add(name, "human_clicks" if kind == "human" else "scanner_clicks", count)
    for name, count in store._read(q("SELECT campaign, COUNT(*) FROM mail_suppressions "
                                     "WHERE time >= ? AND campaign IS NOT NULL GROUP BY campaign"), (since,)):
        add(name, "unsubscribes", count)
    return [Campaign(name, **figures[name]) for name in sorted(figures)]
