"""The banner in real headless Chromium, against a real page behind ConsentMiddleware.

The page is served under ``Content-Security-Policy: script-src 'self'; style-src 'self'``
and carries what a site gates on consent: an analytics script (``type="text/plain"``),
a marketing image (``data-consent-src``) and an analytics cookie (``_ga``) that the app
sets on every response. The server counts every request, so "nothing ran" is checked
where it matters: no request reached it.
"""
from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.wrappers import Request, Response

from consentlib import Category, ConsentMiddleware, Cookie, Policy
from consentlib.web.own_cookies import own_cookies
from consentlib.web.tags import banner_tags
from consentlib.testing.browser import wait_until

pytestmark = pytest.mark.e2e


AXE = Path(__file__).resolve().parents[2] / "js" / "node_modules" / "axe-core" / "axe.min.js"
CSP = "script-src 'self'; style-src 'self'"
NONCE = "t3st-n0nce-e2e"
ALL = ["analytics", "marketing", "necessary", "preferences"]

POLICY = Policy(
    revision=3,
    categories=[
        Category("necessary", required=True, label="Strictly necessary", description="Keeps the site working."),
        Category("preferences", label="Preferences", description="Remembers your settings."),
        Category("analytics", label="Analytics", description="Counts visits."),
        Category("marketing", gpc=True, label="Marketing", description="Measures our ads."),
    ],
    cookies=[
        Cookie("sid", "necessary", purpose="Keeps you signed in", lifetime="session"),
        Cookie("_ga*", "analytics", purpose="Counts visits", lifetime="2 years", third_party="Google"),
    ],
    notice_url="/legal/privacy",
)

ASSETS = {
    # The standard gtag snippet: Consent Mode calls land in window.dataLayer.
    "/static/recorder.js": "window.dataLayer = window.dataLayer || [];"
                           "window.gtag = function () { window.dataLayer.push(arguments); };",
    "/static/analytics.js": "window.analyticsRan = (window.analyticsRan || 0) + 1;"
                            "window.gtag('event', 'page_view');",
}
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class Site:
    """The app behind the middleware; it counts the requests that reach it."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.hits[request.path] += 1
        if request.path in ASSETS:
            response = Response(ASSETS[request.path], content_type="text/javascript")
        elif request.path == "/static/pixel.gif":
            response = Response(PIXEL, content_type="image/gif")
        elif request.path == POLICY.notice_url:
            response = Response("<!doctype html><html lang=en><title>Privacy notice</title><h1>Privacy notice</h1>",
                                content_type="text/html; charset=utf-8")
        elif request.path in ("/", "/zh", "/own-open", "/nonce"):
            response = Response(self.page(environ, request.path), content_type="text/html; charset=utf-8")
            csp = CSP if request.path != "/nonce" else f"script-src 'self' 'nonce-{NONCE}'; style-src 'self'"
            response.headers["Content-Security-Policy"] = csp
            # Like a careless library: set an analytics cookie whatever the visitor said.
            response.set_cookie("_ga", "GA1.1.42", path="/")
            response.set_cookie("sid", "s1", path="/", httponly=True)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    @staticmethod
    def page(environ, path: str) -> str:
        nonce = NONCE if path == "/nonce" else None
        lang = "zh-CN" if path == "/zh" else "en"
        if path == "/zh":  # the site's own choice of language, before Accept-Language (docs/languages.md)
            environ["consentlib.language"] = "zh-CN"
        own = '<p><a id="consent-open" href="/_consent/preferences">Cookie settings</a></p>' if path == "/own-open" else ""
        inline = (f'<script type="text/plain" data-consent="analytics" nonce="{NONCE}">window.inlineRan = true;</script>'
                  if nonce else "")
        return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,">
<script src="/static/recorder.js"></script>
{banner_tags(environ, prefix="/_consent/", revision=POLICY.revision, nonce=nonce, notice_url=POLICY.notice_url)}
</head><body><main><h1>Welcome</h1><p>Things for sale.</p>{own}</main>
<script type="text/plain" data-consent="analytics" data-consent-src="/static/analytics.js"></script>
{inline}
<img data-consent="marketing" data-consent-src="/static/pixel.gif" alt="" width="1" height="1">
</body></html>"""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def driver(chrome):
    """The module's Chromium, with no cookies, no extra headers and empty logs."""
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    chrome.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chrome.get_log("browser")
    chrome.get_log("performance")
    return chrome


