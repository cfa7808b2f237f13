"""The consent cookies' names: ``__Host-`` over https, ``__Secure-`` with ``cookie_domain``,
plain over http, and only the request's own kind of name is read (RFC 6265bis §4.1.3).

A genuine "accept all" ``consent`` cookie identifies nobody, so anyone's will do: a
sibling subdomain that could plant one (with its ``consent_id``) could grant for a
visitor, or fix the consent id their receipts are linked to. Every door is tried.
"""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest

from consentlib import ConsentMiddleware
from consentlib.consent import ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.options import checked

from tests.support.apps import ALL, KEYS, KINDS, NECESSARY, POLICY, build_site, wsgi_site

HTTPS = "https://localhost"
PLANTED_ID = "ee" * 16


def pair(site, names: tuple[str, str], categories=ALL, consent_id: str = "ab" * 16, cookie=None) -> str:
    """A genuine consent cookie and its id cookie, under ``names``, as a browser sends them."""
    cookie = cookie or site.middleware.cookie
    now = int(time.time())
    decision = {"revision": POLICY.revision, "categories": frozenset(categories), "decided_at": now - now % 86400}
    return (f"{names[0]}={cookie.dumps(**decision)}; "
            f"{names[1]}={cookie.dumps_id(consent_id=consent_id, **decision)}")


HOST = ("__Host-consent", "__Host-consent_id")
SECURE = ("__Secure-consent", "__Secure-consent_id")
PLAIN = ("consent", "consent_id")


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.mark.parametrize(("base_url", "names", "domain", "granted"), [
    pytest.param(HTTPS, HOST, None, ALL, id="https-host-prefix-read"),
    pytest.param(HTTPS, PLAIN, None, NECESSARY, id="https-planted-unprefixed-grants-nothing"),
    pytest.param(HTTPS, SECURE, None, NECESSARY, id="https-secure-prefix-without-cookie-domain"),
    pytest.param(HTTPS, ("__host-consent", "__host-consent_id"), None, NECESSARY, id="https-lower-case-prefix"),
    pytest.param(HTTPS, ("__HOST-consent", "__HOST-consent_id"), None, NECESSARY, id="https-upper-case-prefix"),
    pytest.param("http://localhost", HOST, None, NECESSARY, id="http-host-prefix-came-from-no-browser"),
    pytest.param("http://localhost", PLAIN, None, ALL, id="http-unprefixed-read"),
    pytest.param(HTTPS, SECURE, "example.com", ALL, id="cookie-domain-secure-prefix-read"),
    pytest.param(HTTPS, HOST, "example.com", NECESSARY, id="cookie-domain-host-prefix-not-read"),
    pytest.param(HTTPS, PLAIN, "example.com", NECESSARY, id="cookie-domain-unprefixed-not-read"),
])
def test_only_the_requests_own_names_grant(kind, tmp_path, base_url, names, domain, granted):
    site = build_site(kind, tmp_path, cookie_domain=domain)
    page = site.get("/", headers={"Cookie": pair(site, names)}, base_url=base_url)
    assert page.json["granted"] == sorted(granted)
    state = site.get("/_consent/", headers={"Cookie": pair(site, names)}, base_url=base_url).json
    assert state["decided"] is (granted == ALL)


@pytest.mark.parametrize("cookies", [
    pytest.param(lambda s: f"{pair(s, HOST)}; {pair(s, HOST, NECESSARY)}", id="two-decisions"),
    pytest.param(lambda s: f"{pair(s, HOST)}; {pair(s, HOST)}", id="the-same-decision-twice"),
    pytest.param(lambda s: f"{pair(s, HOST, NECESSARY)}; {pair(s, HOST)}", id="shadow-after"),
])
def test_two_consent_cookies_of_one_name_grant_nothing(kind, tmp_path, cookies):
    # A Domain or longer-Path cookie shadowing the host's own: the browser sends both
    # (RFC 6265bis §5.8.3), and which is the visitor's cannot be told: fail closed.
    site = build_site(kind, tmp_path)
    state = site.get("/_consent/", headers={"Cookie": cookies(site)}, base_url=HTTPS).json
    assert state["decided"] is False and state["granted"] == sorted(NECESSARY)


def _issued_id(site, response, name: str) -> str | None:
    value = response.consent_cookie(name)
    found = site.middleware.cookie.verify_id(value) if value else None
    return found.consent_id if found else None


