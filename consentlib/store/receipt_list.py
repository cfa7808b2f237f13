"""Receipts a page at a time, filtered in the database: what the Django admin lists.

Filters are SQL on the receipt's JSON (SQLite and PostgreSQL each read it their way);
a page is ``ORDER BY seq DESC LIMIT``, newest first, with no total count, so a page
of the latest receipts costs the same on a million receipts as on a hundred. The
action filter needs the categories a visitor could refuse (those some receipt of the
revision denies, as ``consentlib report`` derives them): one grouped pass over the
receipts, :func:`refusable`.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from consentlib.store.report import ReadableStore

ACTIONS = ("accept_all", "reject_all", "customised")


@dataclass(frozen=True)
class ReceiptFilter:
    """What to list: receipts that grant ``category``, of ``action``, under ``revision``,
    made on UTC day ``day`` (each None: any)."""

    category: str | None = None
    action: str | None = None
    revision: int | None = None
    day: date | None = None


class _Sql:
    """One dialect's way to read a receipt's JSON."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def revision(self) -> str:
        return "(data->>'revision')::bigint" if self.postgres else "json_extract(data, '$.revision')"

    def nothing_denied(self) -> str:
        return ("jsonb_array_length(data->'denied') = 0" if self.postgres
                else "json_array_length(data, '$.denied') = 0")

    def grants(self, names: int) -> str:
        """The receipt grants one of ``names`` categories (as many parameters)."""
        marks = ", ".join("?" * names)
        if self.postgres:
            return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(data->'granted') g WHERE g IN ({marks}))"
        return f"EXISTS (SELECT 1 FROM json_each(data, '$.granted') g WHERE g.value IN ({marks}))"

    def denied_pairs(self) -> str:
        if self.postgres:
            return ("SELECT DISTINCT data->>'revision', d FROM receipts, "
                    "jsonb_array_elements_text(data->'denied') d")
        return "SELECT DISTINCT json_extract(data, '$.revision'), d.value FROM receipts, json_each(data, '$.denied') d"


def _sql(store: ReadableStore) -> _Sql:
    return _Sql(store.dialect.name == "postgres")


def refusable(store: ReadableStore) -> dict[int, frozenset[str]]:
    """Per revision, the categories some receipt denies."""
    found: dict[int, set[str]] = defaultdict(set)
    for revision, name in store._read(_sql(store).denied_pairs()):
        found[int(revision)].add(str(name))
    return {revision: frozenset(names) for revision, names in found.items()}


def _action_where(sql: _Sql, action: str, optional: dict[int, frozenset[str]]) -> tuple[str, list[Any]]:
    if action == "accept_all":
        return sql.nothing_denied(), []
    # Per revision: does the receipt grant a category that some receipt of it denies?
    cases, params = [], []
    for revision, names in sorted(optional.items()):
        if names:
            cases.append(f"({sql.revision()} = ? AND {sql.grants(len(names))})")
            params += [revision, *sorted(names)]
    grants_refusable = " OR ".join(cases) or "1 = 0"
    negate = "NOT " if action == "reject_all" else ""
    return f"NOT ({sql.nothing_denied()}) AND {negate}({grants_refusable})", params


def receipt_page(store: ReadableStore, filters: ReceiptFilter, *, offset: int = 0, limit: int = 100,
                 optional: dict[int, frozenset[str]] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` receipts after ``offset``, newest first, and whether more follow.
    ``optional``: :func:`refusable`'s answer, if the caller has it (the action filter needs it)."""
    sql = _sql(store)
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if filters.category is not None:
        where.append(sql.grants(1))
        params.append(filters.category)
    if filters.revision is not None:
        where.append(f"{sql.revision()} = ?")
        params.append(filters.revision)
    if filters.day is not None:
        # The fixed-width time text sorts as time: a day is a range on receipts_time.
        where.append("time >= ? AND time < ?")
        params += [filters.day.isoformat(), (filters.day + timedelta(days=1)).isoformat()]
    if filters.action is not None:
        clause, more = _action_where(sql, filters.action, refusable(store) if optional is None else optional)
        where.append(clause)
        params += more
    rows = store._read(store.dialect.q(
        f"SELECT data FROM receipts WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ? OFFSET ?"),
        (*params, limit + 1, offset))
    receipts = [json.loads(data) if isinstance(data, str) else data for (data,) in rows]
    return receipts[:limit], len(receipts) > limit


def revisions(store: ReadableStore) -> list[int]:
    """The revisions receipts were recorded under, for the admin's filter."""
    rows = store._read(f"SELECT DISTINCT {_sql(store).revision()} FROM receipts")
    return sorted(int(revision) for (revision,) in rows if revision is not None)