@pytest.fixture
def site(live_server, tmp_path):
    app = Site()
    wrapped = ConsentMiddleware(LintMiddleware(app), POLICY, secret_key=["e2e-secret-key-0123456789"],
                                store=f"sqlite:///{tmp_path}/c.db")
    app.base = live_server(wrapped)
    return app


# -- helpers ----------------------------------------------------------------------------------


def wait(driver, condition, timeout=10):
    return wait_until(driver, condition, timeout)


def open_page(driver, site, path="/"):
    """Load a page and wait until the banner script has run (it adds #consent-open)."""
    driver.get(site.base + path)
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))


def banner(driver):
    return wait(driver, EC.visibility_of_element_located((By.ID, "consent-banner")))


def banner_gone(driver):
    wait(driver, EC.invisibility_of_element_located((By.ID, "consent-banner")))


def click(driver, element_id):
    wait(driver, EC.element_to_be_clickable((By.ID, element_id))).click()


def box(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'input[name="category"][value="{name}"]')


def consent_payload(driver) -> dict:
    cookie = driver.get_cookie("consent")
    assert cookie is not None, "no consent cookie was recorded"
    body = cookie["value"].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def mark_document(driver):
    """Tag the current document, so that a new one can be told apart."""
    driver.execute_script("window.__consentlibOldDocument = true")


def new_document(driver):
    # Not EC.staleness_of: while the old page unloads, chromedriver may answer with
    # "Node with given id does not belong to the document", which that condition does
    # not treat as stale, so the wait would fail at random.
    return driver.execute_script("return document.readyState") == "complete" and \
        driver.execute_script("return window.__consentlibOldDocument") is None


def reload(driver):
    mark_document(driver)
    driver.refresh()
    wait(driver, new_document)
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))


def requests_sent(driver):
    """(method, URL) of every request the page sent since the last call (performance log)."""
    sent = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            request = message["params"]["request"]
            sent.append((request["method"], request["url"]))
    return sent


def endpoint_requests(driver, site):
    """GET/POST requests to the consent endpoint itself since the last call (performance log)."""
    return [method for method, url in requests_sent(driver) if url == site.base + "/_consent/"]


def table_rows(driver, table_id):
    """The text of each row's cells, header row first."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#' + arguments[0] + ' tr'), function (tr) {
          return Array.from(tr.children, function (c) { return c.textContent; }); });""", table_id)


def focused_id(driver):
    return driver.execute_script("return document.activeElement && document.activeElement.id")


def press(driver, *keys):
    ActionChains(driver).send_keys(*keys).perform()


def data_layer(driver):
    return driver.execute_script(
        "return (window.dataLayer || []).map(function (a) { return Array.prototype.slice.call(a); });"
    )


def button_looks(driver):
    return driver.execute_script("""
        return ['consent-accept-all', 'consent-reject-all', 'consent-customize'].map(function (id) {
          var el = document.getElementById(id), r = el.getBoundingClientRect(), s = getComputedStyle(el);
          return [el.tagName, Math.round(r.width), Math.round(r.height), s.backgroundColor, s.color,
                  s.fontSize, s.fontWeight, s.borderTopWidth];
        });""")


def tab_to(driver, element_id, limit=15):
    for _ in range(limit):
        if focused_id(driver) == element_id:
            return
        press(driver, Keys.TAB)
    assert focused_id(driver) == element_id, f"Tab never reached #{element_id}"


def assert_clean_console(driver):
    """Zero console errors, and not a single CSP report at any level."""
    entries = driver.get_log("browser")
    bad = [e for e in entries if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]
           or "Refused to" in e["message"]]
    assert bad == [], bad


# -- the cases --------------------------------------------------------------------------------


def test_first_visit_shows_a_labelled_modal_banner_and_nothing_runs(driver, site):
    """RULES: nothing pre-ticked; silence is not consent; reject as visible as accept."""
    open_page(driver, site)
    dialog = banner(driver)
    assert dialog.get_attribute("role") == "dialog"
    assert dialog.get_attribute("aria-modal") == "true"
    title = driver.find_element(By.ID, dialog.get_attribute("aria-labelledby"))
    assert title.text == "Privacy choices"
    assert driver.execute_script("return document.getElementById('consent-banner').contains(document.activeElement)")
    # Equal prominence: same element, same size, same look, on a wide and a narrow screen.
    assert len(set(map(tuple, button_looks(driver)))) == 1, button_looks(driver)
    size = driver.get_window_size()
    try:
        driver.set_window_size(390, 844)
        wait(driver, lambda d: d.execute_script("return innerWidth") < 500)
        assert len(set(map(tuple, button_looks(driver)))) == 1, button_looks(driver)
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert site.hits["/static/analytics.js"] == 0
    assert site.hits["/static/pixel.gif"] == 0
    assert driver.get_cookie("_ga") is None
    assert driver.get_cookie("consent") is None
    assert driver.execute_script("return window.analyticsRan") is None
    assert_clean_console(driver)


