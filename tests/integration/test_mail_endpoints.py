"""The mail endpoints behind ConsentMiddleware: pixel, click, one-click unsubscribe, stop
tracking; bad input of every kind; opens batched but never kept without consent."""
from __future__ import annotations

import threading

import pytest

from consentlib.errors import StoreUnavailable
from consentlib.mail.endpoints import mail_endpoints
from consentlib.web.pixel import TRANSPARENT_GIF
from consentlib.store import open_store
from consentlib.store.events import EventBuffer
from consentlib.store.mail import MailEvent
from consentlib.store.clock import time_text
from tests.support.mailkit import BROWSER, MailSite, make_site, newsletter, prepared, unsubscribe_path, urls

# Lint failures are test failures, except its HEAD check: RFC 9110 §9.3.2 has HEAD carry the
# GET's Content-Length with no body.
pytestmark = [
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.WSGIWarning"),
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.HTTPWarning"),
    pytest.mark.filterwarnings("ignore:Content-Length and the number of bytes sent to the client do not match"),
]

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
# What a mail client's one-click POST may look like: from anywhere, no cookie.
CROSS_SITE = {"Origin": "https://mail.provider.example", "Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def site(tmp_path) -> MailSite:
    return make_site(tmp_path)


def read_an_hour_later(site: MailSite) -> None:
    """Clicks are judged against the time the mail was prepared: read it an hour later."""
    endpoints = mail_endpoints(site.middleware)
    real = endpoints.clock
    endpoints.clock = lambda: real() + 3600


def assert_no_tracking_headers(response) -> None:
    for name in ("Set-Cookie", "ETag", "Last-Modified"):
        assert name not in response.headers


# -- open pixel ------------------------------------------------------------------------------------


def test_pixel_is_the_harmless_gif_and_records_a_human_open(site):
    (pixel,) = urls(prepared(site))["o"]
    response = site.client.get(pixel, headers={"User-Agent": BROWSER, "Cookie": "sid=x"})
    assert response.status_code == 200 and response.data == TRANSPARENT_GIF
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["Cache-Control"] == "no-store"
    assert_no_tracking_headers(response)
    site.client.get(pixel, headers={"User-Agent": BROWSER})
    stats = site.stats()
    assert (stats.human_opens, stats.machine_opens) == (1, 0)  # unique recipients


@pytest.mark.parametrize("agent", [
    pytest.param("Mozilla/5.0", id="apple-mpp"),
    pytest.param("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                 id="gmail"),
    pytest.param("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", id="yahoo"),
])
def test_proxy_opens_are_machine_opens(site, agent):
    (pixel,) = urls(prepared(site))["o"]
    site.client.get(pixel, headers={"User-Agent": agent})
    stats = site.stats()
    assert (stats.human_opens, stats.machine_opens) == (0, 1)


def test_head_on_pixel_gets_headers_and_records_nothing(site):
    (pixel,) = urls(prepared(site))["o"]
    response = site.client.head(pixel, headers={"User-Agent": BROWSER})
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Type"] == "image/gif" and response.headers["Content-Length"] == "43"
    assert site.stats().human_opens == 0


def test_no_open_after_withdrawal_or_unsubscribe(site):
    paths = urls(prepared(site))
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=False)
    site.client.get(paths["o"][0], headers={"User-Agent": BROWSER})
    assert site.stats().human_opens == 0
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    site.tracker.unsubscribe("ana@example.com", list_id="news")
    site.client.get(paths["o"][0], headers={"User-Agent": BROWSER})
    assert site.stats().human_opens == 0


def test_unsubscribe_committed_while_an_open_waits_in_the_buffer_wins(site):
    (pixel,) = urls(prepared(site))["o"]
    site.client.get(pixel, headers={"User-Agent": BROWSER})  # buffered, not yet written
    site.tracker.unsubscribe("ana@example.com", list_id="news")
    assert site.flush() == 0
    assert site.stats().human_opens == 0


def test_permission_given_after_the_open_does_not_cover_it(site):
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    msg = site.tracker.prepare(newsletter("<html><body></body></html>"),
                               recipient="ana@example.com", campaign="2026-11", list_id="news")
    (pixel,) = urls(msg)["o"]
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=False)
    site.client.get(pixel, headers={"User-Agent": BROWSER})
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    assert site.stats().human_opens == 0


def test_app_is_never_called_and_sets_no_cookie(site):
    paths = urls(prepared(site))
    for path in [*paths["o"], *paths["c"], *paths["u"], *paths["t"], "/_consent/m/x/nothing"]:
        response = site.client.get(path, headers={"User-Agent": BROWSER})
        assert response.data != b"app"
        assert "Set-Cookie" not in response.headers


