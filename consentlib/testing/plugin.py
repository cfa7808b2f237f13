"""pytest plugin (registered by the ``pytest11`` entry point): the ``consent_browser`` fixture."""
from __future__ import annotations

import pytest


@pytest.fixture
def consent_browser():
    """Headless Chromium with a fresh profile, quit (and its profile removed) after the test."""
    from consentlib.testing.browser import chrome_driver

    driver = chrome_driver()
    try:
        yield driver
    finally:
        driver.quit()
