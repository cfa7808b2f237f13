"""The ETag firewall for ASGI: the rules of consentlib.gate.validators, streaming.

The decisions (which request headers the app may not read, which response headers
leave, which bodies get a validator, when a 304 is due) are consentlib.gate.validators'
functions; this module only follows the ASGI messages. A body is held only while it
may still get a validator: up to ``max_body`` bytes of a 200 whose
``Content-Length`` fits, or a body that arrives whole in its first message. Anything
else streams on as the app sends it, with no validator at all.
"""
from __future__ import annotations

from collections.abc import Callable

from consentlib.asgi.bridge import ASGIApp, Message, Receive, Scope, Send, raw_headers, text_headers
from consentlib.gate.validators import matches, not_modified, validator_plan, weak_etag

# RFC 9110 §13.1: what a browser's cache replays; If-Range goes with its Range (§14.2).
_CONDITIONALS = frozenset({b"if-none-match", b"if-modified-since", b"if-range"})


class ETagFirewall:
    """ASGI middleware with the rules of :class:`consentlib.wsgi.etag.ETagFirewall`.

    :param app: the ASGI application to protect.
    :param applies: called once per GET/HEAD request with the scope; true means the
        visitor has not consented to per-visitor ETags and the firewall is on.
    :param max_body: the most bytes held to compute a validator.
    """

    def __init__(self, app: ASGIApp, *, applies: Callable[[Scope], bool], max_body: int = 1 << 20) -> None:
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0:
            raise ValueError(f"ETagFirewall(max_body={max_body!r}) must be a whole number of bytes, 0 or more.")
        self.app = app
        self.applies = applies
        self.max_body = max_body
        self._warned: set[str] = set()  # header names already logged as dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or (method != "GET" and method != "HEAD") or not self.applies(scope):
            await self.app(scope, receive, send)
            return
        if_none_match = None
        headers = []
        dropped_if_range = False
        for name, value in scope["headers"]:
            lname = name.lower()
            if lname in _CONDITIONALS:
                if lname == b"if-none-match":
                    if_none_match = value.decode("latin-1") if if_none_match is None \
                        else f"{if_none_match}, {value.decode('latin-1')}"
                dropped_if_range = dropped_if_range or lname == b"if-range"
                continue
            headers.append((name, value))
        if dropped_if_range:
            headers = [(n, v) for n, v in headers if n.lower() != b"range"]
        # HEAD runs as GET so that it gets exactly GET's headers (RFC 9110 §9.3.2).
        scope = {**scope, "headers": headers, "method": "GET"}
        exchange = _Exchange(send, self.max_body, method == "HEAD", if_none_match, self._warned)
        await self.app(scope, receive, exchange.send)
        await exchange.finish()


class _Exchange:
    """One response with the firewall on; to the app it is the server's ``send``."""

    __slots__ = ("_send", "_limit", "_head", "_if_none_match", "_warned", "_start", "_kept", "_length",
                 "_holding", "_pending", "_size", "_done")

    def __init__(self, send: Send, limit: int, head: bool, if_none_match: str | None, warned: set[str]) -> None:
        self._send = send
        self._warned = warned
        self._limit = limit
        self._head = head
        self._if_none_match = if_none_match
        self._start: Message | None = None
        self._kept: list[tuple[str, str]] = []
        self._length: int | None = None
        self._holding = False  # the start message is held: the body may still get a validator
        self._pending: list[bytes] = []
        self._size = 0
        self._done = False  # the last body message has gone to the server

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = message
            status = str(message["status"])
            self._kept, self._length = validator_plan(status, text_headers(message.get("headers", ())), self._warned)
            self._holding = self._length is not None and self._length <= self._limit
            if not self._holding:
                await self._send_start()
            return
        if kind != "http.response.body":
            # A file sent by path, trailers: nothing to compute a validator from.
            await self._release()
            await self._send(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self._holding:
            self._pending.append(body)
            self._size += len(body)
            if self._size > self._limit or (more and self._length == -1):
                # Over the limit, or a stream of unknown length: never held back.
                await self._release(more)
            elif not more:
                await self._validated()
            return
        if self._head:
            if not more:
                await self._end()
            return
        self._done = not more
        await self._send(message)

    async def _send_start(self) -> None:
        start = self._start
        assert start is not None  # only after the app's http.response.start
        await self._send({**start, "headers": raw_headers(self._kept)})

    async def _release(self, more: bool = True) -> None:
        """Stop holding: the start without a validator, then what was held, in order."""
        if not self._holding:
            return
        self._holding = False
        await self._send_start()
        pending, self._pending = self._pending, []
        if self._head:
            if not more:
                await self._end()
        elif pending or not more:
            self._done = not more
            await self._send({"type": "http.response.body", "body": b"".join(pending), "more_body": more})

    async def _validated(self) -> None:
        self._holding = False
        body = b"".join(self._pending)
        self._pending = []
        etag = weak_etag(body)
        headers = [*self._kept, ("ETag", etag)]
        start = self._start
        assert start is not None  # a body is validated after the app's http.response.start
        status = start["status"]
        if self._if_none_match is not None and matches(self._if_none_match, etag):
            status, headers, body = 304, not_modified(headers), b""
        await self._send({**start, "status": status, "headers": raw_headers(headers)})
        await self._end(b"" if self._head else body)

    async def _end(self, body: bytes = b"") -> None:
        self._done = True
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def finish(self) -> None:
        """After the app returned: a HEAD's or a held body's end, if not sent yet."""
        if self._start is None or self._done:
            return
        if self._holding:
            # The app returned without a last body message: what it gave, then the end.
            await self._release(more=False)
        elif self._head:
            await self._end()
