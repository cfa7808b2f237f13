"""A standing defence for the gate: what a real browser and a real router get, against
what the policy allows (docs/http.md, "Gating rules": read as the other side reads).

The gate judges a response header by its name and a beacon by its path; an attacker
(or a careless library) wins by a spelling the gate reads one way and the other side
another: ``("Set-Cookie ", "_fbp=...")`` is no Set-Cookie to an exact comparison and a
cookie to Chromium; ``//collect`` is no beacon path to an exact comparison and
``/collect`` to werkzeug's router. So these tests never ask the gate what it meant to
do. Hypothesis generates header-name spellings and beacon path forms
(tests/support/differential_cases.py); a real server on 127.0.0.1 serves them from a small
site behind a door: a Flask site behind the WSGI ConsentMiddleware
(tests/support/differential_site.py) under werkzeug's server and gunicorn, and its Starlette
twin behind the ASGI one (tests/support/differential_asgi_site.py) under uvicorn, once with
each of its HTTP/1.1 parsers (h11 refuses header bytes that httptools writes as they
are); and what arrives is judged against the policy's model
(tests/support/fuzz_strategies.py) for each kind of visitor (undecided, rejected, partly
or fully accepted):

* the cheap part, many examples: the response bytes off a plain socket, read as
  Chromium reads them (tests/support/chromium_headers.py), and under uvicorn a page that
  answers at all; the beacon views' hits, under gunicorn (which passes ``//collect`` on
  unmerged), werkzeug's server and uvicorn (which decodes ``%2F`` into the path its
  router routes);
* the expensive part, few examples: a real headless Chromium (one for the module):
  its cookie jar after the page, what its reload replays (If-None-Match,
  If-Modified-Since), and which views its fetch() reaches;
* the oracle itself: every calibration head is served byte for byte to Chromium, which
  must keep exactly what tests/support/chromium_headers.py predicts.

Rules checked (ePrivacy Directive Art 5(3); GDPR Art 7): a refused or undeclared cookie
never reaches the browser; a per-visitor validator never reaches it without the etags
category; a beacon view never runs without its category. And, so that a gate that
blocks everything fails too: a well-formed, allowed cookie, validator or beacon does
arrive.

Runs are derandomized and use no example database, so CI sees the same examples every
time. For a bug hunt, CONSENTLIB_DIFFERENTIAL_SCALE=10 runs ten times as many and
CONSENTLIB_FUZZ_RANDOM=1 draws new ones.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
from itertools import count

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentlib.testing.browser import chrome_driver, wait_until
from consentlib.testing.recorder import drain
from consentlib.testing.server import serve_wsgi
from tests.support.chromium_headers import CALIBRATION, VALIDATOR_CALIBRATION, cookies_kept, read_head, validators_kept
from tests.support.differential_cases import (
    BeaconRequest,
    HeaderLine,
    beacon_requests,
    beacon_findings,
    browser_findings,
    consent_cookies,
    cookie_header,
    granted,
    header_findings,
    responses,
    sendable_responses,
    visitors,
)
from tests.support.differential_site import PAGE, differential_site
from tests.support.loadkit import Gunicorn, Uvicorn, request
from tests.support.prerequisites import needs_missing
from tests.support.rawhttp import exchange, raw_server, response

SCALE = float(os.environ.get("CONSENTLIB_DIFFERENTIAL_SCALE", "1"))
DIFFERENTIAL = settings(
    deadline=None,
    derandomize=os.environ.get("CONSENTLIB_FUZZ_RANDOM") != "1",
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)


def examples(n: int) -> int:
    return max(1, round(n * SCALE))


# -- the servers and the browser, one of each for the module ------------------------------------


class HeaderSite:
    """The site under one server (``name``); its pages answer with registered headers."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.name = name
        self.cases: dict[str, list[tuple[str, str]]] = {}  # what was registered, for the messages
        self.ids = count()

    def __repr__(self) -> str:  # Hypothesis prints it with every counter-example
        return f"HeaderSite({self.name}, {self.base!r})"

    def register(self, headers: list[tuple[str, str]]) -> str:
        case = str(next(self.ids))
        status, _, _ = request(self.base, "PUT", f"/_probe/cases/{case}", body=json.dumps(headers).encode(),
                               headers={"Content-Type": "application/json"})
        assert status == 200, f"{self.name} refused the case's registration ({status})"
        self.cases[case] = headers
        return case

    def replayed(self, case: str) -> list[tuple[str | None, str | None]]:
        """(If-None-Match, If-Modified-Since) of each request for the page of ``case``."""
        return [tuple(pair) for pair in json.loads(request(self.base, "GET", f"/_probe/replayed/{case}")[2])]

    @property
    def asgi(self) -> bool:
        return self.name.startswith("uvicorn")


