"""ConsentMiddleware under many visitors: no two requests carry the same Cookie header.

The repeated-request benchmark (bench/middleware.py) lets any cache keyed by the whole
Cookie header hit every time; a busy worker sees thousands of visitors, and GA4's
``_ga_<id>`` cookie changes on every page view. Here 10,000 visitors, each with a
genuine consent cookie of their own, browse the same Flask page that sets four cookies;
budget >= 0.90 of the bare app, for a worker that has seen each visitor once (real
visitors view several pages); ``measure_first_sight`` gives the cost of visitors never
seen before, who each pay two signature checks. Memory: after 1,000,000 distinct Cookie headers the
middleware's process grows by less than 64 MB.
"""
from __future__ import annotations

import os
import tempfile
import time

from werkzeug.test import EnvironBuilder

from bench.common import CookieStream, compare
from bench.middleware import POLICY, page_app
from consentlib import ConsentMiddleware

VISITORS = 10_000
REQUESTS = 200_000  # headers built up front; more than one measuring run makes


def _middleware() -> ConsentMiddleware:
    store_dir = tempfile.mkdtemp(prefix="consentlib-bench-")
    return ConsentMiddleware(page_app().wsgi_app, POLICY, secret_key=["bench-key-" + "x" * 22],
                             store=f"sqlite:///{store_dir}/consent.db")


def cookie_headers(middleware: ConsentMiddleware, count: int, visitors: int = VISITORS) -> list[str]:
    now = int(time.time())
    # Each visitor's two consent cookies: the readable choice and the HttpOnly id bound to it.
    decisions = [{"revision": POLICY.revision, "categories": {"necessary", "analytics"}, "decided_at": now - i}
                 for i in range(visitors)]
    consents = [f"consent={middleware.cookie.dumps(**d)}; "
                f"consent_id={middleware.cookie.dumps_id(consent_id=f'{i:032x}', **d)}" for i, d in enumerate(decisions)]
    return [f"{consents[i % visitors]}; sid=s{i % visitors}; _ga=GA1.1.{i % visitors}.1700000000; "
            f"_ga_X1Y2Z3=GS1.1.{1700000000 + i}.{i}.1.{1700000000 + i}.0.0.0" for i in range(count)]


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict[str, float]:
    """Returning visitors: a worker that has already seen each of the 10,000 once."""
    bare = page_app()
    wrapped = _middleware()
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    headers = cookie_headers(wrapped, REQUESTS)
    bare_stream, wrapped_stream = CookieStream(base, headers), CookieStream(base, headers)
    for _ in range(VISITORS):  # each visitor's first page view, before the measured ones
        for app, stream in ((bare.wsgi_app, bare_stream), (wrapped, wrapped_stream)):
            for _block in app(stream(), lambda *args: None):
                pass
    best = compare({"bare": (bare.wsgi_app, bare_stream), "wrapped": (wrapped, wrapped_stream)},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


def measure_first_sight(seconds_per_round: float = 0.3, rounds: int = 3) -> dict[str, float]:
    """Every request a visitor this worker has never seen: each pays the signature checks."""
    bare = page_app()
    wrapped = _middleware()
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    visitors = 60_000
    headers = cookie_headers(wrapped, visitors, visitors=visitors)
    best = compare({"bare": (bare.wsgi_app, CookieStream(base, headers)),
                    "wrapped": (wrapped, CookieStream(base, headers))},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_growth(distinct_headers: int = 1_000_000) -> int:
    """Bytes the process grows by while the middleware reads that many distinct headers."""
    wrapped = _middleware()
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    visitors = cookie_headers(wrapped, VISITORS)
    before = _rss_bytes()
    for i in range(distinct_headers):
        environ = base.copy()
        # A long, distinct header every time: the worst case for caches keyed by it.
        environ["HTTP_COOKIE"] = f"{visitors[i % VISITORS]}; _ga_X1Y2Z3=GS1.1.{i}.{'x' * 200}"
        wrapped.read_consent(environ)
    return _rss_bytes() - before


if __name__ == "__main__":
    result = measure()
    print(f"many visitors: bare {result['bare']:.0f} req/s, wrapped {result['wrapped']:.0f} req/s, "
          f"ratio {result['ratio']:.3f}")
    first = measure_first_sight()
    print(f"first sight of each visitor: bare {first['bare']:.0f} req/s, wrapped {first['wrapped']:.0f} req/s, "
          f"ratio {first['ratio']:.3f}")
    print(f"memory after 1,000,000 distinct Cookie headers: +{memory_growth() / 2**20:.1f} MB")
