"""The ETag firewall for WSGI: cache validators that cannot carry a visitor's identity.

Without consent it keeps the client's validators from the app and the app's from the
client, and puts back a validator derived from the body alone, so caching still works.
The rules (which headers are validators, the weak tag, the 304) are
:mod:`consentlib.gate.validators`; this module is their PEP 3333 plumbing: buffering
up to a limit, streaming past it, ``write()`` and ``close()``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from consentlib.gate.fields import warn_dropped
from consentlib.gate.validators import matches, not_modified, validator_plan, weak_etag, without_validators

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ETagFirewall"]

log = logging.getLogger("consentlib")

_Headers = list[tuple[str, str]]


class ETagFirewall:
    """WSGI middleware that keeps per-visitor validators out of HTTP caches.

    When ``applies(environ)`` is true for a GET or HEAD request:

    * ``If-None-Match`` and ``If-Modified-Since`` are removed before the app runs, so the
      app can never read an identifier the browser's cache replays. ``If-Range`` is
      removed too, together with its ``Range``: browsers replay it from the cache when
      resuming a transfer, so it is the same channel; a ``Range`` without its
      ``If-Range`` could splice bytes of a changed resource onto the cached ones,
      whereas ignoring ``Range`` is always allowed (RFC 9110 §14.2).
    * The app's ``ETag`` and ``Last-Modified`` are removed from the response, so no
      per-visitor value is stored by the browser in the first place. Names are read as
      a browser reads them: a header whose name is not an RFC 9110 token (``"ETag "``,
      ``"ETag:x"``) or whose value holds a line break could carry a validator, so it is
      removed too, and logged once.
    * A 200 whose size is known up front (a ``Content-Length`` of at most ``max_body``,
      or a list or tuple body) and that is not ``Cache-Control: no-store`` gets a weak
      ETag computed from its bytes, identical for every visitor who gets those bytes.
      A matching ``If-None-Match`` is answered with a 304 here; the app never learns
      whether the visitor had the page cached.
    * HEAD runs the app as GET (RFC 9110 §9.3.2: HEAD is GET without content; both are
      safe) so that it gets exactly GET's headers, validator included, whatever the app
      does with HEAD bodies. The body is then discarded.
    * Any other body (streamed without a length, larger than ``max_body``, non-200,
      ``no-store``) is passed on as it is produced with no validator at all. A stream
      is never held back waiting for the limit (an event stream would hang), and at
      most ``max_body`` bytes, plus the block that overflows them, are ever held.

    Other methods, and visitors for whom ``applies`` is false, pass through untouched:
    the app's own iterable is returned and the app sees every conditional header.

    Security: the validator the browser stores is a function of the body alone, and
    nothing the browser replays reaches the app, so a unique ETag or Last-Modified can
    neither be planted nor read back. A body that itself embeds a visitor identifier
    still identifies the visitor — that is a cookie-equivalent in the page, out of
    reach of any HTTP-level filter.

    :param app: the WSGI application to protect.
    :param applies: called once per GET/HEAD request with the environ; true means the
        visitor has not consented to per-visitor ETags and the firewall is on.
    :param max_body: the most bytes buffered to compute a validator. Larger responses
        get none, so a small value costs cache hits, never privacy.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        applies: Callable[[WSGIEnvironment], bool],
        max_body: int = 1 << 20,
    ) -> None:
        if not callable(applies):
            raise TypeError("ETagFirewall(applies=...) must be a callable taking the environ.")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0:
            raise ValueError(
                f"ETagFirewall(max_body={max_body!r}) must be a whole number of bytes, 0 or more."
            )
        self.app = app
        self.applies = applies
        self.max_body = max_body
        self._warned: set[str] = set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (method != "GET" and method != "HEAD") or not self.applies(environ):
            return self.app(environ, start_response)
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if (
            method == "HEAD"
            or if_none_match is not None
            or "HTTP_IF_MODIFIED_SINCE" in environ
            or "HTTP_IF_RANGE" in environ
        ):
            if method == "GET" and log.isEnabledFor(logging.DEBUG):
                log.debug("consentlib withheld the browser's cache validators from the app on %s: "
                          "per-visitor ETags are not allowed on this request", environ.get("PATH_INFO", "/"))
            # A copy, so that the caller's environ keeps what the client sent.
            environ = environ.copy()
            environ.pop("HTTP_IF_NONE_MATCH", None)
            environ.pop("HTTP_IF_MODIFIED_SINCE", None)
            if environ.pop("HTTP_IF_RANGE", None) is not None:
                environ.pop("HTTP_RANGE", None)
            environ["REQUEST_METHOD"] = "GET"
        exchange = _Exchange(start_response, self.max_body, method == "HEAD", if_none_match, self._warned)
        return exchange.run(self.app, environ)



def _close(app_iter: Iterable[bytes]) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


