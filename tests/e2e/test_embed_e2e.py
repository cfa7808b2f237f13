"""Click-to-load embeds in headless Chromium: a Flask page with ``consent_embed`` whose frame
is on a second local origin (a stand-in for YouTube), with and without ``third_party_csp``."""
from __future__ import annotations

import urllib.request

import pytest
from flask import Flask, render_template_string

from consentlib import Category, Host, Policy
from consentlib.flask import FlaskConsent
from consentlib.testing.browser import wait_until
from consentlib.testing.server import serve_wsgi

from tests.e2e.test_csp_e2e import driver, second_origin  # noqa: F401  # the fixtures

pytestmark = pytest.mark.e2e

KEYS = ["e2e-embed-key-0123456789abcdef"]
PAGE = """<!doctype html><html lang="en"><title>shop</title>
<h1>Our products</h1>
{{ consent_embed("marketing", src=other + "/frame.html", title="Product video", provider="VideoHost",
                 width="320", height="180") }}"""


def site(tmp_path, other: str, **options) -> Flask:
    port = other.rsplit(":", 1)[1]
    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics"),
                                            Category("marketing", label="Marketing")],
                    hosts=[Host(f"127.0.0.1:{port}", "marketing")])
    app = Flask("embed_e2e")
    FlaskConsent(app, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db", **options)
    app.add_url_rule("/", "home", lambda: render_template_string(PAGE, other=other))
    return app


@pytest.mark.parametrize("csp", [pytest.param({"third_party_csp": "enforce"}, id="csp-enforced"),
                                 pytest.param({}, id="no-csp")])
def test_one_click_on_the_placeholder_records_consent_and_loads_the_frame(tmp_path, second_origin, driver, csp):
    from selenium.webdriver.common.by import By

    origin, other = second_origin
    with serve_wsgi(site(tmp_path, other, **csp)) as url:
        with urllib.request.urlopen(url + "/") as first:
            policy = first.headers.get("Content-Security-Policy")
        # Enforced: before consent the policy keeps the provider's frame out.
        assert (policy is not None and "frame-src" in policy and other not in policy) == bool(csp)
        driver.get(url + "/")
        button = wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "form.consent-embed button"))
        assert button.text == "Load content from VideoHost"
        assert "the category Marketing" in driver.find_element(By.CSS_SELECTOR, "form.consent-embed p").text
        assert driver.find_elements(By.TAG_NAME, "iframe") == []
        assert origin.reached() == set()  # the page is loaded, and nothing went to the provider

        button.click()
        frame = wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "iframe[title='Product video']"))
        wait_until(driver, lambda d: "/frame.html" in origin.reached())
        # Back on the page, at the embed: the 303's Location ended in its #anchor.
        assert driver.current_url == f"{url}/#{frame.get_attribute('id')}"
        assert driver.find_elements(By.CSS_SELECTOR, "form.consent-embed") == []
        driver.switch_to.frame(frame)
        assert wait_until(driver, lambda d: d.find_element(By.TAG_NAME, "p").text) == "video"
        driver.switch_to.default_content()

        driver.get(url + "/_consent/receipts")
        receipt = wait_until(driver, lambda d: d.find_element(By.TAG_NAME, "main")).text
        assert "a button to load embedded content" in receipt and "Marketing" in receipt


def test_the_reference_sites_video_under_its_own_csp_and_third_party_csp(tmp_path, live_site, second_origin, driver):
    """The reference site (examples/flask_site), its home page's video on the second origin,
    under the site's own CSP and consentlib's enforced one: the visitor rejects all in the
    banner (its first layer is modal), nothing reaches the provider; one click on the
    placeholder allows marketing, and only marketing, and loads it."""
    from dataclasses import replace

    from selenium.webdriver.common.by import By

    from examples.flask_site.policy import POLICY

    origin, other = second_origin
    policy = replace(POLICY, hosts=[Host(other.split("://", 1)[1], "marketing", provider="VideoHost")])
    _, url = live_site(tmp_path / "instance", policy=policy, video=other + "/frame.html",
                       third_party_csp="enforce")
    driver.get(url + "/")
    reject = wait_until(driver, lambda d: d.find_element(By.XPATH, "//button[normalize-space()='Reject all']"))
    reject.click()
    wait_until(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ".cl-o"))
    button = driver.find_element(By.CSS_SELECTOR, "#video button")
    assert origin.reached() == set()
    button.click()
    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "iframe#video"))
    wait_until(driver, lambda d: "/frame.html" in origin.reached())
    assert driver.current_url == url + "/#video"
    assert driver.find_element(By.ID, "current-choice").text == "You allowed: marketing, necessary."
