"""Regions over a real HTTP server, as an attacker would try them (docs/regions.md).

The site trusts ``CF-IPCountry`` and ``CF-Region-Code`` (its CDN's); every request here
is sent by hand with http.client, so the headers are exactly those written.
"""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from consentlib import Category, ConsentMiddleware, Cookie, Policy, Region

KEYS = ["test-key-newest-0123456789"]
POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics"),
                Category("marketing", sale_or_share=True), Category("transfer", separate=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("_ga", "analytics"), Cookie("ad_id", "marketing"),
             Cookie("xb", "transfer")],
    regions=[Region("EEA", "opt-in", ["DE", "FR"]), Region("California", "opt-out", ["US-CA"]),
             Region("United States", "notice", ["US"])],
)
SET_BY_APP = {"sid", "_ga", "ad_id", "xb"}


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), *(("Set-Cookie", f"{name}=1; Path=/")
                                                                 for name in sorted(SET_BY_APP))])
    return [b"page"]


@pytest.fixture
def site(tmp_path, live_server):
    middleware = ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                                   region_header="CF-IPCountry", subdivision_header="CF-Region-Code")
    return middleware, live_server(middleware)


def send(url: str, path: str, headers=(), method: str = "GET", body: str | None = None):
    """(status, [(name, value)], body) for one request with exactly ``headers``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        data = body.encode() if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def cookies_set(headers) -> set[str]:
    return {value.partition("=")[0] for name, value in headers if name.lower() == "set-cookie"}


def vary(headers) -> set[str]:
    return {token.strip().lower() for name, value in headers if name.lower() == "vary" for token in value.split(",")}


def state(url: str, headers=()) -> dict:
    status, _, body = send(url, "/_consent/", headers)
    assert status == 200
    return json.loads(body)


@pytest.mark.parametrize("spoofed", [
    pytest.param([("CloudFront-Viewer-Country", "US"), ("CloudFront-Viewer-Country-Region", "CA")], id="cloudfront"),
    pytest.param([("X-Vercel-IP-Country", "US"), ("X-Vercel-IP-Country-Region", "CA")], id="vercel"),
    pytest.param([("CF-Region-Code", "CA")], id="subdivision-without-country"),
    pytest.param([("X-Country", "US-CA")], id="made-up"),
])
def test_a_region_header_the_site_did_not_name_changes_nothing(site, spoofed):
    _, url = site
    status, headers, _ = send(url, "/", spoofed)
    assert status == 200
    assert cookies_set(headers) == {"sid"}
    assert (state(url, spoofed)["region"], state(url, spoofed)["regime"]) == (None, "opt-in")


@pytest.mark.parametrize("lines", [
    pytest.param([("CF-IPCountry", "XX")], id="no-country"),
    pytest.param([("CF-IPCountry", "T1")], id="tor"),
    pytest.param([("CF-IPCountry", "")], id="empty"),
    pytest.param([("CF-IPCountry", "us")], id="lower-case"),
    pytest.param([("CF-IPCountry", "USA")], id="alpha-3"),
    pytest.param([("CF-IPCountry", "US"), ("CF-IPCountry", "US")], id="two-lines"),
    pytest.param([("CF-IPCountry", "US"), ("CF-IPCountry", "DE")], id="two-lines-two-countries"),
])
def test_the_named_header_with_junk_is_unknown_and_the_default_regime(site, lines):
    _, url = site
    _, headers, _ = send(url, "/", [*lines, ("CF-Region-Code", "CA")])
    assert cookies_set(headers) == {"sid"}
    assert state(url, lines)["regime"] == "opt-in" and state(url, lines)["region"] is None


@pytest.mark.parametrize(("where", "cookies", "regime"), [
    pytest.param([("CF-IPCountry", "DE")], {"sid"}, "opt-in", id="DE-asks-first"),
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], {"sid", "_ga", "ad_id"}, "opt-out",
                 id="US-CA-until-opt-out"),
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "TX")], {"sid", "_ga", "ad_id"}, "notice",
                 id="US-TX-notice"),
])
def test_each_regime_before_a_choice_and_never_a_separate_category(site, where, cookies, regime):
    _, url = site
    _, headers, _ = send(url, "/", where)
    assert cookies_set(headers) == cookies  # "xb" (transfer, separate) in no regime
    assert state(url, where)["regime"] == regime


def test_gpc_in_an_opt_out_region_denies_sale_even_with_a_stored_grant(site):
    middleware, url = site
    ca = [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")]
    _, headers, _ = send(url, "/_consent/", [*ca, ("Content-Type", "application/json"), ("Origin", url)], "POST",
                         json.dumps({"categories": ["analytics", "marketing"]}))
    consent = next(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie" and v.startswith("consent="))
    _, headers, _ = send(url, "/", [*ca, ("Cookie", f"{consent}; ad_id=1; _ga=1"), ("Sec-GPC", "1")])
    set_lines = [v for n, v in headers if n.lower() == "set-cookie"]
    assert any(v.startswith("ad_id=;") or v.startswith("ad_id=\"\"") for v in set_lines)  # expired
    assert not any(v.startswith("ad_id=1") for v in set_lines)
    assert any(v.startswith("_ga=1") for v in set_lines)
    assert "sec-gpc" in vary(headers)
    # The same cookie in an opt-in region: marketing is not gpc=True, so it stays granted.
    _, headers, _ = send(url, "/", [("CF-IPCountry", "DE"), ("Cookie", consent), ("Sec-GPC", "1")])
    assert "ad_id" in cookies_set(headers)


@pytest.mark.parametrize("where", [
    pytest.param([("CF-IPCountry", "DE")], id="opt-in"),
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], id="opt-out"),
    pytest.param([("CF-IPCountry", "US")], id="notice"),
    pytest.param([], id="unknown"),
])
def test_accept_all_never_grants_a_separate_category(site, where):
    middleware, url = site
    status, headers, _ = send(url, "/_consent/", [*where, ("Content-Type", "application/x-www-form-urlencoded"),
                                                  ("Origin", url)], "POST", "action=accept_all")
    assert status == 303
    receipt = middleware.store.receipts()[-1]
    assert "transfer" not in receipt["granted"] and receipt["categories"]["transfer"] == "refused"
    consent = next(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie" and v.startswith("consent="))
    _, headers, _ = send(url, "/", [*where, ("Cookie", consent)])
    assert "xb" not in cookies_set(headers)


def test_a_separate_category_is_granted_by_its_own_action(site):
    middleware, url = site
    status, headers, _ = send(url, "/_consent/", [("Content-Type", "application/x-www-form-urlencoded"),
                                                  ("Origin", url)], "POST", "action=save&category=transfer")
    assert status == 303
    assert middleware.store.receipts()[-1]["granted"] == ["necessary", "transfer"]


def test_a_us_ca_visitors_opt_out_is_a_receipt_and_holds(site):
    middleware, url = site
    ca = [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")]
    status, headers, body = send(url, "/_consent/opt-out", ca)
    assert status == 200 and b"Do Not Sell or Share My Personal Information" in body
    assert b'action="/_consent/opt-out"' in body
    status, headers, _ = send(url, "/_consent/opt-out", [*ca, ("Content-Type", "application/x-www-form-urlencoded"),
                                                         ("Origin", url), ("Cookie", "_ga=1; ad_id=1")],
                              "POST", "action=opt_out&next=/")
    assert status == 303
    receipt = middleware.store.receipts()[-1]
    assert (receipt["method"], receipt["region"], receipt["regime"]) == ("opt-out", "US-CA", "opt-out")
    assert receipt["granted"] == ["necessary"]
    consent = next(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie" and v.startswith("consent="))
    _, headers, _ = send(url, "/", [*ca, ("Cookie", consent)])
    assert cookies_set(headers) == {"sid"}
    assert state(url, [*ca, ("Cookie", consent)])["decided"] is True


def test_an_opt_out_from_another_site_is_refused(site):
    middleware, url = site
    status, _, _ = send(url, "/_consent/opt-out", [("Content-Type", "application/x-www-form-urlencoded"),
                                                   ("Origin", "https://evil.example")], "POST", "action=opt_out")
    assert status == 403
    assert middleware.store.receipts() == []


@pytest.mark.parametrize("path", [pytest.param("/", id="app-page"), pytest.param("/_consent/", id="state"),
                                  pytest.param("/_consent/opt-out", id="opt-out-page")])
def test_vary_names_the_region_headers(site, path):
    _, url = site
    _, headers, _ = send(url, path, [("CF-IPCountry", "DE")])
    assert {"cf-ipcountry", "cf-region-code"} <= vary(headers)


def test_the_state_says_region_and_regime(site):
    _, url = site
    body = state(url, [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")])
    assert (body["region"], body["regime"], body["granted"]) == ("US-CA", "opt-out",
                                                                 ["analytics", "marketing", "necessary"])


def test_the_declaration_lists_the_regions(site):
    _, url = site
    _, _, body = send(url, "/_consent/declaration.json")
    data = json.loads(body)
    assert data["default_regime"] == "opt-in"
    assert {"name": "California", "regime": "opt-out", "countries": ["US-CA"]} in data["regions"]


@pytest.mark.parametrize(("method", "granted"), [
    pytest.param("banner", ["analytics", "necessary"], id="banner-accept-all-is-not-separate-consent"),
    pytest.param("api", ["analytics", "necessary", "transfer"], id="api-names-it-explicitly"),
])
def test_a_json_choice_grants_a_separate_category_only_when_not_the_banners(site, method, granted):
    middleware, url = site
    status, _, _ = send(url, "/_consent/", [("Content-Type", "application/json"), ("Origin", url)], "POST",
                        json.dumps({"categories": ["analytics", "transfer"], "method": method}))
    assert status == 200
    assert middleware.store.receipts()[-1]["granted"] == granted


def test_the_banner_keeps_a_separate_grant_and_reject_all_withdraws_it(site):
    middleware, url = site
    json_post = [("Content-Type", "application/json"), ("Origin", url)]
    _, headers, _ = send(url, "/_consent/", json_post, "POST", json.dumps({"categories": ["transfer"]}))
    consent = next(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie" and v.startswith("consent="))
    _, headers, _ = send(url, "/_consent/", [*json_post, ("Cookie", consent)], "POST",
                         json.dumps({"categories": ["analytics"], "method": "banner"}))
    assert middleware.store.receipts()[-1]["granted"] == ["analytics", "necessary", "transfer"]
    consent = next(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie" and v.startswith("consent="))
    send(url, "/_consent/", [*json_post, ("Cookie", consent)], "POST", json.dumps({"categories": [], "method": "banner"}))
    assert middleware.store.receipts()[-1]["granted"] == ["necessary"]


def test_the_state_gives_an_opt_out_regions_banner_its_link(site):
    _, url = site
    body = state(url, [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")])
    assert body["notice_only"] is True
    assert body["opt_out"] == ["/_consent/opt-out", "Do Not Sell or Share My Personal Information"]
    assert "opt_out" not in state(url, [("CF-IPCountry", "DE")])


@pytest.mark.parametrize("where", [pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], id="opt-out"),
                                   pytest.param([("CF-IPCountry", "DE")], id="opt-in")])
def test_the_preferences_page_asks_a_separate_category_apart_and_unticked(site, where):
    _, url = site
    status, _, body = send(url, "/_consent/preferences", where)
    assert status == 200
    page = body.decode()
    assert "Transfer needs your separate consent" in page
    assert page.index("separate consent") < page.index('value="transfer"')
    transfer = next(line for line in page.splitlines() if 'value="transfer"' in line)
    assert " checked" not in transfer


@pytest.mark.parametrize(("where", "minor"), [
    pytest.param([("CF-IPCountry", "DE")], True, id="DE-16"),
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], False, id="US-CA-13"),
    pytest.param([], True, id="unknown-the-policy-default-16"),
])
def test_the_age_of_consent_follows_the_resolved_regions_country(tmp_path, live_server, where, minor):
    def is_minor(environ) -> bool:  # a 14-year-old, by the site's own records
        return POLICY.is_minor(14, jurisdiction=environ["consentlib.consent"].region)

    middleware = ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/m.db",
                                   region_header="CF-IPCountry", subdivision_header="CF-Region-Code",
                                   is_minor=is_minor)
    url = live_server(middleware)
    assert state(url, where)["minor"] is minor
