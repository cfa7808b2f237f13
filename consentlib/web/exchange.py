"""One request to a consent endpoint and its answer, as plain data: what every door
translates to and from (the WSGI environ here, an ASGI scope in consentlib.asgi.bridge).

Handlers are sans-I/O for the store: one that must read or write it returns a
:class:`Pending` (the store work, and what to answer from its result) instead of a
:class:`Response`. A door runs the work where it may block: inline under WSGI
(:func:`settle`), in a worker thread under ASGI, so the event loop never waits on it.

Header text is ISO-8859-1, as PEP 3333 fills an environ, so both doors judge the
same characters.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

# The only method whose body an endpoint reads (a choice, a guardian's answer, RFC 8058's
# one-click unsubscribe): a door reads no other body, so a GET that announces a body it
# never sends is still answered at once.
BODY_METHODS = frozenset({"POST"})
_CONTENT = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_NOT_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})
# RFC 9110 §5.3: several lines of one field are one comma-separated list; Cookie's
# crumbs are joined with "; " instead (RFC 9113 §8.2.3, RFC 6265 §5.4).
_JOINERS = {"cookie": "; "}


class Headers(Mapping[str, str]):
    """Request header text by case-insensitive name, several lines already joined."""

    __slots__ = ("_lines",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        lines: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key in lines:
                value = lines[key] + _JOINERS.get(key, ", ") + value
            lines[key] = value
        self._lines = lines

    def __getitem__(self, name: str) -> str:
        return self._lines[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lines

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __repr__(self) -> str:
        return f"Headers({self._lines!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """A request to a consent endpoint, read by a door."""

    method: str
    path: str  # the route path, below the mount point (PATH_INFO; ASGI path minus root_path)
    query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""  # read up to the door's limit (max_body), never more
    over_limit: bool = False  # the body was longer than the limit: answered 413
    scheme: str = "http"
    client: str | None = None  # the peer's address (REMOTE_ADDR)
    server: tuple[str, str] = ("localhost", "80")  # for a Host-less request's origin (PEP 3333)
    # The site's own choice of language (environ/scope "consentlib.language"), before
    # Accept-Language (consentlib.web.language).
    language: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any], body_limit: int | None = None) -> Request:
        """The request of a PEP 3333 ``environ``; its body read up to ``body_limit``
        bytes (None: not read), the way werkzeug reads it (``get_input_stream``)."""
        # As werkzeug's EnvironHeaders reads them: CONTENT_TYPE and CONTENT_LENGTH when not
        # empty, never an HTTP_CONTENT_TYPE or HTTP_CONTENT_LENGTH beside them.
        headers = Headers(
            (key[5:].replace("_", "-") if key.startswith("HTTP_") else key.replace("_", "-"), value)
            for key, value in environ.items()
            if isinstance(value, str) and (
                (key.startswith("HTTP_") and key not in _NOT_HEADERS) or (key in _CONTENT and value)))
        body, over = b"", False
        if body_limit is not None:
            body, over = _read_wsgi_body(environ, headers, body_limit)
        return cls(
            method=environ.get("REQUEST_METHOD", "GET"), path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""), headers=headers, body=body, over_limit=over,
            scheme=environ.get("wsgi.url_scheme", "http"), client=environ.get("REMOTE_ADDR"),
            language=_language(environ.get("consentlib.language")),
            server=(str(environ.get("SERVER_NAME", "")), str(environ.get("SERVER_PORT", ""))),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def with_scheme(self, scheme: str) -> Request:
        return replace(self, scheme=scheme)

    @property
    def args(self) -> MultiDict[str, str]:
        """The query's parameters, as werkzeug reads them (invalid escapes kept as they are)."""
        text = self.query.encode("latin-1", "replace").decode("utf-8", "replace")
        return MultiDict(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))

    @property
    def mimetype(self) -> str:
        return parse_options_header(self.headers.get("content-type", ""))[0].lower()

    @property
    def content_length(self) -> int | None:
        """The declared length (None for none or a chunked body; 0 for one that is not a number)."""
        return _content_length(self.headers)

    @property
    def incomplete(self) -> bool:
        """The body ended before its declared length (the client went away)."""
        length = self.content_length
        return not self.over_limit and length is not None and len(self.body) < length

    def data(self) -> bytes:
        """The whole body; werkzeug's 413 or 400 (as its ``Request`` raises them) for one
        over the limit or cut short."""
        if self.over_limit:
            raise RequestEntityTooLarge()
        if self.incomplete:
            raise ClientDisconnected()
        return self.body

    def form(self, limit: int, *, parts: int = 200) -> MultiDict[str, str]:
        """The posted form: werkzeug's parser with the limits of a bounded request (an
        empty form for a body that is not one).

        Raises werkzeug's HTTPException (413 over the limit or for too many parts, 400
        for a body cut short) like ``werkzeug.Request.form``.
        """
        body = self.data()
        mimetype, options = parse_options_header(self.headers.get("content-type", ""))
        parser = FormDataParser(max_form_memory_size=limit, max_content_length=limit, max_form_parts=parts)
        form: MultiDict[str, str] = parser.parse(io.BytesIO(body), mimetype.lower(), len(body), options)[1]
        return form


def _content_length(headers: Mapping[str, str]) -> int | None:
    # werkzeug.sansio.utils.get_content_length, so both doors read it as werkzeug did.
    if "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" not in headers:
        return None
    text = headers["content-length"].strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def _read_wsgi_body(environ: Mapping[str, Any], headers: Headers, limit: int) -> tuple[bytes, bool]:
    stream = environ.get("wsgi.input")
    length = _content_length(headers)
    if stream is None:
        return b"", False
    if length is not None and length > limit:
        return b"", True  # refused by its declared length, unread
    if "wsgi.input_terminated" in environ:
        # The server ends the stream (a chunked body): read one byte past the limit to tell.
        data = stream.read(limit + 1)
        return data[:limit], len(data) > limit
    if length is None:
        # PEP 3333: without a Content-Length reading could block forever; werkzeug reads nothing.
        return b"", False
    return stream.read(length), False


@dataclass(frozen=True, slots=True)
class Response:
    """An endpoint's answer; a door sends it as it is (for HEAD: the same headers, no body)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return f"{self.status} {REASONS.get(self.status, 'Error')}"

    def for_method(self, method: str) -> Response:
        # RFC 9110 §9.3.2: HEAD gets GET's headers (Content-Length included) and no content.
        return replace(self, body=b"") if method == "HEAD" and self.body else self


REASONS = {200: "OK", 204: "No Content", 302: "Found", 303: "See Other", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Content Too Large",
           415: "Unsupported Media Type", 429: "Too Many Requests", 503: "Service Unavailable"}


def _reraise(exc: Exception) -> Answer:
    raise exc


@dataclass(frozen=True, slots=True)
class Pending:
    """Store work an answer waits for: ``work()`` may block (a door runs it where that is
    allowed); ``then(result)`` or, if it raised, ``failed(exception)`` gives the answer."""

    work: Callable[[], Any]
    then: Callable[[Any], Answer]
    failed: Callable[[Exception], Answer] = _reraise


Answer = Union[Response, Pending]


def settle(answer: Answer) -> Response:
    """Run the answer's store work inline (a WSGI door: the request's own thread)."""
    while isinstance(answer, Pending):
        try:
            result = answer.work()
        except Exception as exc:
            answer = answer.failed(exc)
        else:
            answer = answer.then(result)
    return answer


def _language(value: Any) -> str | None:
    """The site's language choice, if it is a text (Django's ``gettext_lazy`` too)."""
    return str(value) or None if value is not None else None