@pytest.fixture(scope="module")
def werkzeug_site(tmp_path_factory):
    tap = differential_site(f"sqlite:///{tmp_path_factory.mktemp('differential')}/consent.db")
    # One line per request in every failure report would hide the counter-example.
    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    try:
        with serve_wsgi(tap) as base:
            yield base
    finally:
        requests_log.setLevel(level)


@pytest.fixture(scope="module")
def gunicorn_site(tmp_path_factory):
    """The same site under gunicorn: one worker (the views' hits live in its memory), with
    threads (the browser keeps idle connections open)."""
    if importlib.util.find_spec("gunicorn") is None:
        needs_missing("gunicorn is not installed: ./dev test installs the dev group, or pip install gunicorn.")
    folder = tmp_path_factory.mktemp("differential-gunicorn")
    with Gunicorn(folder, f"sqlite:///{folder}/consent.db", workers=1, threads=4,
                  app="tests.support.differential_site:site_from_env()") as server:
        yield server.base


def _uvicorn(tmp_path_factory, http: str):
    """The ASGI twin of the site (tests/support/differential_asgi_site.py) under uvicorn,
    with its ``http`` parser: each writes (and refuses) an app's header bytes its own way."""
    for module in ("uvicorn", http):
        if importlib.util.find_spec(module) is None:
            needs_missing(f"{module} is not installed: ./dev test installs the dev group, or pip install {module}.")
    folder = tmp_path_factory.mktemp(f"differential-uvicorn-{http}")
    with Uvicorn(folder, f"sqlite:///{folder}/consent.db", http=http,
                 app="tests.support.differential_asgi_site:site_from_env") as server:
        yield server.base


@pytest.fixture(scope="module")
def uvicorn_h11_site(tmp_path_factory):
    yield from _uvicorn(tmp_path_factory, "h11")


@pytest.fixture(scope="module")
def uvicorn_httptools_site(tmp_path_factory):
    yield from _uvicorn(tmp_path_factory, "httptools")


# Each server (the WSGI door under werkzeug and gunicorn, the ASGI door under uvicorn) by its fixture.
SERVERS = {"werkzeug": "werkzeug_site", "gunicorn": "gunicorn_site", "uvicorn-h11": "uvicorn_h11_site",
           "uvicorn-httptools": "uvicorn_httptools_site"}


@pytest.fixture(scope="module", params=["werkzeug", "uvicorn-h11", "uvicorn-httptools"])
def header_site(request) -> HeaderSite:
    return HeaderSite(request.getfixturevalue(SERVERS[request.param]), request.param)


@pytest.fixture(scope="module", params=["gunicorn", "werkzeug", "uvicorn-h11", "uvicorn-httptools"])
def beacon_site(request) -> tuple[str, str]:
    """(the server's name, its base URL)."""
    return request.param, request.getfixturevalue(SERVERS[request.param])


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn-h11", "uvicorn-httptools"])
def browser_beacon_site(request) -> str:
    """Servers that pass ``//collect`` on as it was sent (werkzeug's merges it first)."""
    return request.getfixturevalue(SERVERS[request.param])


@pytest.fixture(scope="module")
def chromium():
    try:
        driver = chrome_driver()
    except RuntimeError as exc:
        needs_missing(str(exc))
    # A page that never finishes (a server that keeps a broken answer's connection open)
    # fails its example in seconds rather than after chromedriver's five minutes.
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def calibration_server():
    with raw_server() as (base, server):
        yield base, server


