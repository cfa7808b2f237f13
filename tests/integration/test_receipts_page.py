"""``GET /_consent/receipts`` for a person: a page in their language when the client
prefers HTML (a browser's navigation), JSON otherwise (RFC 9110 §12.5.1), with every
protection of the JSON answer kept: no script reads it, a sandboxed document, a
download file. And the pages' stylesheet: a hashed file, no inline style anywhere."""
from __future__ import annotations

import http.client
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from consentlib import ConsentMiddleware
from consentlib.web.assets import manifest

from tests.support.apps import KEYS, KINDS, POLICY, build_site, wsgi_site

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none"}


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def _chosen(site) -> str:
    """A visitor who accepted all, then rejected all: two receipts, one superseded."""
    cookies = site.post("/_consent/", data={"action": "accept_all"}).consent_cookies()
    return site.post("/_consent/", data={"action": "reject_all"}, headers={"Cookie": cookies}).consent_cookies()


@pytest.mark.parametrize(("accept", "html"), [
    pytest.param(BROWSER, True, id="a-browser-navigation"),
    pytest.param("text/html", True, id="text-html"),
    pytest.param("application/json;q=0.5, text/html", True, id="html-preferred-by-q"),
    pytest.param("application/json", False, id="application-json"),
    pytest.param(None, False, id="no-accept-as-curl"),
    pytest.param("*/*", False, id="anything-is-a-tie"),
    pytest.param("text/html;q=0.5, application/json", False, id="json-preferred-by-q"),
    pytest.param("text/*;q=0.9, application/*", False, id="wildcards"),
    pytest.param("text/html;q=nonsense, application/json", False, id="a-malformed-q"),
])
def test_receipts_are_a_page_only_when_html_is_preferred(site, accept, html):
    cookies = _chosen(site)
    headers = {"Cookie": cookies, **NAVIGATION, **({"Accept": accept} if accept else {})}
    r = site.get("/_consent/receipts", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html" if html else "application/json")
    assert "accept" in r.vary and "cookie" in r.vary
    # Both forms are a sandboxed document that no opener can read, and never stored.
    assert r.headers["Content-Security-Policy"] == "sandbox; frame-ancestors 'none'"
    assert r.headers["Cache-Control"] == "no-store"
    if not html:
        assert [x["status"] for x in r.json["receipts"]] == ["superseded", "active"]


def test_the_page_lists_each_choice_newest_first_in_the_visitors_language(site):
    cookies = _chosen(site)
    receipts = site.store.receipts()
    r = site.get("/_consent/receipts", headers={"Cookie": cookies, "Accept": BROWSER, "Accept-Language": "zh-CN"})
    assert r.headers["Content-Language"] == "zh-Hans" and "accept-language" in r.vary
    page = r.text
    assert "<title>您的同意回执</title>" in page
    assert f"您的同意 ID：{receipts[0]['consent_id']}" in page
    rows = re.findall(r"<tr><td><time datetime=\"([^\"]+)\">", page)
    assert rows == [receipts[1]["time"], receipts[0]["time"]]
    assert "已被之后的选择取代" in page and "有效" in page and "偏好设置页面" in page
    assert 'href="/_consent/receipts?download=1"' in page


def test_the_page_for_a_visitor_without_receipts_says_so(site):
    r = site.get("/_consent/receipts", headers={"Accept": BROWSER})
    assert "We have no receipt of a choice made in this browser." in r.text
    assert "<table" not in r.text


@pytest.mark.parametrize("fetch_metadata", [
    pytest.param({"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, id="fetch"),
    pytest.param({"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, id="iframe"),
])
def test_a_script_gets_no_page_either(site, fetch_metadata):
    cookies = _chosen(site)
    r = site.get("/_consent/receipts", headers={"Cookie": cookies, "Accept": BROWSER, **fetch_metadata})
    assert r.status_code == 403
    assert site.store.receipts()[0]["consent_id"] not in r.text


def test_download_is_the_json_file_whatever_accept_says(site):
    cookies = _chosen(site)
    r = site.get("/_consent/receipts?download=1", headers={"Cookie": cookies, "Accept": BROWSER})
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Content-Disposition"] == 'attachment; filename="my-consent-data.json"'
    assert len(json.loads(r.data)["receipts"]) == 2


class _Inline(HTMLParser):
    """Inline style or script: what a strict CSP (style-src 'self', nonces) refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self.found.append(tag)
        self.found += [name for name in attributes if name == "style" or name.startswith("on")]
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])


@pytest.mark.parametrize("path", [
    pytest.param("/_consent/receipts", id="receipts"),
    pytest.param("/_consent/preferences", id="preferences"),
])
def test_each_page_links_the_hashed_stylesheet_and_has_no_inline_style(site, path):
    parser = _Inline()
    parser.feed(site.get(path, headers={"Accept": BROWSER}).text)
    assert parser.found == []
    assert parser.stylesheets == [f"/_consent/{manifest()['pages.css']}"]
    css = site.get(parser.stylesheets[0])
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b".consent-page" in css.data


def test_the_stylesheet_follows_the_prefix(tmp_path):
    site = build_site("wsgi", tmp_path, prefix="/privacy-api/")
    assert f'href="/privacy-api/{manifest()["pages.css"]}"' in site.get("/privacy-api/preferences").text
    assert site.get(f"/privacy-api/{manifest()['pages.css']}").status_code == 200


def test_a_site_wraps_the_pages_in_its_own_layout(tmp_path):
    layout = tmp_path / "templates"
    layout.mkdir()
    (layout / "page.html").write_text(
        '<!doctype html><html lang="{{ lang }}"><head><title>{{ title }} · Shop</title>'
        '<link rel="stylesheet" href="/static/site.css"><link rel="stylesheet" href="{{ stylesheet }}"></head>'
        '<body><header id="site-header">Shop</header><main class="consent-page"><h1>{{ title }}</h1>{{ body }}</main>'
        "</body></html>", "utf-8")
    site = build_site("wsgi", tmp_path, templates=str(layout))
    for path in ("/_consent/preferences", "/_consent/receipts"):
        page = site.get(path, headers={"Accept": BROWSER}).text
        assert '<header id="site-header">Shop</header>' in page and "· Shop</title>" in page
        assert f'href="/_consent/{manifest()["pages.css"]}"' in page


def test_receipts_page_over_a_real_server(live_server, tmp_path):
    app = ConsentMiddleware(wsgi_site([]), POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    url = urlsplit(live_server(app))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("POST", "/_consent/", body="action=accept_all",
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://{url.netloc}"})
    posted = conn.getresponse()
    posted.read()
    cookies = "; ".join(line.split(";", 1)[0] for line in posted.headers.get_all("Set-Cookie"))
    conn.request("GET", "/_consent/receipts", headers={"Cookie": cookies, "Accept": BROWSER, **NAVIGATION})
    page = conn.getresponse()
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Your consent receipts" in page.read().decode()
    conn.request("GET", "/_consent/receipts", headers={"Cookie": cookies, "Accept": "application/json"})
    data = conn.getresponse()
    assert len(json.loads(data.read())["receipts"]) == 1
    conn.close()
