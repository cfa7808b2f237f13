"""Beacon hit counters, in the site's own SQLite file so every worker process shares them."""
from __future__ import annotations

import sqlite3


class Counters:
    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS hits (name TEXT PRIMARY KEY, count INTEGER NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def hit(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO hits (name, count) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET count = count + 1",
                (name,),
            )

    def all(self) -> dict[str, int]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT name, count FROM hits").fetchall())
