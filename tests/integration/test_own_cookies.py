"""consentlib's own two cookies are declared wherever cookies are listed, under the names
the request's kind of connection gives them, with their purpose and lifetime."""
from __future__ import annotations

import re

import pytest

from consentlib import Category, Policy
from consentlib.web.own_cookies import lifetime_parts, own_cookies

from tests.support.apps import POLICY, build_site

HTTPS = "https://localhost"


@pytest.mark.parametrize(("base_url", "options", "names", "domain"), [
    pytest.param("http://localhost", {}, ["consent", "consent_id"], None, id="http"),
    pytest.param(HTTPS, {}, ["__Host-consent", "__Host-consent_id"], None, id="https"),
    pytest.param(HTTPS, {"cookie_domain": "example.com"}, ["__Secure-consent", "__Secure-consent_id"],
                 "example.com", id="cookie-domain"),
])
def test_declaration_json_lists_them_under_the_names_in_use(tmp_path, base_url, options, names, domain):
    site = build_site("wsgi", tmp_path, lifetime=30 * 86400, **options)
    cookies = site.get("/_consent/declaration.json", base_url=base_url).json["cookies"]
    own = cookies[:2]
    assert [c["name"] for c in own] == names
    assert [c["category"] for c in own] == ["necessary", "necessary"]
    assert [c["lifetime"] for c in own] == ["30 days", "30 days"]
    assert [c["http_only"] for c in own] == [False, True]
    assert [c["domain"] for c in own] == [domain, domain]
    assert own[0]["purpose"].startswith("Records your choice")
    assert own[1]["purpose"].startswith("Links your choice to its receipts")


@pytest.mark.parametrize(("language", "expected"), [
    pytest.param("en", ["Records your choice", "Links your choice to its receipts", "180 days"], id="en"),
    pytest.param("zh-CN", ["记录您的选择", "将您的选择与其回执", "180 天"], id="zh-Hans"),
])
def test_the_preferences_page_lists_them_in_the_visitors_language(tmp_path, language, expected):
    site = build_site("wsgi", tmp_path)
    page = site.get("/_consent/preferences", headers={"Accept-Language": language}, base_url=HTTPS).text
    necessary = page[page.index('id="consent-cookies-necessary"'):]
    necessary = necessary[:necessary.index("</table>")]
    assert "<code>__Host-consent</code>" in necessary and "<code>__Host-consent_id</code>" in necessary
    for text in expected:
        assert text in necessary


@pytest.mark.parametrize(("seconds", "said"), [
    pytest.param(180 * 86400, (180, "day"), id="days"),
    pytest.param(86400, (1, "day"), id="one-day"),
    pytest.param(36 * 3600, (36, "hour"), id="hours"),
    pytest.param(90, (90, "second"), id="not-whole-minutes"),
])
def test_a_lifetime_is_said_in_the_largest_exact_unit(seconds, said):
    assert lifetime_parts(seconds) == said


def test_they_belong_to_the_policys_required_category():
    policy = Policy(revision=1, categories=[Category("stats"), Category("essential", required=True)])
    consent, consent_id = own_cookies(policy, lifetime=3600)
    assert (consent.category, consent_id.category) == ("essential", "essential")
    assert (consent.name, consent.lifetime) == ("__Host-consent", "1 hour")
    assert own_cookies(POLICY, secure=False)[1].name == "consent_id"


@pytest.mark.parametrize(("base_url", "names"), [
    pytest.param("http://localhost", ["consent", "consent_id"], id="http"),
    pytest.param(HTTPS, ["__Host-consent", "__Host-consent_id"], id="https"),
])
def test_the_reference_sites_cookie_table_lists_them(tmp_path, base_url, names):
    from examples.flask_site import create_app

    page = create_app(tmp_path).test_client().get("/privacy/cookies", base_url=base_url).get_data(as_text=True)
    table = page[page.index('id="cookie-table"'):page.index("</table>")]
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", table)
    assert [row[0] for row in rows[:2]] == names
    assert [row[1] for row in rows[:2]] == ["necessary", "necessary"]
    assert [row[3] for row in rows[:2]] == ["180 days", "180 days"]
    assert "HttpOnly" in rows[1][2] and "HttpOnly" not in rows[0][2]
