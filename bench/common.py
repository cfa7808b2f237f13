"""Shared measuring helpers: throughput of WSGI callables, interleaved in one run.

Absolute numbers drift on a shared machine; ratios measured side by side in one run do
not drift much. The contenders take turns in short chunks of requests, so a slow moment
of the machine, a frequency change or a warm cache hits all of them alike; a round
adds up each contender's chunks, and the best round of each counts. Requests are made
by calling the WSGI callable directly, so the figure is the cost of the app and the
middleware, not of a server.
"""
from __future__ import annotations

import time
from collections.abc import Callable

CHUNK = 50  # requests per turn


def _start_response(status, headers, exc_info=None):
    return None


def _chunk(app: Callable, environ: dict | Callable[[], dict], clock: Callable[[], float]) -> float:
    """CHUNK requests; ``environ`` is one request's environ (copied each time) or a
    function returning the next request's environ of a stream."""
    next_environ = environ if callable(environ) else environ.copy
    started = clock()
    for _ in range(CHUNK):
        body = app(next_environ(), _start_response)
        for _block in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return clock() - started


class CookieStream:
    """Environs of a stream of requests that each carry a Cookie header of their own.

    Like real traffic, where GA4's ``_ga_<id>`` session cookie changes on every page
    view: no cache keyed by the whole header ever hits. Headers are built up front so
    that both contenders pay the same small cost per request (a dict copy and one key).
    """

    def __init__(self, base: dict, headers: list[str]) -> None:
        self.base = base
        self.headers = headers
        self.position = 0

    def __call__(self) -> dict:
        environ = self.base.copy()
        environ["HTTP_COOKIE"] = self.headers[self.position]
        self.position = (self.position + 1) % len(self.headers)
        return environ


def compare(contenders: dict[str, tuple[Callable, dict | Callable[[], dict]]], *, seconds: float = 0.5, rounds: int = 5,
            clock: Callable[[], float] = time.thread_time) -> dict[str, float]:
    """Best requests/second of each contender over ``rounds`` rounds of about ``seconds`` each.

    The default clock is this thread's CPU time: on a shared machine another process
    taking the core would otherwise count against whichever side happened to run.
    Pass ``time.perf_counter`` when the work under test runs partly in other threads.
    """
    for app, environ in contenders.values():  # warm up: imports, caches, the allocator
        _chunk(app, environ, clock)
    best = {name: 0.0 for name in contenders}
    for _ in range(rounds):
        spent = {name: 0.0 for name in contenders}
        turns = 0
        while min(spent.values()) < seconds:
            for name, (app, environ) in contenders.items():
                spent[name] += _chunk(app, environ, clock)
            turns += 1
        for name in contenders:
            best[name] = max(best[name], turns * CHUNK / spent[name])
    return best
