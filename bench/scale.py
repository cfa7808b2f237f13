"""Receipts per second and email pixel opens per second of the reference site under
gunicorn, with 1 and 4 worker processes, on SQLite and (when one is given) PostgreSQL.

    python bench/scale.py [--seconds 1.5] [--rounds 3] [--postgres postgresql://user:pw@127.0.0.1:5432/db]

Unlike the other benches these are absolute rates over loopback, not ratios: a bounded
client (``CLIENTS`` threads, each with its own connection) sends JSON consent posts —
each one a receipt committed before the answer — and then open-pixel hits of tracked,
subscribed recipients (buffered, written every 0.5 s and at exit), for ``seconds`` each,
in ``rounds`` interleaved between the 1- and 4-worker servers; the best round counts.
The client runs on the same machine, so on a small one it takes part of the CPU the
server would have: read the figures as a floor, and compare 1 with 4 workers in the
same run. After a graceful stop the store is counted: a rate whose answers did not all
land in the store is an error, not a figure.

PostgreSQL: ``--postgres URL`` or ``CONSENTLIB_TEST_POSTGRES``; a new database is made
on that server for each run and dropped after (the user needs CREATEDB).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentlib import MailTracker
from tests.support.loadkit import BROWSER, Call, Driver, Gunicorn, request, write_secret_key

CLIENTS = 16
WORKERS = (1, 4)
POSTGRES_ENV = "CONSENTLIB_TEST_POSTGRES"
READERS = 50  # tracked recipients whose pixel is hit in turn
_CONSENT = Call("receipt", "POST", "/_consent/", {"Content-Type": "application/json", "User-Agent": BROWSER},
                json.dumps({"categories": ["analytics"]}).encode())


def _rate(base: str, calls: list[Call], seconds: float, expect: int) -> tuple[float, int]:
    driver = Driver(base, concurrency=CLIENTS)
    outcomes = driver.run(calls, deadline=time.monotonic() + seconds)
    done = [o for o in outcomes if o is not None]
    good = sum(o.status == expect for o in done)
    if good != len(done):
        failed = {o.status for o in done if o.status != expect}
        raise AssertionError(f"{len(done) - good} of {len(done)} requests failed ({failed}): the rate would lie")
    return good / driver.elapsed, good


class _Site:
    """One gunicorn with ``workers`` workers on its own instance folder and store, and
    the pixel URLs of ``READERS`` tracked, subscribed recipients."""

    def __init__(self, directory: Path, store: str, workers: int) -> None:
        instance = directory / f"instance-{workers}"
        key = write_secret_key(instance)
        self.store = f"sqlite:///{instance / 'consent.db'}" if store == "sqlite" else store
        self.server = Gunicorn(instance, self.store, workers=workers)
        tracker = MailTracker(base_url=self.server.base, secret_key=[key], store=self.store)
        self.pixels = []
        for i in range(READERS):
            address = f"reader{i}@example.com"
            tracker.set_tracking(address, list_id="news", allowed=True, source="bench")
            number, _, _ = tracker.store.mail_recipient(address, list_id="news")
            token = tracker.tokens.dumps("open", [number, "bench", "news"])
            self.pixels.append(Call("open", "GET", urlsplit(tracker.url("o", token + ".gif")).path,
                                    {"User-Agent": BROWSER}))
        tracker.store.close()
        self.answered = {"receipts": 0, "opens": 0}
        self.best = {"receipts": 0.0, "opens": 0.0}

    def start(self) -> None:
        self.server.start()
        for call in self.pixels[:20]:  # warm every worker: imports, templates, connections
            request(self.server.base, "GET", call.path, headers=call.headers)
        self.answered["opens"] += 20

    def round(self, seconds: float) -> None:
        for kind, calls in (("receipts", [_CONSENT] * 1_000_000), ("opens", self.pixels * (1_000_000 // READERS))):
            rate, done = _rate(self.server.base, calls, seconds, 200)
            self.best[kind] = max(self.best[kind], rate)
            self.answered[kind] += done

    def stop_and_check(self) -> None:
        """Graceful stop (buffered opens are written), then every answer is in the store."""
        if self.server.stop() != 0:
            raise RuntimeError(f"gunicorn did not stop cleanly:\n{self.server.log_tail()}")
        stored = dict(zip(("receipts", "opens"), _count(self.store)))
        if stored != self.answered:
            raise AssertionError(f"answered {self.answered}, but the store holds {stored}")


def _run(stores: dict[int, str], seconds: float, rounds: int) -> dict:
    """Every worker count up at once, each on its own store ("sqlite": a new file);
    rounds interleaved so drift on a shared machine hits them alike; best of each."""
    with tempfile.TemporaryDirectory(prefix="consentlib-scale.") as directory:
        sites = {w: _Site(Path(directory), store, w) for w, store in stores.items()}
        try:
            for site in sites.values():
                site.start()
            for _ in range(rounds):
                for site in sites.values():
                    site.round(seconds)
            for site in sites.values():
                site.stop_and_check()
        finally:
            for site in sites.values():
                site.server.kill()  # no-op when it stopped
    return {w: site.best for w, site in sites.items()}


def _count(store: str) -> tuple[int, int]:
    """Receipts and opens in the store, counted by SQL of its own."""
    if store.startswith("sqlite:///"):
        conn = sqlite3.connect(store[len("sqlite:///"):])
    else:
        import psycopg

        conn = psycopg.connect(store, connect_timeout=5)
    try:
        return (conn.execute("SELECT COUNT(*) FROM receipts").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM mail_events WHERE event = 'open'").fetchone()[0])
    finally:
        conn.close()


def _new_database(base: str) -> tuple[str, str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def _drop_database(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_run(base: str, seconds: float, rounds: int) -> dict:
    made = [_new_database(base) for _ in WORKERS]
    try:
        return _run({w: url for w, (_, url) in zip(WORKERS, made)}, seconds, rounds)
    finally:
        for name, _ in made:
            _drop_database(base, name)


def measure(seconds: float = 1.5, rounds: int = 3, postgres: str | None = None) -> dict:
    """``{"sqlite": {1: {"receipts": r/s, "opens": o/s}, 4: {...}}, "postgresql": {...}}``,
    best of ``rounds`` (PostgreSQL only when ``postgres`` or ``CONSENTLIB_TEST_POSTGRES``
    names a server)."""
    if importlib.util.find_spec("gunicorn") is None:
        raise ModuleNotFoundError("gunicorn is not installed (pip install gunicorn)", name="gunicorn")
    postgres = postgres or os.environ.get(POSTGRES_ENV)
    result: dict = {"sqlite": _run({w: "sqlite" for w in WORKERS}, seconds, rounds)}
    if postgres:
        result["postgresql"] = _postgres_run(postgres, seconds, rounds)
    return result


def table(result: dict) -> list[tuple[str, str, str]]:
    """Rows (what, 1 worker, 4 workers) for bench/run.py's second table."""
    rows = []
    for store, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if store not in result:
            continue
        for key, what in (("receipts", "consent receipts/s"), ("opens", "email pixel opens/s")):
            rows.append((f"{what}, {label}", *(f"{result[store][w][key]:.0f}" for w in WORKERS)))
    return rows


def format_table(rows: list[tuple[str, str, str]]) -> str:
    title = f"gunicorn on loopback, {CLIENTS} client threads"
    width = max(len(title), *(len(r[0]) for r in rows))
    lines = [f"{title.ljust(width)}  {'1 worker':>9}  {'4 workers':>9}"]
    lines += [f"{what.ljust(width)}  {one:>9}  {four:>9}" for what, one, four in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="client time per figure and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, interleaved; the best counts")
    parser.add_argument("--postgres", help=f"a PostgreSQL server URL (default: ${POSTGRES_ENV})")
    args = parser.parse_args()
    print(format_table(table(measure(args.seconds, args.rounds, args.postgres))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