@pytest.mark.parametrize("planted", [
    pytest.param(lambda s: pair(s, PLAIN, consent_id=PLANTED_ID), id="unprefixed-pair"),
    pytest.param(lambda s: f"{pair(s, HOST, consent_id=PLANTED_ID)}; {pair(s, HOST, NECESSARY)}",
                 id="a-second-host-pair"),
    # An id cookie of anyone who chose alike the same day names the same decision.
    pytest.param(lambda s: f"{pair(s, HOST, NECESSARY)}; {pair(s, HOST, NECESSARY, PLANTED_ID).split('; ')[1]}",
                 id="a-second-id-cookie-of-the-same-decision"),
])
def test_a_planted_pair_fixes_no_consent_id(kind, tmp_path, planted):
    site = build_site(kind, tmp_path)
    r = site.post("/_consent/", data={"action": "accept_all"}, headers={"Cookie": planted(site)}, base_url=HTTPS)
    assert r.status_code == 303
    issued = _issued_id(site, r, "__Host-consent_id")
    assert issued is not None and issued != PLANTED_ID
    assert [receipt["consent_id"] for receipt in site.store.receipts()] == [issued]


@pytest.mark.parametrize(("base_url", "options", "names", "attributes"), [
    pytest.param(HTTPS, {}, HOST, {"Secure", "Path=/"}, id="https"),
    pytest.param("http://localhost", {"secure": True}, HOST, {"Secure", "Path=/"}, id="secure-behind-a-proxy"),
    pytest.param("http://localhost", {}, PLAIN, {"Path=/"}, id="http"),
    pytest.param(HTTPS, {"secure": False}, PLAIN, {"Path=/"}, id="secure-false-over-https"),
    pytest.param(HTTPS, {"cookie_domain": "Example.com"}, SECURE, {"Secure", "Path=/", "Domain=example.com"},
                 id="cookie-domain"),
    pytest.param("http://localhost", {"cookie_domain": "example.com"}, PLAIN, {"Path=/", "Domain=example.com"},
                 id="cookie-domain-over-http"),
])
def test_a_choice_is_written_under_the_requests_names(kind, tmp_path, base_url, options, names, attributes):
    site = build_site(kind, tmp_path, **options)
    r = site.post("/_consent/", data={"action": "accept_all"}, base_url=base_url)
    assert sorted(n for n in r.set_cookie_names if "consent" in n) == sorted(names)
    for name in names:
        (line,) = r.set_cookie(name)
        got = {part.strip() for part in line.split(";")[1:]}
        assert attributes <= got, line
        assert ("Secure" in got) is ("Secure" in attributes)
        assert any(a.startswith("Domain=") for a in got) is any(a.startswith("Domain=") for a in attributes)
    # The pair written is the pair read back on the next request.
    back = "; ".join(f"{name}={r.consent_cookie(name)}" for name in names)
    assert site.get("/_consent/", headers={"Cookie": back}, base_url=base_url).json["decided"] is True


def test_a_json_choice_over_https_is_written_and_read_under_the_host_names(kind, tmp_path):
    site = build_site(kind, tmp_path)
    r = site.post("/_consent/", json={"categories": ["analytics"]}, base_url=HTTPS)
    assert r.status_code == 200 and r.json["decided"] is True
    assert sorted(n for n in r.set_cookie_names if "consent" in n) == sorted(HOST)
    back = "; ".join(f"{name}={r.consent_cookie(name)}" for name in HOST)
    assert site.get("/", headers={"Cookie": back}, base_url=HTTPS).json["granted"] == ["analytics", "necessary"]


def test_an_old_key_is_re_signed_under_the_host_names(kind, tmp_path):
    site = build_site(kind, tmp_path)
    older = ConsentCookie([KEYS[1]])
    r = site.get("/", headers={"Cookie": pair(site, HOST, cookie=older)}, base_url=HTTPS)
    assert r.json["granted"] == sorted(ALL)
    assert sorted(n for n in r.set_cookie_names if "consent" in n) == sorted(HOST)
    assert site.middleware.cookie.verify(r.consent_cookie("__Host-consent")).key_index == 0


def test_a_withdrawal_over_https_writes_the_host_names(kind, tmp_path):
    site = build_site(kind, tmp_path)
    cookies = pair(site, HOST)
    r = site.post("/_consent/", data={"action": "withdraw"}, headers={"Cookie": cookies}, base_url=HTTPS)
    assert r.status_code == 303
    # The same consent id, now bound to the withdrawal; nothing written without the prefix.
    assert _issued_id(site, r, "__Host-consent_id") == "ab" * 16
    assert not r.set_cookie("consent") and not r.set_cookie("consent_id")
    assert site.middleware.cookie.verify(r.consent_cookie("__Host-consent")).categories == NECESSARY


