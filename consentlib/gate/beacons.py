"""Which request paths are beacons, and which of them a visitor's consent blocks.

ePrivacy Art 5(3): a beacon hit reads the visitor's device. Without the beacon's
category the app must not even see the request, so every door asks :class:`Routes`
first and answers a blocked beacon itself, with nothing that can track.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from consentlib.gate.paths import router_path
from consentlib.declarations import Beacon

log = logging.getLogger("consentlib")

#: The GPC support resource (GPC spec §3.1), answered with the consent endpoints.
GPC_WELL_KNOWN = "/.well-known/gpc.json"
#: Where :meth:`Routes.route` sends a request: to the app, to the consent endpoints, or
#: nowhere (a beacon whose category is not granted, which the door answers itself).
APP, ENDPOINT, BLOCKED = 0, 1, 2


class BeaconPaths:
    """The declared beacons, looked up as the app's router could route a path."""

    def __init__(self, beacons: Sequence[Beacon]) -> None:
        self.beacons = tuple(beacons)
        exact: dict[str, Beacon] = {}
        for beacon in self.beacons:
            if not beacon.path.endswith("/"):
                exact.setdefault(beacon.path, beacon)  # the first declaration wins
        self._exact = exact
        self._prefixes = tuple(b.path for b in self.beacons if b.path.endswith("/"))
        # router_path only removes and merges separators and dot segments, or decodes an
        # escape: any spelling of a beacon holds its longest segment as it is, or a '%'.
        marks = {max(b.path.split("/"), key=len) for b in self.beacons}
        #: Texts one of which any spelling of a declared beacon holds (none without beacons).
        self.marks = tuple(sorted(marks)) + ("%",) if self.beacons else ()

    def __bool__(self) -> bool:
        return bool(self.beacons)

    def find(self, path: str) -> Beacon | None:
        """The beacon declared for ``path`` (a ``PATH_INFO``, decoded once) as the app's
        router could route it: an exact path first, then the first prefix.

        Read as :func:`~consentlib.gate.paths.router_path` reads it, and a trailing slash
        does not count, so ``//collect``, ``/%2Fcollect`` and ``/collect/`` are the
        beacon ``/collect``.
        """
        found = self._exact.get(path)
        if found is not None:
            return found
        for mark in self.marks:
            if mark in path:
                break
        else:
            return None  # the common case, decided in a few substring tests
        # A router that resolves dot segments and one that does not route
        # /track/../x differently: either could reach a beacon's view (fail closed).
        for form in (path, router_path(path), router_path(path, resolve_dots=False)):
            found = self._exact.get(form) or self._exact.get(form.rstrip("/")) or self._prefix(form)
            if found is not None:
                return found
        return None

    def find_mounted(self, path: str, mount: str = "") -> Beacon | None:
        """:meth:`find` for ``path`` below ``mount`` (``SCRIPT_NAME``, ASGI's ``root_path``):
        a beacon may be declared relative to the mount or as the browser asks for it."""
        beacon = self.find(path)
        if beacon is None and mount:
            # The extra '/' makes router_path merge whatever slashes meet here.
            beacon = self.find(mount + "/" + path)
        return beacon

    def _prefix(self, path: str) -> Beacon | None:
        if not self._prefixes or not path.startswith(self._prefixes):
            return None
        for beacon in self.beacons:
            if beacon.path.endswith("/") and path.startswith(beacon.path):
                return beacon
        return None


class Routes:
    """Where a request goes: to the consent endpoints, to the app, or nowhere (a beacon
    whose category the visitor has not granted)."""

    def __init__(self, prefix: str, beacons: Sequence[Beacon]) -> None:
        self.prefix = prefix
        self.beacons = BeaconPaths(beacons)
        self._has_beacons = bool(self.beacons)
        self._marks = self.beacons.marks

    def route(self, path: str, granted: frozenset[str], mount: str = "") -> int:
        """Where a request for ``path`` (below ``mount``) goes: :data:`ENDPOINT`,
        :data:`BLOCKED` (:meth:`blocks_beacon`) or :data:`APP`.

        One call for what every request asks, the common case decided inline: a path
        that holds no beacon's mark, under a mount that holds none, is no spelling of a
        beacon (see BeaconPaths.find); a mark cannot straddle the two, having no '/'.
        """
        if path.startswith(self.prefix) or path == GPC_WELL_KNOWN:
            return ENDPOINT
        for mark in self._marks:
            if mark in path or (mount and mark in mount):
                return BLOCKED if self.blocks_beacon(path, granted, mount) else APP
        return APP

    def is_endpoint(self, path: str) -> bool:
        """Whether ``path`` is answered by the consent endpoints, never by the app."""
        return path.startswith(self.prefix) or path == GPC_WELL_KNOWN

    def blocks_beacon(self, path: str, granted: frozenset[str], mount: str = "") -> bool:
        """Whether ``path`` (below ``mount``) is a beacon whose category ``granted`` lacks."""
        if not self._has_beacons:
            return False
        beacon = self.beacons.find_mounted(path, mount)
        if beacon is None or beacon.category in granted:
            return False
        if log.isEnabledFor(logging.DEBUG):
            log.debug("consentlib answered beacon %s itself: its category %r is not granted", path, beacon.category)
        return True
