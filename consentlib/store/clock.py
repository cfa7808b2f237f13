"""The one text every store writes for a moment: fixed-width UTC, so text order is time order.

``2026-11-05T09:47:00.000001Z``: RFC 3339 in UTC, always with microseconds and the ``Z``,
so every value has the same 27 characters and comparing two texts byte by byte (SQLite's
BINARY collation, PostgreSQL's ``COLLATE "C"``) compares the moments. The stores' cut-offs
(``time < ?`` in a prune, ``due <= ?`` in the change queue) and their time indexes rely on
it, and receipts carry the same text in their ``time`` and ``expires`` fields. Rows
written before this module existed hold exactly this format: changing it would make old
and new rows sort wrongly against each other.
"""
from __future__ import annotations

from datetime import datetime, timezone


def time_text(moment: datetime | None = None) -> str:
    """``moment`` (now if None) as the stores' UTC text; a naive datetime is taken as UTC."""
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
