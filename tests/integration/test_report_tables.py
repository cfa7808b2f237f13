"""The csp_reports and would_block tables, in the SQLite and the PostgreSQL store alike
(PostgreSQL where a test server is configured; see tests/support/prerequisites.py)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from consentlib.records.would_block import WouldBlock, would_block
from consentlib.store import open_store
from tests.integration.test_store_contract import BACKENDS, Backend


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Iterator:
    made = Backend(request.param, tmp_path)
    yield made.open()
    made.close()


def test_csp_reports_are_counted_per_origin_and_directive(store):
    store.note_csp_report("https://tracker.test", "script-src", None)
    store.note_csp_report("https://tracker.test", "script-src", None, count=2)
    store.note_csp_report("https://tracker.test", "img-src", None)
    store.note_csp_report("https://www.google-analytics.com", "connect-src", "analytics")
    rows = store.csp_reports()
    assert [(r["origin"], r["directive"], r["declared"], r["category"], r["count"]) for r in rows] == [
        ("https://tracker.test", "script-src", False, None, 3),
        ("https://tracker.test", "img-src", False, None, 1),
        ("https://www.google-analytics.com", "connect-src", True, "analytics", 1),
    ]
    assert rows[0]["first_day"] == rows[0]["last_day"] and len(rows[0]["first_day"]) == 10


def test_would_block_counts_add_up_and_filter_by_kind(store):
    store.note_would_block({("cookie", "_ga"): 3, ("beacon", "/collect"): 1})
    store.note_would_block({("cookie", "_ga"): 2})
    store.note_would_block({})
    assert [(r["kind"], r["name"], r["count"]) for r in store.would_block()] == [
        ("beacon", "/collect", 1), ("cookie", "_ga", 5)]
    assert [r["name"] for r in would_block(store, ("cookie",))] == ["_ga"]


def test_the_recorder_writes_after_a_while_and_keeps_counts_while_the_store_is_down(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/consent.db")
    recorder = WouldBlock(store, flush_after=3600)
    for _ in range(3):
        recorder.note("cookie", "tracker_x")
    assert store.would_block() == []  # nothing written on the request's path
    recorder.flush()
    assert [(r["name"], r["count"]) for r in store.would_block()] == [("tracker_x", 3)]


def test_an_older_sqlite_database_gains_the_tables(tmp_path):
    path = tmp_path / "consent.db"
    open_store(f"sqlite:///{path}").undeclared_cookies()  # created as before
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE csp_reports")
        conn.execute("DROP TABLE would_block")
    reopened = open_store(f"sqlite:///{path}")
    reopened.note_csp_report("https://a.test", "img-src", None)
    assert [r["origin"] for r in reopened.csp_reports()] == ["https://a.test"]
