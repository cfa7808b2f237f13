"""The change queue across real processes and kill -9 (SQLite and PostgreSQL): a worker
running ``consentlib changes deliver`` is killed mid-delivery, another starts, and every
unsubscribe's change is still delivered (at least once); a writer killed mid-stream
never leaves an unsubscribe without its change, or a change without its unsubscribe."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from consentlib.store import open_store
from tests.integration.test_store_contract import backend  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COUNT = 200


def _command(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "consentlib", "changes", "deliver", "--store", url,
            "--handler", "tests.support.changekit:record", "--lease", "1", "--poll", "0.05", *extra]


def _env(out: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CONSENTLIB_TEST_CHANGES_FILE": str(out)}


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_kill_9_of_the_delivery_worker_loses_no_change(backend, tmp_path):
    url = backend.url()
    store = backend.open(url)
    for i in range(COUNT):
        store.suppress_mail(f"r{i}@example.com", list_id="news", source="one-click", campaign="c1")
    queued = {c["id"] for c in store.changes()}
    assert len(queued) == COUNT
    out = tmp_path / "delivered.txt"
    worker = subprocess.Popen(_command(url), cwd=ROOT, env=_env(out), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(_lines(out)) >= COUNT // 4)
    os.kill(worker.pid, signal.SIGKILL)  # mid-batch: some changes are held under a lease
    worker.wait(30)
    assert len(set(_lines(out))) < COUNT
    # A restarted worker delivers the rest; the changes the dead one held fall due when
    # their one-second lease ends.
    deadline = time.monotonic() + 30
    while store.changes() and time.monotonic() < deadline:
        done = subprocess.run(_command(url, "--once"), cwd=ROOT, env=_env(out), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and "delivered" in done.stdout, done.stderr
        if store.changes():
            time.sleep(0.5)
    assert set(_lines(out)) == queued  # every change delivered at least once
    assert store.changes() == []


def _unsubscribe_forever(url: str) -> None:
    store = open_store(url)
    i = 0
    while True:
        store.suppress_mail(f"w{i}@example.com", list_id="news", source="one-click")
        i += 1


def test_kill_9_of_a_writer_never_splits_an_unsubscribe_from_its_change(backend, tmp_path):
    import multiprocessing

    url = backend.url()
    store = backend.open(url)
    store.mail_stats()  # tables exist before the writer starts
    writer = multiprocessing.get_context("spawn").Process(target=_unsubscribe_forever, args=(url,))
    writer.start()
    _wait_for(lambda: len(store.changes()) >= 50)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(30)
    unsubscribed = {p["recipient"] for p in store.mail_permissions() if p["type"] == "unsubscribe"}
    told = {c["data"]["recipient"] for c in store.changes() if c["kind"] == "unsubscribe"}
    assert unsubscribed == told and len(told) >= 50
