"""The banner's built assets (from js/), served with a long cache under their hashed names."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from consentlib.web.exchange import Request, Response

if TYPE_CHECKING:
    from consentlib.consent import Consent

STATIC_DIR = Path(__file__).with_name("static")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str
    data: bytes
    content_type: str
    immutable: bool

    def respond(self, request: Request, consent: Consent | None = None) -> Response:
        # A hashed name never changes content, so caches may keep it for a year
        # (RFC 9111 §5.2.2.1, RFC 8246 immutable); the plain name must be revalidated.
        cache = "public, max-age=31536000, immutable" if self.immutable else "no-cache"
        return Response(200, [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.data))),
            ("Cache-Control", cache),
            ("X-Content-Type-Options", "nosniff"),
        ], self.data)


@lru_cache(maxsize=1)
def manifest() -> dict[str, str]:
    """``{"banner.js": "banner.<hash>.js", "banner.css": "banner.<hash>.css"}``, or {}."""
    try:
        names: dict[str, str] = json.loads((STATIC_DIR / "manifest.json").read_text())
        return names
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=16)
def lookup(route: str) -> Asset | None:
    """The asset at ``{prefix}<route>``: a hashed file name, or its plain alias."""
    names = manifest()
    hashed = names.get(route)
    immutable = hashed is None
    filename = hashed or (route if route in names.values() else None)
    if filename is None:
        return None
    path = STATIC_DIR / filename
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return Asset(filename, data, _TYPES.get(path.suffix, "application/octet-stream"), immutable)
