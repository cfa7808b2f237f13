"""The site's embedded outbox: mail the site "sends" is kept in SQLite and shown at /outbox.

Set ``SMTP`` (``host:port``) to hand mail to a real server instead; the outbox keeps a
copy either way, so the demo can show what a recipient's mail client would.

A mail holds links that act for its recipient (a guardian's "allow", an unsubscribe),
so the outbox shows each mail only to the browser that caused it to be sent: the one
holding the random key of the ``outbox`` cookie it was sent under. Only a hash of the
key is kept. A stranger sees an empty outbox, and a 404 for another browser's mail.
"""
from __future__ import annotations

import hashlib
import smtplib
import sqlite3
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy


class Outbox:
    def __init__(self, path: str, *, smtp: str | None = None) -> None:
        self.path = path
        self.smtp = smtp
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS mails (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "recipient TEXT NOT NULL, subject TEXT NOT NULL, raw BLOB NOT NULL, "
                "created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, owner TEXT)"
            )
            if "owner" not in {row[1] for row in conn.execute("PRAGMA table_info(mails)")}:
                conn.execute("ALTER TABLE mails ADD COLUMN owner TEXT")  # an outbox from before keys

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def send(self, message: EmailMessage, *, key: str | None) -> int:
        """Send ``message``; keep a copy that only the holder of ``key`` sees (nobody, for None)."""
        if self.smtp:
            host, _, port = self.smtp.partition(":")
            with smtplib.SMTP(host, int(port or 25), timeout=10) as server:
                server.send_message(message)
        with self._connect() as conn:
            cursor = conn.execute("INSERT INTO mails (recipient, subject, raw, owner) VALUES (?, ?, ?, ?)",
                                  (str(message["To"]), str(message["Subject"]), message.as_bytes(), _owner(key)))
            return cursor.lastrowid

    def all(self) -> list[dict]:
        """Every mail, newest first: for the site's own code and tests, never for a page."""
        return self._list("SELECT id, recipient, subject, created FROM mails ORDER BY id DESC", ())

    def visible_to(self, key: str | None) -> list[dict]:
        """The mails sent under ``key``, newest first."""
        return self._list("SELECT id, recipient, subject, created FROM mails WHERE owner = ? ORDER BY id DESC",
                          (_owner(key),))

    def get(self, mail_id: int, *, key: str | None = None, any_owner: bool = False) -> EmailMessage | None:
        """Mail ``mail_id`` if it was sent under ``key`` (or whoever sent it, with ``any_owner``)."""
        with self._connect() as conn:
            row = conn.execute("SELECT raw, owner FROM mails WHERE id = ?", (mail_id,)).fetchone()
        if row is None or not (any_owner or (row[1] is not None and row[1] == _owner(key))):
            return None
        return message_from_bytes(row[0], policy=default_policy)

    def _list(self, sql: str, params: tuple) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [dict(zip(("id", "recipient", "subject", "created"), row)) for row in rows]


def _owner(key: str | None) -> str | None:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest() if key else None
