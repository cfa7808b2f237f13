"""The FastAPI example (examples/fastapi_site/) under uvicorn, in real headless Chromium.

ePrivacy Art 5(3) end to end through the ASGI door: after "Reject all" and a reload no
refused cookie, beacon or per-visitor ETag reaches the browser or the app; after
"Accept all" and a reload they do.
"""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from consentlib.testing.server import serve_asgi
from examples.fastapi_site import create_app
from tests.support.sitebrowser import choose, cookie_names, open_with_banner, wait

pytestmark = pytest.mark.e2e

REFUSED = {"theme", "_ga", "_fbp"}


@pytest.fixture
def site(tmp_path):
    app = create_app(secret_key="e2e-key-" + "x" * 24, store=f"sqlite:///{tmp_path}/consent.db")
    with serve_asgi(app) as url:
        yield app, url


def _etag_visitor(driver, url: str) -> str:
    driver.get(url + "/etag-demo")
    return wait(driver, ec.presence_of_element_located((By.ID, "etag-visitor"))).text


def test_eprivacy_fastapi_reject_reload_nothing_refused_arrives(site, consent_browser):
    app, url = site
    open_with_banner(consent_browser, url + "/")
    assert "sid" in cookie_names(consent_browser) and not REFUSED & cookie_names(consent_browser)
    choose(consent_browser, "consent-reject-all")
    consent_browser.refresh()
    wait(consent_browser, ec.presence_of_element_located((By.ID, "consent-open")))
    assert not REFUSED & cookie_names(consent_browser)
    assert "not chosen" not in consent_browser.find_element(By.ID, "current-choice").text
    # The ETag trick: the app hands out a unique ETag and looks for it on revalidation.
    first = _etag_visitor(consent_browser, url)
    second = _etag_visitor(consent_browser, url)
    assert first != second  # never recognised: its ETag never reached the browser
    assert app.state.hits["analytics"] == 0  # the analytics script stayed inert


def test_eprivacy_fastapi_accept_reload_analytics_cookie_present(site, consent_browser):
    app, url = site
    open_with_banner(consent_browser, url + "/")
    choose(consent_browser, "consent-accept-all")
    consent_browser.refresh()
    wait(consent_browser, lambda d: REFUSED <= cookie_names(d))
    # The analytics script runs and its beacon reaches the app.
    wait(consent_browser, lambda d: app.state.hits["analytics"] >= 1)
    first = _etag_visitor(consent_browser, url)
    assert wait(consent_browser, lambda d: _etag_visitor(d, url) == first)
