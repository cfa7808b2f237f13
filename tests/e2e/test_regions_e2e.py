"""Regions in headless Chromium: the same site, visited from Germany and from California.

A tiny WSGI wrapper plays the CDN: it overwrites ``CF-IPCountry`` and ``CF-Region-Code``
on every request, as Cloudflare does, with the place the test is visiting from.
"""
from __future__ import annotations

import pytest

from consentlib import Category, ConsentMiddleware, Cookie, Policy, Region

pytestmark = pytest.mark.e2e

KEYS = ["test-key-newest-0123456789"]
POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics"),
                Category("marketing", sale_or_share=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("_ga", "analytics"), Cookie("ad_id", "marketing")],
    regions=[Region("EEA", "opt-in", ["DE"]), Region("California", "opt-out", ["US-CA"])],
)
PAGE = b"<!doctype html><html><head><title>shop</title></head><body><p>Hello.</p></body></html>"


def shop(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                              ("Set-Cookie", "sid=s; Path=/"), ("Set-Cookie", "_ga=g; Path=/"),
                              ("Set-Cookie", "ad_id=a; Path=/")])
    return [PAGE]


class Cdn:
    """Sets the trusted region headers on every request, whatever the browser sent."""

    def __init__(self, app, country: str, region: str = "") -> None:
        self.app, self.country, self.region = app, country, region

    def __call__(self, environ, start_response):
        environ["HTTP_CF_IPCOUNTRY"] = self.country
        environ["HTTP_CF_REGION_CODE"] = self.region
        return self.app(environ, start_response)


@pytest.fixture
def browse(tmp_path, live_server):
    from consentlib.testing.browser import chrome_driver

    drivers = []

    def start(country: str, region: str = ""):
        middleware = ConsentMiddleware(shop, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/{country}.db",
                                       region_header="CF-IPCountry", subdivision_header="CF-Region-Code")
        url = live_server(Cdn(middleware, country, region))
        driver = chrome_driver()
        drivers.append(driver)
        return driver, url, middleware

    yield start
    for driver in drivers:
        driver.quit()


def names(driver) -> set[str]:
    return {cookie["name"] for cookie in driver.get_cookies()}


def test_a_german_visitor_gets_no_analytics_cookie_before_a_choice(browse):
    driver, url, _ = browse("DE")
    driver.get(url + "/")
    driver.get(url + "/")
    assert names(driver) == {"sid"}


def test_a_californian_is_tracked_until_she_opts_out_on_the_opt_out_page(browse):
    from selenium.webdriver.common.by import By

    from consentlib.testing.browser import wait_until

    driver, url, middleware = browse("US", "CA")
    driver.get(url + "/")
    assert {"sid", "_ga", "ad_id"} <= names(driver)
    driver.get(url + "/_consent/opt-out?next=/")
    assert "Do Not Sell or Share My Personal Information" in driver.page_source
    driver.find_element(By.CSS_SELECTOR, "button[value=opt_out]").click()
    # The opt-out is answered (its consent cookie set) before the next page is asked
    # for: navigating at once could cancel the form's post in flight.
    wait_until(driver, lambda d: "consent" in names(d), 10)
    # Back on the shop: the opt-out expired the cookies it sent, and none is set again.
    driver.get(url + "/")
    assert names(driver) == {"sid", "consent", "consent_id"}
    receipt = middleware.store.receipts()[-1]
    assert (receipt["method"], receipt["region"]) == ("opt-out", "US-CA")


# -- the banner: a notice where the regime grants before a choice -------------------------------

ANALYTICS = b"window.analyticsRan = (window.analyticsRan || 0) + 1;"


def shop_with_banner(environ, start_response):
    """A page with the banner and an analytics script gated on consent."""
    from consentlib.web.tags import banner_tags

    if environ["PATH_INFO"] == "/static/analytics.js":
        start_response("200 OK", [("Content-Type", "text/javascript")])
        return [ANALYTICS]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shop</title>
<link rel="icon" href="data:,">{banner_tags(environ, prefix="/_consent/", revision=POLICY.revision)}</head>
<body><p>Hello.</p><script type="text/plain" data-consent="analytics" data-consent-src="/static/analytics.js">
</script></body></html>"""
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
    return [page.encode()]


@pytest.fixture
def visit(tmp_path, live_server):
    from consentlib.testing.browser import chrome_driver

    drivers = []

    def start(country: str, region: str = ""):
        middleware = ConsentMiddleware(shop_with_banner, POLICY, secret_key=KEYS,
                                       store=f"sqlite:///{tmp_path}/banner-{country}.db",
                                       region_header="CF-IPCountry", subdivision_header="CF-Region-Code")
        url = live_server(Cdn(middleware, country, region))
        driver = chrome_driver()
        drivers.append(driver)
        return driver, url

    yield start
    for driver in drivers:
        driver.quit()


def _banner(driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    from consentlib.testing.browser import wait_until

    return wait_until(driver, EC.visibility_of_element_located((By.ID, "consent-banner")), 10)


def _analytics_ran(driver) -> bool:
    return bool(driver.execute_script("return window.analyticsRan"))


def test_a_californian_sees_a_notice_with_the_opt_out_link_and_analytics_runs_until_she_opts_out(visit):
    from selenium.webdriver.common.by import By

    from consentlib.testing.browser import wait_until

    driver, url = visit("US", "CA")
    driver.get(url + "/")
    notice = _banner(driver)
    link = notice.find_element(By.ID, "consent-opt-out")
    assert link.text == "Do Not Sell or Share My Personal Information"
    # A notice, not a question: no Accept/Reject pair, and analytics runs without a click.
    assert notice.find_elements(By.ID, "consent-accept-all") == []
    assert notice.find_elements(By.ID, "consent-reject-all") == []
    wait_until(driver, lambda d: _analytics_ran(d), 10)
    link.click()
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[value=opt_out]"), 10)
    driver.find_element(By.CSS_SELECTOR, "button[value=opt_out]").click()
    wait_until(driver, lambda d: "consent" in names(d), 10)  # answered before navigating on
    driver.get(url + "/")
    # Opted out: decided, so no notice, and the analytics script stays inert.
    wait_until(driver, lambda d: d.find_elements(By.ID, "consent-open"), 10)
    assert driver.find_elements(By.ID, "consent-banner") == []
    assert not _analytics_ran(driver)
    assert driver.find_element(By.CSS_SELECTOR, 'script[data-consent="analytics"]').get_attribute("type") == "text/plain"


def test_a_dismissed_notice_stays_away_on_the_next_page(visit):
    from selenium.webdriver.common.by import By

    from consentlib.testing.browser import wait_until

    driver, url = visit("US", "CA")
    driver.get(url + "/")
    _banner(driver).find_element(By.ID, "consent-save").click()
    assert driver.find_elements(By.ID, "consent-banner") == []
    driver.get(url + "/")
    wait_until(driver, lambda d: _analytics_ran(d), 10)
    assert driver.find_elements(By.ID, "consent-banner") == []
    assert "consent" not in names(driver), "dismissing a notice records nothing"


def test_a_german_visitor_still_gets_the_ask_first_banner(visit):
    from selenium.webdriver.common.by import By

    driver, url = visit("DE")
    driver.get(url + "/")
    banner = _banner(driver)
    assert banner.find_element(By.ID, "consent-accept-all").is_displayed()
    assert banner.find_element(By.ID, "consent-reject-all").is_displayed()
    assert banner.find_elements(By.ID, "consent-opt-out") == []
    assert not _analytics_ran(driver)
