"""Propagation: telling others (a mail provider, an analytics deletion API, a CRM) when
a visitor's consent or a recipient's permissions change (GDPR Art 7(3), 17(2), 19).

Every change is written to the store's queue in the same transaction as what it
reports, then delivered **at least once** to a handler, ``handler(change)``, by
:class:`ChangeDelivery` (in the web process: the ``on_change`` option of
``ConsentMiddleware`` and ``MailTracker``) or by ``consentlib changes deliver``.
A handler that raises is called again later (1 s, 2 s, 4 s ... up to an hour); a
worker killed while a change was in hand leaves it to be delivered again when its
lease ends. A change that was delivered is deleted from the queue.

A change is a dict::

    {"id": "5f0c...", "topic": "consent" | "mail", "kind": "consent" | "consent-erasure"
     | "unsubscribe" | "mail-tracking" | "mail-erasure", "time": "...Z",
     "data": {...}, "attempt": 1, "last_error": None}

Make a handler idempotent: "at least once" means the same change may arrive twice
(a crash after the handler succeeded, before the queue heard of it). Keep ``id`` where
the effect lands (a processed-ids table, the provider's idempotency key) and do nothing
for an id already seen; or make the effect one that can be repeated (unsubscribe an
address, delete a user: doing it twice changes nothing).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from consentlib.errors import ConfigurationError, StoreUnavailable

log = logging.getLogger("consentlib")

TOPICS = ("consent", "mail")
MAX_BACKOFF_SECONDS = 3600.0


class ChangeDelivery:
    """Delivers a store's queued changes of some ``topics`` to ``handler``.

    ``deliver_due()`` delivers what is due now (a cron job, a test); ``notify()`` wakes a
    background thread that does the same, also every ``poll`` seconds so that retries
    and changes written by other processes are picked up.
    """

    def __init__(self, store: Any, handler: Callable[[dict[str, Any]], Any], *,
                 topics: Sequence[str] | None = None, lease: float = 60.0, poll: float = 5.0, batch: int = 100) -> None:
        if not callable(handler):
            raise ConfigurationError("on_change must be a function that takes one change (a dict).")
        if topics is not None and not set(topics) <= set(TOPICS):
            raise ConfigurationError(f"topics must be among {', '.join(TOPICS)}, not {list(topics)!r}.")
        self.store = store
        self.handler = handler
        self.topics = tuple(topics) if topics else None
        self.lease = lease
        self.poll = poll
        self.batch = batch
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stopped = False

    def deliver_due(self) -> tuple[int, int]:
        """Deliver every change due now; return (delivered, failed)."""
        delivered = failed = 0
        while True:
            changes = self.store.claim_changes(topics=self.topics, limit=self.batch, lease_seconds=self.lease)
            if not changes:
                return delivered, failed
            for change in changes:
                try:
                    self.handler(change)
                except Exception as exc:  # the handler's failure is retried, never fatal
                    failed += 1
                    delay = min(2.0 ** (change["attempt"] - 1), MAX_BACKOFF_SECONDS)
                    log.warning("consentlib change %s (%s) failed, attempt %d; retrying in %.0f s: %s",
                                change["id"], change["kind"], change["attempt"], delay, exc)
                    self.store.finish_change(change["id"], error=f"{type(exc).__name__}: {exc}",
                                             retry_at=datetime.now(timezone.utc) + timedelta(seconds=delay))
                else:
                    delivered += 1
                    self.store.finish_change(change["id"])
            if len(changes) < self.batch or failed:
                return delivered, failed

    def notify(self) -> None:
        """Something was queued: deliver soon (starts the thread on first use)."""
        with self._lock:
            if self._pid != os.getpid():
                # Forked: the parent's thread does not exist here; start this process's own.
                self._thread, self._pid, self._wake = None, os.getpid(), threading.Event()
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="consentlib-changes", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stopped:
                return
            try:
                self.deliver_due()
            except StoreUnavailable:
                log.exception("consentlib could not read its change queue; trying again in %.0f s", self.poll)
