"""A request path as the app's router will read it.

A beacon is judged by every path a router could route to its view, not by the bytes
the client sent: servers decode ``PATH_INFO`` once (PEP 3333), some apps decode again,
werkzeug merges slashes, servlet-style routers drop ``;params``, file routers resolve
dot segments. When in doubt the gate refuses: it fails closed.
"""
from __future__ import annotations

import re
from urllib.parse import unquote

_PATH_PARAMS = re.compile(r";[^/]*")
# Routers decode at most twice; a path still changing after this many rounds is left
# as it is (each round is linear, so a deeply nested escape cannot cost quadratic time).
_DECODE_ROUNDS = 4
# RFC 9112 §3.2.2: a request target in absolute-form, "http://host/collect": a scheme,
# "://" and the authority before the path.
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


def router_path(path: str, *, resolve_dots: bool = True) -> str:
    """``path`` as the most lenient router would route it: the union of what routers do.

    Servers hand the app ``PATH_INFO`` decoded once (PEP 3333), so ``/%2fcollect``
    arrives as ``//collect``; some apps decode again (``%252F``), some servers treat
    ``\\`` as ``/``; werkzeug merges slashes; servlet-style routers drop ``;params``;
    file routers resolve dot segments (RFC 3986 §5.2.4) unless ``resolve_dots`` is
    false (werkzeug does not: ``/track/../x`` reaches a ``/track/<path>`` view). Case is
    kept: routers compare paths case-sensitively (RFC 3986 §6.2.2.1). A trailing slash
    is kept too, for prefixes; :class:`consentlib.gate.beacons.BeaconPaths` ignores it
    for exact paths. A target in absolute-form (``http://host/collect``, RFC 9112
    §3.2.2), which some servers hand the app whole (uvicorn's h11 parser puts it in
    ``scope["path"]``), is read as its path.
    """
    absolute = _ABSOLUTE_FORM.match(path)
    if absolute:
        path = path[absolute.end():] or "/"
    for _ in range(_DECODE_ROUNDS):
        # Latin-1, as PEP 3333 maps bytes to PATH_INFO characters.
        decoded = unquote(path, encoding="latin-1").replace("\\", "/")
        if decoded == path:
            break
        path = decoded
    path = _PATH_PARAMS.sub("", path)
    segments: list[str] = []
    for segment in path.split("/"):
        if resolve_dots and segment == "..":
            if segments:
                segments.pop()
        elif segment and (segment != "." or not resolve_dots):
            segments.append(segment)
    normal = "/" + "/".join(segments)
    if segments and (path.endswith("/") or path.endswith("/.") or path.endswith("/..")):
        normal += "/"
    return normal