def test_reject_all_records_the_refusal_and_keeps_everything_off(driver, site):
    open_page(driver, site)
    banner(driver)
    click(driver, "consent-reject-all")
    banner_gone(driver)
    wait(driver, lambda d: d.get_cookie("consent"))
    assert consent_payload(driver)["c"] == ["necessary"]
    assert consent_payload(driver)["r"] == 3
    driver.get_log("performance")
    reload(driver)
    assert not driver.find_elements(By.ID, "consent-banner"), "a decided visitor is not asked again"
    # The banner read the server's signed cookie: no request to the endpoint was needed.
    assert endpoint_requests(driver, site) == []
    assert driver.execute_script("return window.analyticsRan") is None
    assert site.hits["/static/analytics.js"] == 0
    assert site.hits["/static/pixel.gif"] == 0
    assert driver.get_cookie("_ga") is None
    assert_clean_console(driver)


def test_accept_all_runs_gated_script_and_image_now_and_on_later_pages(driver, site):
    open_page(driver, site)
    banner(driver)
    click(driver, "consent-accept-all")
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    wait(driver, lambda d: site.hits["/static/pixel.gif"] == 1)
    assert consent_payload(driver)["c"] == ALL
    reload(driver)
    assert not driver.find_elements(By.ID, "consent-banner")
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    assert driver.get_cookie("_ga") is not None, "the analytics cookie passes once granted"
    assert_clean_console(driver)


def test_customize_lists_categories_unticked_and_saves_only_what_is_ticked(driver, site):
    open_page(driver, site)
    banner(driver)
    assert not driver.find_element(By.ID, "consent-save").is_displayed()
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))
    assert box(driver, "necessary").is_selected() and not box(driver, "necessary").is_enabled()
    for name in ("preferences", "analytics", "marketing"):
        assert not box(driver, name).is_selected(), f"{name} must not be pre-ticked"
        assert box(driver, name).is_enabled()
    assert "Remembers your settings." in driver.find_element(By.ID, "consent-banner").text
    box(driver, "analytics").click()
    click(driver, "consent-save")
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    assert consent_payload(driver)["c"] == ["analytics", "necessary"]
    assert site.hits["/static/pixel.gif"] == 0
    assert_clean_console(driver)


def test_reopen_from_privacy_choices_and_withdraw_reloads_and_expires_cookies(driver, site):
    """RULES: withdrawing is as easy as giving, at any time, from every page."""
    open_page(driver, site)
    banner(driver)
    click(driver, "consent-accept-all")
    banner_gone(driver)
    reload(driver)
    assert driver.get_cookie("_ga") is not None
    click(driver, "consent-open")
    banner(driver)
    assert box(driver, "analytics").is_selected(), "the reopened dialog shows the current choice"
    assert driver.find_element(By.ID, "consent-save").is_displayed()
    mark_document(driver)
    click(driver, "consent-reject-all")
    wait(driver, new_document)  # narrowed: the page reloads
    wait(driver, EC.presence_of_element_located((By.ID, "consent-open")))
    assert driver.get_cookie("_ga") is None, "the withdrawn category's cookie was expired"
    assert consent_payload(driver)["c"] == ["necessary"]
    assert driver.execute_script("return window.analyticsRan") is None
    assert not driver.find_elements(By.ID, "consent-banner")
    assert_clean_console(driver)


