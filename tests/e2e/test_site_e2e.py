"""The reference site, end to end: a real server on 127.0.0.1 and real headless Chromium.

Each test names the rule (docs/rules.md) it proves. Waits are on conditions, never on time.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.support.sitebrowser import choose, click, cookie_names, decide, open_with_banner, wait

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(tmp_path, live_site):
    return live_site(tmp_path / "instance")


def test_consent_nothing_preticked_first_visit_sets_only_necessary(site, consent_browser):
    app, url = site
    open_with_banner(consent_browser, url + "/")
    assert cookie_names(consent_browser) == {"sid"}
    assert app.extensions["site_counters"].all() == {}
    assert "not chosen yet" in consent_browser.find_element(By.ID, "current-choice").text


def test_consent_reject_all_is_honoured_after_reload(site, consent_browser):
    app, url = site
    decide(consent_browser, url, "consent-reject-all")
    consent_browser.refresh()
    wait(consent_browser, ec.presence_of_element_located((By.ID, "current-choice")))
    assert cookie_names(consent_browser) == {"consent", "consent_id", "sid"}
    assert not [b for b in consent_browser.find_elements(By.ID, "consent-banner") if b.is_displayed()]
    assert app.extensions["site_counters"].all() == {}


def test_eprivacy_after_reject_all_no_script_can_read_the_consent_id(site, consent_browser):
    # ePrivacy Art 5(3): after "Reject all", no script on the page can read a lasting
    # identifier, not in document.cookie (decoded as a script would), not by fetching or
    # framing the receipts; the choice is still honoured after a reload.
    _, url = site
    decide(consent_browser, url, "consent-reject-all")
    consent_browser.refresh()
    wait(consent_browser, ec.presence_of_element_located((By.ID, "current-choice")))
    assert not [b for b in consent_browser.find_elements(By.ID, "consent-banner") if b.is_displayed()]
    readable = consent_browser.execute_script("return document.cookie")
    decoded = consent_browser.execute_script(
        "return document.cookie.split(/;\\s*/).map(c => { const v = c.slice(c.indexOf('=') + 1).replace(/\"/g, '');"
        " try { return atob(v.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')); } catch (e) { return ''; } })"
        ".join(' ');")
    fetched = consent_browser.execute_async_script(
        "const done = arguments[0];"
        "fetch('/_consent/receipts').then(r => r.text().then(t => done([r.status, t])));")
    framed = consent_browser.execute_async_script(
        "const done = arguments[0], f = document.createElement('iframe');"
        "f.onload = () => { let t = null; try { t = f.contentDocument.body.innerText; } catch (e) {} done(t); };"
        "f.src = '/_consent/receipts'; document.body.appendChild(f);")
    # The visitor who opens the address sees their receipts (a page for a person), and the
    # id scripts could not read.
    consent_browser.get(url + "/_consent/receipts")
    page = consent_browser.find_element(By.TAG_NAME, "body").text
    ids = re.findall(r"\b[0-9a-f]{32}\b", page)
    assert len(set(ids)) == 1, page
    consent_id = ids[0]
    assert len(consent_browser.find_elements(By.CSS_SELECTOR, "#consent-receipts tbody tr")) == 1
    assert '"c":["necessary"]' in decoded  # the banner's part of the cookie was read
    assert consent_id not in readable and consent_id not in decoded
    assert re.search(r"[0-9a-f]{32}", readable + decoded) is None
    assert fetched[0] == 403 and consent_id not in fetched[1]
    assert not framed or consent_id not in framed
    assert consent_browser.get_cookie("consent_id")["httpOnly"] is True


def test_consent_accept_all_lets_tracking_through(site, consent_browser):
    app, url = site
    open_with_banner(consent_browser, url + "/")
    click(consent_browser, "consent-accept-all")
    # The banner switches the analytics script and the ad image on without a reload.
    wait(consent_browser, lambda d: app.extensions["site_counters"].all().get("analytics", 0) >= 1)
    wait(consent_browser, lambda d: app.extensions["site_counters"].all().get("marketing", 0) >= 1)
    consent_browser.refresh()
    wait(consent_browser, lambda d: {"_ga", "_fbp", "theme", "sid", "consent"} <= cookie_names(d))
    assert "analytics" in consent_browser.find_element(By.ID, "current-choice").text


def test_consent_per_purpose_customize_grants_only_what_was_ticked(site, consent_browser):
    app, url = site
    open_with_banner(consent_browser, url + "/")
    click(consent_browser, "consent-customize")
    box = wait(consent_browser, ec.element_to_be_clickable((By.CSS_SELECTOR, 'input[name="category"][value="analytics"]')))
    box.click()
    choose(consent_browser, "consent-save")
    consent_browser.refresh()
    wait(consent_browser, lambda d: "_ga" in cookie_names(d))
    assert "_fbp" not in cookie_names(consent_browser)
    assert "theme" not in cookie_names(consent_browser)
    wait(consent_browser, lambda d: app.extensions["site_counters"].all().get("analytics", 0) >= 1)
    assert "marketing" not in app.extensions["site_counters"].all()


def test_consent_withdrawal_from_cookie_page_deletes_cookies(site, consent_browser):
    _, url = site
    decide(consent_browser, url, "consent-accept-all")
    consent_browser.get(url + "/privacy/cookies")
    wait(consent_browser, lambda d: {"_ga", "_fbp", "theme"} <= cookie_names(d))
    switch = consent_browser.find_element(By.ID, "switch-analytics")
    assert switch.is_selected()
    click(consent_browser, "cookies-withdraw")
    wait(consent_browser, lambda d: not ({"_ga", "_fbp", "theme"} & cookie_names(d)))
    assert consent_browser.current_url == url + "/privacy/cookies"
    assert not consent_browser.find_element(By.ID, "switch-analytics").is_selected()


def test_consent_cookie_page_works_without_javascript(site, tmp_path):
    from consentlib.testing.browser import chrome_driver

    _, url = site
    driver = chrome_driver()
    try:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        driver.get(url + "/privacy/cookies")
        driver.find_element(By.ID, "switch-preferences").click()
        driver.find_element(By.ID, "cookies-save").click()
        wait(driver, lambda d: "theme" in cookie_names(d))
        assert "_ga" not in cookie_names(driver)
        assert driver.find_element(By.ID, "switch-preferences").is_selected()
    finally:
        driver.quit()


def test_eprivacy_etag_demo_cannot_recognise_without_consent(site, consent_browser):
    _, url = site
    decide(consent_browser, url, "consent-reject-all")
    consent_browser.get(url + "/etag-demo")
    first = consent_browser.find_element(By.ID, "etag-visitor").text
    consent_browser.refresh()
    wait(consent_browser, lambda d: d.find_element(By.ID, "etag-visitor").text != first)
    assert "new visitor" in consent_browser.find_element(By.ID, "etag-verdict").text


def test_eprivacy_etag_demo_recognises_with_consent(site, consent_browser):
    _, url = site
    decide(consent_browser, url, "consent-accept-all")
    consent_browser.get(url + "/etag-demo")
    first = consent_browser.find_element(By.ID, "etag-visitor").text
    consent_browser.refresh()
    wait(consent_browser, lambda d: "recognised" in d.find_element(By.ID, "etag-verdict").text)
    assert consent_browser.find_element(By.ID, "etag-visitor").text == first


def test_screenshots_for_readme(site, consent_browser):
    """The README shows the banner and the cookie-controls page as they really render."""
    _, url = site
    consent_browser.set_window_size(1100, 800)
    open_with_banner(consent_browser, url + "/")
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    assert consent_browser.save_screenshot(str(target / "banner.png"))
    choose(consent_browser, "consent-reject-all")
    consent_browser.get(url + "/privacy/cookies")
    wait(consent_browser, ec.presence_of_element_located((By.ID, "cookie-table")))
    assert consent_browser.save_screenshot(str(target / "cookie-controls.png"))
    assert (target / "banner.png").stat().st_size > 5000
