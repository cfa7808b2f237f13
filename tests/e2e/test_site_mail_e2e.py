"""The reference site's mail and minors journeys, end to end in real headless Chromium.

docs/rules.md, "Email": tracking an individual's opens needs that person's consent; the
one-click unsubscribe always works. docs/rules.md, "Children": below the age of digital
consent only a guardian's consent counts.
"""
from __future__ import annotations

import time
import urllib.request
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from consentlib.mail.endpoints import mail_endpoints
from tests.support.sitebrowser import choose, cookie_names, decide, wait

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path, live_site):
    return live_site(tmp_path / "instance")


def subscribe(driver, url, address, *, track: bool) -> int:
    if "consent" not in cookie_names(driver):
        decide(driver, url, "consent-reject-all")  # the banner is modal on a first visit
    driver.get(url + "/newsletter")
    driver.find_element(By.ID, "newsletter-email").send_keys(address)
    box = driver.find_element(By.ID, "newsletter-track")
    assert not box.is_selected()  # Consent: nothing pre-ticked
    if track:
        box.click()
    driver.find_element(By.ID, "newsletter-subscribe").click()
    link = wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#newsletter-sent a")))
    return int(link.get_attribute("href").rsplit("/", 1)[1])


def stats(app) -> dict:
    site = app.extensions["consentlib"]
    mail_endpoints(site).events.flush()
    rows = site.store.mail_stats(campaign="welcome")
    return rows[0] if rows else {}


def stats_page_number(driver, url, cls) -> int:
    driver.get(url + "/newsletter/stats")
    return int(driver.find_element(By.CSS_SELECTOR, f"#stats-welcome .{cls}").text)


def raw_mail(app, mail_id):
    return app.extensions["site_outbox"].get(mail_id, any_owner=True)


def test_email_open_without_tracking_permission_is_not_recorded(site, consent_browser):
    app, url = site
    mail_id = subscribe(consent_browser, url, "ben@example.com", track=False)
    consent_browser.get(f"{url}/outbox/{mail_id}")
    html = consent_browser.find_element(By.ID, "mail-html").get_attribute("innerHTML")
    assert "/_consent/m/o/" not in html and "/_consent/m/c/" not in html  # no pixel, no tracked links
    assert "/_consent/m/u/" in html  # but always a way out
    assert stats(app)["sent"] == 1 and stats(app)["human_opens"] == 0
    assert stats_page_number(consent_browser, url, "human-opens") == 0


def test_email_tracked_open_and_click_recorded_with_permission(site, consent_browser):
    app, url = site
    mail_id = subscribe(consent_browser, url, "ana@example.com", track=True)
    consent_browser.get(f"{url}/outbox/{mail_id}")
    # The browser fetches the pixel as a mail client would; opens are written in batches.
    wait(consent_browser, lambda d: stats(app).get("human_opens") == 1)
    assert stats_page_number(consent_browser, url, "human-opens") == 1

    # A click seconds after sending looks like a link scanner; read the clock a minute later.
    endpoints = mail_endpoints(app.extensions["consentlib"])
    endpoints.clock = lambda: time.time() + 60
    consent_browser.get(f"{url}/outbox/{mail_id}")
    consent_browser.find_element(By.CSS_SELECTOR, '#mail-html a[href*="/_consent/m/c/"]').click()
    wait(consent_browser, lambda d: d.current_url == url + "/privacy")
    wait(consent_browser, lambda d: stats(app).get("human_clicks") == 1)
    assert stats_page_number(consent_browser, url, "human-clicks") == 1
    assert stats(app)["scanner_clicks"] == 0


def test_email_unsubscribe_through_the_page_and_never_mailed_again(site, consent_browser):
    app, url = site
    mail_id = subscribe(consent_browser, url, "cy@example.com", track=True)
    consent_browser.get(f"{url}/outbox/{mail_id}")
    consent_browser.find_element(By.CSS_SELECTOR, '#mail-html a[href*="/_consent/m/u/"]').click()
    wait(consent_browser, ec.presence_of_element_located((By.CSS_SELECTOR, "form button[type=submit]")))
    assert stats(app).get("unsubscribes", 0) == 0  # GET only shows the page
    consent_browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(consent_browser, lambda d: "unsubscribed" in d.find_element(By.TAG_NAME, "main").text.lower())
    assert stats(app)["unsubscribes"] == 1
    assert stats_page_number(consent_browser, url, "unsubscribes") == 1
    consent_browser.get(url + "/newsletter")
    consent_browser.find_element(By.ID, "newsletter-email").send_keys("cy@example.com")
    consent_browser.find_element(By.ID, "newsletter-subscribe").click()
    wait(consent_browser, ec.presence_of_element_located((By.ID, "newsletter-suppressed")))
    assert len(app.extensions["site_outbox"].all()) == 1


def test_rfc8058_one_click_post_from_the_mail_header(site, consent_browser):
    app, url = site
    mail_id = subscribe(consent_browser, url, "dee@example.com", track=False)
    message = raw_mail(app, mail_id)
    reparsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert reparsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = str(reparsed["List-Unsubscribe"]).strip().split(",")[0].strip("<> ")
    request = urllib.request.Request(target, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:  # urllib would follow a redirect: none here
        assert response.status == 200 and response.url == target
    assert stats(app)["unsubscribes"] == 1
    assert stats_page_number(consent_browser, url, "unsubscribes") == 1


def test_children_guardian_journey_on_the_site(site, consent_browser):
    app, url = site
    consent_browser.get(url + "/kids")
    wait(consent_browser, ec.presence_of_element_located((By.ID, "guardian-form")))
    consent_browser.get(url + "/")
    banner = wait(consent_browser, ec.visibility_of_element_located((By.ID, "consent-banner")))
    assert not consent_browser.find_elements(By.ID, "consent-accept-all")  # no "Accept all" for a minor
    assert "guardian" in banner.text.lower()
    assert "_ga" not in cookie_names(consent_browser)

    choose(consent_browser, "consent-reject-all")  # a minor may always refuse
    consent_browser.get(url + "/kids")
    consent_browser.find_element(By.ID, "guardian-address").send_keys("parent@example.com")
    consent_browser.find_element(By.ID, "guardian-category-analytics").click()
    consent_browser.find_element(By.ID, "guardian-ask").click()
    # The browser is on /kids before and after the post: wait for what the post does.
    mails = wait(consent_browser, lambda d: app.extensions["site_outbox"].all())
    wait(consent_browser, lambda d: d.execute_script("return document.readyState") == "complete"
         and d.find_elements(By.ID, "guardian-form"))
    assert [m["recipient"] for m in mails] == ["parent@example.com"]
    consent_browser.get(url + "/")
    assert "_ga" not in cookie_names(consent_browser)  # not until the guardian answers

    # The guardian reads the mail in the outbox (which shows it to this browser only,
    # the one that asked) and follows the link.
    consent_browser.get(url + "/outbox")
    consent_browser.find_element(By.ID, f"outbox-mail-{mails[0]['id']}").click()
    wait(consent_browser, ec.element_to_be_clickable((By.ID, "guardian-link"))).click()
    wait(consent_browser, ec.element_to_be_clickable((By.ID, "guardian-allow"))).click()
    wait(consent_browser, ec.presence_of_element_located((By.ID, "guardian-withdraw")))

    consent_browser.get(url + "/kids")
    wait(consent_browser, lambda d: "_ga" in cookie_names(d))
    assert "analytics" in consent_browser.find_element(By.ID, "kids-allowed").text
    assert "_fbp" not in cookie_names(consent_browser)