def test_keyboard_only(driver, site):
    """WCAG 2.1.1, 2.1.2, 2.4.3, 2.4.7: operable by keyboard, focus kept in, focus visible."""
    open_page(driver, site)
    banner(driver)
    tab_to(driver, "consent-customize")
    outline = driver.execute_script(
        "var s = getComputedStyle(document.activeElement); return [s.outlineStyle, parseFloat(s.outlineWidth)];")
    assert outline[0] != "none" and outline[1] >= 2, f"no visible focus indicator: {outline}"
    press(driver, Keys.ENTER)
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))
    assert driver.execute_script("return document.activeElement.value") == "preferences"
    press(driver, Keys.TAB)
    assert driver.execute_script("return document.activeElement.value") == "analytics"
    press(driver, Keys.SPACE)
    assert box(driver, "analytics").is_selected()
    # Escape is never consent: the dialog stays and nothing is recorded.
    press(driver, Keys.ESCAPE)
    assert driver.find_element(By.ID, "consent-banner").is_displayed()
    assert driver.get_cookie("consent") is None
    # Focus is trapped: Tab past the last control comes back to the first, and
    # Shift+Tab from the first goes to the last, never to the page behind.
    seen = []
    for _ in range(12):
        press(driver, Keys.TAB)
        seen.append(driver.execute_script(
            "return document.getElementById('consent-banner').contains(document.activeElement)"))
    assert all(seen)
    tab_to(driver, "consent-save")
    press(driver, Keys.ENTER)
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    assert consent_payload(driver)["c"] == ["analytics", "necessary"]
    # The reopen control is reachable by keyboard too, and Escape then closes the dialog
    # without changing anything, giving focus back.
    driver.execute_script("document.getElementById('consent-open').focus()")
    press(driver, Keys.ENTER)
    banner(driver)
    press(driver, Keys.ESCAPE)
    banner_gone(driver)
    assert focused_id(driver) == "consent-open"
    assert consent_payload(driver)["c"] == ["analytics", "necessary"]
    assert_clean_console(driver)


def test_gpc_signal_locks_gpc_categories_off_and_says_so(driver, site):
    """W3C GPC; 11 CCR §7025: Sec-GPC: 1 opts out of sale/sharing, whatever is clicked."""
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
    open_page(driver, site)
    dialog = banner(driver)
    assert "Global Privacy Control signal honored" in dialog.text
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))
    assert not box(driver, "marketing").is_selected()
    assert not box(driver, "marketing").is_enabled()
    assert box(driver, "analytics").is_enabled()
    click(driver, "consent-accept-all")
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    assert "marketing" not in consent_payload(driver)["c"]
    assert site.hits["/static/pixel.gif"] == 0
    reload(driver)
    assert site.hits["/static/pixel.gif"] == 0
    assert_clean_console(driver)


def test_gpc_in_the_browser_alone_is_honoured_by_the_banner(driver, site):
    """navigator.globalPrivacyControl === true, even if no header reached the server."""
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: function () { return true; }});"
    })
    try:
        open_page(driver, site)
        dialog = banner(driver)
        assert driver.execute_script("return navigator.globalPrivacyControl") is True
        assert "Global Privacy Control signal honored" in dialog.text
        click(driver, "consent-customize")
        wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))
        assert not box(driver, "marketing").is_selected() and not box(driver, "marketing").is_enabled()
        click(driver, "consent-accept-all")
        banner_gone(driver)
        wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
        assert consent_payload(driver)["c"] == ["analytics", "necessary", "preferences"]
        assert site.hits["/static/pixel.gif"] == 0
        assert_clean_console(driver)
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


def test_consent_mode_default_before_tags_and_update_after_choice_and_on_each_page(driver, site):
    """Consent Mode v2: 'default' (all denied) before any tag fires, 'update' on the choice."""
    open_page(driver, site)
    banner(driver)
    calls = data_layer(driver)
    assert len(calls) == 1
    assert calls[0][:2] == ["consent", "default"]
    default = calls[0][2]
    assert default.pop("wait_for_update") == 500
    assert sorted(default) == sorted(["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
                                      "functionality_storage", "personalization_storage", "security_storage"])
    assert set(default.values()) == {"denied"}
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))  # the second layer loads on demand
    box(driver, "analytics").click()
    click(driver, "consent-save")
    wait(driver, lambda d: len(data_layer(d)) == 3)
    calls = data_layer(driver)
    assert [c[:2] for c in calls] == [["consent", "default"], ["consent", "update"], ["event", "page_view"]]
    update = calls[1][2]
    assert update["analytics_storage"] == "granted"
    assert update["security_storage"] == "granted"
    assert update["ad_storage"] == update["ad_user_data"] == update["ad_personalization"] == "denied"
    reload(driver)
    wait(driver, lambda d: len(data_layer(d)) == 3)
    assert [c[:2] for c in data_layer(driver)] == [["consent", "default"], ["consent", "update"],
                                                   ["event", "page_view"]]
    assert data_layer(driver)[1][2] == update
    assert_clean_console(driver)


