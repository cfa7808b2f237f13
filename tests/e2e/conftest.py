"""Fixtures the browser tests share."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def chrome():
    """One headless Chromium per test module (starting one costs about a second); each
    module's ``driver`` fixture resets what its tests need between them."""
    from consentlib.testing.browser import chrome_driver

    driver = chrome_driver()
    try:
        yield driver
    finally:
        driver.quit()
