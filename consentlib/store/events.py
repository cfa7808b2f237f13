"""The buffer that batches mail open events into the store.

Opens are engagement statistics, not legal records: writing them one transaction (one
fsync, ``synchronous=FULL``) per pixel hit would make the pixel the slowest URL of the
site. Unsubscribes and tracking permissions never pass through here.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from consentlib.store.mail import MailEvent

if TYPE_CHECKING:
    from consentlib.store import Store

log = logging.getLogger("consentlib")


class EventBuffer:
    """Batches mail events into the store: a background thread writes them every
    ``interval`` seconds, or sooner once ``batch`` are waiting, and at exit.

    Loss window: events still in the buffer when the process dies without running its
    exit handlers (SIGKILL, a crash, power loss) — at most ``interval`` seconds or
    ``batch`` events. Opens are engagement statistics, not legal records; unsubscribes
    and permissions never pass through here. Beyond ``limit`` waiting events (the store
    is down) new ones are dropped and logged rather than growing memory without bound.
    """

    def __init__(self, store: Store, *, interval: float = 0.5, batch: int = 500, limit: int = 50_000) -> None:
        self.store = store
        self.interval = interval
        self.batch = batch
        self.limit = limit
        self.dropped = 0
        self._events: list[MailEvent] = []
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        # A weak reference: the exit handler must not keep a discarded buffer alive.
        ref = weakref.ref(self)

        def close_at_exit() -> None:
            buffer = ref()
            if buffer is not None:
                buffer.close()

        atexit.register(close_at_exit)

    def add(self, event: MailEvent) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # Forked after events were queued: the parent writes its own; start afresh.
                self._events, self._thread, self._pid = [], None, os.getpid()
            if len(self._events) >= self.limit:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.error("consentlib dropped %d mail event(s): the store is not keeping up", self.dropped)
                return
            self._events.append(event)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="consentlib-mail-events", daemon=True)
                self._thread.start()
            if len(self._events) >= self.batch:
                self._lock.notify()

    def flush(self) -> int:
        """Write every waiting event now; return how many the store kept."""
        with self._lock:
            events, self._events = self._events, []
        return self._write(events)

    def close(self) -> None:
        """Stop the thread and write what is left (also run at interpreter exit)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._lock.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                if len(self._events) < self.batch:
                    self._lock.wait(self.interval)
                if self._closed:
                    return
                events, self._events = self._events, []
            self._write(events)

    def _write(self, events: Iterable[MailEvent]) -> int:
        events = list(events)
        if not events:
            return 0
        from consentlib.errors import StoreUnavailable

        try:
            return self.store.add_mail_events(events)
        except StoreUnavailable:
            log.exception("consentlib could not record %d mail event(s)", len(events))
            return 0