def as_visitor(driver, base: str, visitor: str) -> None:
    """An empty jar, then the visitor's consent cookies for 127.0.0.1 (any port, RFC 6265 §8.5)."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for name, value in consent_cookies(visitor).items():
        driver.execute_cdp_cmd("Network.setCookie", {"name": name, "value": value, "url": base + "/", "path": "/",
                                                     "sameSite": "Lax", "httpOnly": name == "consent_id"})


def jar(driver) -> set[str]:
    """Every cookie the browser holds, whatever page it shows (an error page too)."""
    return {c["name"] for c in driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}


def headers_received(events: list[dict], url: str) -> dict[str, list[str]]:
    """The response headers Chromium read for the first request for ``url`` (DevTools'
    ``Network.responseReceivedExtraInfo``: off the wire, after its own parsing), names
    lower-cased, repeated headers split."""
    ids = [e["params"]["requestId"] for e in events
           if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] == url]
    for event in events:
        if event.get("method") == "Network.responseReceivedExtraInfo" and ids and event["params"]["requestId"] == ids[0]:
            received: dict[str, list[str]] = {}
            for name, value in event["params"]["headers"].items():  # "ETag" and "etag" are two keys
                received.setdefault(name.lower(), []).extend(value.split("\n"))
            return received
    return {}


def visitor_headers(visitor: str, gpc: bool = False) -> dict[str, str]:
    headers = {}
    cookies = cookie_header(visitor)
    if cookies is not None:
        headers["Cookie"] = cookies
    if gpc:
        headers["Sec-GPC"] = "1"
    return headers


def take_hits(base: str) -> list:
    return json.loads(request(base, "GET", "/_probe/hits")[2])


def status_of(raw: bytes) -> int | None:
    head = read_head(raw)
    return head.status if head is not None else None


def wire_text(raw: bytes) -> str:
    return raw.partition(b"\r\n\r\n")[0].decode("latin-1")


# -- the oracle, checked against Chromium ------------------------------------------------------

_COOKIE_ROWS = [pytest.param(lines, kept, id=name) for name, lines, kept in CALIBRATION]
_VALIDATOR_ROWS = [pytest.param(lines, replayed, id=name) for name, lines, replayed in VALIDATOR_CALIBRATION]


@pytest.mark.parametrize(("lines", "kept"), _COOKIE_ROWS)
def test_rfc9110_names_are_read_as_chromium_reads_them(lines, kept):
    assert cookies_kept(response(lines)) == kept


@pytest.mark.parametrize(("lines", "replayed"), _VALIDATOR_ROWS)
def test_rfc9110_validators_are_replayed_as_chromium_replays_them(lines, replayed):
    assert validators_kept(response([b"Cache-Control: no-cache", *lines])) == replayed


@pytest.mark.e2e
@pytest.mark.parametrize(("lines", "kept"), _COOKIE_ROWS)
def test_chromium_keeps_the_cookies_the_oracle_predicts(chromium, calibration_server, request, lines, kept):
    base, server = calibration_server
    path = f"/cookies/{request.node.callspec.id}"
    server.responses[path] = response(lines)
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.get(base + path)
    assert jar(chromium) == kept == cookies_kept(server.responses[path])


@pytest.mark.e2e
@pytest.mark.parametrize(("lines", "replayed"), _VALIDATOR_ROWS)
def test_chromium_replays_the_validators_the_oracle_predicts(chromium, calibration_server, request, lines, replayed):
    base, server = calibration_server
    path = f"/validators/{request.node.callspec.id}"
    server.responses[path] = response([b"Cache-Control: no-cache", *lines])
    chromium.get(base + path)
    chromium.refresh()
    wait_until(chromium, lambda d: len(server.request_heads(path)) >= 2, poll=0.05)
    again = server.request_heads(path)[1]
    assert (again.get("if-none-match"), again.get("if-modified-since")) == replayed == validators_kept(
        server.responses[path])


# -- response headers: many examples off the wire, a few through Chromium ---------------------------


@settings(DIFFERENTIAL, max_examples=examples(400))
@given(lines=responses, visitor=visitors, gpc=st.booleans())
def test_eprivacy_no_header_spelling_carries_a_refused_cookie_or_validator(header_site, lines, visitor, gpc):
    case = header_site.register([line.header(n) for n, line in enumerate(lines)])
    raw = exchange(header_site.base, f"{PAGE}?case={case}", headers=visitor_headers(visitor, gpc))
    found = header_findings(read_head(raw), lines, granted(visitor, gpc))
    context = f"visitor {visitor!r}, Sec-GPC {gpc}; the response on the wire:\n{wire_text(raw)}\n"
    # One assertion per rule: Hypothesis reports a counter-example for each one broken.
    assert not found.cookies, context + "\n".join(found.cookies)
    assert not found.validators, context + "\n".join(found.validators)
    assert not found.missing, context + "\n".join(found.missing)
    if header_site.asgi:
        # The ASGI twin hands uvicorn bytes for every text, and the door lets through only
        # what uvicorn writes: no header of the app's may cost the visitor the page (a 5xx,
        # or a connection closed without an answer).
        assert status_of(raw) == 200, context + f"the page answered {status_of(raw)} instead of 200"


@pytest.mark.e2e
@settings(DIFFERENTIAL, max_examples=examples(24))
@given(lines=sendable_responses, visitor=visitors)
# The spellings a security review found, whatever Hypothesis draws.
@example(lines=[HeaderLine("Set-Cookie", "Set-Cookie ", cookie="_fbp"),
                HeaderLine("Set-Cookie", "set-cookie\t", cookie="_ga"),
                HeaderLine("Set-Cookie", "Set-Cookie", cookie="sid")], visitor="undecided")
@example(lines=[HeaderLine("Set-Cookie", "Set-Cookie", carrier="line-in-name", cookie="_fbp"),
                HeaderLine("ETag", "ETag "), HeaderLine("Last-Modified", "Last-Modified ")], visitor="rejected")
def test_eprivacy_chromium_keeps_no_refused_cookie_or_validator(chromium, header_site, lines, visitor):
    case = header_site.register([line.header(n) for n, line in enumerate(lines)])
    as_visitor(chromium, header_site.base, visitor)
    drain(chromium)
    url = f"{header_site.base}{PAGE}?case={case}"
    chromium.get(url)
    kept = jar(chromium)
    chromium.refresh()
    wait_until(chromium, lambda d: len(header_site.replayed(case)) >= 2, poll=0.05)
    received = headers_received(drain(chromium), url)
    found = browser_findings(kept, received, header_site.replayed(case)[1], lines, granted(visitor))
    context = f"visitor {visitor!r}, the app's headers {header_site.cases[case]!r}:\n"
    assert not found.cookies, context + "\n".join(found.cookies)
    assert not found.validators, context + "\n".join(found.validators)
    assert not found.missing, context + "\n".join(found.missing)


# -- beacon paths: many examples under two servers, a few from Chromium's fetch() ----------------


@settings(DIFFERENTIAL, max_examples=examples(250))
@given(beacon=beacon_requests(), visitor=visitors)
def test_eprivacy_no_path_form_reaches_a_beacon_view_without_its_category(beacon_site, beacon, visitor):
    server, base = beacon_site
    raw = exchange(base, beacon.target(base), method=beacon.method, headers=visitor_headers(visitor))
    # Every example takes the hits it caused: the next one starts from none.
    found = beacon_findings(take_hits(base), beacon, granted(visitor), status_of(raw))
    assert not found.beacons, f"visitor {visitor!r}:\n" + "\n".join(found.beacons)
    if beacon.absolute and server == "uvicorn-h11":
        # uvicorn's h11 parser puts an absolute-form target whole into scope["path"]
        # ("http://127.0.0.1:<port>/collect", though RFC 9112 §3.2.2 asks servers to accept
        # the form): no router finds a view there, allowed or not.
        return
    assert not found.missing, f"visitor {visitor!r}:\n" + "\n".join(found.missing)


_FETCH = """
const [path, method, done] = arguments;
fetch(path, {method, cache: "no-store", credentials: "same-origin"})
    .then(r => done(r.status), e => done(String(e)));
"""


@pytest.mark.e2e
@settings(DIFFERENTIAL, max_examples=examples(24))
@given(beacon=beacon_requests(browser=True), visitor=visitors)
# The path forms a security review found, whatever Hypothesis draws.
@example(beacon=BeaconRequest("collect", "//collect", changes=("double-slash",)), visitor="undecided")
@example(beacon=BeaconRequest("collect", "/%2fcollect", changes=("encoded-slash",)), visitor="undecided")
def test_eprivacy_chromium_beacons_reach_a_view_only_with_its_category(chromium, browser_beacon_site, beacon,
                                                                       visitor):
    if not chromium.current_url.startswith(browser_beacon_site):
        chromium.get(f"{browser_beacon_site}{PAGE}")  # fetch() from a page of the site: same origin
    as_visitor(chromium, browser_beacon_site, visitor)
    take_hits(browser_beacon_site)
    status = chromium.execute_async_script(_FETCH, beacon.path, beacon.method)
    found = beacon_findings(take_hits(browser_beacon_site), beacon, granted(visitor), status)
    assert not found.beacons, f"visitor {visitor!r}:\n" + "\n".join(found.beacons)
    assert not found.missing, f"visitor {visitor!r}:\n" + "\n".join(found.missing)
