"""``consentlib report`` on a store with 1,000,000 receipts: budget 10 s on SQLite.

The budget is this process's CPU time (SQLite runs in it); the wall time is printed
too, and equals it on an idle machine.

    python bench/report.py [--receipts 1000000] [--keep PATH]

The store is filled fast, straight into its tables in its own format: rows batched in
one transaction, each receipt linked into the hash chain exactly as the store links
one (consentlib.store.rights.append_receipt), so the store opens it as its own and does
not re-chain it. Visitors: 3 in 4 make one choice, the others two (a later receipt
replaces the first); choices spread over 26 weeks and two policy revisions. With
``CONSENTLIB_TEST_POSTGRES`` set, the same receipts go into a fresh PostgreSQL schema
too, and both are timed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentlib import Category, Policy
from consentlib.records.receipts import build_receipt
from consentlib.store import chain, open_store
from consentlib.store.clock import time_text

BUDGET_SECONDS = 10.0
RECEIPTS = 1_000_000
BATCH = 20_000
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
POLICIES = [Policy(revision=revision, categories=[Category("necessary", required=True), Category("preferences"),
                                                  Category("analytics"), Category("marketing", gpc=True)])
            for revision in (1, 2)]
CHOICES = [frozenset({"necessary", "preferences", "analytics", "marketing"}), frozenset({"necessary"}),
           frozenset({"necessary", "analytics"}), frozenset({"necessary", "preferences"})]
INSERT = ("INSERT INTO receipts (record_id, consent_id, time, data, prev, chain, seal, digest, salt) "
          "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)")


def receipts(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` receipts in time order, as build_receipt makes them (``replaces`` set)."""
    rng = random.Random(seed)
    span = 26 * 7 * 86400
    templates = {(p.revision, g, gpc): build_receipt(policy=p, consent_id="x", granted=g, previously_granted=frozenset(),
                                                     method="banner", gpc=gpc, dnt=False, lifetime=180 * 86400,
                                                     ip="192.0.2.1", user_agent=None)
                 for p in POLICIES for g in CHOICES for gpc in (False, True)}
    last: dict[str, str] = {}
    ids: list[str] = []
    for i in range(count):
        when = START + timedelta(seconds=span * i / count)
        if ids and rng.random() < 0.25:
            consent_id = ids[rng.randrange(len(ids))]
        else:
            consent_id = uuid.UUID(int=rng.getrandbits(128)).hex
            ids.append(consent_id)
        revision = 1 if i < count // 2 else 2
        receipt = dict(templates[(revision, rng.choice(CHOICES), rng.random() < 0.05)])
        receipt.update(record_id=uuid.UUID(int=rng.getrandbits(128)).hex, consent_id=consent_id,
                       time=time_text(when), expires=time_text(when + timedelta(days=180)),
                       replaces=last.get(consent_id))
        last[consent_id] = receipt["record_id"]
        yield receipt


def _rows(running: str, batch: list[dict[str, Any]], *, text: bool) -> tuple[str, list[tuple[Any, ...]]]:
    rows = []
    for receipt in batch:
        salt = chain.new_salt()
        digest = chain.extras_digest(receipt, salt)
        value = chain.link(running, receipt, digest)
        data = json.dumps(receipt, sort_keys=True) if text else receipt
        rows.append((receipt["record_id"], receipt["consent_id"], receipt["time"], data, running, value, digest, salt))
        running = value
    return running, rows


def fill(url: str, count: int) -> None:
    """``count`` receipts into the (new, empty) store at ``url``, batched."""
    store = open_store(url)
    store.receipts(consent_id="none")  # creates the tables
    postgres = store.dialect.name == "postgres"
    running, seq, batch = chain.GENESIS, 0, []
    for receipt in receipts(count):
        batch.append(receipt)
        if len(batch) == BATCH:
            running, seq = _insert(store, running, seq, batch, postgres)
            batch = []
    if batch:
        running, seq = _insert(store, running, seq, batch, postgres)
    store.close()


def _insert(store: Any, running: str, seq: int, batch: list[dict[str, Any]], postgres: bool) -> tuple[str, int]:
    running, rows = _rows(running, batch, text=not postgres)
    seq += len(rows)

    def work(conn: Any) -> None:
        if postgres:
            from psycopg.types.json import Jsonb

            with conn.cursor() as cursor:
                cursor.executemany(INSERT.replace("?", "%s"), [(*r[:3], Jsonb(r[3]), *r[4:]) for r in rows])
        else:
            conn.executemany(INSERT, rows)
        # The head names the last row, as append_receipt leaves it.
        conn.execute(store.dialect.q("UPDATE receipt_chain SET seq = (SELECT MAX(seq) FROM receipts), chain = ?, "
                                     "seal = NULL WHERE id = 1"), (running,))

    store._transact(work)
    return running, seq


def measure(count: int = RECEIPTS, keep: str | None = None) -> dict[str, float]:
    """Seconds to fill and to report, per backend."""
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite:///{keep or os.path.join(tmp, 'report.db')}"}
        schema = None
        if os.environ.get("CONSENTLIB_TEST_POSTGRES"):
            schema = f"bench_report_{uuid.uuid4().hex[:8]}"
            urls["postgres"] = _fresh_schema(os.environ["CONSENTLIB_TEST_POSTGRES"], schema)
        try:
            _measure_each(urls, count, results)
        finally:
            if schema is not None:
                _drop_schema(os.environ["CONSENTLIB_TEST_POSTGRES"], schema)
    return results


def _measure_each(urls: dict[str, str], count: int, results: dict[str, float]) -> None:
    from consentlib.records.report import build_report

    for name, url in urls.items():
        started = time.perf_counter()
        fill(url, count)
        results[f"{name} fill"] = time.perf_counter() - started
        store = open_store(url)
        started, cpu = time.perf_counter(), time.process_time()
        figures = build_report(store)
        results[f"{name} report"] = time.perf_counter() - started
        # SQLite works in this process: its CPU time is the report's cost whatever else
        # runs on a shared machine (as bench/common.py's clock). PostgreSQL works in the
        # server, so only its wall time means anything.
        if name == "sqlite":
            results["sqlite report cpu"] = time.process_time() - cpu
        results[f"{name} visitors"] = figures["visitors"]
        store.close()


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _fresh_schema(url: str, schema: str) -> str:
    """A new schema in the test database, named in the URL's search_path."""
    from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {"options": f"-csearch_path={schema}"}
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=RECEIPTS)
    parser.add_argument("--keep", metavar="PATH", help="keep the SQLite store at PATH (a new file)")
    args = parser.parse_args()
    results = measure(args.receipts, args.keep)
    for name, value in results.items():
        print(f"{name:<18} {value:10.2f}{'' if name.endswith('visitors') else ' s'}")
    took = results["sqlite report cpu"]
    print(f"report over {args.receipts:,} receipts on SQLite: {took:.2f} s of CPU, {results['sqlite report']:.2f} s "
          f"wall (budget {BUDGET_SECONDS:.0f} s of CPU) {'ok' if took < BUDGET_SECONDS else 'OVER BUDGET'}")
    return 0 if took < BUDGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
