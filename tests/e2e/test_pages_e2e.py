"""The no-JavaScript preferences page in a Chinese browser: real headless Chromium whose
language is zh-CN, against the reference site on a real server (RFC 9110 §12.5.4)."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from consentlib.testing.browser import chrome_driver
from tests.support.sitebrowser import cookie_names, wait

pytestmark = pytest.mark.e2e


@pytest.fixture
def chinese_browser():
    driver = chrome_driver(extra_args=["--lang=zh-CN"], prefs={"intl.accept_languages": "zh-CN,zh"})
    yield driver
    driver.quit()


def test_preferences_page_in_a_zh_cn_browser_is_simplified_chinese(tmp_path, live_site, chinese_browser):
    _, url = live_site(tmp_path / "instance")
    chinese_browser.get(url + "/_consent/preferences")
    assert chinese_browser.find_element(By.TAG_NAME, "h1").text == "隐私选项"
    assert chinese_browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-Hans"
    reject = chinese_browser.find_element(By.CSS_SELECTOR, 'button[value="reject_all"]')
    assert reject.text == "全部拒绝"
    # The form still works in Chinese: the choice is recorded and the visitor sent back.
    reject.click()
    wait(chinese_browser, ec.url_to_be(url + "/"))
    assert {"consent", "consent_id"} <= cookie_names(chinese_browser)
