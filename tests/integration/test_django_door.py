"""The Django door on the wire: Django's WSGI handler under a real WSGI server, and its
ASGI handler under uvicorn, each with consentlib.django.ConsentMiddleware first.

Findings of a review, each at its mechanism: a refused cookie whose name Python's
cookie parser refuses (a 500 on every page, and a consent POST that failed after its
receipt was stored), an async stream hashed as an empty body (a stale 304), and the
refused cookies still readable through ``request.headers``.
"""
from __future__ import annotations

import asyncio
import json
import pickle
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client as WerkzeugClient

from consentlib.testing.server import serve_asgi, serve_wsgi
from tests.support import django_site
from tests.support.apps import ALL, KEYS, POLICY, consent_header
from tests.support.communicator import asgi_get
from tests.support.rawhttp import exchange

POLICY_WITH_ETAGS = type(POLICY)(
    revision=POLICY.revision, categories=POLICY.categories, cookies=POLICY.cookies,
    beacons=POLICY.beacons, etags="analytics",
)

DEPLOYMENTS = [pytest.param(False, id="wsgi"), pytest.param(True, id="asgi-uvicorn")]

# Names a script or a sibling subdomain can plant, matched by the declared "_ga*" and so
# refused and expired; Python's http.cookies refuses every one of them as a key.
ODD_NAMES = [pytest.param(name, id=name) for name in ("_ga@x", "_ga(1)", "_ga,x", "_ga/x", "_ga?x")]


@contextmanager
def served(tmp_path, *, asgi: bool, above: tuple[str, ...] = ()) -> Iterator[tuple[str, object]]:
    """The test site's Django project on 127.0.0.1: its base URL and consentlib's core."""
    app, core = django_site.handler(POLICY_WITH_ETAGS, {"secret_key": KEYS, "store": f"sqlite:///{tmp_path}/c.db"},
                                    asgi=asgi, above=above)
    with (serve_asgi if asgi else serve_wsgi)(app) as url:
        yield url, core


class Answer:
    """One HTTP/1.1 answer as it crossed the wire."""

    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        self.status = int(status.split()[1])
        self.headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        if ("transfer-encoding", "chunked") in self.headers:
            self.body = _unchunk(self.body)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    def get(self, name: str) -> str | None:
        found = self.all(name)
        return found[0] if found else None


def _unchunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2:]
    return body


def get(url: str, target: str, **headers: str) -> Answer:
    return Answer(exchange(url, target, headers={k.replace("_", "-"): v for k, v in headers.items()}))


def post(url: str, target: str, body: bytes, **headers: str) -> Answer:
    """One POST over a plain socket (rawhttp.exchange sends no body)."""
    parts = urlsplit(url)
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             f"Content-Length: {len(body)}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    return Answer(raw)


# -- 1. a refused cookie whose name http.cookies refuses -----------------------------------


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
@pytest.mark.parametrize("name", ODD_NAMES)
def test_django_refused_cookie_with_an_odd_name_is_expired_not_a_500(tmp_path, asgi, name):
    # ePrivacy Art 5(3): the planted tracker is expired like any refused one; the page
    # is served as the WSGI and ASGI doors serve it.
    with served(tmp_path, asgi=asgi) as (url, _):
        page = get(url, "/", Cookie=f"{name}=planted; sid=s0")
    assert page.status == 200, page.body[:300]
    cookies = page.all("set-cookie")
    assert any(line.startswith(f"{name}=;") and "Max-Age=0" in line for line in cookies), cookies
    assert any(line.startswith("sid=") for line in cookies)  # the view's own cookie, untouched
    assert json.loads(page.body)["cookie"] == "sid=s0"  # the app never saw the planted one


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
def test_django_refused_cookie_with_a_latin1_name_is_expired_as_the_core_wrote_it(tmp_path, asgi):
    # Django's ASGI handler encodes cookie lines as ASCII; the core's lines are latin-1
    # text (PEP 3333), sent as such by consentlib's own WSGI and ASGI doors.
    name = "_ga\xe9"
    with served(tmp_path, asgi=asgi) as (url, core):
        page = get(url, "/", Cookie=f"{name}=planted; sid=s0")
    assert page.status == 200, page.body[:300]
    expected = core.core.gate.expiry_header(name, secure=False).split("; Expires=")[0]
    assert [line for line in page.all("set-cookie") if line.startswith(expected)], page.all("set-cookie")
    assert json.loads(page.body)["cookie"] == "sid=s0"


# -- 2. nothing stored unless the answer goes out ------------------------------------------


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
@pytest.mark.parametrize("name", ODD_NAMES[:2])
def test_django_consent_post_with_an_odd_cookie_is_answered_and_stored_once(tmp_path, asgi, name):
    # GDPR Art 7(1): the receipt proves a choice the browser was told of. Before, the
    # receipt was stored and then the answer failed (500): a proof of nothing.
    with served(tmp_path, asgi=asgi) as (url, core):
        answer = post(url, "/_consent/", b"action=reject_all", Cookie=f"{name}=planted", Origin=url,
                      Content_Type="application/x-www-form-urlencoded")
        receipts = core.store.receipts()
    assert answer.status == 303, answer.body[:300]
    names = [line.split("=", 1)[0] for line in answer.all("set-cookie")]
    assert "consent" in names and "consent_id" in names and name in names  # the planted one expired
    assert len(receipts) == 1 and receipts[0]["denied"] == ["analytics", "marketing", "preferences"]


# -- 3. an async stream is hashed as sent ------------------------------------------------