def test_gated_inline_script_keeps_its_nonce_under_a_nonce_csp(driver, site):
    open_page(driver, site, "/nonce")
    banner(driver)
    click(driver, "consent-accept-all")
    banner_gone(driver)
    wait(driver, lambda d: d.execute_script("return window.inlineRan") is True)
    wait(driver, lambda d: d.execute_script("return window.analyticsRan") == 1)
    assert_clean_console(driver)


def test_simplified_chinese_chrome_for_zh_cn_pages(driver, site):
    open_page(driver, site, "/zh")
    banner(driver)
    assert driver.find_element(By.ID, "consent-title").text == "隐私选项"
    assert driver.find_element(By.ID, "consent-accept-all").text == "全部接受"
    assert driver.find_element(By.ID, "consent-reject-all").text == "全部拒绝"
    assert driver.find_element(By.ID, "consent-customize").text == "自定义"
    assert "Strictly necessary" in driver.find_element(By.ID, "consent-banner").get_attribute("textContent")
    assert_clean_console(driver)


def test_page_supplied_consent_open_is_used(driver, site):
    open_page(driver, site, "/own-open")
    banner(driver)
    click(driver, "consent-reject-all")
    banner_gone(driver)
    assert len(driver.find_elements(By.ID, "consent-open")) == 1
    click(driver, "consent-open")  # a link to the no-JS form; the banner opens instead
    banner(driver)
    assert driver.current_url == site.base + "/own-open"
    assert_clean_console(driver)


def test_no_js_preferences_page_is_linked(driver, site):
    open_page(driver, site)
    link = banner(driver).find_element(By.CSS_SELECTOR, "#consent-desc a")
    assert link.get_attribute("href") == site.base + "/_consent/preferences"
    link.click()
    wait(driver, EC.url_to_be(site.base + "/_consent/preferences"))
    assert driver.find_elements(By.CSS_SELECTOR, 'input[name="category"]')


def test_first_layer_names_every_purpose_in_one_sentence(driver, site):
    """EDPB cookie-banner taskforce 2023, EDPB Guidelines 05/2020: the purposes on the first layer."""
    open_page(driver, site)
    desc = banner(driver).find_element(By.ID, "consent-desc").text
    assert desc.startswith("We use cookies and similar technologies for these purposes: "
                           "Strictly necessary, Preferences, Analytics, Marketing. "), desc
    open_page(driver, site, "/zh")
    desc = banner(driver).find_element(By.ID, "consent-desc").text
    assert "用于以下目的：Strictly necessary、Preferences、Analytics、Marketing。" in desc, desc


@pytest.mark.parametrize("path, text", [pytest.param("/", "Privacy notice", id="en"),
                                        pytest.param("/zh", "隐私声明", id="zh")])
def test_first_layer_links_the_privacy_notice_one_click_away(driver, site, path, text):
    """EDPB cookie-banner taskforce 2023: the privacy notice one click from the first layer."""
    open_page(driver, site, path)
    link = banner(driver).find_element(By.ID, "consent-notice")
    assert link.text == text
    assert link.get_attribute("href") == site.base + POLICY.notice_url
    link.click()
    wait(driver, EC.url_to_be(site.base + POLICY.notice_url))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Privacy notice"
    assert driver.get_cookie("consent") is None, "reading the notice is not consent"


@pytest.mark.parametrize("path, lang, head, us", [
    pytest.param("/", "en", ["Cookie", "Purpose", "Lifetime", "Set by"], "this site", id="en"),
    pytest.param("/zh", "zh-Hans", ["Cookie", "用途", "有效期", "设置方"], "本网站", id="zh"),
])
def test_second_layer_shows_each_categorys_cookies_loaded_only_on_customize(driver, site, path, lang, head, us):
    """ePrivacy Art 5(3): each cookie's purpose and lifetime, and who sets it, one click deep."""
    open_page(driver, site, path)
    banner(driver)
    # The first paint loads neither the second layer nor the declaration.
    before = [url for _, url in requests_sent(driver)]
    assert not [u for u in before if "banner-customize" in u or "declaration.json" in u], before
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-cookies-analytics")))
    assert table_rows(driver, "consent-cookies-analytics") == [head, ["_ga*", "Counts visits", "2 years", "Google"]]
    # consentlib's own two cookies first (declaration.json's texts, as written), then the site's.
    assert [row[0] for row in table_rows(driver, "consent-cookies-necessary")[1:3]] == ["consent", "consent_id"]
    assert table_rows(driver, "consent-cookies-necessary")[3] == ["sid", "Keeps you signed in", "session", us]
    assert driver.find_element(By.ID, "consent-save").is_displayed()
    after = [url for _, url in requests_sent(driver)]
    assert len([u for u in after if "/_consent/banner-customize." in u]) == 2, after  # its script and stylesheet
    # The second layer's texts come with the declaration, asked in the tag's language.
    assert after.count(site.base + f"/_consent/declaration.json?lang={lang}") == 1, after
    # Styled by its own stylesheet: the table is laid out inside the dialog, not wider.
    widths = driver.execute_script("""
        var t = document.getElementById('consent-cookies-analytics'), d = document.getElementById('consent-banner');
        return [getComputedStyle(t).borderCollapse, t.getBoundingClientRect().right <= d.getBoundingClientRect().right];""")
    assert widths == ["collapse", True]
    box(driver, "analytics").click()
    click(driver, "consent-save")
    banner_gone(driver)
    assert consent_payload(driver)["c"] == ["analytics", "necessary"]
    assert_clean_console(driver)


