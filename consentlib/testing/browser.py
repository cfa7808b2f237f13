"""Headless Chromium through the system's chromedriver, a fresh profile each time."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver as Chrome
    from selenium.webdriver.remote.webdriver import WebDriver

T = TypeVar("T")

CHROMIUM = os.environ.get("CONSENTLIB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CONSENTLIB_CHROMEDRIVER", "/usr/bin/chromedriver")

# Without the background-networking flags Chromium spends its start-up trying to reach
# Google's hosts; on a closed CI network every one of those attempts fails slowly.
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--window-size=1280,900",
)


# The audit's browser sees what a visitor's browser may store and send from every frame:
# third-party cookies accepted, as many browsers still do, so an iframe of another site can
# set its own. Debian's Chromium headless=new blocks them by default; the profile pref
# cookie_controls_mode 0 ("allow all") lifts that, block_third_party_cookies alone does
# not (measured); both are set for older builds. And frames of other sites kept in
# the page's renderer process, so the performance log (which follows the page's DevTools
# session only) has their requests too; with site isolation an iframe of another site
# runs in a process of its own and its requests never reach that log.
AUDIT_FLAGS = ("--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process")
AUDIT_PREFS: Mapping[str, Any] = {"profile.cookie_controls_mode": 0, "profile.block_third_party_cookies": False}


def audit_driver() -> Chrome:
    """:func:`chrome_driver` as the audit needs it: third-party cookies and every frame's requests."""
    return chrome_driver(extra_args=AUDIT_FLAGS, prefs=AUDIT_PREFS)


def chrome_driver(*, extra_args: Iterable[str] = (), prefs: Mapping[str, Any] | None = None) -> Chrome:
    """Start headless Chromium with a new, empty profile and return the WebDriver.

    The profile directory is removed when ``driver.quit()`` is called. Browser console
    messages and network events are captured (``driver.get_log("browser")`` and
    ``driver.get_log("performance")``) so tests can check CSP errors and requests.
    Selenium is pointed at the system chromedriver through ``Service`` so that
    Selenium Manager never tries to download a driver. ``prefs`` are profile
    preferences, e.g. ``{"intl.accept_languages": "zh-CN,zh"}`` for the languages the
    browser asks for (``Accept-Language``).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        raise RuntimeError(
            f"Chromium or chromedriver is missing ({CHROMIUM}, {CHROMEDRIVER}); "
            "install Debian's 'chromium' and 'chromium-driver' packages, or set "
            "CONSENTLIB_CHROMIUM and CONSENTLIB_CHROMEDRIVER."
        )
    profile = tempfile.mkdtemp(prefix="consentlib-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*_FLAGS, f"--user-data-dir={profile}", *extra_args):
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", dict(prefs))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    original_quit = driver.quit

    def quit_and_clean() -> None:
        try:
            original_quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean  # type: ignore[method-assign]  # so the profile goes with the driver
    return driver


def wait_until(driver: WebDriver, condition: Callable[[WebDriver], Literal[False] | T], timeout: float = 15.0, *,
               poll: float = 0.5) -> T:
    """``WebDriverWait(driver, timeout, poll).until(condition)``, robust to a page that changes.

    While a page navigates or re-renders, an element a condition just found can go
    stale before it is read; that is "not yet", not a failure, so it is retried like
    a missing element. Raises selenium's ``TimeoutException`` after ``timeout``.
    """
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=poll, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)
