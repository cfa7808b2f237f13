"""Where consentlib's µs per request go: each stage made free in turn, bare and least gate beside.

    python -m bench.stages            (in process, WSGI and ASGI, many visitors)
    python -m bench.stages --server   (through uvicorn, both streams; about a minute)

A profiler's own cost per call is larger than the stages measured here, so instead
the wrapped middleware runs beside copies of itself with one stage made free: "visit
free" answers every request with one visitor's visit worked out up front
(``Visits.of`` costs a call), "visit and gate free" also passes the response headers
through ungated. The differences, measured interleaved in one run, are what the visit
and the response gate cost in their real surroundings (cold CPU caches included); what
is left is the door's glue (reading the request, routes, the scope copy, the send
wrapper). For a study, not a budget: the copies reach into the middleware's privates.
A stage's figure moves by a µs or two between runs; bench/instructions.py counts the
same stages' instructions and cache misses, which move by under 1 % between runs.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.common import CookieStream, compare

VARIANTS = ("bare", "least", "wrapped", "visit free", "visit and gate free")
# The order the variants take turns in, in process: each copy of consentlib after an app
# that is not one. A copy that follows another finds the code they share still in the
# CPU's caches and reads about 1 µs faster (three identical copies in a row measured
# +12.0, +11.0, +10.7 µs), which would be charged to the stage it made free. "spacer" is
# one more bare app, not reported.
_TURNS = ("bare", "wrapped", "least", "visit free", "spacer", "visit and gate free")


def _free_visit(middleware: Any) -> Any:
    from bench.many_visitors import cookie_headers

    visit = middleware.core.visits.of(cookie_headers(middleware, 1)[0], False, False, False, None)

    class Free:
        @staticmethod
        def of(*args: object) -> object:
            return visit

    if hasattr(middleware, "_visits"):  # the ASGI door
        middleware._visits = Free()
    else:
        middleware.visits = Free()
    return middleware


def _free_gate(middleware: Any) -> Any:
    responses = middleware.core.responses
    responses.headers_gate = lambda *args, **kwargs: (lambda headers: headers)
    for gates in responses.gates:
        gates.clear()
    return middleware


# uvicorn's factories (``bench.stages:asgi_visit_free``).
def asgi_visit_free() -> Any:
    from bench.e2e import asgi_wrapped

    return _free_visit(asgi_wrapped())


def asgi_visit_and_gate_free() -> Any:
    from bench.e2e import asgi_wrapped

    return _free_gate(_free_visit(asgi_wrapped()))


def in_process() -> dict[str, dict[str, float]]:
    """µs per request of each variant, on WSGI and ASGI many visitors."""
    from bench.asgi import ScopeStream, called, page_app as starlette_page, wrapped_app
    from bench.floor import least_asgi_gate, least_wsgi_gate
    from bench.many_visitors import REQUESTS, VISITORS, _middleware, cookie_headers
    from bench.middleware import page_app

    headers = cookie_headers(_middleware(), REQUESTS)
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    wsgi = dict(zip(VARIANTS, (page_app().wsgi_app, least_wsgi_gate(page_app().wsgi_app), _middleware(),
                               _free_visit(_middleware()), _free_gate(_free_visit(_middleware())))))
    streams = {name: CookieStream(base, headers) for name in wsgi}
    for _ in range(VISITORS):  # each visitor's first view, as bench/many_visitors.py does
        for name, app in wsgi.items():
            for _block in app(streams[name](), lambda *args: None):
                pass
    asgi = dict(zip(VARIANTS, (starlette_page(), least_asgi_gate(starlette_page()), wrapped_app(),
                               _free_visit(wrapped_app()), _free_gate(_free_visit(wrapped_app())))))
    wsgi["spacer"], streams["spacer"] = page_app().wsgi_app, CookieStream(base, headers)
    asgi["spacer"] = starlette_page()
    figures = {}
    for label, contenders in (
        ("WSGI many visitors", {name: (wsgi[name], streams[name]) for name in _TURNS}),
        ("ASGI many visitors", {name: (called(asgi[name]), ScopeStream(headers)) for name in _TURNS}),
    ):
        rates = compare(contenders)
        figures[label] = {name: 1e6 / rates[name] for name in VARIANTS}
    return figures


def through_uvicorn(rounds: int = 24, chunk: int = 400, visitors: int = 10_000) -> dict[str, dict[str, float]]:
    """CPU µs per request of each ASGI variant under uvicorn, medians of interleaved rounds."""
    from bench import e2e

    apps = dict(zip(VARIANTS, ("bench.e2e:asgi_bare", "bench.e2e:asgi_floor", "bench.e2e:asgi_wrapped",
                               "bench.stages:asgi_visit_free", "bench.stages:asgi_visit_and_gate_free")))
    streams = e2e._streams(visitors + rounds * chunk, visitors)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=e2e._client, args=(child, streams), daemon=True)
    process.start()

    def client(order: tuple) -> tuple:
        parent.send(order)
        answer = parent.recv()
        if answer[0] == "error":
            raise AssertionError(answer[1])
        return answer

    spent: dict[str, dict[str, list[float]]] = {stream: {name: [] for name in apps} for stream in e2e.STREAMS}
    try:
        with tempfile.TemporaryDirectory(prefix="consentlib-stages-") as directory:
            servers = {}
            try:
                for name, app in apps.items():
                    servers[name] = e2e._Uvicorn(Path(directory), f"sqlite:///{directory}/u.db", app=app,
                                                 http="httptools").start()
                for name in apps:  # each visitor's first view
                    client((servers[name].port, "many visitors", 0, visitors))
                names = list(apps)
                for turn in range(rounds):
                    for stream in e2e.STREAMS:
                        for name in names[turn % len(names):] + names[:turn % len(names)]:
                            before = e2e.cpu_ns(servers[name].pid)
                            answered, _ = client((servers[name].port, stream, visitors + turn * chunk, chunk))
                            spent[stream][name].append((e2e.cpu_ns(servers[name].pid) - before) / answered)
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        parent.send(None)
        process.join(10)
    return {f"uvicorn, {stream}": {name: statistics.median(cpu) / 1000 for name, cpu in by_name.items()}
            for stream, by_name in spent.items()}


def format_stages(figures: dict[str, dict[str, float]]) -> str:
    lines = []
    for label, micros in figures.items():
        added = {name: micros[name] - micros["bare"] for name in micros}
        lines.append(f"{label}: bare {micros['bare']:.1f} µs; least gate +{added['least']:.1f}; consentlib "
                     f"+{added['wrapped']:.1f} = visit {micros['wrapped'] - micros['visit free']:.1f} + response gate "
                     f"{micros['visit free'] - micros['visit and gate free']:.1f} + door glue "
                     f"{added['visit and gate free']:.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="store_true", help="through uvicorn instead of in process")
    options = parser.parse_args()
    print(format_stages(through_uvicorn() if options.server else in_process()))
