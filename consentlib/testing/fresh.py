"""The second visitor: a brand-new browser profile that loads the audited pages once,
and, given the banner, answers it with "Reject all" and loads them again.

What it gets is compared with what the audit's browser got before a choice: values that
differ are identifiers (:mod:`consentlib.testing.identifiers`), ETags that differ for the
same body are per-visitor ETags (:mod:`consentlib.testing.etags`). It is started only
when one of these questions is open, since starting a browser costs more than auditing a
small site; it gets the same headers, language and instrumentation as the first.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from consentlib.testing import instrument, recorder
from consentlib.testing.recorder import Snapshot
from consentlib.testing.steps import Steps

if TYPE_CHECKING:
    from consentlib.testing.banners import Banner


class _Visitor(Steps):
    def __init__(self, driver: Any, timeout: float) -> None:
        self.driver = driver
        self.timeout = timeout

    def visit(self, state: str, pages: list[str]) -> list[Snapshot]:
        snapshots = []
        for page in pages:
            self.driver.get(page)  # returns once the page has loaded (Selenium's "normal" strategy)
            snapshots.append(recorder.record(self.driver, Snapshot(state, page), recorder.drain(self.driver)))
        return snapshots

    def reject(self, banner: Banner) -> bool:
        """Click the banner's "Reject all" on the current page; True once it closed."""
        element = self._button(banner, banner.reject)
        if element is None:
            return False
        stored = self._stored()
        self._click(element)
        if not self._settle(lambda: self._find(banner.banner) is None):
            return False
        self._settle(lambda: self._stored() != stored)
        return True


def second_visitor(pages: list[str], *, fresh_driver: Callable[[], Any] | None = None,
                   headers: Mapping[str, str] | None = None, lang: str | None = None,
                   banner: Banner | None = None, timeout: float = 10.0) -> list[Snapshot]:
    """The snapshots of ``pages`` in a new profile (quit afterwards): "before" each, then,
    given ``banner``, "rejected" each after answering it on the first page."""
    from consentlib.testing.browser import audit_driver

    driver = (fresh_driver or audit_driver)()
    try:
        instrument.prepare(driver, headers=headers, lang=lang)
        recorder.drain(driver)
        visitor = _Visitor(driver, timeout)
        snapshots = visitor.visit("before", pages)
        if banner is not None:
            driver.get(pages[0])
            if visitor.reject(banner):
                snapshots += visitor.visit("rejected", pages)
    finally:
        driver.quit()
    return snapshots
