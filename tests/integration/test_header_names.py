"""Response headers judged by the name a browser will see (RFC 9110 §5.1, §5.5).

A server writes a WSGI header as ``name + ": " + value + CRLF``. A browser trims the
whitespace around a name, matches it case-insensitively, ends the name at the first
':' and starts a new header at every line break; so ``"Set-Cookie "``,
``"Set-Cookie:_fbp=x;"`` with an empty value, or a value holding ``"\\r\\n"`` all set a
cookie. The gate must read them as the browser does: a name that is not an RFC 9110
token, or a value with a line break, never leaves.
"""
from __future__ import annotations

import logging

import pytest
from werkzeug.test import EnvironBuilder

from consentlib import Category, ConsentMiddleware, Cookie, Policy
from consentlib.wsgi.etag import ETagFirewall

KEYS = ["test-key-newest-0123456789"]

POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics"), Category("marketing", gpc=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("mk_*", "marketing")],
    etags="analytics",
)

PER_VISITOR_ETAG = '"uid-7f3a"'
PER_VISITOR_DATE = "Sat, 01 Jan 2000 00:00:07 GMT"

# (response header, what a browser would make of it) for headers that must never leave
# as a cookie for a visitor who refused marketing.
ODD_SET_COOKIES = [
    pytest.param(("Set-Cookie ", "mk_space=1; Path=/"), id="trailing-space"),
    pytest.param(("Set-Cookie\t", "mk_tab=1; Path=/"), id="trailing-tab"),
    pytest.param(("set-cookie ", "mk_lower=1; Path=/"), id="lower-case-trailing-space"),
    pytest.param(("SET-COOKIE  \t ", "mk_upper=1; Path=/"), id="upper-case-mixed-whitespace"),
    pytest.param((" Set-Cookie", "mk_leading=1; Path=/"), id="leading-space"),
    pytest.param(("Set-Cookie:mk_colon=1;Path=/;y", ""), id="name-holds-colon-and-cookie"),
    pytest.param(("Set-Cookie: mk_colon2=1", "; Path=/"), id="name-holds-colon-space"),
    pytest.param(("Set-Cookie\r", "mk_cr=1; Path=/"), id="trailing-cr"),
    pytest.param(("Set-Cookie\x0b", "mk_vt=1; Path=/"), id="trailing-vertical-tab"),
    pytest.param(("Set-Cookie\x0c", "mk_ff=1; Path=/"), id="trailing-form-feed"),
    pytest.param(("Set-Cookie\x00", "mk_nul=1; Path=/"), id="trailing-nul"),
    pytest.param(("Set-Coo\u212aie", "mk_kelvin=1; Path=/"), id="kelvin-sign-lowercases-to-k"),
    pytest.param(("X-Pad", "1\r\nSet-Cookie: mk_crlf=1; Path=/"), id="value-crlf-splits-header"),
    pytest.param(("X-Pad", "1\nSet-Cookie: mk_lf=1; Path=/"), id="value-lf-splits-header"),
    pytest.param(("X-Pad", "1\rSet-Cookie: mk_bare_cr=1; Path=/"), id="value-bare-cr"),
    pytest.param(("X-Pad\r\nSet-Cookie", "mk_name_crlf=1; Path=/"), id="name-crlf-splits-header"),
]

ODD_VALIDATORS = [
    pytest.param(("ETag ", PER_VISITOR_ETAG), id="etag-trailing-space"),
    pytest.param(("ETag\t", PER_VISITOR_ETAG), id="etag-trailing-tab"),
    pytest.param(("etag ", PER_VISITOR_ETAG), id="etag-lower-trailing-space"),
    pytest.param((f"ETag:{PER_VISITOR_ETAG}", ""), id="etag-in-the-name"),
    pytest.param(("Last-Modified ", PER_VISITOR_DATE), id="last-modified-trailing-space"),
    pytest.param(("last-modified\t", PER_VISITOR_DATE), id="last-modified-lower-tab"),
    pytest.param(("X-Pad", f"1\r\nETag: {PER_VISITOR_ETAG}"), id="etag-after-crlf-in-a-value"),
    pytest.param(("X-Pad", f"1\r\nLast-Modified: {PER_VISITOR_DATE}"), id="last-modified-after-crlf"),
]


