"""Throughput of a Flask page behind the ETag firewall, relative to the bare app.

Budget: ``ratio >= 0.85`` on a 16 KB HTML page for a visitor without consent and without
a cached copy (the firewall reads and hashes the whole body, and answers 200).
The WSGI callables are called directly, so the figure is the firewall's own cost and not
the server's or the network's.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python bench/etag.py): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare
from consentlib.wsgi.etag import ETagFirewall

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


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict:
    """Best-of-``rounds`` requests/second, bare and behind the firewall, interleaved."""
    wrapped = ETagFirewall(_flask_app(), applies=lambda environ: True)
    best = compare({"bare": (_flask_app(), _environ()), "wrapped": (wrapped, _environ())},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


if __name__ == "__main__":
    result = measure()
    verdict = "within" if result["ratio"] >= BUDGET else "OVER"
    print(
        f"ETag firewall, 16 KB Flask page: bare {result['bare']:.0f} req/s, "
        f"wrapped {result['wrapped']:.0f} req/s, ratio {result['ratio']:.3f} "
        f"({verdict} budget {BUDGET})"
    )
