"""third_party_csp in headless Chromium: a page that loads a script, an image, an iframe and
a fetch from a second local origin, with no tagging at all (docs/third-parties.md)."""
from __future__ import annotations

import json
import threading

import pytest

from consentlib import Beacon, Category, ConsentMiddleware, Host, Policy
from consentlib.records.would_block import would_block
from consentlib.testing.browser import chrome_driver, wait_until
from consentlib.testing.server import serve_wsgi

pytestmark = pytest.mark.e2e

KEYS = ["e2e-csp-key-0123456789abcdef"]
NONCE = "n0nc3-e2e"
FOUR = {"/script.js", "/pixel.gif", "/frame.html", "/api"}
# What each of the four is refused under, as Chromium reports it (consentlib keeps the
# directive without its -elem suffix).
DIRECTIVES = {"script-src", "img-src", "frame-src", "connect-src"}
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class SecondOrigin:
    """Another origin (another port): records every path a browser asks it for."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def reached(self) -> set[str]:
        with self.lock:
            return set(self.seen)

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        with self.lock:
            self.seen.append(path)
        kind, body = {
            "/script.js": ("text/javascript", b"document.documentElement.dataset.third = 'ran';"),
            "/pixel.gif": ("image/gif", GIF),
            "/frame.html": ("text/html", b"<!doctype html><p>video"),
        }.get(path, ("application/json", b"{}"))
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body))),
                                  ("Access-Control-Allow-Origin", "*"), ("Cache-Control", "no-store")])
        return [body]


def page_app(other: str):
    page = f"""<!doctype html><title>shop</title>
<script nonce="{NONCE}">document.documentElement.dataset.inline = 'ran';
fetch('{other}/api').catch(() => {{}});</script>
<script>document.documentElement.dataset.unnonced = 'ran';</script>
<script src="{other}/script.js"></script>
<img src="{other}/pixel.gif" alt="">
<iframe src="{other}/frame.html"></iframe>
<p>Welcome</p>""".encode()
    # The site's own strict policy: only its nonce'd inline script and the other origin.
    own = f"script-src 'nonce-{NONCE}' {other}"

    def app(environ, start_response):
        if environ["PATH_INFO"] != "/":
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return []
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page))),
                                  ("Content-Security-Policy", own), ("Cache-Control", "no-store")])
        return [page]

    return app


@pytest.fixture
def second_origin():
    origin = SecondOrigin()
    with serve_wsgi(origin) as url:
        yield origin, url


@pytest.fixture
def driver():
    browser = chrome_driver()
    yield browser
    browser.quit()


def site(tmp_path, other: str, **options):
    port = other.rsplit(":", 1)[1]
    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                    hosts=[Host(f"127.0.0.1:{port}", "analytics")])
    return ConsentMiddleware(page_app(other), policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db",
                             **options)


def reported(middleware) -> set[str]:
    return {row["directive"] for row in middleware.store.csp_reports()}


def choose(driver, categories: list[str]) -> None:
    """Record a choice as the banner's script does: a same-origin JSON POST."""
    status = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/_consent/', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({categories: arguments[0]})}).then(r => done(r.status), e => done(String(e)));",
        categories)
    assert status == 200


def inline_scripts(driver) -> tuple[str | None, str | None]:
    data = driver.execute_script("return [document.documentElement.dataset.inline || null,"
                                 " document.documentElement.dataset.unnonced || null]")
    return data[0], data[1]


def test_nothing_reaches_another_origin_before_a_choice_or_after_reject_and_all_after_accept(
        tmp_path, second_origin, driver):
    origin, other = second_origin
    middleware = site(tmp_path, other, third_party_csp="enforce")
    with serve_wsgi(middleware) as url:
        driver.get(url + "/")
        # The browser's reports are the condition: all four were refused and said so.
        wait_until(driver, lambda d: DIRECTIVES <= reported(middleware))
        assert origin.reached() == set()
        # The site's own policy still governs its inline scripts: the nonce'd one ran,
        # the other did not ('unsafe-inline' in the added policy loosens nothing).
        assert inline_scripts(driver) == ("ran", None)

        choose(driver, [])  # Reject
        before = sum(row["count"] for row in middleware.store.csp_reports())
        driver.get(url + "/")
        wait_until(driver, lambda d: sum(row["count"] for row in middleware.store.csp_reports()) >= before + 4)
        assert origin.reached() == set()

        choose(driver, ["analytics"])  # Accept
        driver.get(url + "/")
        wait_until(driver, lambda d: FOUR <= origin.reached())
        assert driver.execute_script("return document.documentElement.dataset.third") == "ran"
        assert inline_scripts(driver) == ("ran", None)


