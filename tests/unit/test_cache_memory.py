"""The request path's caches stay small whatever visitors and apps send.

Every distinct cookie name, ``Cookie`` header, consent cookie value and ``Set-Cookie``
name could be remembered; a visitor who sends thousands of long, distinct ones must not
grow the server's memory without end (the design's budget: memory bounded by bytes,
whatever the headers hold).
"""
from __future__ import annotations

import gc
import secrets
import tracemalloc

from werkzeug.test import EnvironBuilder

from consentlib import ConsentMiddleware
from tests.support.apps import KEYS, POLICY

REQUESTS = 1500
# Every header just under the 4096 characters the visit cache keeps; every tenth far
# longer, as servers accept (gunicorn: 8190 per line; werkzeug's: no limit).
NAME_LENGTH = 2000
JUNK_CONSENT_LENGTH = 1900
LONG_NAME_LENGTH = 12000
# What the request path's caches hold at most, whatever the headers (docs/http.md says it):
# visits 4 MiB, verdict tables 2 MiB, consent values 1 MiB, cookie names 256 KiB.
MEMORY_BOUND = 8 * 1024 * 1024


def echoing_app(environ, start_response):
    """Sets a cookie named after each one it receives, as careless apps do."""
    names = [part.split("=", 1)[0].strip() for part in environ.get("HTTP_COOKIE", "").split(";") if part]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2"),
                              *[("Set-Cookie", f"{name}=1; Path=/") for name in names]])
    return [b"ok"]


def send(middleware, cookie_header: str) -> None:
    environ = EnvironBuilder(path="/", headers={"Cookie": cookie_header}).get_environ()
    body = middleware(environ, lambda status, headers, exc_info=None: None)
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()


def long_distinct_cookie_header(i: int) -> str:
    # Declared by the glob _ga*: judged, remembered and expired, never written to the store.
    name = "_ga" + secrets.token_hex((LONG_NAME_LENGTH if i % 10 == 0 else NAME_LENGTH) // 2)
    junk = secrets.token_urlsafe(JUNK_CONSENT_LENGTH)[:JUNK_CONSENT_LENGTH]
    return f"consent={junk}; {name}=1"


def test_memory_stays_bounded_by_bytes_under_long_distinct_cookies(tmp_path):
    middleware = ConsentMiddleware(echoing_app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    headers = [long_distinct_cookie_header(i) for i in range(REQUESTS)]
    send(middleware, headers[0])  # imports, the store, the first cache entries
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for header in headers[1:]:
            send(middleware, header)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Bounded by entries only, the caches kept every header, name and junk value, and
    # the warnings registry every too-long expiry: about 20 MB here, 176 MB for 4,095
    # requests with 16,000-character names.
    assert grown < MEMORY_BOUND, f"the caches grew by {grown / 1e6:.1f} MB"
    caches = [middleware.visits.cache, middleware.cookie._cache, middleware.core.gate.categories,
              *middleware.responses._verdicts.values()]
    for cache in caches:
        assert sum(len(key[0] if isinstance(key, tuple) else key) for key in cache) <= cache.budget
