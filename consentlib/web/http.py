"""HTTP helpers the consent endpoints share: answers, origin checks, safe redirects. A
leaf: it imports no endpoint module, so the guardian pages, the mail endpoints and a
site's own views (the Flask example's mail views) can all use it.

The checks take a :class:`~consentlib.web.exchange.Request`; the public ones
(:func:`cross_origin_refusal`, :func:`safe_next`) also take a WSGI environ, as they
did before the endpoints worked on plain requests.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from werkzeug.urls import iri_to_uri

from consentlib.web.exchange import Request, Response

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _request(request: Request | Mapping[str, Any]) -> Request:
    return request if isinstance(request, Request) else Request.from_environ(request)


# -- request checks --------------------------------------------------------------------------


def site_location(site_url: str | None, request: Request, path: str) -> str:
    """An absolute Location for ``path`` (from :func:`safe_next`), on the configured
    ``site_url`` or this request's own origin."""
    return (site_url or site_origin(request)) + path


def site_origin(request: Request) -> str:
    scheme = request.scheme
    host = request.header("host")
    if not (host and _is_authority(host)):
        # PEP 3333 URL reconstruction: without a usable Host, the server's own name. A
        # Host that is not host[:port] (RFC 9110 §7.2) would make every Location built
        # from it unparsable.
        host = f"{request.server[0]}:{request.server[1]}"
    return normalise_origin(f"{scheme}://{host}")


def _is_authority(host: str) -> bool:
    if not host.isprintable() or any(ch in host for ch in " /?#@\\"):
        return False
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return bool(parts.hostname)


def normalise_origin(origin: str) -> str:
    origin = origin.strip().lower().rstrip("/")
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.rpartition(":") if ":" in rest and not rest.endswith("]") else (rest, "", "")
    if port and _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return origin


def cross_origin_refusal(request: Request | Mapping[str, Any], trusted: frozenset[str]) -> str | None:
    """Why a state-changing request must be refused as cross-site forgery, or None.

    Fetch Metadata first (browsers send ``Sec-Fetch-Site``); then ``Origin``. A client
    that sends neither (curl, a server-side API call) is not a browser acting for a
    visitor on another site, so it passes. ``request``: a Request, or a WSGI environ.
    """
    request = _request(request)
    fetch_site = request.header("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        origin = request.header("origin")
        if not (origin and normalise_origin(origin) in trusted):
            return "Consent can only be given on this site's own pages (cross-site request refused)."
    origin = request.header("origin")
    if origin is not None:
        normal = normalise_origin(origin)
        if normal != site_origin(request) and normal not in trusted:
            return f"Consent can only be given on this site's own pages; origin {origin[:100]!r} is not this site."
    return None


def script_reads_answer(request: Request) -> bool:
    """A browser request whose answer a page's script can read: anything but a top-level
    navigation (Fetch Metadata: ``fetch``/XHR, an iframe, an image...). A client that
    sends no Fetch Metadata (curl, an older browser) reads what it asked for itself."""
    mode, dest = request.header("sec-fetch-mode"), request.header("sec-fetch-dest")
    if mode is None and dest is None:
        return False
    return mode != "navigate" or dest != "document"


def safe_next(request: Request | Mapping[str, Any], target: str | None) -> str:
    """A same-site path to go back to, as an ASCII URI reference: ``next`` if it is one,
    else the Referer's, else '/'. Safe to put in a ``Location`` header as it is.
    ``request``: a Request, or a WSGI environ."""
    for candidate in (target, _referer_path(_request(request))):
        if candidate and _is_local_path(candidate):
            local = ascii_uri(candidate)
            if _is_local_path(local):  # still one path of this site once encoded
                return local
    return "/"


def _is_local_path(target: str) -> bool:
    if len(target) > 2000 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    # No space, control (C0, DEL, C1, U+2028...) or backslash: browsers strip or turn
    # them into "/" before parsing (WHATWG URL), which can make a path a host.
    if not target.isprintable() or any(ch == " " or ch == "\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def ascii_uri(target: str) -> str:
    """``target`` as an ASCII URI: PEP 3333 header values are latin-1, and RFC 9110
    §10.2.2 makes Location a URI reference, so an IRI is percent-encoded (UTF-8)."""
    if target.isascii():
        return target
    try:
        return iri_to_uri(target)
    except (UnicodeError, ValueError):  # a host IDNA cannot encode, a bad port
        return quote(target, safe="%!#$&'()*+,/:;=?@[]~")


def _referer_path(request: Request) -> str | None:
    referer = request.header("referer")
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if normalise_origin(f"{parts.scheme}://{parts.netloc}") != site_origin(request):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- responses ---------------------------------------------------------------------------------


def respond(status: int, body: Any, *, headers: Iterable[tuple[str, str]] = (), cache: str = "no-store") -> Response:
    """A JSON answer."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return _response(status, "application/json", data, headers, cache)


def respond_html(status: int, html: str, *, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return _response(status, "text/html; charset=utf-8", html.encode(), headers, "no-store")


def _response(status: int, content_type: str, data: bytes, headers: Iterable[tuple[str, str]],
              cache: str) -> Response:
    return Response(status, [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("Cache-Control", cache),
        ("X-Content-Type-Options", "nosniff"),
        *headers,
    ], data)