def as_browser_reads(headers) -> list[tuple[str, str]]:
    """The header fields a browser parses from what a server writes for ``headers``.

    Each header becomes ``name: value`` on the wire; a line break anywhere starts a new
    line, a name ends at the first ':' and loses the blanks around it (RFC 9112 §5).
    """
    wire = "".join(f"{name}: {value}\r\n" for name, value in headers)
    fields = []
    for line in wire.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            fields.append((name.strip(" \t").lower(), value.strip(" \t")))
    return fields


def app_sending(*odd):
    def app(environ, start_response):
        start_response("200 OK", [
            ("Content-Type", "text/plain"),
            ("Content-Length", "2"),
            ("Set-Cookie", "sid=1; Path=/"),
            *odd,
        ])
        return [b"ok"]

    return app


def served(tmp_path, app):
    return ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db")


def raw_headers(app, path="/"):
    """The header list exactly as the middleware passed it to the server."""
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["headers"] = list(headers)
        return lambda data: None

    body = app(EnvironBuilder(path=path).get_environ(), start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen["headers"]


@pytest.mark.parametrize("odd", ODD_SET_COOKIES)
def test_rfc9110_odd_header_spelling_never_sets_a_refused_cookie(tmp_path, odd):
    headers = raw_headers(served(tmp_path, app_sending(odd)))
    cookies = [v.partition("=")[0].strip() for name, v in as_browser_reads(headers) if name == "set-cookie"]
    assert cookies == ["sid"]


@pytest.mark.parametrize(
    ("value", "leaves"),
    [
        pytest.param(" \tsid=2; Path=/", True, id="spaces-and-tabs-trimmed-like-browsers"),
        pytest.param("\xa0sid=2; Path=/", False, id="no-break-space-is-part-of-the-name"),
        pytest.param("\x1csid=2; Path=/", False, id="control-character-is-part-of-the-name"),
        pytest.param("sid\u2003=2; Path=/", False, id="em-space-is-part-of-the-name"),
    ],
)
def test_rfc6265_cookie_name_is_trimmed_as_a_browser_trims_it(tmp_path, value, leaves):
    # Trimmed with str.strip(), each would pass as the necessary "sid" while the browser
    # stores another cookie, one the policy never declared.
    headers = raw_headers(served(tmp_path, app_sending(("Set-Cookie", value))))
    assert (("Set-Cookie", value) in headers) is leaves


@pytest.mark.parametrize("odd", ODD_VALIDATORS)
def test_eprivacy_odd_header_spelling_never_carries_a_per_visitor_validator(tmp_path, odd):
    headers = raw_headers(served(tmp_path, app_sending(odd)))
    fields = as_browser_reads(headers)
    assert "last-modified" not in dict(fields)
    etags = [v for name, v in fields if name == "etag"]
    assert len(etags) == 1 and etags[0].startswith('W/"') and "uid-" not in etags[0]


@pytest.mark.parametrize("odd", ODD_VALIDATORS)
def test_eprivacy_firewall_alone_reads_validator_names_as_a_browser_does(odd):
    headers = raw_headers(ETagFirewall(app_sending(odd), applies=lambda environ: True))
    fields = as_browser_reads(headers)
    assert "last-modified" not in dict(fields)
    assert [v for name, v in fields if name == "etag" and "uid-" in v] == []


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(("X-Frame-Options", "DENY"), id="ordinary"),
        pytest.param(("x-custom_header.v2~!#$%&'*+^`|", "1"), id="every-tchar"),
        pytest.param(("Content-Security-Policy", "default-src 'self'\t; img-src *"), id="value-with-tab"),
        pytest.param(("X-Latin-1", "caf\xe9"), id="obs-text-value"),
    ],
)
def test_rfc9110_token_names_and_clean_values_leave_untouched(tmp_path, header):
    headers = raw_headers(served(tmp_path, app_sending(header)))
    assert header in headers


