"""The ASGI door's test parts: a spec checker, a client, and the test site as ASGI apps.

``AsgiLint`` is to ASGI what werkzeug's ``LintMiddleware`` is to WSGI: wrapped inside
and outside the middleware, it fails the test on any message the ASGI 3 spec forbids
(https://asgi.readthedocs.io/en/latest/specs/www.html). No checker on the registry
fits (``asgion`` needs Python 3.12; asgiref ships none), hence this one.

``AsgiClient`` takes the arguments of werkzeug's test ``Client.open`` (``headers``,
``json``, ``data``, ``environ_overrides``) and sends the request through httpx's ASGI
transport, so the header tables of the WSGI suite run unchanged through Starlette
and FastAPI.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import quote, unquote

import httpx
from fastapi import FastAPI, Request, Response
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from tests.support.apps import SITE_COOKIES

_HTTP_SENDS = {"http.response.start", "http.response.body", "http.response.trailers", "http.response.pathsend"}
_WS_SENDS = {"websocket.accept", "websocket.send", "websocket.close", "websocket.http.response.start",
             "websocket.http.response.body"}


class AsgiSpecError(AssertionError):
    """A message or scope the ASGI 3 spec does not allow."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AsgiSpecError(message)


def _check_headers(headers, where: str) -> None:
    _check(isinstance(headers, (list, tuple)), f"{where}: headers must be a list of pairs, not {type(headers)}")
    for item in headers:
        _check(len(item) == 2, f"{where}: a header must be a [name, value] pair, not {item!r}")
        name, value = item
        _check(isinstance(name, bytes) and isinstance(value, bytes), f"{where}: header {item!r} is not bytes")
        _check(name == name.lower(), f"{where}: header name {name!r} must be lower-cased")


def _check_scope(scope) -> None:
    _check(isinstance(scope, dict), "the scope must be a dict")
    kind = scope.get("type")
    _check(kind in ("http", "websocket", "lifespan"), f"unknown scope type {kind!r}")
    _check(isinstance(scope.get("asgi"), dict) and scope["asgi"].get("version", "3.0").startswith("3"),
           "scope['asgi'] must say version 3")
    if kind == "lifespan":
        return
    _check(isinstance(scope.get("path"), str) and scope["path"].startswith("/"), "path must be a str from '/'")
    _check(isinstance(scope.get("query_string", b""), bytes), "query_string must be bytes")
    _check(isinstance(scope.get("root_path", ""), str), "root_path must be a str")
    if kind == "http":
        _check(isinstance(scope.get("method"), str) and scope["method"] == scope["method"].upper(),
               "method must be an upper-case str")
    _check_headers(scope.get("headers"), "scope")


class AsgiLint:
    """Raises :class:`AsgiSpecError` on ASGI 3 spec mistakes on either side of ``app``."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        _check_scope(scope)
        kind = scope["type"]
        state = {"started": False, "ended": False, "accepted": False, "closed": False}

        async def checked_receive():
            message = await receive()
            _check(isinstance(message, dict) and isinstance(message.get("type"), str), "received a non-message")
            return message

        async def checked_send(message) -> None:
            _check(isinstance(message, dict) and isinstance(message.get("type"), str), f"sent {message!r}")
            kind_sent = message["type"]
            if kind == "http":
                _check(kind_sent in _HTTP_SENDS, f"{kind_sent!r} is not an HTTP message")
                _check(not state["ended"], f"{kind_sent!r} after the response ended")
                if kind_sent == "http.response.start":
                    _check(not state["started"], "http.response.start sent twice")
                    status = message.get("status")
                    _check(type(status) is int and 100 <= status <= 599, f"status {status!r} is not an int")
                    _check_headers(message.get("headers", []), "http.response.start")
                    state["started"] = True
                elif kind_sent == "http.response.body":
                    _check(state["started"], "http.response.body before http.response.start")
                    _check(isinstance(message.get("body", b""), bytes), "body must be bytes")
                    _check(isinstance(message.get("more_body", False), bool), "more_body must be a bool")
                    state["ended"] = not message.get("more_body", False)
            elif kind == "websocket":
                _check(kind_sent in _WS_SENDS, f"{kind_sent!r} is not a WebSocket message")
                _check(not state["closed"], f"{kind_sent!r} after websocket.close")
                if kind_sent == "websocket.accept":
                    _check(not state["accepted"], "websocket.accept sent twice")
                    _check_headers(message.get("headers", []), "websocket.accept")
                    state["accepted"] = True
                elif kind_sent == "websocket.send":
                    _check(state["accepted"], "websocket.send before websocket.accept")
                elif kind_sent == "websocket.close":
                    state["closed"] = True
            await send(message)

        await self.app(scope, checked_receive, checked_send)
        if kind == "http":
            _check(state["ended"], "the app returned before it finished its response")


class Answer:
    """What werkzeug's test response offers the shared ``Fetched``."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw])
        self._data = response.content

    def get_data(self) -> bytes:
        return self._data

    def close(self) -> None:
        pass


