"""Throughput of the email open pixel behind ConsentMiddleware, recording into SQLite,
relative to a bare Flask route that returns the same GIF.

Budget: ``ratio >= 0.5``. Every pixel hit carries a valid token of a tracked, subscribed
recipient with a mail client's user agent, so every hit is an open to record. Opens are
batched (``consentlib.store.events.EventBuffer``: one transaction per 500 opens or per
0.5 s, from a background thread), so the figure includes the SQLite writes. The WSGI
callables are called directly, so it is the pixel's own cost, not a server's.
"""
from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python bench/mail.py): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare
from consentlib import Category, ConsentMiddleware, MailTracker, Policy
from consentlib.mail.endpoints import mail_endpoints
from consentlib.web.pixel import TRANSPARENT_GIF

BUDGET = 0.5
KEY = "bench-mail-key-0123456789abcdef"
AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def _flask_gif() -> Callable:
    from flask import Flask, Response

    app = Flask("consentlib_bench_mail")

    @app.get("/pixel.gif")
    def pixel() -> Response:
        return Response(TRANSPARENT_GIF, mimetype="image/gif", headers={"Cache-Control": "no-store"})

    return app


def _environ(path: str) -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method="GET", headers={"User-Agent": AGENT, "Accept": "image/*"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _pixel_site(directory: str) -> tuple[ConsentMiddleware, str]:
    store = f"sqlite:///{directory}/consent.db"
    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")])
    site = ConsentMiddleware(_flask_gif(), policy, secret_key=KEY, store=store)
    tracker = MailTracker(base_url="https://example.com", secret_key=KEY, store=store)
    tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    msg = EmailMessage()
    msg["Subject"] = "bench"
    msg.set_content("<html><body><p>News</p></body></html>", subtype="html")
    html = tracker.prepare(msg, recipient="ana@example.com", campaign="bench", list_id="news").get_content()
    start = html.index("/_consent/m/o/")
    return site, html[start:html.index('"', start)]


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict:
    """Best-of-``rounds`` requests/second of the bare GIF route and the recorded pixel."""
    with tempfile.TemporaryDirectory() as directory:
        site, pixel_path = _pixel_site(directory)
        contenders = {"bare": (_flask_gif(), _environ("/pixel.gif")), "pixel": (site, _environ(pixel_path))}
        # Wall time, not CPU time: the opens are written by a background thread, whose
        # work must count against the pixel.
        best = compare(contenders, seconds=seconds_per_round, rounds=rounds, clock=time.perf_counter)
        mail_endpoints(site).events.close()  # write what is left before counting
        site.store.close()
        with sqlite3.connect(f"{directory}/consent.db") as conn:
            (recorded,) = conn.execute("SELECT COUNT(*) FROM mail_events WHERE kind = 'human'").fetchone()
    if recorded == 0:
        raise AssertionError("the pixel recorded no opens: the benchmark measured the wrong thing")
    return {"bare": best["bare"], "pixel": best["pixel"], "ratio": best["pixel"] / best["bare"], "recorded": recorded}


if __name__ == "__main__":
    result = measure()
    verdict = "within" if result["ratio"] >= BUDGET else "OVER"
    print(
        f"Email open pixel recorded in SQLite: bare Flask GIF {result['bare']:.0f} req/s, "
        f"pixel {result['pixel']:.0f} req/s ({result['recorded']} opens recorded), ratio {result['ratio']:.3f} ({verdict} budget {BUDGET})"
    )
