"""The differential site (tests/support/differential_site.py) for the ASGI door, under uvicorn.

The same routes and behaviour, from the same tables (``PAGE``, ``MOUNT``,
``VIEW_BEACONS``, the page's body, :class:`Records` and its ``/_probe/``), as an ASGI
app: Starlette's router (FastAPI's too), which routes ``scope["path"]`` below
``root_path`` as the server decoded it (uvicorn: ``%2F`` becomes ``/``, ``raw_path``
keeps the bytes sent), behind :class:`consentlib.asgi.ConsentMiddleware`. It is served
at the root and mounted at ``/mounted`` (Starlette's ``Mount`` sets ``root_path``),
each behind its own door; ``/_probe/`` and the tap sit outside both, as in the WSGI
site.

The headers registered for a page are handed to the server as bytes, as registered:
names in the case given (the ASGI spec asks apps for lower case; nothing makes them),
ISO-8859-1 where a text fits it and UTF-8 where not (what a careless ``.encode()``
gives). uvicorn checks some of those bytes, refuses some and lower-cases names under
httptools; the test reads what it wrote off the wire.
"""
from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from consentlib.asgi import ConsentMiddleware
from consentlib.asgi.bridge import ASGIApp, Message, Receive, Scope, Send
from tests.support.apps import KEYS
from tests.support.differential_site import BODY, MOUNT, PAGE, VIEW_BEACONS, Records, probe_headers
from tests.support.fuzz_strategies import FUZZ_POLICY
from tests.support.loadkit import STORE_ENV

_BEACON_METHODS = ["GET", "HEAD", "POST"]


def starlette_routes(records: Records) -> list[Route]:
    """The page, and a view for each beacon path of ``VIEW_BEACONS`` that notes its hits."""

    async def page(request: Request) -> Response:
        # RFC 9111 §5.2.2.4: revalidate on every navigation, so a stored validator is replayed.
        return Response(BODY, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    routes = [Route(PAGE, page)]
    for view, path in VIEW_BEACONS.items():
        counted = _counting(view, records)
        if path.endswith("/"):
            routes.append(Route(path + "{rest:path}", counted, methods=_BEACON_METHODS))
        else:
            # With a trailing slash too, as the Flask site's strict_slashes=False routes it.
            routes += [Route(path, counted, methods=_BEACON_METHODS),
                       Route(path + "/", counted, methods=_BEACON_METHODS)]
    return routes


def _counting(view: str, records: Records):
    async def counted(request: Request) -> Response:
        records.hit(view, request.scope.get("root_path", ""), request.scope["path"])
        return Response("counted", media_type="text/plain")

    return counted


def _wire_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def with_case_headers(app: ASGIApp, records: Records) -> ASGIApp:
    """``app`` whose page answers also carry the headers registered for their case."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        if scope["type"] != "http" or scope["path"][len(root):] != PAGE:
            await app(scope, receive, send)
            return
        extra = [(_wire_bytes(name), _wire_bytes(value))
                 for name, value in records.case_headers(scope["query_string"].decode("latin-1"))]

        async def send_with_case(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await app(scope, receive, send_with_case)

    return wrapped


def tapped(app: ASGIApp, records: Records) -> ASGIApp:
    """``app``, noting the If-None-Match and If-Modified-Since of every page request."""

    async def tap(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PAGE:
            headers = {name.lower(): value.decode("latin-1") for name, value in scope["headers"]}
            records.page(scope["query_string"].decode("latin-1"), headers.get(b"if-none-match"),
                         headers.get(b"if-modified-since"))
        await app(scope, receive, send)

    return tap


def _probe(records: Records) -> ASGIApp:
    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = records.probe(scope["method"], scope["path"][len(scope.get("root_path", "")):], body)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(name.lower().encode(), value.encode()) for name, value in probe_headers(answer)]})
        await send({"type": "http.response.body", "body": answer})

    return probe


def differential_asgi_site(store: str) -> ASGIApp:
    """The whole site (see the module's docstring) with its receipts in ``store``."""
    records = Records()
    app = with_case_headers(Router(routes=starlette_routes(records)), records)

    def gated() -> ConsentMiddleware:
        return ConsentMiddleware(app, FUZZ_POLICY, secret_key=KEYS, store=store)

    return tapped(Router(routes=[Mount("/_probe", _probe(records)), Mount(MOUNT, gated()), Mount("", gated())]),
                  records)


def site_from_env() -> ASGIApp:
    """uvicorn's app factory: ``--factory tests.support.differential_asgi_site:site_from_env``."""
    return differential_asgi_site(os.environ[STORE_ENV])
