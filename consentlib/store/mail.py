"""Mail tables in the SQLite store.

What is legal record and what is engagement statistics are kept apart:

- tracking permissions and unsubscribes are written at once, each in its own committed
  transaction (RFC 8058: the one-click POST is answered only after it is honoured);
- opens are engagement statistics: :class:`consentlib.store.events.EventBuffer`
  batches them, so a burst of pixel hits costs one transaction (one fsync) per batch.

Whether an event may be kept is decided *inside* the transaction that inserts it: only
for a recipient whose latest tracking permission on that list allows it, was given
before the event, and who has not unsubscribed. An unsubscribe or a withdrawal that
commits while an open waits in the buffer therefore still wins.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import consentlib.store.rights as rights
from consentlib.store.clock import time_text

if TYPE_CHECKING:
    from consentlib.store.seal import Seal

MAIL_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_recipients (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS mail_tracking (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    list_id TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_tracking_recipient ON mail_tracking (recipient, list_id, seq);
CREATE TABLE IF NOT EXISTS mail_suppressions (
    recipient TEXT NOT NULL,
    list_id TEXT NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    campaign TEXT,
    PRIMARY KEY (recipient, list_id)
);
CREATE TABLE IF NOT EXISTS mail_sends (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    recipient TEXT NOT NULL,
    list_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    links INTEGER NOT NULL,
    tracked INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_sends_campaign ON mail_sends (campaign);
CREATE TABLE IF NOT EXISTS mail_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    recipient TEXT NOT NULL,
    list_id TEXT NOT NULL,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    agent TEXT,
    link INTEGER
);
CREATE INDEX IF NOT EXISTS mail_events_campaign ON mail_events (campaign, event, kind);
CREATE INDEX IF NOT EXISTS mail_events_recipient ON mail_events (recipient, campaign, event, time);
"""

# Keep the event only for a tracked, subscribed recipient: the latest permission on
# the list allows it and predates the event (ePrivacy Art 5(3): no consent, no record).
_INSERT_EVENT = """
INSERT INTO mail_events (campaign, recipient, list_id, event, kind, time, agent, link)
SELECT ?1, r.address, ?2, ?3, ?4, ?5, ?6, ?7
FROM mail_recipients r
JOIN mail_tracking t ON t.seq = (
    SELECT seq FROM mail_tracking WHERE recipient = r.address AND list_id = ?2 ORDER BY seq DESC LIMIT 1)
WHERE r.id = ?8 AND t.allowed = 1 AND t.time <= ?5
  AND NOT EXISTS (SELECT 1 FROM mail_suppressions s WHERE s.recipient = r.address AND s.list_id = ?2)
"""


class MailEvent(NamedTuple):
    """An open or a click, as the endpoint saw it. ``recipient_id`` comes from a token."""

    recipient_id: int
    campaign: str
    list_id: str
    event: str  # "open" or "click"
    kind: str  # "human", "machine" (mail proxy) or "scanner" (link scanner)
    time: str  # UTC, consentlib.store.clock.time_text
    agent: str | None  # user-agent family, never the full string
    link: int | None  # index of the link in the mail, for clicks


def build_mail_stats(campaign: str | None, read: rights.Read,
                     placeholder: str) -> list[dict[str, Any]]:
    """``mail_stats`` for the SQLite and PostgreSQL stores alike: ``read(sql, params)``
    runs a query, ``placeholder`` is the driver's parameter mark ("?" or "%s")."""
    where, params = (f"WHERE campaign = {placeholder}", (campaign,)) if campaign is not None else ("", ())
    sends = read(f"SELECT campaign, COUNT(*) FROM mail_sends {where} GROUP BY campaign", params)
    events = read(f"SELECT campaign, event, kind, COUNT(*), COUNT(DISTINCT recipient) FROM mail_events {where} "
                  "GROUP BY campaign, event, kind", params)
    unsubscribes = read(f"SELECT campaign, COUNT(*) FROM mail_suppressions {where} GROUP BY campaign", params)
    stats: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return stats.setdefault(name, {
            "campaign": name, "sent": 0, "human_opens": 0, "machine_opens": 0,
            "human_clicks": 0, "scanner_clicks": 0, "unsubscribes": 0,
        })

    for name, sent in sends:
        row(name)["sent"] = sent
    for name, event, kind, count, people in events:
        if event == "open":
            # A person's opens count once per recipient; a proxy's fetches as they come.
            row(name)["human_opens" if kind == "human" else "machine_opens"] += people if kind == "human" else count
        elif event == "click":
            row(name)["human_clicks" if kind == "human" else "scanner_clicks"] += count
    for name, count in unsubscribes:
        if name is not None:
            row(name)["unsubscribes"] = count
    if campaign is not None:
        row(campaign)
    return [stats[name] for name in sorted(stats)]


