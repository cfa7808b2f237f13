"""The audit's hands: find, wait and click in the page, always on a condition.

Every wait ends on what the page shows, never after a fixed sleep: when the thing looked
for appears, or when the page has gone quiet (:func:`consentlib.testing.instrument.quiet`:
loaded, nothing in flight, no DOM change for a second) without it, or at the timeout.
A page that is done and still shows no banner, or a banner still open after a click,
will not change by waiting longer.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from consentlib.testing import instrument
from consentlib.testing.banners import FIND_VISIBLE_JS

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

    from consentlib.testing.banners import Banner

T = TypeVar("T")

# A visible element named like a consent banner (id, class or label) that holds a button:
# a banner the audit does not know, which it cannot answer without --accept and --reject.
# Not "privacy" nor plain links: a footer's "Privacy policy" link is no banner.
LOOKS_LIKE_BANNER_JS = """
const words = /cookie|consent|gdpr|cmp/i;
const clickable = 'button, [role=button], input[type=button], input[type=submit]';
for (const el of document.querySelectorAll('body *')) {
  const name = (el.id || '') + ' ' + (typeof el.className === 'string' ? el.className : '') + ' ' +
               (el.getAttribute('aria-label') || '');
  if (!words.test(name) || !el.querySelector(clickable)) continue;
  const box = el.getBoundingClientRect(), style = getComputedStyle(el);
  if (box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none') return true;
}
return false;
"""

# What a consent manager may write in localStorage when it records a choice.
_LOCAL_JS = "try { return JSON.stringify(Object.entries(localStorage)); } catch (e) { return ''; }"


class Steps:
    """Finding, waiting and clicking in ``driver``; each wait bounded by ``timeout`` seconds."""

    driver: ChromiumDriver
    timeout: float

    def _find(self, selector: str) -> WebElement | None:
        found: WebElement | None = self.driver.execute_script(FIND_VISIBLE_JS, selector)
        return found

    def _wait_for_condition(self, condition: Callable[[], T | None], timeout: float | None = None) -> T | None:
        from selenium.common.exceptions import TimeoutException, WebDriverException

        from consentlib.testing.browser import wait_until

        def check(_driver: WebDriver) -> T | None:
            try:
                return condition()
            except WebDriverException:  # the page is navigating: not yet
                return None

        try:
            return wait_until(self.driver, check, self.timeout if timeout is None else timeout, poll=0.1)
        except TimeoutException:
            return None

    def _settle(self, condition: Callable[[], T | None]) -> T | None:
        """``condition()`` once it holds; None once the page is quiet without it (or at the timeout)."""
        outcome: list[T] = []

        def check() -> bool | None:
            found = condition()
            if found:
                outcome.append(found)
                return True
            return True if instrument.quiet(self.driver) else None

        self._wait_for_condition(check)
        return outcome[0] if outcome else None

    def _wait_for(self, selector: str) -> WebElement | None:
        """The first visible element for ``selector``, once it shows; None once the page is quiet."""
        return self._settle(lambda: self._find(selector))

    def _wait_ready(self) -> None:
        self._wait_for_condition(lambda: self.driver.execute_script("return document.readyState") == "complete")

    def _click(self, element: WebElement) -> None:
        from selenium.common.exceptions import WebDriverException

        instrument.touch(self.driver)  # the page's quiet is counted from the click on
        try:
            element.click()
        except WebDriverException:  # covered by another layer, or inside a shadow root
            self.driver.execute_script("arguments[0].click();", element)

    def _button(self, banner: Banner, selector: str) -> WebElement | None:
        """The banner's button for ``selector``: on its first layer, or behind its settings button."""
        element = self._wait_for(selector)
        if element is None and banner.settings and (more := self._find(banner.settings)) is not None:
            self._click(more)
            element = self._wait_for(selector)
        return element

    def _looks_like_banner(self) -> bool:
        return bool(self.driver.execute_script(LOOKS_LIKE_BANNER_JS))

    def _stored(self) -> Any:
        """The page's cookies (HttpOnly ones too) and localStorage, to see when a consent
        manager records a choice."""
        cookies = sorted((c.get("name", ""), c.get("value", "")) for c in self.driver.get_cookies())
        return cookies, self.driver.execute_script(_LOCAL_JS)
