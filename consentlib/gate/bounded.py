"""A cache for the request path whose memory is bounded by what it holds, not by a count.

Keys come from visitors (cookie names, ``Cookie`` headers, consent cookie values) and
from apps (``Set-Cookie`` names): a bound on the number of entries alone lets a few
thousand long, distinct headers hold hundreds of megabytes. Here each entry costs its
``size`` (its key's characters, or what the caller says it holds) plus a fixed overhead,
an entry larger than ``max_size`` is never kept, and when the next entry would pass
``budget`` the cache starts a new, empty generation.

Clearing is O(1) per insert and keeps lookups plain dict lookups; evicting the oldest
entry instead (``next(iter(d))``) scans the holes deletions leave at the front of a
dict, about 2.4 µs per insert once the cache is full.
"""
from __future__ import annotations

import threading
from collections.abc import Sized
from typing import TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Sized)  # a key's length is its default size
V = TypeVar("V")

# What an entry costs besides its key's characters: the str object (49 bytes), the dict
# slot, the value's references. Also bounds the count of entries with short keys.
ENTRY_OVERHEAD = 100


class BoundedCache(dict[K, V]):
    """A ``dict`` (read it with ``get`` or ``[]``) that :meth:`remember` keeps in budget.

    Thread-safe: inserts take a lock, reads need none (a read during a clear sees the
    entry or misses it, and a miss only means computing the value again).
    """

    __slots__ = ("budget", "max_size", "_used", "_lock")

    def __init__(self, *, budget: int, max_size: int) -> None:
        super().__init__()
        self.budget = budget
        self.max_size = max_size
        self._used = 0
        self._lock = threading.Lock()

    def remember(self, key: K, value: V, size: int | None = None) -> None:
        """Keep ``key`` -> ``value`` unless it is larger than ``max_size``.

        ``size`` defaults to ``len(key)``; pass more when the value holds as much again.
        """
        if size is None:
            size = len(key)
        if size > self.max_size:
            return
        cost = size + ENTRY_OVERHEAD
        with self._lock:
            if self._used + cost > self.budget:
                self.clear()
                self._used = 0
            self[key] = value
            self._used += cost

    @property
    def used(self) -> int:
        """What the entries held now cost, by the measure of :meth:`remember`."""
        return self._used
