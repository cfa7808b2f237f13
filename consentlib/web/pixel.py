"""The answer a blocked beacon or an email open pixel gets: nothing that can track."""
from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# The smallest transparent 1x1 GIF89a: 43 bytes.
TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(TRANSPARENT_GIF) == 43

_IMAGE_SUFFIXES = (".gif", ".png", ".jpg", ".jpeg", ".webp", ".svg", ".ico")


def wants_image(environ: WSGIEnvironment) -> bool:
    """An image path, or a client that accepts only images (an ``<img>`` fetch)."""
    return is_image_request(environ.get("PATH_INFO", ""), environ.get("HTTP_ACCEPT", ""))


def is_image_request(path: str, accept: str) -> bool:
    """:func:`wants_image` for any server interface: the path and the ``Accept`` header."""
    if path.lower().endswith(_IMAGE_SUFFIXES):
        return True
    types = [part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip()]
    return bool(types) and all(t.startswith("image/") for t in types)


def untrackable_response(environ: WSGIEnvironment, start_response: StartResponse, *, image: bool) -> Iterable[bytes]:
    """A 1x1 GIF or a 204: no cookie, no validator, never stored by a cache.

    ``Cache-Control: no-store`` so neither the browser nor a proxy keeps a copy that
    could later carry an identifier (RFC 9111 §5.2.2.5).
    """
    status, headers, body = untrackable(image=image, head=environ.get("REQUEST_METHOD") == "HEAD")
    start_response(status, headers)
    return [body] if body else []


def untrackable(*, image: bool, head: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    """:func:`untrackable_response` for any server interface: status, headers, body."""
    if image:
        headers = [
            ("Content-Type", "image/gif"),
            ("Content-Length", str(len(TRANSPARENT_GIF))),
            ("Cache-Control", "no-store"),
        ]
        return "200 OK", headers, b"" if head else TRANSPARENT_GIF
    return "204 No Content", [("Cache-Control", "no-store")], b""
