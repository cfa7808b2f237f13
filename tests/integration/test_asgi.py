"""The ASGI door: what only ASGI has (raw header bytes, streamed bodies, WebSockets,
lifespan, the event loop). The shared header tables run through it from
test_middleware.py, test_endpoints.py, test_consent_cookie.py and test_beacon_paths.py
(KINDS "starlette" and "fastapi").
"""
from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from consentlib import ConfigurationError
from consentlib.asgi import ConsentMiddleware, consent_banner, consent_script
from consentlib.store.sqlite import SQLiteStore
from tests.support.apps import ALL, ASGI_KINDS, KEYS, POLICY, build_site, consent_value
from tests.support.asgikit import AsgiLint
from tests.integration.test_beacon_paths import MOUNTED, get
from tests.integration.test_header_names import ODD_SET_COOKIES, ODD_VALIDATORS, as_browser_reads
from tests.integration.test_header_names import POLICY as NAMES_POLICY

ETAG_POLICY = type(POLICY)(revision=POLICY.revision, categories=POLICY.categories, cookies=POLICY.cookies,
                           beacons=POLICY.beacons, etags="analytics")


def scope_of(path="/", *, headers=(), method="GET", kind="http", root_path="", scheme="http"):
    scope = {"type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": scheme, "path": path,
             "raw_path": path.encode(), "root_path": root_path, "query_string": b"",
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
             "client": ("127.0.0.1", 50000), "server": ("localhost", 80)}
    if kind == "http":
        scope["method"] = method
    return scope


def run(app, scope, incoming=({"type": "http.request", "body": b"", "more_body": False},)):
    """Run one ASGI conversation to its end; the messages the app sent."""
    sent = []
    queue = list(incoming)

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)  # nothing more comes: a test that waits here times out

    async def send(message):
        sent.append(message)

    async def main():
        await asyncio.wait_for(AsgiLint(app)(scope, receive, send), 10)

    asyncio.run(main())
    return sent


def start_of(sent):
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]


def body_of(sent) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def asgi_app_sending(*headers, body=b"ok", status=200):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()),
                                (b"set-cookie", b"sid=1; Path=/"), *headers]})
        await send({"type": "http.response.body", "body": body})

    return app


