"""The banner in real headless Chromium: declared Web Storage keys of refused categories
are removed, and a separate category (PIPL) is asked apart on the second layer.

The page is served under ``Content-Security-Policy: script-src 'self'; style-src 'self'``.
What a page's scripts stored is set through the driver, as an analytics library would have
set it while it was allowed: ``_hjTest`` (declared analytics, ``_hj*``) in both storage
areas, ``theme`` (declared preferences, localStorage) and ``mine`` (declared by no one).
"""
from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from werkzeug.wrappers import Request, Response

from consentlib import Category, ConsentMiddleware, Policy, Storage
from consentlib.testing.browser import wait_until
from consentlib.web.tags import banner_tags

pytestmark = pytest.mark.e2e

CSP = "script-src 'self'; style-src 'self'"
POLICY = Policy(
    revision=1,
    categories=[
        Category("necessary", required=True, label="Strictly necessary"),
        Category("preferences", label="Preferences"),
        Category("analytics", label="Analytics"),
        Category("transfer", separate=True, label="Transfer abroad", description="Sends your data to China."),
    ],
    storage=[Storage("_hj*", "analytics", purpose="Heatmaps", third_party="Hotjar"),
             Storage("theme", "preferences", kind="local", purpose="Your colour scheme"),
             # Named like a Storage member: Object.keys(localStorage) does not list it.
             Storage("length", "analytics", kind="local")],
)
STORED = """
localStorage.setItem('_hjTest', '1'); localStorage.setItem('theme', 'dark'); localStorage.setItem('mine', 'kept');
sessionStorage.setItem('_hjTest', '1'); sessionStorage.setItem('other', 'kept');
"""
KEYS = "return [Object.keys(localStorage).sort(), Object.keys(sessionStorage).sort()];"


def site_app(environ, start_response):
    request = Request(environ)
    if request.path != "/":
        return Response("not found", status=404)(environ, start_response)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,">
{banner_tags(environ, prefix="/_consent/", revision=POLICY.revision, storage=POLICY.storage)}
</head><body><main><h1>Welcome</h1></main></body></html>"""
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP
    return response(environ, start_response)


@pytest.fixture
def driver(chrome):
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chrome.get_log("browser")
    return chrome


@pytest.fixture
def site(live_server, tmp_path):
    middleware = ConsentMiddleware(site_app, POLICY, secret_key=["e2e-secret-key-0123456789"],
                                   store=f"sqlite:///{tmp_path}/c.db")
    return middleware, live_server(middleware)


def wait(driver, condition, timeout=10):
    return wait_until(driver, condition, timeout)


def open_page(driver, url):
    driver.get(url + "/")
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))


def click(driver, element_id):
    wait(driver, EC.element_to_be_clickable((By.ID, element_id))).click()


def box(driver, name):
    return wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, f'input[name="category"][value="{name}"]')))


def banner_gone(driver):
    wait(driver, EC.invisibility_of_element_located((By.ID, "consent-banner")))


def reloaded(driver):
    """Reload and wait until the new document's banner script has run."""
    driver.execute_script("window.__old = true")
    driver.refresh()
    wait(driver, lambda d: d.execute_script("return document.readyState == 'complete' && !window.__old"))
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))


def granted(driver, url) -> list[str]:
    """What GET /_consent/ says this browser's visitor granted."""
    state = driver.execute_async_script(
        "var done = arguments[0]; fetch('/_consent/').then(function (r) { return r.text(); }).then(done);")
    return json.loads(state)["granted"]


def accept_all(driver, url):
    open_page(driver, url)
    click(driver, "consent-accept-all")
    banner_gone(driver)
    wait(driver, lambda d: d.get_cookie("consent"))


def test_reject_all_removes_the_declared_keys_of_refused_categories_and_leaves_the_rest(driver, site):
    _, url = site
    open_page(driver, url)
    driver.execute_script(STORED + "localStorage.setItem('length', 'x');")
    click(driver, "consent-reject-all")
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script(KEYS) == [["mine"], ["other"]])
    assert driver.execute_script("return localStorage.getItem('length')") is None
    assert driver.get_log("browser") == []


def test_a_withdrawal_on_the_second_layer_removes_the_keys_and_they_stay_gone(driver, site):
    _, url = site
    accept_all(driver, url)
    driver.execute_script(STORED)
    reloaded(driver)
    assert driver.execute_script(KEYS) == [["_hjTest", "mine", "theme"], ["_hjTest", "other"]], "granted: kept"
    click(driver, "consent-open")
    analytics = box(driver, "analytics")
    assert analytics.is_selected()
    analytics.click()
    driver.execute_script("window.__old = true")
    click(driver, "consent-save")
    # A withdrawal reloads the page (so the server can expire the withdrawn cookies).
    wait(driver, lambda d: d.execute_script("return document.readyState == 'complete' && !window.__old"))
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))
    assert driver.execute_script(KEYS) == [["mine", "theme"], ["other"]]


def test_a_refusal_made_on_the_no_js_preferences_page_is_honoured_on_the_next_page(driver, site):
    _, url = site
    accept_all(driver, url)
    driver.execute_script(STORED)
    driver.get(url + "/_consent/preferences")
    driver.find_element(By.CSS_SELECTOR, 'button[name="action"][value="reject_all"]').click()
    wait(driver, lambda d: "preferences" not in d.current_url)
    open_page(driver, url)
    wait(driver, lambda d: d.execute_script(KEYS) == [["mine"], ["other"]])


def test_accept_all_leaves_a_separate_category_off(driver, site):
    middleware, url = site
    accept_all(driver, url)
    assert granted(driver, url) == ["analytics", "necessary", "preferences"]
    assert "transfer" not in middleware.store.receipts()[-1]["granted"]


def test_a_separate_category_ticked_on_its_own_on_the_second_layer_is_granted(driver, site):
    middleware, url = site
    open_page(driver, url)
    click(driver, "consent-customize")
    transfer = box(driver, "transfer")
    assert not transfer.is_selected() and transfer.is_enabled()
    sentence = driver.find_element(By.ID, "consent-s-transfer")
    assert sentence.text.startswith("Transfer abroad needs your separate consent")
    assert sentence.is_displayed()
    transfer.click()
    click(driver, "consent-save")
    banner_gone(driver)
    assert granted(driver, url) == ["necessary", "transfer"]
    receipt = middleware.store.receipts()[-1]
    assert (receipt["method"], receipt["granted"]) == ("banner", ["necessary", "transfer"])
    assert receipt["categories"]["transfer"] == "given"
    assert driver.get_log("browser") == []