class AsgiClient:
    """werkzeug's ``Client.open`` arguments, sent through httpx's ASGI transport."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def open(self, path: str = "/", method: str = "GET", **kw) -> Answer:
        environ = EnvironBuilder(path, method=method, **kw).get_environ()
        headers: list[tuple[bytes, bytes]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:]
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                name = key
            else:
                continue
            headers.append((name.replace("_", "-").lower().encode(), value.encode("latin-1")))
        body = environ["wsgi.input"].read()
        base = f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST', 'localhost')}"
        target = _RequestTarget(self.app, environ)
        client = (environ.get("REMOTE_ADDR", "127.0.0.1"), 50000)
        return asyncio.run(self._send(environ["REQUEST_METHOD"], base, target, headers, body, client))

    async def _send(self, method: str, base: str, target: _RequestTarget, headers, body: bytes, client) -> Answer:
        transport = httpx.ASGITransport(app=target, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            # The URL httpx sees is a clean one; _RequestTarget puts back the exact target.
            request = http.build_request(method, "/", content=body)
            # Exactly the headers built above, none of httpx's defaults.
            request.headers = httpx.Headers(headers)
            return Answer(await http.send(request))


class _RequestTarget:
    """The request-target exactly as the test wrote it, as a server passes it on.

    httpx, like a browser, resolves ``..`` and refuses ``%00``; ``curl --path-as-is``
    and attackers do neither, and a server hands the app what came: ``path``
    percent-decoded as UTF-8 (with the mount point, ``root_path``, in front, as
    uvicorn does), ``raw_path`` as sent. ``environ_overrides`` of ``PATH_INFO`` and
    ``SCRIPT_NAME`` say what the server decoded, as they do for a WSGI app.
    """

    def __init__(self, app: Callable, environ: dict) -> None:
        self.app = app
        self.root_path = _utf8(environ.get("SCRIPT_NAME", ""))
        self.path = self.root_path + _utf8(environ["PATH_INFO"])
        raw = environ["RAW_URI"].partition("?")[0]
        self.raw_path = raw.encode("latin-1") if unquote(raw) == self.path else quote(self.path).encode()
        self.query = environ["QUERY_STRING"].encode("latin-1")

    async def __call__(self, scope, receive, send) -> None:
        scope = {**scope, "path": self.path, "raw_path": self.raw_path, "query_string": self.query,
                 "root_path": self.root_path}
        await self.app(scope, receive, send)


def _utf8(native: str) -> str:
    # PEP 3333 native string (bytes as ISO-8859-1) to ASGI's text (UTF-8).
    return native.encode("latin-1").decode("utf-8", "replace")


def _page_body(cookie: str | None, consent) -> bytes:
    return json.dumps({
        "cookie": cookie,
        "granted": sorted(consent.granted) if consent is not None else None,
    }).encode()


def starlette_site(calls: list):
    """The test site of tests/support/apps.py as a Starlette app (not yet wrapped)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def page(request):
        calls.append(request.url.path)
        response = Response(_page_body(request.headers.get("cookie"), request.scope.get("consentlib.consent")),
                            media_type="application/json")
        _set_site_cookies(response, request.query_params)
        return response

    return Starlette(routes=[Route("/{path:path}", page, methods=["GET", "HEAD", "POST"])])


def fastapi_site(calls: list):
    """The test site of tests/support/apps.py as a FastAPI app (not yet wrapped)."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST"])
    async def page(request: Request, path: str) -> Response:
        calls.append(request.url.path)
        response = Response(_page_body(request.headers.get("cookie"), request.scope.get("consentlib.consent")),
                            media_type="application/json")
        _set_site_cookies(response, request.query_params)
        return response

    return app


def _set_site_cookies(response, query) -> None:
    wanted = query["set"].split(",") if "set" in query else [n for n, _ in SITE_COOKIES]
    for name, value in SITE_COOKIES:
        if name in wanted:
            response.set_cookie(name, value, path="/")
    for value in query.getlist("vary"):
        response.headers.append("Vary", value)
