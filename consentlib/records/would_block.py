"""What report mode let through that enforce mode would have blocked: logged, counted, listed.

``mode="report"`` (see :mod:`consentlib.gate.report`) tells :class:`WouldBlock` of each
cookie, beacon, validator and third-party fetch it let through. Each distinct one is
logged once (``consentlib`` logger, WARNING); all are counted in memory and written to the
store's ``would_block`` table by a short-lived thread a few seconds later, so no request,
and no ASGI event loop, ever waits on the store for it. :func:`would_block` lists them.
"""
from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import Any

from consentlib.errors import StoreUnavailable

log = logging.getLogger("consentlib")

_WHY = {
    "cookie": "cookie {name!r}: the visitor's choice does not cover it (or the policy does not declare it)",
    "beacon": "beacon {name!r}: its category is not granted",
    "validator": "{name} validator: per-visitor validators need the policy's etags category",
    "csp": "third-party request to {name}: its host is not declared, or its category not granted",
}
# Distinct names counted: an app that puts ids in cookie names is reported once as such.
_NAMES_LIMIT = 1000
_FLUSH_AFTER = 5.0


class WouldBlock:
    """Counts what report mode let through, and writes the counts to ``store``."""

    def __init__(self, store: Any, *, flush_after: float = _FLUSH_AFTER) -> None:
        self.store = store
        self.flush_after = flush_after
        self._counts: dict[tuple[str, str], int] = {}
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._keeps = callable(getattr(store, "note_would_block", None))
        if not self._keeps:
            log.warning("consentlib is in report mode, but its store (%s) has no would_block table: what it "
                        "would block is logged, not counted. Use a SQLite or PostgreSQL store URL to count it.",
                        type(store).__name__)
        ref = weakref.ref(self)
        atexit.register(lambda: (lambda found: found.flush() if found is not None else None)(ref()))

    def note(self, kind: str, name: str) -> None:
        """One thing enforce mode would have blocked; logged the first time it is seen."""
        key = (kind, name)
        with self._lock:
            if key not in self._seen:
                if len(self._seen) >= _NAMES_LIMIT:
                    return
                self._seen.add(key)
                log.warning("consentlib (report mode) let through what it would block: %s.",
                            _WHY.get(kind, "{name}").format(name=name))
            if not self._keeps:
                return
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._timer is None:
                self._timer = threading.Timer(self.flush_after, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write the counts noted so far (a store that is down keeps them for the next try)."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._timer = None
        if not counts:
            return
        try:
            self.store.note_would_block(counts)
        except StoreUnavailable:
            log.exception("consentlib could not count what report mode let through; it tries again")
            with self._lock:
                for key, count in counts.items():
                    self._counts[key] = self._counts.get(key, 0) + count


def would_block(store: Any, kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """What report mode let through that enforce mode would have blocked, from ``store``
    (a Store, or a store URL): one dict per kind and name, with ``count``, ``first_seen``
    and ``last_seen``; only ``kinds`` (``"cookie"``, ``"beacon"``, ``"validator"``,
    ``"csp"``) if given."""
    if isinstance(store, str):
        from consentlib.store import open_store

        store = open_store(store)
    rows: list[dict[str, Any]] = store.would_block(kinds)
    return rows
