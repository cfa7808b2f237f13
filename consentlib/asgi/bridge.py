"""Translation between an ASGI connection and the core's plain text and requests.

The core reads header *text*: ASGI bytes are decoded as ISO-8859-1, exactly as a WSGI
server fills the environ (PEP 3333 "native strings"), so both doors judge the same
characters. A consent endpoint's request becomes a plain
:class:`~consentlib.web.exchange.Request` here (:func:`request_of`), like the WSGI
door's environ does.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from consentlib.web.exchange import Headers, Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
RawHeaders = Iterable[tuple[bytes, bytes]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_COOKIE = b"cookie"
# What a signal of two lines counts as: never the value "1".
_TWO_LINES = b""


def request_signals(headers: RawHeaders) -> tuple[str, bool, bool]:
    """The ``Cookie`` header, ``Sec-GPC: 1`` and ``DNT: 1`` of a request, in one pass."""
    # Every request passes here: no list unless a request really has several Cookie lines.
    cookie = more = gpc = dnt = None
    for name, value in headers:
        size = len(name)
        # Servers lower-case names (ASGI spec); a middleware in front might not.
        if size == 6:
            if name == _COOKIE or name.lower() == _COOKIE:
                if cookie is None:
                    cookie = value
                else:
                    more = [cookie, value] if more is None else [*more, value]
        elif size == 7:
            if name.lower() == b"sec-gpc":
                gpc = value if gpc is None else _TWO_LINES
        elif size == 3 and name.lower() == b"dnt":
            dnt = value if dnt is None else _TWO_LINES
    if more is not None:
        cookie = b"; ".join(more)
    # GPC spec: only the exact value "1" counts; two lines would reach a WSGI app as
    # "1, 1", which is not "1" either.
    return ("" if cookie is None else cookie.decode("latin-1")), gpc == b"1", dnt == b"1"


def header_text(headers: RawHeaders, wanted: bytes) -> str:
    """One request header's text (several lines joined as RFC 9110 §5.3 says), or ""."""
    found = [value for name, value in headers if name.lower() == wanted]
    return b", ".join(found).decode("latin-1")


def with_cookie(headers: RawHeaders, cookie: str) -> list[tuple[bytes, bytes]]:
    """``headers`` whose ``Cookie`` lines are replaced by one line of ``cookie`` (none if empty)."""
    kept = [(name, value) for name, value in headers if len(name) != 6 or name.lower() != _COOKIE]
    if cookie:
        kept.append((_COOKIE, cookie.encode("latin-1")))
    return kept


def route_path(scope: Scope) -> str:
    """The path as the app's router sees it: without the mount point (``root_path``).

    Servers put the mount point in front of ``path`` (as uvicorn's ``--root-path`` does)
    and routers strip it, like WSGI's ``SCRIPT_NAME`` and ``PATH_INFO``.
    """
    path: str = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):]
    return path


def text_headers(raw: RawHeaders) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def raw_headers(text: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # The ASGI spec wants response header names in lower case (bytes.lower(): ASCII only).
    return [(name.encode("latin-1").lower(), value.encode("latin-1")) for name, value in text]


def _native(text: str) -> str:
    # PEP 3333: a URL path is bytes decoded as ISO-8859-1; ASGI gives it decoded as UTF-8.
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, read up to a little over ``limit`` bytes; and whether it was longer.

    A consent endpoint never needs more: what is over the limit is left unread, and the
    endpoint answers 413 as it does for a WSGI server.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), True
        if not message.get("more_body", False):
            return b"".join(chunks), False


def request_of(scope: Scope, body: bytes, over_limit: bool, path: str | None = None) -> Request:
    """The plain request of ``scope`` and its (bounded) ``body``, as the WSGI door reads an environ.

    ``path`` is the route path (:func:`route_path`), as a PEP 3333 native string; the
    header text is ISO-8859-1, several lines joined (RFC 9110 §5.3; Cookie with "; ").
    """
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    return Request(
        method=scope.get("method", "GET"),
        path=_native(route_path(scope) if path is None else path),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", ())),
        body=body,
        over_limit=over_limit,
        scheme=scope.get("scheme", "http"),
        client=str(client[0]) if client else None,
        server=(str(server[0]), str(server[1]) if server[1] is not None else "80"),
        language=scope["consentlib.language"] if isinstance(scope.get("consentlib.language"), str) else None,
    )


async def send_response(send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": raw_headers(headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})
