"""Identifiers: values that differ between two fresh browsers, whatever their names.

A name the evidence does not know (``vid``, ``sx_visitor``) says nothing; its value
does. The audit's browser and a second, brand-new profile load the same pages; a
cookie, storage key or IndexedDB database that both get, with values that differ,
tells one visitor from another: an identifier stored on the device, which needs
consent (ePrivacy Art 5(3)) unless the site declares it necessary. Times are masked
before comparing (two visits a second apart get different timestamps, and a
timestamp alone identifies nobody). Values are never reported, only a digest.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import unquote_plus

# ISO 8601 dates and times, clock times (JavaScript's Date.toString()), and Unix times in
# seconds or milliseconds between 2017 and 2033.
_TIMES = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"
                    r"|\b\d{1,2}:\d\d(?::\d\d)?\b|(?<!\d)1[5-9]\d{8}(?:\d{3})?(?!\d)")


class Snapshot(Protocol):
    """What is read of a :class:`consentlib.testing.recorder.Snapshot` (which imports this module)."""

    cookies: list[dict[str, Any]]
    storage: list[dict[str, Any]]


def digest(value: str) -> str:
    """A short digest of ``value`` with its times masked: equal for equal content."""
    masked = _TIMES.sub("T", unquote_plus(value))
    return hashlib.sha256(masked.encode("utf-8", "replace")).hexdigest()[:16]


def _values(snapshots: Iterable[Snapshot]) -> dict[tuple[str, str], set[str]]:
    """(where, name) -> the digests seen: ``where`` is ``cookie`` or a storage area."""
    seen: dict[tuple[str, str], set[str]] = {}
    for snapshot in snapshots:
        for cookie in snapshot.cookies:
            if cookie.get("digest"):
                seen.setdefault(("cookie", cookie["name"]), set()).add(cookie["digest"])
        for item in snapshot.storage:
            if item.get("digest"):
                seen.setdefault((item["area"], item["key"]), set()).add(item["digest"])
    return seen


def compare(mine: Iterable[Snapshot], other: Iterable[Snapshot]) -> dict[tuple[str, str], bool]:
    """(where, name) -> True when it is an identifier, False when the other browser got the same
    value; names the other browser never got are left out (not judged)."""
    first, second = _values(mine), _values(other)
    return {key: not (digests & second[key]) for key, digests in first.items() if key in second}


def verdict(found: bool, what: str) -> dict[str, Any]:
    """The verdict of an unknown name that was compared between two fresh browsers."""
    if found:
        return {"category": "identifier", "needs_consent": True, "evidence": "browser",
                "source": f"{what} differs between two fresh browsers: it tells visitors apart"}
    return {"category": "unknown", "needs_consent": None, "evidence": "browser",
            "source": f"{what} is the same for two fresh browsers: not an identifier"}