def test_report_mode_lets_all_four_through_and_the_reports_arrive(tmp_path, second_origin, driver):
    origin, other = second_origin
    middleware = site(tmp_path, other, third_party_csp="report")
    with serve_wsgi(middleware) as url:
        driver.get(url + "/")
        wait_until(driver, lambda d: FOUR <= origin.reached() and DIRECTIVES <= reported(middleware))
        rows = middleware.store.csp_reports()
        assert {row["origin"] for row in rows} == {other}  # scheme, host and port: no path
        assert all(row["declared"] and row["category"] == "analytics" for row in rows)
        assert inline_scripts(driver) == ("ran", None)


def test_chromium_does_not_know_prefetch_src(tmp_path, driver):
    """Why prefetch-src is not among the directives (consentlib.gate.csp)."""
    def app(environ, start_response):
        body = b"<!doctype html><title>p</title>"
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                                  ("Content-Security-Policy", "prefetch-src 'none'")])
        return [body]

    with serve_wsgi(app) as url:
        driver.get(url + "/")
        messages = [entry["message"] for entry in driver.get_log("browser")]
    assert any("Unrecognized Content-Security-Policy directive 'prefetch-src'" in m for m in messages), \
        json.dumps(messages)


def test_report_mode_lets_a_cookie_a_beacon_and_an_etag_through_and_lists_them(tmp_path, second_origin, driver):
    """mode="report" in a real browser: the cookie is stored and sent back, the beacon
    reaches the app, the browser's cache replays the per-visitor ETag to the app, the
    third party loads; each is listed as what enforce mode would have blocked."""
    origin, other = second_origin
    seen: dict[str, list[str]] = {"cookie": [], "if_none_match": [], "paths": []}
    page = f'<!doctype html><title>report</title><img src="/collect" alt=""><img src="{other}/pixel.gif" alt="">'

    def app(environ, start_response):
        seen["paths"].append(environ["PATH_INFO"])
        seen["cookie"].append(environ.get("HTTP_COOKIE", ""))
        if environ["PATH_INFO"] == "/collect":
            start_response("200 OK", [("Content-Type", "image/gif"), ("Content-Length", str(len(GIF))),
                                      ("Cache-Control", "no-store")])
            return [GIF]
        replayed = environ.get("HTTP_IF_NONE_MATCH", "")
        seen["if_none_match"].append(replayed)
        if replayed.startswith('"uid-'):
            start_response("304 Not Modified", [("ETag", replayed)])
            return []
        body = page.encode()
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-cache"), ("ETag", '"uid-7f3a"'),
                                  ("Set-Cookie", "tracker_x=t1; Path=/")])
        return [body]

    port = other.rsplit(":", 1)[1]
    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                    beacons=[Beacon("/collect", "analytics")], hosts=[Host(f"127.0.0.1:{port}", "analytics")],
                    etags="analytics")
    middleware = ConsentMiddleware(app, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db",
                                   mode="report", third_party_csp="enforce")
    with serve_wsgi(middleware) as url:
        driver.get(url + "/")
        wait_until(driver, lambda d: "/collect" in seen["paths"] and "/pixel.gif" in origin.reached()
                   and "img-src" in reported(middleware))
        driver.get(url + "/")  # the cache revalidates: the app is sent back its own ETag
        wait_until(driver, lambda d: '"uid-7f3a"' in seen["if_none_match"])
    assert any("tracker_x=t1" in cookie for cookie in seen["cookie"])
    middleware.core.would_block.flush()
    listed = {(row["kind"], row["name"]) for row in would_block(middleware.store)}
    assert {("cookie", "tracker_x"), ("beacon", "/collect"), ("validator", "ETag"), ("csp", other)} <= listed


def test_accept_all_in_the_banner_reloads_so_a_gated_third_party_script_runs(tmp_path, second_origin, driver):
    """Under an enforced third-party CSP the page's policy, sent before the choice, refuses the
    granted category's host: the banner's "Accept all" loads the page again (the server's
    answer says reload), and the gated script from the other origin runs there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    from consentlib.consent import Consent
    from consentlib.web.tags import banner_tags, script_tag

    origin, other = second_origin
    port = other.rsplit(":", 1)[1]
    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                    hosts=[Host(f"127.0.0.1:{port}", "analytics")])

    def app(environ, start_response):
        consent: Consent = environ["consentlib.consent"]
        page = (f"<!doctype html><html><head><title>shop</title>"
                f"{banner_tags(environ, prefix='/_consent/', revision=1)}</head><body><p>Hello.</p>"
                f"{script_tag(consent, 'analytics', src=other + '/script.js')}</body></html>").encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
        return [page]

    middleware = ConsentMiddleware(app, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db",
                                   third_party_csp="enforce")
    with serve_wsgi(middleware) as url:
        driver.get(url + "/")
        wait_until(driver, EC.element_to_be_clickable((By.ID, "consent-accept-all"))).click()
        wait_until(driver, lambda d: d.execute_script("return document.documentElement.dataset.third") == "ran")
        assert "/script.js" in origin.reached()