def test_without_the_declaration_customize_goes_to_the_preferences_page(driver, site):
    """The second layer's texts come with declaration.json: when it cannot be loaded, the
    visitor gets the no-JS preferences page (the same choice, in words), never an empty layer."""
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*declaration.json*"]})
    open_page(driver, site, "/")
    banner(driver)
    click(driver, "consent-customize")
    wait(driver, EC.url_to_be(site.base + "/_consent/preferences"))
    assert driver.find_elements(By.CSS_SELECTOR, 'input[name="category"][value="analytics"]')
    assert driver.get_cookie("consent") is None, "opening the choices is not consent"


def test_second_layer_loads_under_a_nonce_csp(driver, site):
    """The chunk carries the banner's nonce: a strict CSP needs no loosening for it."""
    open_page(driver, site, "/nonce")
    banner(driver)
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-cookies-analytics")))
    assert_clean_console(driver)


def test_no_js_preferences_page_shows_the_same_cookie_tables(driver, site):
    """Works without JavaScript: the preferences page lists each category's cookies too."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(site.base + "/_consent/preferences")
        wait(driver, EC.presence_of_element_located((By.ID, "consent-cookies-analytics")))
        rows = [[c.text for c in tr.find_elements(By.CSS_SELECTOR, "th, td")]
                for tr in driver.find_elements(By.CSS_SELECTOR, "#consent-cookies-analytics tr")]
        assert rows == [["Cookie", "Purpose", "Lifetime", "Set by"], ["_ga*", "Counts visits", "2 years", "Google"]]
        necessary = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#consent-cookies-necessary tbody td")]
        own = [cell for c in own_cookies(POLICY, secure=False) for cell in (c.name, c.purpose, c.lifetime, "this site")]
        assert necessary == [*own, "sid", "Keeps you signed in", "session", "this site"]
        assert driver.find_element(By.LINK_TEXT, "Privacy notice").get_attribute("href") == site.base + POLICY.notice_url
        # And the choice works from there, with no script at all.
        driver.find_element(By.CSS_SELECTOR, 'button[value="reject_all"]').click()
        wait(driver, lambda d: d.get_cookie("consent"))
        assert consent_payload(driver)["c"] == ["necessary"]
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def run_axe(driver):
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` in js/ (axe-core is a devDependency)")
    # WebDriver's script injection is not subject to the page's CSP.
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
           .then(function (r) { done(r.violations.map(function (v) {
               return {id: v.id, impact: v.impact, nodes: v.nodes.map(function (n) { return n.target; })}; })); },
                 function (e) { done([{id: 'axe-error', impact: String(e), nodes: []}]); });""")
    return result


@pytest.mark.parametrize("path, gpc", [pytest.param("/", False, id="en"), pytest.param("/zh", True, id="zh-gpc")])
def test_accessibility_axe_wcag21_aa(driver, site, path, gpc):
    """WCAG 2.1 AA checked by axe-core, a real accessibility engine, on both layers."""
    if gpc:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
    open_page(driver, site, path)
    banner(driver)
    assert run_axe(driver) == []
    click(driver, "consent-customize")
    wait(driver, EC.visibility_of_element_located((By.ID, "consent-save")))
    assert run_axe(driver) == []
    # Decided: only the "Privacy choices" control is left on the page.
    click(driver, "consent-reject-all")
    banner_gone(driver)
    assert run_axe(driver) == []
