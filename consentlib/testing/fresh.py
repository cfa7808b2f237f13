"""The second visitor: a brand-new browser profile that loads the audited pages once.

What it gets is compared with what the audit's browser got before a choice: values that
differ are identifiers (:mod:`consentlib.testing.identifiers`), ETags that differ for the
same body are per-visitor ETags (:mod:`consentlib.testing.etags`). It is started only
when one of these questions is open, since starting a browser costs more than auditing a
small site; it gets the same headers, language and instrumentation as the first.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from consentlib.testing import instrument, recorder
from consentlib.testing.recorder import Snapshot


def second_visitor(pages: list[str], *, fresh_driver: Callable[[], Any] | None = None,
                   headers: Mapping[str, str] | None = None, lang: str | None = None) -> list[Snapshot]:
    """The "before" snapshot of each of ``pages`` in a new profile (quit afterwards)."""
    from consentlib.testing.browser import audit_driver

    driver = (fresh_driver or audit_driver)()
    snapshots = []
    try:
        instrument.prepare(driver, headers=headers, lang=lang)
        recorder.drain(driver)
        for page in pages:
            driver.get(page)  # returns once the page has loaded (Selenium's "normal" page load strategy)
            snapshots.append(recorder.record(driver, Snapshot("fresh", page), recorder.drain(driver)))
    finally:
        driver.quit()
    return snapshots
