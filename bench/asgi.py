"""consentlib.asgi.ConsentMiddleware on a Starlette page that sets four cookies (>= 0.90).

The page and the policy are bench/middleware.py's; the visitor has a valid consent
cookie granting analytics. Two streams, each a ratio against the bare Starlette app
measured in the same run: one visitor repeating a request, and many visitors (10,000,
each with a genuine consent cookie of their own, no Cookie header twice: GA4's
session cookie changes on every page view), as bench/many_visitors.py does for WSGI.

Requests are made by calling the ASGI app directly and driving its coroutine to the
end, without an event loop or a server: the figure is the cost of the app and the
middleware. Neither the page nor the middleware waits on anything on this path (the
store is not touched), so the coroutine finishes on its first step.
"""
from __future__ import annotations

import tempfile

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bench.common import compare
from bench.many_visitors import REQUESTS, cookie_headers
from bench.middleware import POLICY
from consentlib.asgi import ConsentMiddleware

_BASE_HEADERS = [(b"host", b"localhost"), (b"user-agent", b"Mozilla/5.0"), (b"accept", b"text/html")]


def page_app() -> Starlette:
    async def page(request):
        response = HTMLResponse("<!doctype html><title>Home</title><p>Hello</p>")
        response.set_cookie("sid", "s3ss10n", httponly=True)
        response.set_cookie("theme", "dark")
        response.set_cookie("_ga", "GA1.1.123.456")
        response.set_cookie("_fbp", "fb.1.123.456")
        return response

    return Starlette(routes=[Route("/", page)])


def wrapped_app() -> ConsentMiddleware:
    store_dir = tempfile.mkdtemp(prefix="consentlib-bench-")
    return ConsentMiddleware(page_app(), POLICY, secret_key=["bench-key-" + "x" * 22],
                             store=f"sqlite:///{store_dir}/consent.db")


def scope(cookie: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"",
        "headers": [*_BASE_HEADERS, (b"cookie", cookie.encode("latin-1"))],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }


class ScopeStream:
    """Scopes of a stream of requests that each carry a Cookie header of their own."""

    def __init__(self, headers: list[str]) -> None:
        self.scopes = [scope(header) for header in headers]
        self.position = 0

    def __call__(self) -> dict:
        found = self.scopes[self.position]
        self.position = (self.position + 1) % len(self.scopes)
        return dict(found)


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict) -> None:
    return None


def called(app):
    """``app`` as bench/common.py calls a WSGI app: one request, run to the end."""

    def call(scope: dict, start_response) -> tuple:
        coroutine = app(scope, _receive, _send)
        try:
            coroutine.send(None)
        except StopIteration:
            return ()
        coroutine.close()
        raise RuntimeError("The benchmarked app waited on something; it must not touch I/O here.")

    return call


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict[str, float]:
    """The repeated request: one visitor, the same Cookie header every time."""
    wrapped = wrapped_app()
    # One visitor's two consent cookies and the site's own, as bench/many_visitors.py sends them.
    one = scope(cookie_headers(wrapped, 1)[0])
    best = compare({"bare": (called(page_app()), one), "wrapped": (called(wrapped), one)},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


def measure_many_visitors(seconds_per_round: float = 0.5, rounds: int = 5) -> dict[str, float]:
    """10,000 visitors, each with a genuine consent cookie, no Cookie header twice."""
    wrapped = wrapped_app()
    headers = cookie_headers(wrapped, REQUESTS)
    best = compare({"bare": (called(page_app()), ScopeStream(headers)),
                    "wrapped": (called(wrapped), ScopeStream(headers))},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


if __name__ == "__main__":
    for label, result in (("repeated request", measure()), ("many visitors", measure_many_visitors())):
        print(f"ASGI, {label}: bare Starlette {result['bare']:.0f} req/s, wrapped {result['wrapped']:.0f} req/s, "
              f"ratio {result['ratio']:.3f}")
