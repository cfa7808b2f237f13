"""The least keeping gate (bench/floor.py) is a yardstick only while it keeps consentlib's
contract: README and ./dev bench compare consentlib's cost with it.

On the many-visitors stream it must answer every request itself with exactly consentlib's
response headers and the same ``Cookie`` header for the app; a request consentlib must
answer differently (a cookie to withhold and expire, a consent endpoint, a beacon, a
choice to re-issue) it must hand to consentlib.
"""
from __future__ import annotations

import asyncio

import pytest
from werkzeug.test import EnvironBuilder

from bench import asgi
from bench.common import CookieStream
from bench.floor import least_keeping_asgi_gate, least_keeping_wsgi_gate
from bench.many_visitors import _middleware, cookie_headers

VISITORS = 40


@pytest.fixture(scope="module")
def headers():
    return cookie_headers(_middleware(), 4 * VISITORS, visitors=VISITORS)


def _handed_over(middleware):
    handed = []

    def consentlib(environ, start_response):
        handed.append(environ.get("PATH_INFO"))
        return middleware(environ, start_response)

    return handed, consentlib


def _wsgi(app, environ):
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, response_headers

    b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], environ.get("HTTP_COOKIE")


def test_wsgi_the_usual_request_is_answered_as_consentlib_answers_it(headers):
    reference, kept = _middleware(), _middleware()
    handed, consentlib = _handed_over(kept)
    keeping = least_keeping_wsgi_gate(kept.app, kept.core, consentlib)
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    ours, theirs = CookieStream(base, headers), CookieStream(base, headers)
    for _ in headers:
        assert _wsgi(keeping, theirs()) == _wsgi(reference, ours())
    assert handed == []  # every request of the stream was the keeping gate's own


@pytest.mark.parametrize("path, extra, handed_over", [
    ("/", "; _fbp=fb.1.2.3", 1),  # marketing is not granted: withheld and expired
    ("/", "; consent=forged", 1),  # a second consent cookie: none counts
    ("/", "; consent", 0),  # no '=': no consent cookie, and consentlib's own name passes
    ("/_consent/state", "", 1),  # a consent endpoint
    ("/collect", "", 1),  # a beacon
    ("/collect/", "", 1),  # the beacon spelt otherwise
    ("/.well-known/gpc.json", "", 1),
])
def test_wsgi_any_other_request_goes_to_consentlib(headers, path, extra, handed_over):
    reference, kept = _middleware(), _middleware()
    handed, consentlib = _handed_over(kept)
    keeping = least_keeping_wsgi_gate(kept.app, kept.core, consentlib)
    cookie = headers[0] + extra
    build = lambda: EnvironBuilder(path=path, headers={"Cookie": cookie}).get_environ()  # noqa: E731
    assert _wsgi(keeping, build()) == _wsgi(reference, build())
    assert len(handed) == handed_over


async def _asgi(app, cookie):
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(asgi.scope(cookie), receive, send)
    return messages[0]["status"], messages[0]["headers"]


def test_asgi_the_usual_request_is_answered_as_consentlib_answers_it(headers):
    reference, kept = asgi.wrapped_app(), asgi.wrapped_app()
    handed = []

    async def consentlib(scope, receive, send):
        handed.append(scope["path"])
        await kept(scope, receive, send)

    keeping = least_keeping_asgi_gate(kept.app, kept.core, consentlib)
    for cookie in headers:
        assert asyncio.run(_asgi(keeping, cookie)) == asyncio.run(_asgi(reference, cookie))
    assert handed == []
    asyncio.run(_asgi(keeping, headers[0] + "; _fbp=fb.1.2.3"))
    assert handed == ["/"]  # a cookie to withhold: consentlib's to answer