def test_the_app_sees_the_consent_cookies_under_either_name(tmp_path):
    site = build_site("wsgi", tmp_path)
    cookies = f"{pair(site, HOST)}; {pair(site, PLAIN)}; sid=s"
    # Both kinds reach the app as they came (strictly necessary, as before), whichever counts.
    seen = site.get("/", headers={"Cookie": cookies}, base_url=HTTPS).json["cookie"]
    for name in (*HOST, *PLAIN):
        assert f"{name}=" in seen


@pytest.mark.parametrize(("given", "says"), [
    pytest.param("https://example.com", "no scheme", id="scheme"),
    pytest.param("example.com:443", "no scheme, port", id="port"),
    pytest.param("example.com/shop", "path", id="path"),
    pytest.param(".example.com", "leading dot", id="leading-dot"),
    pytest.param("localhost", "bare domain", id="one-label"),
    pytest.param("192.0.2.1", "bare domain", id="ip-address"),
    pytest.param("exämple.com", "xn--", id="not-punycode"),
    pytest.param(["example.com"], "bare domain", id="a-list"),
])
def test_cookie_domain_must_be_a_bare_domain(given, says):
    with pytest.raises(ConfigurationError, match=r"^cookie_domain must be a bare domain") as refused:
        checked({"policy": POLICY, "secret_key": KEYS, "cookie_domain": given})
    assert says in str(refused.value)


def test_cookie_domain_is_taken_in_lower_case():
    assert checked({"policy": POLICY, "secret_key": KEYS, "cookie_domain": "Shop.Example.COM"})[
        "cookie_domain"] == "shop.example.com"


def test_secure_true_behind_a_proxy_on_a_real_server(live_server, tmp_path):
    # The proxy speaks https to the browser and plain http here: secure=True names the
    # cookies __Host- and reads them back over a real connection.
    app = ConsentMiddleware(wsgi_site([]), POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db", secure=True)
    url = urlsplit(live_server(app))

    def request(method: str, path: str, body: str = "", cookie: str = "") -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{url.netloc}"}
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    posted = request("POST", "/_consent/", "action=accept_all")
    lines = posted.headers.get_all("Set-Cookie")
    assert sorted(line.split("=", 1)[0] for line in lines) == sorted(HOST)
    back = "; ".join(line.split(";", 1)[0] for line in lines)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/", headers={"Cookie": back})
    assert json.loads(conn.getresponse().read())["granted"] == sorted(ALL)
    conn.request("GET", "/", headers={"Cookie": back.replace("__Host-", "")})
    assert json.loads(conn.getresponse().read())["granted"] == sorted(NECESSARY)
    conn.close()


def test_the_guardian_flow_over_https_uses_the_host_names(tmp_path):
    from werkzeug.test import Client

    mail: list = []

    def page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "_ga=GA1; Path=/")])
        return [b"ok"]

    middleware = ConsentMiddleware(
        page, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db", site_url=HTTPS,
        is_minor=lambda environ: "minor=1" in environ.get("QUERY_STRING", ""),
        guardian_mailer=lambda *args: mail.append(args))
    child = Client(middleware)
    asked = child.post("/_consent/guardian?minor=1", data={"guardian": "parent@example.com", "category": "analytics"},
                       base_url=HTTPS)
    assert asked.status_code == 303
    # The minor's browser got its consent id under the __Host- names, Secure, and only those.
    written = sorted(line.split("=", 1)[0] for line in asked.headers.getlist("Set-Cookie"))
    assert written == sorted(HOST)
    link = mail[-1][1].removeprefix(HTTPS)
    assert Client(middleware).post(link, data={"action": "allow"}, base_url=HTTPS).status_code == 200
    # The guardian's grant is found through the __Host-consent_id cookie the browser sends back.
    assert child.get("/?minor=1", base_url=HTTPS).headers.getlist("Set-Cookie") == ["_ga=GA1; Path=/"]
    # Over plain http the same cookies are not the consent cookies: no grant, _ga expired.
    (line,) = child.get("/?minor=1").headers.getlist("Set-Cookie")
    assert line.startswith("_ga=;") and "Max-Age=0" in line