class _Exchange:
    """One request with the firewall on; to the app it is the server."""

    __slots__ = (
        "_start_response", "_limit", "_head", "_if_none_match", "_status", "_headers",
        "_kept", "_sent", "_server_write", "_buffering", "_pending", "_size",
        "_body_started", "_app_iter", "_closed", "_warned",
    )

    def __init__(
        self, start_response: StartResponse, limit: int, head: bool, if_none_match: str | None,
        warned: set[str],
    ) -> None:
        self._start_response = start_response
        self._limit = limit
        self._head = head
        self._if_none_match = if_none_match
        self._status: str | None = None
        self._headers: _Headers = []
        self._kept: _Headers | None = None  # the app's headers minus its validators
        self._sent = False  # the server's start_response has been called
        self._server_write: Callable[[bytes], object] | None = None
        self._buffering = False  # collecting the body to compute a validator
        self._pending: list[bytes] = []
        self._size = 0
        self._body_started = False  # the app has produced a non-empty block
        self._app_iter: Iterable[bytes] = ()
        self._closed = False
        self._warned = warned

    def _start(self, status: str, headers: _Headers, exc_info: OptExcInfo | None = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                # PEP 3333: once the app has produced body bytes its headers count as
                # sent, and start_response must re-raise.
                if self._body_started and exc_info[1] is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
                if self._sent:
                    # The server holds the old headers but no bytes: let it replace them.
                    self._server_write = self._start_response(
                        status, without_validators(headers, self._warned), exc_info
                    )
            finally:
                exc_info = None  # PEP 3333: break the traceback cycle
        elif self._status is not None:
            raise AssertionError("start_response was called twice without exc_info (PEP 3333).")
        self._status = status
        self._headers = headers
        self._kept = None
        return self._write

    def _write(self, data: bytes) -> None:
        # PEP 3333 write(): decide with what start_response said, then keep the order.
        if not self._sent and not self._buffering:
            self._buffering = self._validatable(None)
            if not self._buffering:
                self._send_headers()
        self._collect(data)
        if self._buffering and self._size <= self._limit:
            return
        if self._buffering:
            # Over the limit: no validator; flush in order and stream from here on.
            self._buffering = False
            self._send_headers()
        pending, self._pending = self._pending, []
        if not self._head and self._server_write is not None:
            for block in pending:
                self._server_write(block)

    def _collect(self, block: bytes) -> None:
        if block:
            self._body_started = True
            self._size += len(block)
            self._pending.append(block)

    def _validatable(self, app_iter: object) -> bool:
        """A 200, not no-store, whose whole body is known to fit the limit."""
        self._kept, length = validator_plan(self._status, self._headers, self._warned)
        if length is None:
            return False
        # A list or tuple is already in memory: buffering it delays nothing.
        return 0 <= length <= self._limit or type(app_iter) in (list, tuple)

    def _send_headers(self) -> None:
        self._sent = True
        kept = self._kept if self._kept is not None else without_validators(self._headers, self._warned)
        assert self._status is not None, "the app sent its body before calling start_response (PEP 3333)"
        self._server_write = self._start_response(self._status, kept)

    def run(self, app: WSGIApplication, environ: WSGIEnvironment) -> Iterable[bytes]:
        self._app_iter = app_iter = app(environ, self._start)
        try:
            return self._respond(app_iter)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        # PEP 3333: the app's close() is called once, even when something failed.
        if not self._closed:
            self._closed = True
            _close(self._app_iter)

    def _respond(self, app_iter: Iterable[bytes]) -> Iterable[bytes]:
        it: Iterator[bytes] | None = None
        if self._status is None:
            # PEP 3333 lets start_response wait for the first block.
            it = iter(app_iter)
            for block in it:
                self._collect(block)
                break
            if self._status is None:
                raise RuntimeError("The application returned without calling start_response.")
        if not self._sent and not self._buffering:
            self._buffering = self._validatable(app_iter)
            if not self._buffering:
                self._send_headers()
        if self._buffering:
            if it is None:
                it = iter(app_iter)
            limit = self._limit
            if self._size <= limit:
                for block in it:
                    self._collect(block)
                    # write() may have overflowed and switched to streaming meanwhile.
                    if self._size > limit or not self._buffering:
                        break
                else:
                    self._close()
                    return self._validated()
            if self._buffering:
                # The app lied about its length: no validator, stream what follows.
                self._buffering = False
                self._send_headers()
        if self._head:
            self._close()
            return []
        pending, self._pending = self._pending, []
        # From here on the server closes what we return, and that closes the app's.
        self._closed = True
        if it is None and not pending:
            # Untouched, so the server may keep wsgi.file_wrapper's fast path.
            return app_iter
        return _Stream(pending, it if it is not None else iter(app_iter), app_iter)

    def _validated(self) -> list[bytes]:
        pending, self._pending = self._pending, []
        body = pending[0] if len(pending) == 1 else b"".join(pending)
        status = self._status
        # The whole body is in hand (hence a list) but exc_info may have replaced the
        # status or headers since we chose to buffer.
        if self._kept is None and not self._validatable(pending):
            self._send_headers()
            return [] if self._head else pending
        headers = self._kept
        assert headers is not None and status is not None  # _validatable has kept them, for a 200
        etag = weak_etag(body)
        headers.append(("ETag", etag))
        if self._if_none_match is not None and matches(self._if_none_match, etag):
            status = "304 Not Modified"
            headers = not_modified(headers)
            body = b""
        self._sent = True
        self._start_response(status, headers)
        return [] if self._head or not body else [body]




class _Stream:
    """The rest of a response without a validator: blocks go out as the app makes them."""

    __slots__ = ("_pending", "_next", "_app_iter", "_closed")

    def __init__(self, pending: list[bytes], it: Iterator[bytes], app_iter: Iterable[bytes]) -> None:
        pending.reverse()
        self._pending = pending
        self._next = it.__next__
        self._app_iter = app_iter
        self._closed = False

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> bytes:
        if self._pending:
            return self._pending.pop()
        return self._next()

    def close(self) -> None:
        # PEP 3333: the app's close() is called once, however often the server calls ours.
        if not self._closed:
            self._closed = True
            self._pending = []
            _close(self._app_iter)