def build_mail_permissions(recipient: str | None, read: rights.Read,
                           placeholder: str) -> list[dict[str, Any]]:
    """``mail_permissions`` for both stores (see :func:`build_mail_stats`); oldest first."""
    where, params = (f"WHERE recipient = {placeholder}", (recipient,)) if recipient is not None else ("", ())
    tracking = read(f"SELECT recipient, list_id, allowed, time, source FROM mail_tracking {where} ORDER BY seq", params)
    suppressions = read(f"SELECT recipient, list_id, time, source, campaign FROM mail_suppressions {where}", params)
    out = [
        {"type": "tracking", "recipient": r, "list_id": l, "allowed": bool(a), "time": t, "source": s}
        for r, l, a, t, s in tracking
    ]
    out += [
        {"type": "unsubscribe", "recipient": r, "list_id": l, "time": t, "source": s, "campaign": c}
        for r, l, t, s, c in suppressions
    ]
    return sorted(out, key=lambda item: item["time"])


class SQLiteStoreParts(Protocol):
    """What :class:`SQLiteMailTables` needs from the SQLite store it is mixed into."""

    dialect: rights.Dialect
    seal: Seal | None

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One committed ``BEGIN IMMEDIATE`` transaction."""
        ...

    def _read(self, sql: str, params: rights.Params = ()) -> list[rights.Row]: ...


class SQLiteMailTables:
    """The mail half of :class:`~consentlib.store.sqlite.SQLiteStore`.

    Relies on the store's ``_write()`` (one committed ``BEGIN IMMEDIATE`` transaction),
    ``_read()``, ``dialect`` and ``seal`` (:class:`SQLiteStoreParts`). Addresses are kept
    as given: the controller needs them to honour unsubscribes; URLs carry only a signed
    recipient number.
    """

    def _mail_schema(self, conn: sqlite3.Connection) -> None:
        for statement in MAIL_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)

    def mail_recipient(self: SQLiteStoreParts, recipient: str, *, list_id: str) -> tuple[int, bool, bool]:
        """The recipient's number (created on first use), tracked?, unsubscribed?

        A forgotten address that unsubscribed from ``list_id`` gets number 0 and is not
        written down again: the mail is not going out."""
        with self._write() as conn:
            if rights.is_suppressed(conn, self.dialect, recipient, list_id, self.seal):
                row = conn.execute("SELECT id FROM mail_recipients WHERE address = ?", (recipient,)).fetchone()
                return (row[0] if row else 0), _tracked(conn, recipient, list_id), True
            conn.execute("INSERT OR IGNORE INTO mail_recipients (address) VALUES (?)", (recipient,))
            (number,) = conn.execute("SELECT id FROM mail_recipients WHERE address = ?", (recipient,)).fetchone()
            return number, _tracked(conn, recipient, list_id), False

    def mail_address(self: SQLiteStoreParts, recipient_id: int) -> str | None:
        rows = self._read("SELECT address FROM mail_recipients WHERE id = ?", (recipient_id,))
        return rows[0][0] if rows else None

    def set_mail_tracking(self: SQLiteStoreParts, recipient: str, *, list_id: str, allowed: bool, source: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO mail_tracking (recipient, list_id, allowed, time, source) VALUES (?, ?, ?, ?, ?)",
                (recipient, list_id, int(bool(allowed)), time_text(), source),
            )
            rights.enqueue(conn, self.dialect, "mail", "mail-tracking", recipient,
                           {"recipient": recipient, "list_id": list_id, "allowed": bool(allowed), "source": source})

    def mail_tracking_allowed(self: SQLiteStoreParts, recipient: str, *, list_id: str) -> bool:
        rows = self._read(
            "SELECT allowed FROM mail_tracking WHERE recipient = ? AND list_id = ? ORDER BY seq DESC LIMIT 1",
            (recipient, list_id),
        )
        return bool(rows and rows[0][0])

    def suppress_mail(self: SQLiteStoreParts, recipient: str, *, list_id: str, source: str,
                      campaign: str | None = None) -> bool:
        """Unsubscribe; True when it is new. Idempotent: the first time and source stay."""
        with self._write() as conn:
            if rights.is_suppressed(conn, self.dialect, recipient, list_id, self.seal):  # also as a forgotten address
                return False
            conn.execute(
                "INSERT INTO mail_suppressions (recipient, list_id, time, source, campaign) VALUES (?, ?, ?, ?, ?)",
                (recipient, list_id, time_text(), source, campaign),
            )
            # In the same transaction: an unsubscribe is never committed without its change.
            rights.enqueue(conn, self.dialect, "mail", "unsubscribe", recipient,
                           {"recipient": recipient, "list_id": list_id, "source": source, "campaign": campaign})
            return True

    def mail_suppressed(self: SQLiteStoreParts, recipient: str, *, list_id: str) -> bool:
        return bool(self._read(*rights.suppressed_query(self.dialect, recipient, list_id, self.seal)))

    def record_mail_send(self: SQLiteStoreParts, *, campaign: str, recipient: str, list_id: str, links: int,
                         tracked: bool) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO mail_sends (campaign, recipient, list_id, sent_at, links, tracked) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (campaign, recipient, list_id, time_text(), links, int(tracked)),
            )

    def add_mail_events(self: SQLiteStoreParts, events: Sequence[MailEvent]) -> int:
        """Insert the events a tracked, subscribed recipient allows; return how many."""
        if not events:
            return 0
        kept = 0
        with self._write() as conn:
            for e in events:
                kept += conn.execute(
                    _INSERT_EVENT,
                    (e.campaign, e.list_id, e.event, e.kind, e.time, e.agent, e.link, e.recipient_id),
                ).rowcount
        return kept

    def mark_click_burst(self: SQLiteStoreParts, *, recipient_id: int, campaign: str, links: int, since: str) -> int:
        """When every one of a mail's ``links`` was clicked from ``since`` on, those
        clicks were a link scanner's: mark them so; return how many were changed."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT e.seq, e.link FROM mail_events e JOIN mail_recipients r ON r.address = e.recipient "
                "WHERE r.id = ? AND e.campaign = ? AND e.event = 'click' AND e.time >= ?",
                (recipient_id, campaign, since),
            ).fetchall()
            if len({link for _, link in rows}) < links:
                return 0
            marks = [(seq,) for seq, _ in rows]
            conn.executemany("UPDATE mail_events SET kind = 'scanner' WHERE seq = ? AND kind = 'human'", marks)
            return len(marks)

    def mail_stats(self: SQLiteStoreParts, *, campaign: str | None = None) -> list[dict[str, Any]]:
        """Per campaign: sent, unique human opens, machine opens, human and scanner
        clicks, unsubscribes. Machine events are never counted as a person's."""
        return build_mail_stats(campaign, self._read, "?")

    def mail_permissions(self: SQLiteStoreParts, *, recipient: str | None = None) -> list[dict[str, Any]]:
        """Tracking permissions (history) and unsubscribes, oldest first: the proof."""
        return build_mail_permissions(recipient, self._read, "?")


def _tracked(conn: sqlite3.Connection, recipient: str, list_id: str) -> bool:
    row = conn.execute(
        "SELECT allowed FROM mail_tracking WHERE recipient = ? AND list_id = ? ORDER BY seq DESC LIMIT 1",
        (recipient, list_id),
    ).fetchone()
    return bool(row and row[0])
