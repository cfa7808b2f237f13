"""The middleware under Django: plain WSGI, so the framework underneath must not matter.

The gating, withdrawal, beacon and GPC header tables run against Django through the
``KINDS`` fixtures of test_middleware.py, test_endpoints.py and test_consent_cookie.py;
this file adds the ETag firewall and the Django template tags.
"""
from __future__ import annotations

import pytest

from tests import django_site
from tests.apps import ALL, LINT_STRICT, POLICY, build_site, fetch

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
    granted = fetch(site.client, "GET", "/template", environ_overrides={
        "HTTP_COOKIE": f"consent={site.cookie_value({'analytics'})}"}).text
    assert '<script src="/static/analytics.js"></script>' in granted


@pytest.mark.parametrize("_", [pytest.param(None, marks=LINT_STRICT, id="lint")])
def test_django_beacon_never_reaches_the_app(site, _):
    response = fetch(site.client, "GET", "/collect")
    assert response.status_code == 204 and "/collect" not in site.calls