def served(tmp_path, app, policy=POLICY, **options):
    return ConsentMiddleware(app, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db", **options)


def _raw(header) -> tuple[bytes, bytes]:
    # What an ASGI app sends: bytes as they go on the wire (names from the WSGI tables,
    # lower-cased where they are ASCII as ASGI asks; U+212A as its UTF-8 bytes).
    name, value = header
    encode = lambda text: text.encode("latin-1") if all(ord(c) < 256 for c in text) else text.encode()  # noqa: E731
    return encode(name).lower(), encode(value)


# -- header names read as a browser reads them (RFC 9110 §5.1, §5.5) ------------------------


@pytest.mark.parametrize("odd", ODD_SET_COOKIES)
def test_rfc9110_odd_header_bytes_never_set_a_refused_cookie(tmp_path, odd):
    app = served(tmp_path, asgi_app_sending(_raw(odd)), NAMES_POLICY)
    _, headers = start_of(run(app, scope_of()))
    cookies = [v.partition("=")[0].strip() for name, v in as_browser_reads(headers) if name == "set-cookie"]
    assert cookies == ["sid"]


@pytest.mark.parametrize("odd", ODD_VALIDATORS)
def test_eprivacy_odd_header_bytes_never_carry_a_per_visitor_validator(tmp_path, odd):
    app = served(tmp_path, asgi_app_sending(_raw(odd)), NAMES_POLICY)
    _, headers = start_of(run(app, scope_of()))
    fields = as_browser_reads(headers)
    assert "last-modified" not in dict(fields)
    etags = [v for name, v in fields if name == "etag"]
    assert len(etags) == 1 and etags[0].startswith('W/"') and "uid-" not in etags[0]


def test_rfc6265_set_cookie_lines_kept_whole_in_order_with_other_headers(tmp_path):
    app = served(tmp_path, asgi_app_sending((b"x-one", b"1"), (b"set-cookie", b"_ga=1; Path=/"),
                                            (b"set-cookie", b"_fbp=2; Path=/"), (b"x-two", b"caf\xe9")))
    cookie = f"consent={consent_value(app, {'analytics'})}"
    _, headers = start_of(run(app, scope_of(headers=[("Cookie", cookie)])))
    assert [v for k, v in headers if k == "set-cookie"] == ["sid=1; Path=/", "_ga=1; Path=/"]
    assert [(k, v) for k, v in headers if k.startswith("x-")] == [("x-one", "1"), ("x-two", "caf\xe9")]


# -- request cookies, signals and beacons -----------------------------------------------------


def echo_app(seen: list):
    async def app(scope, receive, send):
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _cookie_lines(scope) -> list[bytes]:
    return [v for k, v in scope["headers"] if k.lower() == b"cookie"]


@pytest.mark.parametrize(
    ("headers", "seen"),
    [
        pytest.param([("cookie", "sid=1; _ga=2")], [b"sid=1"], id="one-line"),
        pytest.param([("cookie", "sid=1"), ("cookie", "_ga=2; _fbp=3")], [b"sid=1"], id="http2-crumbs-rfc9113"),
        pytest.param([("cookie", "_ga=2"), ("cookie", "theme=d"), ("cookie", "sid=1")], [b"sid=1"],
                     id="three-crumbs-the-last-one-kept-rfc9113"),
        pytest.param([("cookie", "_ga=2")], [], id="nothing-left-no-line"),
    ],
)
def test_eprivacy_app_never_reads_a_refused_cookie(tmp_path, headers, seen):
    scopes = []
    run(served(tmp_path, echo_app(scopes)), scope_of(headers=headers))
    assert _cookie_lines(scopes[0]) == seen
    assert scopes[0]["consentlib.consent"].granted == {"necessary"}


def test_eprivacy_cookie_header_in_capitals_from_a_careless_middleware_is_filtered(tmp_path):
    # Spec-breaking upper case (Django's ASGI handler upper-cases every name into META).
    scopes = []
    scope = scope_of()
    scope["headers"] = [(b"Cookie", b"sid=1; _ga=2")]
    app = served(tmp_path, echo_app(scopes))
    asyncio.run(app(scope, _no_body, _ignore))
    assert _cookie_lines(scopes[0]) == [b"sid=1"]


async def _no_body():
    return {"type": "http.request", "body": b"", "more_body": False}


async def _ignore(message):
    return None


def test_gpc_two_header_lines_are_not_the_exact_value_1(tmp_path):
    app = served(tmp_path, echo_app([]))
    cookie = f"consent={consent_value(app, ALL)}"
    one = run(app, scope_of("/_consent/", headers=[("cookie", cookie), ("sec-gpc", "1")]))
    two = run(app, scope_of("/_consent/", headers=[("cookie", cookie), ("sec-gpc", "1"), ("sec-gpc", "1")]))
    assert b'"gpc":true' in body_of(one) and b'"gpc":false' in body_of(two)


@pytest.mark.parametrize("kind", ASGI_KINDS)
@pytest.mark.parametrize(
    ("root_path", "path"),
    [
        pytest.param("/shop", "/collect", id="declared-with-the-mount"),
        pytest.param("/shop", "//collect", id="declared-with-the-mount-double-slash"),
        pytest.param("", "/shop/collect", id="not-mounted"),
        pytest.param("/shop/", "/collect", id="mount-with-trailing-slash"),
    ],
)
def test_eprivacy_beacon_under_a_root_path_mount_never_reaches_the_app(tmp_path, kind, root_path, path):
    site = build_site(kind, tmp_path, policy=MOUNTED)
    r = get(site, path, script_name=root_path)
    assert site.calls == [] and r.headers["Cache-Control"] == "no-store"


def test_blocked_image_beacon_head_has_headers_and_no_body(tmp_path):
    sent = run(served(tmp_path, echo_app([])), scope_of("/ads/pixel.gif", method="HEAD"))
    status, headers = start_of(sent)
    assert status == 200 and ("content-type", "image/gif") in headers and body_of(sent) == b""


# -- the ETag firewall, streaming ----------------------------------------------------------------


def streaming_app(chunks, *, length=None, delivered=None):
    """Sends ``chunks`` with more_body; before each next one, waits until the server got the last."""

    async def app(scope, receive, send):
        headers = [(b"content-type", b"text/plain"), (b"etag", b'"uid-1"')]
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})
            if delivered is not None and i < len(chunks) - 1:
                await asyncio.wait_for(delivered.wait(), 2)  # a firewall holding it back fails here
                delivered.clear()

    return app


