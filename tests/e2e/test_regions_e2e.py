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

    driver, url, middleware = browse("US", "CA")
    driver.get(url + "/")
    assert {"sid", "_ga", "ad_id"} <= names(driver)
    driver.get(url + "/_consent/opt-out?next=/")
    assert "Do Not Sell or Share My Personal Information" in driver.page_source
    driver.find_element(By.CSS_SELECTOR, "button[value=opt_out]").click()
    # Back on the shop: the opt-out expired the cookies it sent, and none is set again.
    driver.get(url + "/")
    assert names(driver) == {"sid", "consent", "consent_id"}
    receipt = middleware.store.receipts()[-1]
    assert (receipt["method"], receipt["region"]) == ("opt-out", "US-CA")
