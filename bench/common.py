"""Shared measuring helpers: throughput of WSGI callables, interleaved in one run.

Absolute numbers drift on a shared machine; ratios measured side by side in one run,
best round of each, do not drift much. Requests are made by calling the WSGI callable
directly, so the figure is the cost of the app and middleware, not of a server.
"""
from __future__ import annotations

import time
from collections.abc import Callable


def _start_response(status, headers, exc_info=None):
    return None


def requests_per_second(app: Callable, environ: dict, seconds: float, clock: Callable[[], float] = time.thread_time) -> float:
    """Requests per second of ``app`` over about ``seconds`` of ``clock``.

    The default clock is this thread's CPU time: on a shared machine another process
    taking the core would otherwise count against whichever side happened to run.
    Pass ``time.perf_counter`` when the work under test runs partly in other threads.
    """
    count = 0
    started = clock()
    deadline = started + seconds
    while True:
        for _ in range(50):
            body = app(environ.copy(), _start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        count += 50
        now = clock()
        if now >= deadline:
            return count / (now - started)


def compare(contenders: dict[str, tuple[Callable, dict]], *, seconds: float = 0.5, rounds: int = 5,
            clock: Callable[[], float] = time.thread_time) -> dict[str, float]:
    """Best requests/second of each contender, rounds interleaved so drift hits all alike."""
    for app, environ in contenders.values():  # warm up: imports, caches, the allocator
        requests_per_second(app, environ, 0.05, clock)
    best = {name: 0.0 for name in contenders}
    for _ in range(rounds):
        for name, (app, environ) in contenders.items():
            best[name] = max(best[name], requests_per_second(app, environ, seconds, clock))
    return best
