"""pytest plugin (registered by the ``pytest11`` entry point): the ``consent_browser`` fixture.

The entry point loads this module into every pytest run of a project that has
consentlib installed, with or without the ``testing`` extra. Without selenium it
defines nothing, so a project that never asked for the browser fixture sees no
fixture that could only fail.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver as Chrome

HAS_BROWSER_DEPENDENCIES = importlib.util.find_spec("selenium") is not None

if HAS_BROWSER_DEPENDENCIES:

    @pytest.fixture
    def consent_browser() -> Iterator[Chrome]:
        """Headless Chromium with a fresh profile, quit (and its profile removed) after the test."""
        from consentlib.testing.browser import chrome_driver

        driver = chrome_driver()
        try:
            yield driver
        finally:
            driver.quit()
