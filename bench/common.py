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


def requests_per_second(app: Callable, environ: dict, seconds: float) -> float:
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while True:
        for _ in range(50):
            body = app(environ.copy(), _start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


def compare(contenders: dict[str, tuple[Callable, dict]], *, seconds: float = 0.5, rounds: int = 5) -> dict[str, float]:
    """Best requests/second of each contender, rounds interleaved so drift hits all alike."""
    best = {name: 0.0 for name in contenders}
    for _ in range(rounds):
        for name, (app, environ) in contenders.items():
            best[name] = max(best[name], requests_per_second(app, environ, seconds))
    return best
