"""The Django door: ``consentlib.django.ConsentMiddleware`` first in ``MIDDLEWARE``.

The gating, withdrawal, beacon and GPC header tables run against Django through the
``KINDS`` fixtures of test_middleware.py, test_endpoints.py and test_consent_cookie.py
(the "django" kind is a project with the native middleware, session and CSRF
middleware); this file adds the ETag firewall, the template tags, Django's test client,
the system check, and Django's ASGI handler, in-process and in a real browser.
"""
from __future__ import annotations

import dataclasses

import pytest

from tests.support import django_site
from tests.support.apps import ALL, KEYS, LINT_STRICT, POLICY, build_site, consent_header, fetch
from tests.support.communicator import asgi_get

LINT_STRICT_BUT_304_LENGTH = [
    *LINT_STRICT,
    # Django's CommonMiddleware puts "Content-Length: 0" on the app's own 304; RFC 9110
    # §8.6 allows it, werkzeug's Lint does not.
    pytest.mark.filterwarnings("ignore:Entity header 'content-length' found in 304 response"),
]

POLICY_WITH_ETAGS = type(POLICY)(
    revision=POLICY.revision, categories=POLICY.categories, cookies=POLICY.cookies,
    beacons=POLICY.beacons, etags="analytics",
)


@pytest.fixture
def site(tmp_path):
    django_site.ETAG_SEEN.clear()
    return build_site("django", tmp_path, policy=POLICY_WITH_ETAGS)


def visit_twice(site, grant) -> tuple[str, str]:
    """One browser loads /etag, then revalidates with what it was given."""
    environ = {"HTTP_COOKIE": f"consent={site.cookie_value(grant)}"} if grant else {}
    first = fetch(site.client, "GET", "/etag", environ_overrides=environ)
    again = fetch(site.client, "GET", "/etag", environ_overrides={
        **environ, "HTTP_IF_NONE_MATCH": first.headers.get("ETag", "")})
    return first, again


@pytest.mark.parametrize("_", [pytest.param(None, marks=LINT_STRICT, id="lint")])
def test_eprivacy_django_evercookie_cannot_recognise_a_visitor_without_consent(site, _):
    first, again = visit_twice(site, None)
    assert "uid-" not in first.headers["ETag"] and first.headers["ETag"].startswith('W/"')
    assert django_site.ETAG_SEEN == [None, None]  # the app never saw the browser's validator
    assert again.status_code == 200 and again.text != first.text  # a "new visitor" each time
    ana, ben = visit_twice(site, None)[0], visit_twice(site, None)[0]
    assert "Cookie" in ana.headers["Vary"]
    assert ana.text != ben.text


@pytest.mark.parametrize("_", [pytest.param(None, marks=LINT_STRICT_BUT_304_LENGTH, id="lint")])
def test_eprivacy_django_evercookie_works_with_consent(site, _):
    first, again = visit_twice(site, ALL)
    assert first.headers["ETag"].startswith('"uid-')
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize("_", [pytest.param(None, marks=LINT_STRICT, id="lint")])
def test_django_template_renders_consent_script_only_when_allowed(site, _):
    without = fetch(site.client, "GET", "/template").text
    assert '<script type="text/plain" data-consent="analytics" data-consent-src="/static/analytics.js">' in without
    assert 'data-consent-revision="3"' in without  # the banner tags, from the template context
    assert 'data-consent-notice="/privacy"' in without  # no CONSENTLIB here: the Policy default
    granted = fetch(site.client, "GET", "/template", environ_overrides={
        "HTTP_COOKIE": f"consent={site.cookie_value({'analytics'})}"}).text
    assert '<script src="/static/analytics.js"></script>' in granted


@pytest.mark.parametrize("_", [pytest.param(None, marks=LINT_STRICT, id="lint")])
def test_django_beacon_never_reaches_the_app(site, _):
    response = fetch(site.client, "GET", "/collect")
    assert response.status_code == 204 and "/collect" not in site.calls


# -- django.test.Client: the Django way to test a project -----------------------------------


@pytest.fixture
def django_client(tmp_path):
    from django.test import Client, override_settings

    django_site.configure()
    setting = django_site.consentlib_setting(POLICY_WITH_ETAGS, {"secret_key": KEYS,
                                                                 "store": f"sqlite:///{tmp_path}/consent.db"})
    with override_settings(CONSENTLIB=setting):
        # CSRF enforced: consent posts must still work, judged by consentlib's own origin check.
        yield Client(enforce_csrf_checks=True)


def test_django_test_client_goes_through_the_gate(django_client):
    # Before, the WSGI wrapper in wsgi.py was bypassed by the test client: templates
    # raised TemplateSyntaxError and every cookie left ungated.
    page = django_client.get("/")
    assert "sid" in page.cookies and "_ga" not in page.cookies and "_fbp" not in page.cookies
    assert page.json()["granted"] == ["necessary"]  # request.consent in the view
    template = django_client.get("/template").content.decode()
    assert 'data-consent-revision="3"' in template and 'type="text/plain"' in template