@pytest.fixture
def page_versions():
    yield django_site.ASTREAM_BODY
    django_site.ASTREAM_BODY[:] = [b"version 1 of the page"]


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
def test_django_async_stream_gets_the_validator_of_its_bytes_and_no_stale_304(tmp_path, asgi, page_versions):
    # RFC 9110 §8.8.1: a validator changes when the content does. Before, every async
    # stream got the ETag of an empty body, and an edited page revalidated as unchanged.
    with served(tmp_path, asgi=asgi) as (url, _):
        first = get(url, "/astream")
        page_versions[0] = b"version 2, edited"
        edited = get(url, "/astream", If_None_Match=first.get("etag") or "")
        again = get(url, "/astream", If_None_Match=edited.get("etag") or "")
    assert first.status == 200 and first.body == b"version 1 of the page"
    assert first.get("etag").startswith('W/"')
    assert edited.status == 200 and edited.body == b"version 2, edited"
    assert edited.get("etag") != first.get("etag")
    assert again.status == 304 and again.body == b""  # caching still works for the same bytes


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
def test_django_async_stream_reaches_a_consenting_visitor_whole(tmp_path, asgi):
    # With the etags category granted the firewall stands aside: the stream goes out as
    # the view made it, untouched by the door.
    with served(tmp_path, asgi=asgi) as (url, core):
        answer = get(url, "/astream", Cookie=consent_header(core, ALL))
    assert answer.status == 200 and answer.get("content-length") == "21" and answer.get("etag") is None
    assert answer.body == b"version 1 of the page"


# -- 5. the gate's view of the request is the only one -----------------------------------


@pytest.mark.parametrize("asgi", DEPLOYMENTS)
def test_django_request_headers_read_above_the_door_show_only_what_the_gate_let_through(tmp_path, asgi):
    # A middleware above consentlib (a misconfiguration the system check reports) read
    # request.headers and request.COOKIES first; Django caches both.
    above = ("tests.support.django_site.ReadsRequestFirst",)
    with served(tmp_path, asgi=asgi, above=above) as (url, _):
        seen = json.loads(get(url, "/request", Cookie="_ga=GA1.1; sid=s1", If_None_Match='"uid-1"').body)
    assert seen == {"meta": "sid=s1", "headers": "sid=s1", "cookies": ["sid"], "if_none_match": [None, None]}


# -- the translation never fails on a line the core writes ------------------------------

# What a browser can hold as a cookie name (RFC 6265 §5.2: anything up to '=', no ';',
# no control characters), and so send back for the gate to refuse and expire.
_browser_names = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00;=,", min_codepoint=0x20),
                         min_size=1, max_size=20).map(lambda tail: "_ga" + tail.strip(" \t"))


@pytest.fixture(scope="module")
def both_handlers(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('door')}/c.db"
    return [django_site.handler(POLICY, {"secret_key": KEYS, "store": store}, asgi=asgi) for asgi in (False, True)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_browser_names)
def test_django_door_sends_any_refused_name_the_way_the_core_expires_it(both_handlers, name):
    # Whatever name a browser holds, the page is served (no 5xx for input) and the expiry
    # leaves byte for byte as the core wrote it: WSGI in-process (PEP 3333 linted: plain
    # str headers), ASGI through Django's own ASGIHandler.send_response.
    (wsgi_app, core), (asgi_app, _) = both_handlers
    _, refused = core.core.gate.filter_request_cookies(f"{name}=1", frozenset({"necessary"}))
    assert refused  # "_ga*" is declared: the gate refuses the cookie and expires it
    expected = core.core.gate.expiry_header(refused[0], secure=False).split("; Expires=")[0]
    # PEP 3333 and ASGI: the browser's bytes, as latin-1 text in the environ, raw in the scope.
    page = WerkzeugClient(LintMiddleware(wsgi_app), use_cookies=False).get("/", environ_overrides={"HTTP_COOKIE": f"{name}=1"})
    status, headers, _ = asyncio.run(asgi_get(asgi_app, "/", [(b"cookie", f"{name}=1".encode("latin-1"))]))
    page.close()
    wsgi_lines = [line.strip() for line in page.headers.getlist("Set-Cookie")]
    asgi_lines = [value for key, value in headers if key == "set-cookie"]
    assert page.status_code == 200 and status == 200
    assert [line for line in wsgi_lines if line.startswith(expected)], (expected, wsgi_lines)
    assert [line for line in asgi_lines if line.startswith(expected)], (expected, asgi_lines)


@pytest.mark.parametrize(
    ("lines", "keys"),
    [
        pytest.param(["sid=1; Path=/"], ["sid"], id="one"),
        pytest.param(["_ga=; Max-Age=0; Path=/", "_ga=; Max-Age=0; Path=/; Domain=example.com"], ["_ga", "_ga\n"],
                     id="one-name-two-lines"),
        pytest.param(["_ga@x=; Max-Age=0; Path=/"], ["_ga@x"], id="a-name-http-cookies-refuses"),
    ],
)
def test_django_every_set_cookie_line_of_the_core_goes_out_verbatim(lines, keys):
    from django.http import HttpResponse

    from consentlib.django.response import put_headers

    django_site.configure()
    response = HttpResponse("x")
    put_headers(response, [("Content-Type", "text/plain"), *(("Set-Cookie", line) for line in lines)], {})
    assert list(response.cookies) == keys
    assert [morsel.output(header="").strip() for morsel in response.cookies.values()] == lines


def test_django_a_verbatim_line_reads_like_a_morsel_and_survives_pickling():
    # django.test.Client reads response.cookies["_ga"]["max-age"]; the cache middleware pickles responses.
    from consentlib.django.response import SetCookieLine

    line = SetCookieLine("_ga(1)=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly")
    assert (line.key, line.value, line["max-age"], line["path"], line["secure"]) == ("_ga(1)", "", "0", "/", True)
    again = pickle.loads(pickle.dumps(line))
    assert again.OutputString() == line.line and again.key == "_ga(1)"
