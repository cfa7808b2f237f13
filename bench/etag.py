"""Throughput of a Flask page behind the ETag firewall, relative to the bare app.

Budget: ``ratio >= 0.85`` on a 16 KB HTML page for a visitor without consent and without
a cached copy (the firewall reads and hashes the whole body, and answers 200).
The WSGI callables are called directly, so the figure is the firewall's own cost and not
the server's or the network's.
"""
from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python bench/etag.py): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentlib.etag import ETagFirewall

BUDGET = 0.85
PAGE_BYTES = 16 * 1024


def _page() -> str:
    row = "<p>Consent is asked for before any tracker runs on this page.</p>\n"
    body = row * (PAGE_BYTES // len(row) + 1)
    head = "<!doctype html>\n<html><head><title>bench</title></head><body>\n"
    tail = "</body></html>\n"
    return (head + body)[: PAGE_BYTES - len(tail)] + tail


def _flask_app() -> Callable:
    from flask import Flask

    app = Flask("consentlib_bench_etag")
    page = _page()

    @app.get("/")
    def index() -> str:
        return page

    return app


def _environ() -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path="/", method="GET", headers={"Accept": "text/html"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _no_op_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
    return _no_op_write


def _no_op_write(data: bytes) -> None:
    pass


def _rate(app: Callable, environ: dict, seconds: float) -> float:
    """Requests per second of ``app`` over about ``seconds`` of this thread's CPU time.

    CPU time, not wall time: on a shared machine another process taking the core
    would otherwise count against whichever side happened to be running.
    """
    start_response = _no_op_start_response
    done = 0
    started = time.thread_time()
    deadline = started + seconds
    while True:
        for _ in range(50):
            env = environ.copy()
            env["wsgi.input"] = io.BytesIO()
            body: Iterable[bytes] = app(env, start_response)
            for _block in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        done += 50
        now = time.thread_time()
        if now >= deadline:
            return done / (now - started)


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict:
    """Best-of-``rounds`` requests/second, bare and behind the firewall, interleaved.

    Interleaving and keeping the best of each damp the noise of a shared machine: a
    slow moment hurts one round, not one side.
    """
    bare = _flask_app()
    wrapped = ETagFirewall(_flask_app(), applies=lambda environ: True)
    environ = _environ()
    _rate(bare, environ, 0.05)  # warm both up (imports, template caches, allocator)
    _rate(wrapped, environ, 0.05)
    best_bare = best_wrapped = 0.0
    for _ in range(rounds):
        best_bare = max(best_bare, _rate(bare, environ, seconds_per_round))
        best_wrapped = max(best_wrapped, _rate(wrapped, environ, seconds_per_round))
    return {"bare": best_bare, "wrapped": best_wrapped, "ratio": best_wrapped / best_bare}


if __name__ == "__main__":
    result = measure()
    verdict = "within" if result["ratio"] >= BUDGET else "OVER"
    print(
        f"ETag firewall, 16 KB Flask page: bare {result['bare']:.0f} req/s, "
        f"wrapped {result['wrapped']:.0f} req/s, ratio {result['ratio']:.3f} "
        f"({verdict} budget {BUDGET})"
    )