# -- click ---------------------------------------------------------------------------------------------


def test_click_redirects_to_the_signed_target_and_counts_a_human(site):
    read_an_hour_later(site)
    first, second = urls(prepared(site))["c"]
    response = site.client.get(first, headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/a?x=1&y=2"
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    assert_no_tracking_headers(response)
    stats = site.stats()
    assert (stats.human_clicks, stats.scanner_clicks) == (1, 0)


def test_click_seconds_after_sending_is_a_scanner(site):
    (first, _) = urls(prepared(site))["c"]
    assert site.client.get(first, headers={"User-Agent": BROWSER}).status_code == 302
    stats = site.stats()
    assert (stats.human_clicks, stats.scanner_clicks) == (0, 1)


def test_every_link_clicked_at_once_is_a_scanner(site):
    read_an_hour_later(site)
    for path in urls(prepared(site))["c"]:
        site.client.get(path, headers={"User-Agent": BROWSER})
    stats = site.stats()
    assert (stats.human_clicks, stats.scanner_clicks) == (0, 2)


def test_links_clicked_apart_are_a_person(site):
    endpoints = mail_endpoints(site.middleware)
    real = endpoints.clock
    first, second = urls(prepared(site))["c"]
    endpoints.clock = lambda: real() + 3600
    site.client.get(first, headers={"User-Agent": BROWSER})
    endpoints.clock = lambda: real() + 3700
    site.client.get(second, headers={"User-Agent": BROWSER})
    stats = site.stats()
    assert (stats.human_clicks, stats.scanner_clicks) == (2, 0)


def test_head_and_robot_clicks_are_not_engagement(site):
    read_an_hour_later(site)
    first, _ = urls(prepared(site))["c"]
    head = site.client.head(first, headers={"User-Agent": BROWSER})
    assert head.status_code == 302 and head.headers["Location"].startswith("https://shop.example/")
    site.client.get(first, headers={"User-Agent": "python-requests/2.31"})
    stats = site.stats()
    assert (stats.human_clicks, stats.scanner_clicks) == (0, 1)


def test_click_of_a_withdrawn_recipient_redirects_but_is_not_recorded(site):
    read_an_hour_later(site)
    first, _ = urls(prepared(site))["c"]
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=False)
    assert site.client.get(first, headers={"User-Agent": BROWSER}).status_code == 302
    assert site.stats().human_clicks == 0


