"""The site's embedded outbox: mail the site "sends" is kept in SQLite and shown at /outbox.

Set ``SMTP`` (``host:port``) to hand mail to a real server instead; the outbox keeps a
copy either way, so the demo can show what a recipient's mail client would.
"""
from __future__ import annotations

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
                "created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def send(self, message: EmailMessage) -> int:
        if self.smtp:
            host, _, port = self.smtp.partition(":")
            with smtplib.SMTP(host, int(port or 25), timeout=10) as server:
                server.send_message(message)
        with self._connect() as conn:
            cursor = conn.execute("INSERT INTO mails (recipient, subject, raw) VALUES (?, ?, ?)",
                                  (str(message["To"]), str(message["Subject"]), message.as_bytes()))
            return cursor.lastrowid

    def all(self) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id, recipient, subject, created FROM mails ORDER BY id DESC").fetchall()
        return [dict(zip(("id", "recipient", "subject", "created"), row)) for row in rows]

    def get(self, mail_id: int) -> EmailMessage | None:
        with self._connect() as conn:
            row = conn.execute("SELECT raw FROM mails WHERE id = ?", (mail_id,)).fetchone()
        return message_from_bytes(row[0], policy=default_policy) if row else None
