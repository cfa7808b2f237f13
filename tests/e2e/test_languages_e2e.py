"""The banner and the pages in the browser's language: real headless Chromium set to
fr-FR, de-DE and ar, against the reference site on a real server. Arabic is right to left
on the banner and the page. CONSENTLIB_SCREENSHOTS=<folder> saves the banner of each (the
docs' screenshots: docs/screenshots/banner-<lang>.png)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from consentlib.testing.browser import chrome_driver
from tests.support.sitebrowser import open_with_banner, wait

pytestmark = pytest.mark.e2e

LANGUAGES = [
    # browser language, Accept-Language, expected tag, dir, the banner's Reject all, the page's title
    pytest.param("fr-FR", "fr-FR,fr", "fr", "ltr", "Tout refuser", "Choix de confidentialité", id="fr-FR"),
    pytest.param("de-DE", "de-DE,de", "de", "ltr", "Alle ablehnen", "Datenschutzeinstellungen", id="de-DE"),
    pytest.param("ar", "ar", "ar", "rtl", "رفض الكل", "خيارات الخصوصية", id="ar"),
]


@pytest.mark.parametrize("lang, accept, tag, direction, reject, title", LANGUAGES)
def test_banner_and_pages_in_the_browser_language(tmp_path, live_site, lang, accept, tag, direction, reject, title):
    driver = chrome_driver(extra_args=[f"--lang={lang}", "--window-size=900,700"],
                           prefs={"intl.accept_languages": accept})
    try:
        _, url = live_site(tmp_path / "instance")
        banner = open_with_banner(driver, url + "/")
        assert banner.get_attribute("lang") == tag
        assert banner.get_attribute("dir") == direction
        assert driver.find_element(By.ID, "consent-reject-all").text == reject
        assert driver.find_element(By.ID, "consent-title").text == title
        # Right to left is drawn so: the buttons run from the right, "Accept all" first.
        accept = driver.find_element(By.ID, "consent-accept-all").location["x"]
        assert (accept > driver.find_element(By.ID, "consent-reject-all").location["x"]) == (direction == "rtl")
        assert driver.execute_script("return getComputedStyle(arguments[0]).direction", banner) == direction
        if os.environ.get("CONSENTLIB_SCREENSHOTS"):
            folder = Path(os.environ["CONSENTLIB_SCREENSHOTS"])
            folder.mkdir(parents=True, exist_ok=True)
            banner.screenshot(str(folder / f"banner-{tag}.png"))
        # The second layer in the same language.
        driver.find_element(By.ID, "consent-customize").click()
        legend = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#consent-banner legend")))
        assert legend.text == {"fr": "Catégories", "de": "Kategorien", "ar": "الفئات"}[tag]
        driver.get(url + "/_consent/preferences")
        html = driver.find_element(By.TAG_NAME, "html")
        assert html.get_attribute("lang") == tag and html.get_attribute("dir") == direction
        assert driver.find_element(By.TAG_NAME, "h1").text == title
        assert driver.find_element(By.CSS_SELECTOR, 'button[value="reject_all"]').text == reject
    finally:
        driver.quit()