@pytest.mark.parametrize("href, location", [
    pytest.param("https://shop.example/caf\u00e9/\u20ac?q=\u00fc", "https://shop.example/caf%C3%A9/%E2%82%AC?q=%C3%BC",
                 id="non-latin-1-path"),
    pytest.param("https://\u4f8b\u3048.jp/\u30d1\u30b9", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9", id="idn-host"),
])
def test_click_to_a_non_ascii_link_redirects_with_an_ascii_location(site, href, location):
    # PEP 3333: header values are latin-1 strings, and a server cannot encode "\u20ac"
    # (a 5xx on every click); RFC 9110 §10.2.2: Location is a URI reference, so an IRI
    # is sent percent-encoded, its host in Punycode.
    (click,) = urls(prepared(site, html=f'<html><body><a href="{href}">x</a></body></html>'))["c"]
    response = site.client.get(click, headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"] == location


# -- unsubscribe ---------------------------------------------------------------------------------------


def test_get_and_head_on_unsubscribe_show_a_button_and_change_nothing(site):
    path = unsubscribe_path(prepared(site))
    page = site.client.get(path, headers={"User-Agent": BROWSER})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<form method="post">' in html and 'name="List-Unsubscribe" value="One-Click"' in html
    assert site.client.head(path).status_code == 200
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_one_click_post_unsubscribes_cross_site_without_cookie_or_redirect(site, encoding):
    path = unsubscribe_path(prepared(site))
    kwargs = {"data": ONE_CLICK} if encoding == "form" else {"data": ONE_CLICK, "content_type": "multipart/form-data"}
    response = site.client.post(path, headers=CROSS_SITE, **kwargs)
    assert response.status_code == 200 and "Location" not in response.headers
    assert_no_tracking_headers(response)
    # Committed before the answer: a fresh connection (another process) sees it.
    assert open_store(site.store_url).mail_suppressed("ana@example.com", list_id="news")
    again = site.client.post(path, headers=CROSS_SITE, **kwargs)
    assert again.status_code == 200  # idempotent
    assert site.stats().unsubscribes == 1
    (row,) = [r for r in site.tracker.export() if r["type"] == "unsubscribe"]
    assert row["source"] == "one-click" and row["campaign"] == "2026-11"


def test_the_page_button_posts_the_same_body(site):
    path = unsubscribe_path(prepared(site))
    assert site.client.post(path, data={**ONE_CLICK, "via": "page"}).status_code == 200
    (row,) = [r for r in site.tracker.export() if r["type"] == "unsubscribe"]
    assert row["source"] == "page"
    assert "You are unsubscribed" in site.client.get(path).get_data(as_text=True)


def test_unsubscribe_is_per_list(site):
    path = unsubscribe_path(prepared(site, list_id="news"))
    prepared(site, list_id="offers")
    site.client.post(path, data=ONE_CLICK)
    assert site.tracker.is_suppressed("ana@example.com", list_id="news")
    assert not site.tracker.is_suppressed("ana@example.com", list_id="offers")


# -- stop tracking my opens ------------------------------------------------------------------------------


def test_stop_tracking_withdraws_without_unsubscribing(site):
    paths = urls(prepared(site))
    (untrack,) = paths["t"]
    page = site.client.get(untrack)
    assert page.status_code == 200 and 'name="tracking" value="off"' in page.get_data(as_text=True)
    assert site.tracker.tracking_allowed("ana@example.com", list_id="news")  # GET changed nothing
    assert site.client.post(untrack, data={"tracking": "off"}, headers=CROSS_SITE).status_code == 200
    assert not site.tracker.tracking_allowed("ana@example.com", list_id="news")
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")
    site.client.get(paths["o"][0], headers={"User-Agent": BROWSER})
    assert site.stats().human_opens == 0
    assert set(urls(prepared(site, tracked=False))) == {"u", "d"}


# -- bad input: a 4xx or the harmless GIF, nothing recorded, never a 5xx ---------------------------------


def _tokens(site: MailSite) -> dict[str, str]:
    paths = urls(prepared(site))
    return {
        "o": paths["o"][0].rsplit("/", 1)[1].removesuffix(".gif"),
        "c": paths["c"][0].rsplit("/", 1)[1],
        "u": paths["u"][0].rsplit("/", 1)[1],
        "t": paths["t"][0].rsplit("/", 1)[1],
    }


def _variants(tokens: dict[str, str], route: str) -> dict[str, str]:
    own = tokens[route]
    other = "u" if route != "u" else "t"
    return {
        "forged": "WzEsIjIwMjYtMTEiLCJuZXdzIl0.abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "truncated": own[: len(own) // 2],
        # Well inside the signature: its last base64 character carries two unused bits.
        "tampered": own[:-10] + ("A" if own[-10] != "A" else "B") + own[-9:],
        "non-ascii": "%C3%A9" + own,
        "latin1-bytes": own + "%FF%FE",
        "other-kind": tokens[other],
        "empty": "",
        "dots": "..",
        "huge": "A" * 5000,
    }


@pytest.mark.parametrize("route", ["o", "c", "u", "t"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_bad_tokens_never_record_never_redirect_never_5xx(site, route, method):
    tokens = _tokens(site)
    read_an_hour_later(site)
    for name, token in _variants(tokens, route).items():
        path = f"/_consent/m/{route}/{token}" + (".gif" if route == "o" else "")
        body = {"data": {**ONE_CLICK, "tracking": "off"}} if method == "POST" else {}
        response = site.client.open(path, method=method, headers={"User-Agent": BROWSER, **CROSS_SITE}, **body)
        assert response.status_code < 500, name
        assert "Location" not in response.headers, name
        assert "Set-Cookie" not in response.headers, name
        if route == "o" and method != "POST":
            assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif", name
        elif method == "POST" and route in ("o", "c"):
            assert response.status_code == 405, name
        else:
            assert response.status_code == 404, name
    stats = site.stats()
    assert (stats.human_opens, stats.machine_opens, stats.human_clicks, stats.scanner_clicks, stats.unsubscribes) \
        == (0, 0, 0, 0, 0)
    assert site.tracker.tracking_allowed("ana@example.com", list_id="news")


@pytest.mark.parametrize("body, status", [
    pytest.param({}, 415, id="no-body"),
    pytest.param({"data": "List-Unsubscribe=One-Click", "content_type": "text/plain"}, 415, id="text-plain"),
    pytest.param({"json": {"List-Unsubscribe": "One-Click"}}, 415, id="json"),
    pytest.param({"data": {"List-Unsubscribe": "Yes"}}, 400, id="wrong-value"),
    pytest.param({"data": {"list-unsubscribe": "One-Click"}}, 400, id="wrong-case"),
    pytest.param({"data": {"unsubscribe": "1"}}, 400, id="other-field"),
    pytest.param({"data": b"\xff\xfe%%%=&&=", "content_type": "application/x-www-form-urlencoded"}, 400, id="junk"),
    pytest.param({"data": b"--x\r\nnonsense", "content_type": "multipart/form-data; boundary=x"}, 400,
                 id="broken-multipart"),
    pytest.param({"data": {"List-Unsubscribe": "One-Click", "pad": "x" * 40_000}}, 413, id="too-large"),
])
def test_junk_one_click_bodies_are_4xx_and_change_nothing(site, body, status):
    path = unsubscribe_path(prepared(site))
    response = site.client.post(path, **body)
    assert response.status_code == status
    assert "Location" not in response.headers
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(site, method):
    paths = urls(prepared(site))
    for path in [paths["o"][0], paths["c"][0], paths["u"][0], paths["t"][0]]:
        response = site.client.open(path, method=method)
        assert response.status_code == 405 and "Allow" in response.headers


def test_token_of_an_unknown_recipient_number_is_404(tmp_path, site):
    other = make_site(tmp_path / "other")  # same keys, another store: its numbers mean nothing here
    prepared(other, "first@example.com")
    path = unsubscribe_path(prepared(other, "second@example.com"))  # recipient number 2
    prepared(site)  # number 1 only
    assert site.client.post(path, data=ONE_CLICK).status_code == 404
    assert site.client.get(path).status_code == 404
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")


def test_unknown_mail_route_is_404(site):
    assert site.client.get("/_consent/m/zz/abc").status_code == 404
    assert site.client.get("/_consent/m/").status_code == 404


# -- the event buffer -------------------------------------------------------------------------------------


class _Recording:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.written = threading.Event()

    def add_mail_events(self, events) -> int:
        self.batches.append(len(events))
        self.written.set()
        return len(events)


def _event() -> MailEvent:
    return MailEvent(1, "c", "news", "open", "human", time_text(), None, None)


def test_buffer_writes_a_full_batch_from_its_thread():
    store = _Recording()
    buffer = EventBuffer(store, interval=3600, batch=3)
    for _ in range(3):
        buffer.add(_event())
    assert store.written.wait(10)
    assert store.batches == [3]
    buffer.close()


def test_buffer_close_writes_what_is_left_and_stops():
    store = _Recording()
    buffer = EventBuffer(store, interval=3600, batch=100)
    buffer.add(_event())
    buffer.add(_event())
    buffer.close()
    assert store.batches == [2]
    buffer.add(_event())  # after close: kept for the next flush, no new thread
    assert buffer.flush() == 1


def test_buffer_is_bounded_when_the_store_cannot_keep_up():
    store = _Recording()
    buffer = EventBuffer(store, interval=3600, batch=10**9, limit=5)
    for _ in range(8):
        buffer.add(_event())
    assert buffer.dropped == 3
    buffer.close()
    assert store.batches == [5]


# -- the store down ---------------------------------------------------------------------------------------


def _down(*args, **kwargs):
    raise StoreUnavailable("The SQLite store is locked (test).")


def test_unsubscribe_with_the_store_down_is_503_never_reported_done(site, monkeypatch):
    path = unsubscribe_path(prepared(site))
    monkeypatch.setattr(site.middleware.store, "suppress_mail", _down)
    response = site.client.post(path, data=ONE_CLICK)
    assert response.status_code == 503 and "Location" not in response.headers
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")


def test_click_with_the_store_down_still_follows_the_link(site, monkeypatch):
    read_an_hour_later(site)
    first, _ = urls(prepared(site))["c"]
    monkeypatch.setattr(site.middleware.store, "add_mail_events", _down)
    response = site.client.get(first, headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"].startswith("https://shop.example/")


# -- on the wire ---------------------------------------------------------------------------------------------


def test_pixel_and_click_over_a_real_server(site, live_server):
    import urllib.request

    base = live_server(site.middleware)
    paths = urls(prepared(site))
    request = urllib.request.Request(base + paths["o"][0], headers={"User-Agent": BROWSER, "Cookie": "sid=1"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == TRANSPARENT_GIF
        assert response.headers["Content-Type"] == "image/gif"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers.get_all("Set-Cookie") is None and response.headers["ETag"] is None
    assert site.stats().human_opens == 1