def test_django_banner_links_the_configured_policys_privacy_notice(tmp_path):
    """EDPB cookie-banner taskforce 2023: the privacy notice one click from the first layer."""
    from django.test import Client, override_settings

    django_site.configure()
    policy = dataclasses.replace(POLICY, notice_url="/legal/privacy?v=2&x=1")
    for given in (policy, "tests.integration.test_django:NOTICE_POLICY"):
        setting = django_site.consentlib_setting(given, {"secret_key": KEYS, "store": f"sqlite:///{tmp_path}/c.db"})
        with override_settings(CONSENTLIB=setting):
            template = Client().get("/template").content.decode()
        assert 'data-consent-notice="/legal/privacy?v=2&amp;x=1"' in template, given


NOTICE_POLICY = dataclasses.replace(POLICY, notice_url="/legal/privacy?v=2&x=1")


def test_django_banner_carries_the_configured_policys_storage_keys(tmp_path):
    from django.test import Client, override_settings

    from consentlib import Storage

    django_site.configure()
    policy = dataclasses.replace(POLICY, storage=[Storage("_hj*", "analytics")])
    setting = django_site.consentlib_setting(policy, {"secret_key": KEYS, "store": f"sqlite:///{tmp_path}/c.db"})
    with override_settings(CONSENTLIB=setting):
        template = Client().get("/template").content.decode()
    assert """data-consent-storage='[["localStorage","analytics",""" in template


def test_django_consent_post_passes_csrf_middleware_and_is_honoured(django_client):
    # GDPR Art 7(3): giving (and withdrawing) consent must just work, CSRF middleware or not.
    chosen = django_client.post("/_consent/", {"action": "accept_all"}, HTTP_ORIGIN="http://testserver")
    assert chosen.status_code == 303 and "consent" in django_client.cookies
    page = django_client.get("/")
    assert "_ga" in page.cookies and "_fbp" in page.cookies
    assert '<script src="/static/analytics.js"></script>' in django_client.get("/template").content.decode()
    withdrawn = django_client.post("/_consent/", {"action": "reject_all"}, HTTP_ORIGIN="http://testserver")
    assert withdrawn.status_code == 303
    assert withdrawn.cookies["_ga"]["max-age"] == "0"  # the withdrawn cookie is expired at once


def test_django_cross_site_consent_post_is_refused(django_client):
    refused = django_client.post("/_consent/", {"action": "accept_all"}, HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "consent" not in django_client.cookies


# -- the system check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        pytest.param({"POLICY": "tests.support.apps.NOT_THERE"}, "tests.support.apps.NOT_THERE", id="policy-not-importable"),
        pytest.param({"POLICY": "tests.support.apps.KEYS"}, "must be a consentlib.Policy", id="not-a-policy"),
        pytest.param({"POLICY": POLICY, "SECRET_KEY": KEYS}, "unknown key(s) SECRET_KEY", id="unknown-key"),
        pytest.param({"POLICY": POLICY, "SECRET_KEYS": ["short"]}, "came from CONSENTLIB['SECRET_KEYS']",
                     id="short-key"),
        pytest.param({"POLICY": POLICY, "SECRET_KEYS": KEYS, "PREFIX": "consent"}, "prefix must start",
                     id="bad-prefix"),
        pytest.param("tests.support.apps.POLICY", "must be a dict", id="not-a-dict"),
    ],
)
def test_django_system_check_reports_a_bad_setting_as_a_sentence(tmp_path, setting, says):
    from django.core.checks import run_checks
    from django.test import override_settings

    django_site.configure()
    if isinstance(setting, dict):
        setting = {"STORE": f"sqlite:///{tmp_path}/c.db", **setting}
    with override_settings(CONSENTLIB=setting):
        errors = [e for e in run_checks() if e.id == "consentlib.E001"]
    assert len(errors) == 1 and says in errors[0].msg


def test_django_system_check_is_silent_for_a_good_setting(tmp_path):
    from django.core.checks import run_checks
    from django.test import override_settings

    django_site.configure()
    # The test site runs SessionMiddleware and CsrfViewMiddleware: a good policy declares
    # their cookies (consentlib.W001).
    good = django_site.consentlib_setting("tests.support.django_site.POLICY_WITH_DJANGO_COOKIES", {
        "secret_key": KEYS, "store": f"sqlite:///{tmp_path}/c.db"})
    with override_settings(CONSENTLIB=good):
        assert [e for e in run_checks() if e.id.startswith("consentlib")] == []


# -- Django's ASGI handler ---------------------------------------------------------------------


