"""A minor's page view costs the same whatever the count of their receipts.

    python bench/minor.py [--receipts 5000]

The middleware looks up a minor's guardian grant on every page view (GDPR Art 8: only
a guardian's consent counts). A visitor can add receipts without limit through the
public consent endpoint, so the lookup must not read them all. Two minors on one
SQLite store, each with a guardian's grant: one made one choice of their own after it,
the other ``--receipts`` choices. Budget: the second's page views at least 0.80 as fast
as the first's. The WSGI callable is called directly: the figure is the middleware's
and the store's cost, not a server's.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare
from consentlib import Category, ConsentMiddleware, Cookie, Policy
from consentlib.records.receipts import build_receipt

BUDGET = 0.80
RECEIPTS = 5000
KEY = "bench-minor-key-0123456789abcdef"
POLICY = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                cookies=[Cookie("sid", "necessary"), Cookie("_ga", "analytics")])


def _page(environ: dict, start_response: Callable) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "sid=1; Path=/"),
                              ("Set-Cookie", "_ga=GA1; Path=/")])
    return [b"ok"]


def _add(site: ConsentMiddleware, consent_id: str, method: str, granted: frozenset[str]) -> None:
    site.store.add_receipt(build_receipt(
        policy=POLICY, consent_id=consent_id, granted=granted, previously_granted=frozenset(), method=method,
        gpc=False, dnt=False, lifetime=site.cookie.lifetime, ip="192.0.2.1", user_agent=None))


def _minor(site: ConsentMiddleware, consent_id: str, own_choices: int) -> dict:
    """The environ of a minor whose guardian allowed analytics, then ``own_choices`` own choices."""
    from werkzeug.test import EnvironBuilder

    everything = frozenset(POLICY.category_names)
    _add(site, consent_id, "guardian", everything)
    for _ in range(own_choices):
        _add(site, consent_id, "api", everything)
    consent, consent_id_value = site.cookie.values(
        site.cookie.decide(revision=POLICY.revision, categories=everything, consent_id=consent_id))
    builder = EnvironBuilder(path="/", headers={
        "Cookie": f"consent={consent}; consent_id={consent_id_value}; age_group=child"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def measure(receipts: int = RECEIPTS, seconds_per_round: float = 0.3, rounds: int = 3) -> dict:
    """Page views per second of a minor with one own receipt and of one with ``receipts``."""
    with tempfile.TemporaryDirectory() as directory:
        site = ConsentMiddleware(_page, POLICY, secret_key=KEY, store=f"sqlite:///{directory}/consent.db",
                                 is_minor=lambda environ: "age_group=child" in environ.get("HTTP_COOKIE", ""))
        # Setting up only: thousands of receipts each synced to disk would take minutes.
        site.store._connection().execute("PRAGMA synchronous=OFF")
        few, many = _minor(site, "a" * 32, 1), _minor(site, "b" * 32, receipts)
        outcome: list[str] = []

        def checked(environ: dict, start_response: Callable):
            # The grant must be honoured for both, or the figure measures the wrong thing.
            def start(status, headers, exc_info=None):
                outcome.append("_ga=" if any(v.startswith("_ga=") for _, v in headers) else "")
                return start_response(status, headers, exc_info)
            return site(environ, start)

        best = compare({"few": (checked, few), "many": (checked, many)}, seconds=seconds_per_round,
                       rounds=rounds, clock=time.perf_counter)
        site.store.close()
    if "" in outcome:
        raise AssertionError("a minor's guardian grant was not honoured: the benchmark measured the wrong thing")
    return {"bare": best["few"], "many": best["many"], "ratio": best["many"] / best["few"], "receipts": receipts}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--receipts", type=int, default=RECEIPTS)
    result = measure(parser.parse_args().receipts)
    verdict = "within" if result["ratio"] >= BUDGET else "OVER"
    print(f"A minor's page view: {1000 / result['bare']:.3f} ms with 1 own receipt, "
          f"{1000 / result['many']:.3f} ms with {result['receipts']}; ratio {result['ratio']:.3f} "
          f"({verdict} budget {BUDGET})")