@pytest.mark.parametrize(
    ("length", "limit"),
    [
        pytest.param(None, 1 << 20, id="unknown-length"),
        pytest.param(3 * 100_000, 1000, id="length-over-the-limit"),
        pytest.param(100, 1000, id="length-that-lies"),
    ],
)
def test_eprivacy_firewall_streams_what_it_cannot_validate_without_holding_it(tmp_path, length, limit):
    delivered = asyncio.Event()
    chunks = [b"a" * 100_000, b"b" * 100_000, b"c" * 100_000]
    app = served(tmp_path, streaming_app(chunks, length=length, delivered=delivered), ETAG_POLICY,
                 etag_body_limit=limit)
    sent = []

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            delivered.set()

    asyncio.run(asyncio.wait_for(app(scope_of(), _no_body, send), 10))
    _, headers = start_of(sent)
    assert body_of(sent) == b"".join(chunks)
    assert not [v for k, v in headers if k in ("etag", "last-modified")]  # no validator at all
    held = max(len(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")
    assert held <= max(limit, 100_000) + 100_000


def test_eprivacy_firewall_gives_every_visitor_the_same_weak_etag_and_answers_304(tmp_path):
    seen = []

    async def app(scope, receive, send):
        seen.append(dict(scope["headers"]))
        await asgi_app_sending((b"etag", b'"uid-7f3a"'), body=b"hello")(scope, receive, send)

    middleware = served(tmp_path, app, ETAG_POLICY)
    first = start_of(run(middleware, scope_of()))[1]
    etag = dict(first)["etag"]
    assert etag.startswith('W/"') and "uid-" not in etag
    again = run(middleware, scope_of(headers=[("if-none-match", etag), ("if-modified-since", "x")]))
    assert start_of(again)[0] == 304 and body_of(again) == b""
    assert b"if-none-match" not in seen[1] and b"if-modified-since" not in seen[1]
    head = run(middleware, scope_of(method="HEAD"))
    assert dict(start_of(head)[1])["etag"] == etag and body_of(head) == b""


def test_eprivacy_firewall_off_with_etags_consent(tmp_path):
    middleware = served(tmp_path, asgi_app_sending((b"etag", b'"uid-7f3a"')), ETAG_POLICY)
    cookie = f"consent={consent_value(middleware, ALL)}"
    headers = dict(start_of(run(middleware, scope_of(headers=[("cookie", cookie)])))[1])
    assert headers["etag"] == '"uid-7f3a"'


# -- WebSockets, lifespan, other scopes ------------------------------------------------------------


def test_eprivacy_websocket_handshake_cookie_filtered_and_accept_gated(tmp_path):
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await receive()
        await send({"type": "websocket.accept", "headers": [(b"set-cookie", b"_fbp=1"), (b"set-cookie", b"sid=2")]})
        await send({"type": "websocket.close", "code": 1000})

    sent = run(served(tmp_path, app), scope_of("/ws", kind="websocket", headers=[("cookie", "sid=1; _ga=2")]),
               [{"type": "websocket.connect"}])
    assert _cookie_lines(scopes[0]) == [b"sid=1"]
    accept = next(m for m in sent if m["type"] == "websocket.accept")
    assert [v for k, v in accept["headers"] if k == b"set-cookie"][0].startswith(b"sid=")
    assert not [v for k, v in accept["headers"] if v.startswith(b"_fbp")]


@pytest.mark.parametrize("path", ["/collect", "//collect", "/_consent/"])
def test_eprivacy_websocket_to_a_blocked_beacon_is_refused_before_the_app(tmp_path, path):
    called = []

    async def app(scope, receive, send):  # pragma: no cover - must not run
        called.append(scope)

    sent = run(served(tmp_path, app), scope_of(path, kind="websocket"), [{"type": "websocket.connect"}])
    assert called == [] and sent == [{"type": "websocket.close", "code": 1008}]


def test_lifespan_passes_through(tmp_path):
    events = []

    async def app(scope, receive, send):
        events.append((await receive())["type"])
        await send({"type": "lifespan.startup.complete"})

    sent = run(served(tmp_path, app), {"type": "lifespan", "asgi": {"version": "3.0"}},
               [{"type": "lifespan.startup"}])
    assert events == ["lifespan.startup"] and sent == [{"type": "lifespan.startup.complete"}]


def test_unknown_scope_type_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(ValueError, match="does not handle ASGI scope type 'webtransport'"):
        asyncio.run(served(tmp_path, echo_app([]))({"type": "webtransport"}, _no_body, _ignore))


# -- the event loop never waits on the store ------------------------------------------------------


class ThreadNotingStore(SQLiteStore):
    """A real SQLite store that notes which thread each call ran on."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.threads: list[tuple[str, int]] = []

    def add_receipt(self, receipt):
        self.threads.append(("add_receipt", threading.get_ident()))
        return super().add_receipt(receipt)

    def guardian_receipts(self, *args, **kw):
        self.threads.append(("guardian_receipts", threading.get_ident()))
        return super().guardian_receipts(*args, **kw)

    def note_undeclared_cookie(self, name):
        self.threads.append(("note_undeclared_cookie", threading.get_ident()))
        return super().note_undeclared_cookie(name)


def test_store_io_never_runs_on_the_event_loop(tmp_path, caplog):
    store = ThreadNotingStore(str(tmp_path / "consent.db"))
    middleware = ConsentMiddleware(asgi_app_sending((b"set-cookie", b"tracker_x=1")), POLICY, secret_key=KEYS,
                                   store=store, is_minor=lambda scope: True)
    loop_threads = []

    async def conversation():
        loop_threads.append(threading.get_ident())
        cookies = []
        for path, method, body in (("/", "GET", b""), ("/_consent/", "POST", b'{"categories": []}'),
                                   ("/", "GET", b"")):
            # The minor's later requests carry the consent cookie: the guardian's grant is read.
            headers = [("content-type", "application/json"), *(("cookie", c) for c in cookies)]
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive():
                return messages.pop(0)

            async def send(message):
                for name, value in message.get("headers", ()):
                    if name == b"set-cookie" and value.startswith(b"consent"):
                        cookies.append(value.decode().split(";")[0])

            await middleware(scope_of(path, method=method, headers=headers), receive, send)

    with caplog.at_level(logging.WARNING, logger="consentlib"):
        asyncio.run(conversation())
    called = {name for name, _ in store.threads}
    assert {"add_receipt", "guardian_receipts", "note_undeclared_cookie"} <= called
    assert all(thread != loop_threads[0] for _, thread in store.threads)
    assert [row["name"] for row in store.undeclared_cookies()] == ["tracker_x"]


def test_bad_request_body_to_an_endpoint_is_a_4xx_never_read_whole(tmp_path):
    middleware = served(tmp_path, echo_app([]))
    chunk = {"type": "http.request", "body": b"x" * 8192, "more_body": True}
    sent = run(middleware, scope_of("/_consent/", method="POST", headers=[("content-type", "application/json")]),
               [chunk] * 50 + [{"type": "http.request", "body": b"", "more_body": False}])
    assert start_of(sent)[0] == 413


# -- construction and templates ------------------------------------------------------------------


def test_options_checked_at_construction_like_the_wsgi_door(tmp_path):
    with pytest.raises(ConfigurationError, match="prefix must start and end with '/'"):
        served(tmp_path, echo_app([]), prefix="nope")
    with pytest.raises(ConfigurationError, match="needs a consentlib.Policy"):
        ConsentMiddleware(echo_app([]), "policy", secret_key=KEYS)


def test_templates_render_banner_and_gated_script(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from tests.support.asgikit import AsgiClient

    async def page(request):
        html = f"{consent_banner(request)}{consent_script(request, 'analytics', src='/a.js')}"
        return HTMLResponse(html)

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    client = AsgiClient(app)
    undecided = client.open("/").get_data().decode()
    assert 'data-consent-endpoint="/_consent/"' in undecided
    assert '<script type="text/plain" data-consent="analytics" data-consent-src="/a.js">' in undecided
    value = consent_value(served(tmp_path, echo_app([])), ALL)
    allowed = client.open("/", headers={"Cookie": f"consent={value}"}).get_data().decode()
    assert '<script src="/a.js"></script>' in allowed
    crawler = client.open("/", headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert "data-consent-endpoint" not in crawler.get_data().decode()


def test_templates_banner_carries_the_policys_storage_keys(tmp_path):
    import dataclasses

    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from consentlib import Storage
    from tests.support.asgikit import AsgiClient

    async def page(request):
        return HTMLResponse(str(consent_banner(request)))

    app = Starlette(routes=[Route("/", page)])
    policy = dataclasses.replace(POLICY, storage=[Storage("_hj*", "analytics")])
    app.add_middleware(ConsentMiddleware, policy=policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    html = AsgiClient(app).open("/").get_data().decode()
    assert """data-consent-storage='[["localStorage","analytics",""" in html


def test_templates_without_the_middleware_say_how_to_add_it():
    with pytest.raises(LookupError, match="add_middleware"):
        consent_banner({"type": "http", "headers": []})


# -- beacon spellings on the wire, under uvicorn -------------------------------------------------

WIRE_TARGETS = ["/collect", "//collect", "/%2fcollect", "/%2Fcollect", "/%252Fcollect", "/collect/", "/./collect",
                "/a/../collect", "/%63ollect", "/collect;x", "/%5Ccollect"]


def test_eprivacy_beacon_spellings_never_reach_a_fastapi_view_under_uvicorn(tmp_path):
    # What a client puts on the request line (curl --path-as-is), decoded once by
    # uvicorn into scope["path"]: no spelling reaches the beacon's view without consent.
    import http.client
    from urllib.parse import urlsplit

    from consentlib.testing.server import serve_asgi
    from examples.fastapi_site import create_app

    app = create_app(secret_key="wire-key-" + "x" * 24, store=f"sqlite:///{tmp_path}/consent.db")
    with serve_asgi(app) as url:
        address = urlsplit(url)
        answers = {}
        for target in WIRE_TARGETS:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            connection.putrequest("POST", target, skip_accept_encoding=True)
            connection.putheader("Content-Length", "0")
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            answers[target] = response.status
            connection.close()
    assert app.state.hits["analytics"] == 0, answers
    assert all(status < 500 for status in answers.values()), answers


@pytest.mark.parametrize("kind", ASGI_KINDS)
@pytest.mark.parametrize("target", ["/%2fcollect", "/%2F%2Fcollect", "/%252Fcollect", "/collect/"])
def test_eprivacy_beacon_request_targets_never_reach_the_app(tmp_path, kind, target):
    # "//collect" itself is a host to werkzeug's URL parser: the uvicorn test above sends it.
    site = build_site(kind, tmp_path)
    r = site.get(target)
    assert site.calls == [] and r.headers["Cache-Control"] == "no-store"


def test_debug_log_says_why_a_set_cookie_was_refused_through_the_asgi_door(tmp_path, caplog):
    # The gate reads ASGI's bytes as they are; its debug log must read them too.
    app = served(tmp_path, asgi_app_sending((b"set-cookie", b"_fbp=1; Path=/")))
    with caplog.at_level(logging.DEBUG, logger="consentlib"):
        _, headers = start_of(run(app, scope_of("/collect")))
        _, headers = start_of(run(app, scope_of()))
    assert [v for k, v in headers if k == "set-cookie"] == ["sid=1; Path=/"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused Set-Cookie '_fbp'" in m for m in messages)
    assert any("answered beacon /collect itself" in m for m in messages)
