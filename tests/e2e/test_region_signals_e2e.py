"""Regions in headless Chromium, against what a browser can send: the Global Privacy
Control in an opt-out region, and region headers the site did not name.

The CDN is played by a WSGI wrapper that overwrites ``CF-IPCountry`` and
``CF-Region-Code`` on every request, as Cloudflare does. The browser's own extra headers
go through the DevTools protocol (``Network.setExtraHTTPHeaders``), so they travel on
every request of the page, as an extension or a forging client would send them.
"""
from __future__ import annotations

import urllib.request

import pytest

from consentlib import ConsentMiddleware
from tests.e2e.test_regions_e2e import KEYS, POLICY, Cdn, names, shop

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path, live_server):
    """``site(country, region, headers=...)``: a browser on the shop behind the CDN, sending
    ``headers`` on every request; ``country=None`` is a shop that names no region header."""
    from consentlib.testing.browser import chrome_driver

    drivers = []

    def start(country: str | None, region: str = "", *, headers: dict[str, str] | None = None):
        options = {} if country is None else {"region_header": "CF-IPCountry",
                                              "subdivision_header": "CF-Region-Code"}
        middleware = ConsentMiddleware(shop, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/{len(drivers)}.db",
                                       **options)
        url = live_server(middleware if country is None else Cdn(middleware, country, region))
        driver = chrome_driver()
        drivers.append(driver)
        if headers:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
        return driver, url

    yield start
    for driver in drivers:
        driver.quit()


def test_a_californian_sending_gpc_is_opted_out_of_sale_or_sharing(site):
    # CCPA/CPRA, 11 CCR §7025(c)(1): in an opt-out region the Global Privacy Control is a
    # valid request to opt out of sale or sharing. Marketing (sale_or_share) stays off;
    # analytics, granted until she opts out on the page, still runs.
    driver, url = site("US", "CA", headers={"Sec-GPC": "1"})
    driver.get(url + "/")
    driver.get(url + "/")
    assert names(driver) == {"sid", "_ga"}


def test_without_gpc_the_same_californian_gets_marketing_too(site):
    # The control for the test above: the difference is the signal, not the set-up.
    driver, url = site("US", "CA")
    driver.get(url + "/")
    assert names(driver) == {"sid", "_ga", "ad_id"}


@pytest.mark.parametrize("forged", [
    pytest.param({"X-Vercel-IP-Country": "US", "X-Vercel-IP-Country-Region": "CA"}, id="vercel"),
    pytest.param({"CloudFront-Viewer-Country": "US", "CloudFront-Viewer-Country-Region": "CA"}, id="cloudfront"),
    pytest.param({"X-Country-Code": "US-CA", "X-Region": "US-CA"}, id="made-up"),
])
def test_a_region_header_the_site_did_not_name_changes_nothing(site, forged):
    # A German visitor (the CDN says DE) claiming California in headers the site never
    # named still gets the opt-in rules: nothing optional before a choice.
    driver, url = site("DE", headers=forged)
    driver.get(url + "/")
    driver.get(url + "/")
    assert names(driver) == {"sid"}


def test_a_site_that_names_no_region_header_ignores_the_cdn_headers_a_browser_forges(site):
    # No region_header configured: CF-IPCountry from the browser is only a claim, and the
    # visitor gets the default regime (opt-in).
    driver, url = site(None, headers={"CF-IPCountry": "US", "CF-Region-Code": "CA"})
    driver.get(url + "/")
    driver.get(url + "/")
    assert names(driver) == {"sid"}


def test_every_page_varies_on_the_region_headers_through_a_real_server(site):
    # RFC 9110 §12.5.5: a cache must not hand a Californian's page (analytics running) to a
    # German visitor, so the response names the headers that chose the regime.
    _, url = site("US", "CA")
    with urllib.request.urlopen(url + "/") as response:
        vary = {token.strip().lower() for line in response.headers.get_all("Vary") for token in line.split(",")}
    assert {"cf-ipcountry", "cf-region-code"} <= vary
