"""Helpers for driving the reference site in Chromium, shared by its e2e tests."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from consentlib.testing.browser import wait_until

WAIT = 15


def wait(driver, condition):
    return wait_until(driver, condition, WAIT)


def cookie_names(driver) -> set[str]:
    return {c["name"] for c in driver.get_cookies()}


def open_with_banner(driver, url):
    driver.get(url)
    return wait(driver, ec.visibility_of_element_located((By.ID, "consent-banner")))


def click(driver, element_id):
    wait(driver, ec.element_to_be_clickable((By.ID, element_id))).click()


def choose(driver, button_id):
    """Click a banner button and wait until the choice is saved: the banner posts in the
    background, and a navigation before the answer would lose it."""
    click(driver, button_id)
    wait(driver, lambda d: "consent" in cookie_names(d))


def decide(driver, url, button_id):
    """A first visit to ``url`` answered with ``button_id``, as a visitor would."""
    open_with_banner(driver, url + "/")
    choose(driver, button_id)
