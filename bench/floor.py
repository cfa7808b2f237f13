"""The least a consent gate can cost: a reference for the middleware budgets, not a budget.

Two stand-ins do only what any gate that honours the HTTP contract must do on every
request, and nothing else: find the ``Cookie`` header and split it into its pairs, and
judge every response header once (a dict lookup by name, the CR/LF/NUL searches, the
cookie name of each ``Set-Cookie``). They decide nothing, remember nothing, and add no
``Vary``. Measured on the same pages and streams as the budgets (bench/middleware.py,
bench/many_visitors.py, bench/asgi.py), their ratio to the bare app is the ceiling of
any pure-Python middleware here: a budget above it cannot be met by tuning.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.common import CookieStream, compare

_KINDS = {"Set-Cookie": 1, "Content-Type": 0, "Content-Length": 0, b"set-cookie": 1, b"content-type": 0,
          b"content-length": 0}


def _judged(headers: list[tuple[Any, Any]], lf: Any, cr: Any, nul: Any, equals: Any) -> list[tuple[Any, Any]]:
    kept = []
    for item in headers:
        kind = _KINDS.get(item[0])
        value = item[1]
        if lf in value or cr in value or nul in value:
            continue
        if kind == 1:
            value.partition(equals)
        kept.append(item)
    return kept


def least_wsgi_gate(app: Callable) -> Callable:
    """A WSGI middleware that splits the Cookie header and judges each response header."""

    def middleware(environ, start_response):
        for part in (environ.get("HTTP_COOKIE") or "").split(";"):
            part.strip().partition("=")
        environ["consentlib.consent"] = None

        def gated(status, headers, exc_info=None):
            return start_response(status, _judged(headers, "\n", "\r", "\0", "="))

        return app(environ, gated)

    return middleware


def least_asgi_gate(app: Callable) -> Callable:
    """The same for ASGI: one scan of the request headers, the start message's judged."""

    async def middleware(scope, receive, send):
        cookie = b""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value
        for part in cookie.split(b";"):
            part.strip().partition(b"=")
        scope = {**scope, "consentlib.consent": None}

        def gated(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": _judged(message.get("headers", []), 10, 13, 0, b"=")}
            return send(message)

        await app(scope, receive, gated)

    return middleware


def measure() -> dict[str, float]:
    """Ratios of the stand-ins to the bare apps, on each budget's page and stream."""
    from bench.asgi import ScopeStream, called, page_app as starlette_page, scope
    from bench.many_visitors import REQUESTS, VISITORS, _middleware, cookie_headers
    from bench.middleware import page_app as flask_page

    headers = cookie_headers(_middleware(), REQUESTS)
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    one = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0", "Cookie": headers[0]}).get_environ()
    ratios = {}
    result = compare({"bare": (flask_page().wsgi_app, one), "least": (least_wsgi_gate(flask_page().wsgi_app), one)})
    ratios["wsgi repeated"] = result["least"] / result["bare"]
    streams = {"bare": CookieStream(base, headers), "least": CookieStream(base, headers)}
    apps = {"bare": flask_page().wsgi_app, "least": least_wsgi_gate(flask_page().wsgi_app)}
    for _ in range(VISITORS):  # each visitor's first view, as bench/many_visitors.py does
        for name in apps:
            for _block in apps[name](streams[name](), lambda *args: None):
                pass
    result = compare({name: (apps[name], streams[name]) for name in apps})
    ratios["wsgi many visitors"] = result["least"] / result["bare"]
    single = scope(headers[0])
    result = compare({"bare": (called(starlette_page()), single),
                      "least": (called(least_asgi_gate(starlette_page())), single)})
    ratios["asgi repeated"] = result["least"] / result["bare"]
    result = compare({"bare": (called(starlette_page()), ScopeStream(headers)),
                      "least": (called(least_asgi_gate(starlette_page())), ScopeStream(headers))})
    ratios["asgi many visitors"] = result["least"] / result["bare"]
    return ratios


if __name__ == "__main__":
    for label, ratio in measure().items():
        print(f"least possible gate, {label}: {ratio:.3f} of the bare app")
