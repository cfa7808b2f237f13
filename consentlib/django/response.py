"""The core's WSGI answer put back into a Django response, as the core wrote it.

Two rules, each from a bug a review found:

* A ``Set-Cookie`` line the door did not write is never re-parsed by
  :mod:`http.cookies`, which refuses names a browser accepts (``_ga@x``, ``_ga(1)``,
  ``_ga/x``: RFC 6265 §5.2 takes any name up to the first ``=``); the core expires such
  a cookie when a visitor refuses it, and re-parsing that line made every page a 500.
  :class:`SetCookieLine` carries the line verbatim into ``response.cookies``.
* An async ``StreamingHttpResponse`` is read for the core (:class:`AsyncBody`), so that
  the ETag firewall hashes the bytes that are sent, never an empty stand-in.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from http.cookies import Morsel
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponseBase, StreamingHttpResponse

from consentlib.gate.cookies import set_cookie_parts


class SetCookieLine(Morsel[str]):
    """One ``Set-Cookie`` line that Django sends exactly as given.

    ``key``, ``value`` and the attributes (``["max-age"]``...) are read leniently from the
    line for code that inspects ``response.cookies`` (``django.test.Client``); what goes on
    the wire is always the line itself (``OutputString``, ``output``).
    """

    def __init__(self, line: str, *, asgi: bool = False) -> None:
        super().__init__()
        self.line = line
        # Under Django's ASGI handler a line that is not ASCII goes out as latin-1
        # (_HeaderText); a WSGI server gets a plain str, as PEP 3333 requires.
        self.asgi = asgi and not line.isascii()
        name, value, attributes = set_cookie_parts(line)
        # Morsel.set() would validate the name: set the fields it would, as they are.
        self._key, self._value, self._coded_value = name, value, value
        for attr, attr_value in attributes.items():
            if attr in Morsel._reserved:  # type: ignore[attr-defined]  # the attribute names it keeps
                dict.__setitem__(self, attr, attr_value)

    def OutputString(self, attrs: Any = None) -> str:  # noqa: N802 (Morsel's name)
        return self.line

    def output(self, attrs: Any = None, header: str = "Set-Cookie:") -> str:
        text = f"{header} {self.line}"
        return _HeaderText(text) if self.asgi else text

    def __getstate__(self) -> dict[str, Any]:  # pickled by Django's cache middleware
        return {"key": self.key, "value": self.value, "coded_value": self.coded_value, "line": self.line,
                "asgi": self.asgi}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.line, self.asgi = state.pop("line"), state.pop("asgi")
        super().__setstate__(state)  # type: ignore[misc]


class _HeaderText(str):
    """Header text that Django's ASGI handler can send whatever its characters.

    The core's lines are WSGI header strings, latin-1 text (PEP 3333): a refused cookie
    whose name has a byte above 0x7f is expired by a line that is not ASCII. Django's
    ASGI handler encodes cookie lines as ASCII, which raised on such a line (a 500);
    ASGI headers are bytes and RFC 9110 §5.5 allows those bytes in a field value, so
    they are encoded as latin-1, as consentlib's own ASGI door does.
    """

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "latin-1" if encoding.lower() == "ascii" else encoding, errors)


def put_headers(response: HttpResponseBase, headers: list[tuple[str, str]],
                own: dict[str, Morsel[str]], *, asgi: bool = False) -> None:
    """Make ``headers`` (the core's answer) the headers of ``response``.

    ``own`` maps the lines of the view's own cookies to the view's morsels, which are
    kept as they are; every other ``Set-Cookie`` line goes out verbatim. ``asgi``: the
    response goes out through Django's ASGI handler.
    """
    for name in list(response.headers):
        del response.headers[name]
    response.cookies.clear()
    joined: dict[str, str] = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            morsel = own.get(value) or SetCookieLine(value, asgi=asgi)
            key = morsel.key
            # Django keys cookies by name; a second line for one name (a cookie expired
            # on two paths) must go out too, so it gets a key no cookie name can have.
            while key in response.cookies:
                key += "\n"
            dict.__setitem__(response.cookies, key, morsel)
            continue
        # Django keeps one value per header name; RFC 9110 §5.3 lets list headers
        # (Vary...) be combined with commas.
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    for name, value in joined.items():
        response.headers[name] = value


class AsyncBody:
    """An async stream's chunks for the core, a sync WSGI app body.

    On Django's ASGI handler the door runs in a worker thread and the stream belongs
    to the event loop: each chunk is fetched there (``async_to_sync``) only when the
    core asks for it, so the ETag firewall reads a stream whose length is declared
    and never a stream it passes through. Under WSGI there is no loop to keep it on:
    it is read whole in one call, as Django's WSGI handler itself would read it.
    """

    def __init__(self, response: StreamingHttpResponse, *, on_loop: bool) -> None:
        self.source: AsyncIterator[bytes] = aiter(response.streaming_content)  # type: ignore[arg-type]
        self.taken: list[bytes] = []
        self.on_loop = on_loop
        if not on_loop:
            self.taken = async_to_sync(_read_all)(self.source)

    def for_core(self) -> Iterable[bytes]:
        """The body the core reads: a list once read whole (so the firewall may hash it
        whatever its length header says), else chunks fetched as the core asks."""
        return self.taken if not self.on_loop else self

    def __iter__(self) -> Iterator[bytes]:
        return self._each()

    def _each(self) -> Iterator[bytes]:
        while True:
            chunk = async_to_sync(_next_or_none)(self.source)
            if chunk is None:
                return
            self.taken.append(chunk)
            yield chunk

    def sent(self, body: Iterable[bytes]) -> Iterable[bytes] | AsyncIterator[bytes]:
        """What goes out: ``body`` (the core's answer) when the core read the stream
        through; else the chunks it read, then the rest of the stream, as they come."""
        if not self.on_loop:
            return body
        if isinstance(body, list):  # the firewall read it whole (or answered 304)
            return _chunks(body)
        return _chunks(self.taken, self.source)


async def _read_all(source: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in source]


async def _next_or_none(source: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(source)
    except StopAsyncIteration:
        return None


async def _chunks(first: list[bytes], rest: AsyncIterator[bytes] | None = None) -> AsyncIterator[bytes]:
    try:
        for chunk in first:
            yield chunk
        if rest is not None:
            async for chunk in rest:
                yield chunk
    finally:
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()