def test_django_under_asgi_gates_cookies_and_beacons(tmp_path):
    import asyncio

    app, core = django_site.handler(POLICY_WITH_ETAGS, {"secret_key": KEYS,
                                                        "store": f"sqlite:///{tmp_path}/consent.db"}, asgi=True)
    status, headers, _ = asyncio.run(asgi_get(app, "/"))
    cookies = [v.split("=", 1)[0] for k, v in headers if k == "set-cookie"]
    assert status == 200 and "sid" in cookies and "_ga" not in cookies and "tracker_x" not in cookies
    assert any(k == "vary" and "Cookie" in v for k, v in headers)
    status, _, body = asyncio.run(asgi_get(app, "/collect"))
    assert status == 204 and body == b""
    granted = consent_header(core, ALL, consent_id="cd" * 16)
    status, headers, body = asyncio.run(asgi_get(app, "/", headers=[(b"cookie", granted.encode())]))
    cookies = [v.split("=", 1)[0] for k, v in headers if k == "set-cookie"]
    assert "_ga" in cookies and "_fbp" in cookies and b'"granted": ["analytics"' in body


@pytest.mark.e2e
def test_django_asgi_in_chromium_reject_then_accept(tmp_path):
    # ePrivacy Art 5(3), end to end: Django's ASGI handler under uvicorn, a real browser.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    from consentlib.testing.browser import chrome_driver
    from consentlib.testing.server import serve_asgi
    from tests.support.sitebrowser import choose, cookie_names, open_with_banner, wait

    app, _ = django_site.handler(POLICY_WITH_ETAGS, {"secret_key": KEYS,
                                                     "store": f"sqlite:///{tmp_path}/consent.db"}, asgi=True)
    refused = {"_ga", "_fbp", "tracker_x"}
    with serve_asgi(app) as url:
        driver = chrome_driver()
        try:
            open_with_banner(driver, url + "/template")
            assert "sid" in cookie_names(driver) and not refused & cookie_names(driver)
            choose(driver, "consent-reject-all")
            driver.refresh()
            wait(driver, ec.presence_of_element_located((By.ID, "consent-open")))
            assert not refused & cookie_names(driver)
            driver.delete_all_cookies()
            open_with_banner(driver, url + "/template")
            choose(driver, "consent-accept-all")
            driver.refresh()
            wait(driver, lambda d: {"_ga", "_fbp"} <= cookie_names(d))
            assert "tracker_x" not in cookie_names(driver)  # undeclared: never, whatever was chosen
        finally:
            driver.quit()


# -- consent_of(request) and {% consent_allows %} ------------------------------------------------


@pytest.mark.parametrize(
    ("grant", "gpc", "expected"),
    [
        pytest.param(None, False, '<p>The video needs marketing cookies.</p>|view:False', id="undecided"),
        pytest.param({"analytics"}, False, '<p>The video needs marketing cookies.</p>[stats on]|view:False',
                     id="analytics-only"),
        pytest.param(ALL, False, '<iframe src="https://video.example/1"></iframe>[stats on]|view:True', id="all"),
        pytest.param(ALL, True, '<p>The video needs marketing cookies.</p>[stats on]|view:False',
                     id="all-but-gpc-takes-marketing-back"),
    ],
)
def test_django_consent_allows_block_and_consent_of_follow_the_gate(django_client, grant, gpc, expected):
    headers = {"HTTP_COOKIE": f"consent={consent_value_for(grant)}"} if grant else {}
    if gpc:
        headers["HTTP_SEC_GPC"] = "1"
    assert django_client.get("/allows", **headers).content.decode() == expected


def consent_value_for(grant) -> str:
    """A genuine consent cookie, signed with the keys the django_client's setting gives."""
    import time

    from consentlib.consent import ConsentCookie

    return ConsentCookie(KEYS).dumps(revision=POLICY.revision, categories=frozenset(grant),
                                     decided_at=int(time.time()))


def test_django_consent_of_a_request_the_gate_never_saw_allows_only_required_categories(tmp_path):
    # A RequestFactory request (a view's unit test) skips every middleware: fail-safe.
    from django.test import RequestFactory, override_settings

    from consentlib.django import consent_of

    django_site.configure()
    request = RequestFactory().get("/", HTTP_COOKIE="consent=forged")
    with override_settings(CONSENTLIB={"POLICY": "tests.support.apps.POLICY"}):
        consent = consent_of(request)
    assert (consent.decided, consent.granted, consent.revision) == (False, {"necessary"}, POLICY.revision)
    with override_settings(CONSENTLIB=None):
        assert consent_of(request).granted == frozenset()


def test_django_consent_allows_with_no_category_says_how_to_write_it():
    from django.template import TemplateSyntaxError, engines

    django_site.configure()
    with pytest.raises(TemplateSyntaxError, match=r'takes one category, as in \{% consent_allows "analytics" %\}'):
        engines["django"].from_string("{% consent_allows %}x{% endconsent_allows %}")