def test_dropped_header_is_logged_once_with_the_fix(tmp_path, caplog):
    app = served(tmp_path, app_sending(("Set-Cookie ", "mk_space=1")))
    with caplog.at_level(logging.WARNING, logger="consentlib"):
        for _ in range(3):
            raw_headers(app)
    warnings = [r.getMessage() for r in caplog.records if "Set-Cookie " in r.getMessage()]
    assert len(warnings) == 1
    assert "'Set-Cookie'" in warnings[0] and "RFC 9110" in warnings[0]


# -- through real servers, as Chromium stores it ----------------------------------------

# Each odd spelling at its own path, so one that makes a server fail cannot hide another.
BROWSER_SET_COOKIES = {p.id: p.values[0] for p in ODD_SET_COOKIES if "\x00" not in p.values[0][0]}
BROWSER_VALIDATORS = {p.id: p.values[0] for p in ODD_VALIDATORS}


def odd_site(environ, start_response):
    """``/c/<id>`` sets a refused cookie under an odd spelling, ``/v/<id>`` a validator."""
    _, kind, key = (environ["PATH_INFO"].split("/") + ["", ""])[:3]
    odd = (BROWSER_SET_COOKIES if kind == "c" else BROWSER_VALIDATORS).get(key)
    if odd is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return []
    body = f"<!doctype html><title>{kind}</title><p id=done>{key}</p>".encode()
    start_response("200 OK", [
        ("Content-Type", "text/html"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
        ("Set-Cookie", f"sid={key}; Path=/"),
        odd,
    ])
    return [body]


def serve_waitress(app):
    """waitress on 127.0.0.1:0 in a thread; returns (base URL, stop)."""
    import threading

    waitress = pytest.importorskip("waitress.server")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, name="waitress-test-server", daemon=True)
    thread.start()

    def stop():
        server.close()
        thread.join(timeout=10)

    return f"http://127.0.0.1:{server.effective_port}", stop


@pytest.fixture(params=["werkzeug", "waitress"])
def odd_server(request, tmp_path, live_server):
    app = served(tmp_path, odd_site)
    if request.param == "werkzeug":
        yield live_server(app)
        return
    url, stop = serve_waitress(app)
    try:
        yield url
    finally:
        stop()


@pytest.mark.e2e
def test_rfc9110_chromium_stores_no_refused_cookie_under_any_spelling(odd_server, consent_browser):
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.e2e.test_etag_e2e import NetworkLog

    driver = consent_browser
    log = NetworkLog(driver)
    wait = WebDriverWait(driver, 15, poll_frequency=0.05)
    stored = {}
    for key in BROWSER_SET_COOKIES:
        driver.delete_all_cookies()
        driver.get(f"{odd_server}/c/{key}")
        # The necessary cookie of the same response: the browser has processed its headers.
        wait.until(lambda d: d.get_cookie("sid") is not None and d.get_cookie("sid")["value"] == key)
        stored[key] = sorted(c["name"] for c in driver.get_cookies())
    assert stored == {key: ["sid"] for key in BROWSER_SET_COOKIES}

    for key in BROWSER_VALIDATORS:
        url = f"{odd_server}/v/{key}"
        driver.get(url)
        driver.refresh()
        wait.until(lambda d: len(log.received(url)) >= 2)
        for status, headers in log.received(url):
            assert status in (200, 304)
            assert headers.get("etag", "").startswith('W/"'), key
            assert "last-modified" not in headers, key
        for sent in log.sent(url):
            assert "if-modified-since" not in sent, key
    everything = repr(log.poll())
    assert "uid-" not in everything and "01 Jan 2000" not in everything
