"""The consent endpoints through the ASGI door: answered on the event loop, with only the
store work in a worker thread, and byte for byte what the WSGI door answers.

* a slow store never blocks the loop: a choice waits for its receipt while another
  visitor's state is answered;
* every callable the door hands ``anyio.to_thread.run_sync`` for an endpoint is store
  work (named here by the store methods it calls), and no WSGI environ is ever built;
* the WSGI and ASGI doors give the same status, headers and body for a table of
  endpoint requests, bad input included.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import types
from datetime import datetime

import anyio.to_thread
import pytest
from werkzeug.test import Client

from consentlib import ConsentMiddleware, MailTracker
from consentlib.asgi import ConsentMiddleware as AsgiConsentMiddleware
from consentlib.asgi import bridge
from consentlib.store.base import Store
from consentlib.store.sqlite import SQLiteStore
from consentlib.web.exchange import Request
from tests.support.apps import KEYS, POLICY, consent_header
from tests.support.asgikit import AsgiClient, AsgiLint
from tests.support.mailkit import HTML, newsletter, reparse, unsubscribe_path, urls

FIXED_ID = "cd" * 16
JSON = {"Content-Type": "application/json"}


async def app_never_called(scope, receive, send):  # pragma: no cover - endpoints never reach the app
    raise AssertionError("a consent endpoint reached the app")


def wsgi_never_called(environ, start_response):  # pragma: no cover
    raise AssertionError("a consent endpoint reached the app")


async def exchange(app, method: str, path: str, body: bytes = b"", headers=()) -> tuple[int, list, bytes]:
    """One request straight to an ASGI app: status, headers, body."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost"), *((n.lower().encode(), v.encode()) for n, v in headers)],
             "client": ("127.0.0.1", 50000), "server": ("localhost", 80)}
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:])


# -- a slow store never blocks the event loop ------------------------------------------------------


class SlowStore(SQLiteStore):
    """A real SQLite store whose ``add_receipt`` waits until the test lets it go on."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()

    def add_receipt(self, receipt):
        self.entered.set()
        if not self.release.wait(10):
            raise AssertionError("add_receipt was never released")
        return super().add_receipt(receipt)


def test_a_choice_waiting_on_the_store_does_not_block_another_visitor(tmp_path):
    store = SlowStore(str(tmp_path / "consent.db"))
    middleware = AsgiConsentMiddleware(app_never_called, POLICY, secret_key=KEYS, store=store)

    async def main():
        choice = asyncio.create_task(exchange(middleware, "POST", "/_consent/", b'{"categories": ["analytics"]}',
                                              [("content-type", "application/json")]))
        for _ in range(500):
            if store.entered.is_set():
                break
            await asyncio.sleep(0.01)
        assert store.entered.is_set(), "the choice never reached the store"
        # The receipt is being written, and held there: another visitor is answered meanwhile.
        status, _, body = await asyncio.wait_for(exchange(middleware, "GET", "/_consent/"), timeout=5)
        assert (status, json.loads(body)["decided"]) == (200, False)
        assert not choice.done() and store.receipts() == []
        store.release.set()
        return await asyncio.wait_for(choice, timeout=10)

    status, headers, body = asyncio.run(main())
    assert status == 200 and json.loads(body)["granted"] == ["analytics", "necessary"]
    assert any(name == b"set-cookie" and value.startswith(b"consent_id=") for name, value in headers)
    (receipt,) = store.receipts()
    assert receipt["granted"] == ["analytics", "necessary"]


# -- only store work runs in a worker thread ---------------------------------------------------------

STORE_METHODS = sorted(name for name in vars(Store) if not name.startswith("_") and callable(getattr(Store, name)))


class NotingStore(SQLiteStore):
    """A real SQLite store that notes the store methods called from outside it, by thread."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.calls: list[tuple[int, str]] = []
        self._depth = threading.local()


def _noted(name: str):
    def method(self, *args, **kwargs):
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self.calls.append((threading.get_ident(), name))
        self._depth.n = depth + 1
        try:
            return getattr(SQLiteStore, name)(self, *args, **kwargs)
        finally:
            self._depth.n = depth

    method.__name__ = name
    return method


for _name in STORE_METHODS:
    setattr(NotingStore, _name, _noted(_name))


@pytest.fixture
def noted_site(tmp_path, monkeypatch):
    store = NotingStore(str(tmp_path / "consent.db"))
    middleware = AsgiConsentMiddleware(app_never_called, POLICY, secret_key=KEYS, store=store,
                                       site_url="https://example.com")
    tracker = MailTracker(base_url="https://example.com", secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db")
    tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    message = reparse(tracker.prepare(newsletter(HTML), recipient="ana@example.com", campaign="2026-11", list_id="news"))
    ran: list[tuple[tuple, list[str]]] = []
    real = anyio.to_thread.run_sync

    async def recording(func, *args, **kwargs):
        def traced():
            me = threading.get_ident()
            start = len(store.calls)
            try:
                return func(*args)
            finally:
                ran.append((args, [name for thread, name in store.calls[start:] if thread == me]))

        return await real(traced, **kwargs)

    def no_environ(cls, environ, body_limit=None):  # pragma: no cover - fails the test if called
        raise AssertionError("the ASGI door built a WSGI environ")

    monkeypatch.setattr(anyio.to_thread, "run_sync", recording)
    monkeypatch.setattr(Request, "from_environ", classmethod(no_environ))
    confirm = middleware.core.guardians.serializer.dumps(
        {"id": "ab" * 16, "c": ["analytics"], "g": "g" * 32, "n": "n1", "k": "confirm"})
    links = {"unsubscribe": unsubscribe_path(message), "click": urls(message)["c"][0], "confirm": confirm,
             "cookie": consent_header(middleware.core, ["necessary"], consent_id="ab" * 16)}
    return types.SimpleNamespace(middleware=middleware, ran=ran, links=links)


@pytest.mark.parametrize(("method", "path", "body", "headers", "store_work"), [
    pytest.param("GET", "/_consent/", b"", [], [], id="state-no-thread"),
    pytest.param("GET", "/_consent/preferences", b"", [], [], id="preferences-no-thread"),
    pytest.param("GET", "/_consent/declaration.json", b"", [], [], id="declaration-no-thread"),
    pytest.param("POST", "/_consent/", b'{"categories": []}', [("content-type", "application/json")],
                 [["add_receipt"]], id="choice-stores-its-receipt"),
    pytest.param("POST", "/_consent/", b"junk", [("content-type", "application/json")], [], id="junk-no-thread"),
    pytest.param("GET", "/_consent/receipts", b"", [("cookie", "{cookie}")],
                 [["consent_id_forgotten", "receipts"]], id="receipts-read-in-one-go"),
    pytest.param("POST", "/_consent/guardian/{confirm}", b"action=allow",
                 [("content-type", "application/x-www-form-urlencoded")],
                 [["guardian_token_used", "guardian_receipts", "add_receipt"]], id="guardian-allows"),
    pytest.param("GET", "{unsubscribe}", b"", [], [["mail_address", "mail_suppressed"]], id="unsubscribe-page"),
    pytest.param("POST", "{unsubscribe}", b"List-Unsubscribe=One-Click",
                 [("content-type", "application/x-www-form-urlencoded")], [["mail_address"], ["suppress_mail"]],
                 id="rfc8058-one-click"),
    pytest.param("GET", "{click}", b"", [], [["add_mail_events"]], id="click-recorded"),
    pytest.param("GET", "/_consent/m/o/forged.gif", b"", [], [], id="pixel-no-thread"),
])
def test_the_asgi_door_hands_worker_threads_only_store_work(noted_site, method, path, body, headers, store_work):
    path = path.format(**noted_site.links)
    headers = [(name, value.format(**noted_site.links)) for name, value in headers]
    status, _, _ = asyncio.run(exchange(noted_site.middleware, method, path, body, headers))
    assert status < 500
    assert [args for args, _ in noted_site.ran] == [()] * len(store_work)  # zero-argument work, no environ
    assert [names for _, names in noted_site.ran] == store_work


def test_the_asgi_bridge_has_no_wsgi_translation_left():
    assert not hasattr(bridge, "environ_of") and not hasattr(bridge, "run_wsgi")


# -- both doors answer alike ---------------------------------------------------------------------------


@pytest.fixture
def doors(tmp_path, monkeypatch):
    """The WSGI and the ASGI door, each on its own store prepared alike, with the same
    keys, a frozen clock and a fixed new consent id: what they answer must be the same bytes."""
    now = int(time.time())
    monkeypatch.setattr("consentlib.consent.time", types.SimpleNamespace(time=lambda: now))

    class Frozen(datetime):  # werkzeug's dump_cookie writes Expires from datetime.now()
        @classmethod
        def now(cls, tz=None):
            return cls.fromtimestamp(now, tz)

    monkeypatch.setattr("werkzeug.http.datetime", Frozen)
    monkeypatch.setattr("consentlib.web.choices.new_consent_id", lambda: FIXED_ID)
    clients, messages = [], []
    for door in ("wsgi", "asgi"):
        url = f"sqlite:///{tmp_path}/{door}.db"
        tracker = MailTracker(base_url="https://example.com", secret_key=KEYS, store=url)
        tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
        messages.append(reparse(tracker.prepare(newsletter(HTML), recipient="ana@example.com", campaign="2026-11",
                                                list_id="news")))
        options = dict(secret_key=KEYS, store=url, site_url="https://example.com")
        if door == "wsgi":
            wsgi = ConsentMiddleware(wsgi_never_called, POLICY, **options)
            clients.append(Client(wsgi, use_cookies=False))  # the Cookie header as the test wrote it
        else:
            clients.append(AsgiClient(AsgiLint(AsgiConsentMiddleware(app_never_called, POLICY, **options))))
    # The first store's links work on both: the same keys, recipient 1 on each.
    data = wsgi.core.endpoints.mail.tokens.dumps("data", [1, "2026-11", "news"])
    links = {"unsubscribe": unsubscribe_path(messages[0]), "click": urls(messages[0])["c"][0],
             "data": f"/_consent/m/d/{data}"}
    return clients, links


SAME_SITE = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(("method", "path", "options", "status"), [
    pytest.param("GET", "/_consent/", {}, 200, id="state"),
    pytest.param("HEAD", "/_consent/", {}, 200, id="head-state"),
    pytest.param("GET", "/_consent/", {"headers": {"Cookie": "consent=forged; sid=1", "Sec-GPC": "1"}}, 200, id="gpc"),
    pytest.param("PUT", "/_consent/", {}, 405, id="put-405"),
    pytest.param("GET", "/_consent/preferences", {"query_string": "next=/shop%E2%98%83",
                                                  "headers": {"Accept-Language": "zh-CN"}}, 200, id="preferences-zh"),
    pytest.param("HEAD", "/_consent/preferences", {}, 200, id="head-preferences"),
    pytest.param("GET", "/_consent/preferences", {"environ_overrides": {"QUERY_STRING": "next=/caf\xe9"}}, 200,
                 id="query-not-utf8"),
    pytest.param("GET", "/_consent/receipts", {"query_string": "download=1"}, 200, id="receipts-download"),
    pytest.param("GET", "/_consent/receipts", {"headers": {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}},
                 403, id="receipts-to-a-script-403"),
    pytest.param("GET", "/_consent/declaration.json", {}, 200, id="declaration"),
    pytest.param("GET", "/.well-known/gpc.json", {}, 200, id="gpc-json"),
    pytest.param("GET", "/_consent/banner.js", {}, 200, id="banner-asset"),
    pytest.param("GET", "/_consent/nothing", {}, 404, id="unknown-404"),
    pytest.param("POST", "/_consent/", {"data": '{"categories": ["analytics"]}', "headers": {**JSON, **SAME_SITE}},
                 200, id="json-choice"),
    pytest.param("POST", "/_consent/", {"data": "action=reject_all&next=/shop",
                                        "headers": {**FORM, "Cookie": "_ga=GA1; _fbp=fb; sid=1"}},
                 303, id="form-reject-303-expires-cookies"),
    pytest.param("POST", "/_consent/", {"data": "{junk", "headers": JSON}, 400, id="junk-json-400"),
    pytest.param("POST", "/_consent/", {"data": "[" * 10_000, "headers": JSON}, 400, id="nested-json-400"),
    pytest.param("POST", "/_consent/", {"data": "x" * (1 << 20), "headers": JSON}, 413, id="1mb-body-413"),
    pytest.param("POST", "/_consent/", {"data": "action=accept_all",
                                        "headers": {**FORM, "Origin": "https://evil.example"}}, 403,
                 id="cross-site-403"),
    pytest.param("POST", "/_consent/", {"data": "a=1", "headers": {"Content-Type": "text/plain"}}, 415, id="plain-415"),
    pytest.param("POST", "/_consent/", {"data": "action=fly", "headers": FORM}, 400, id="unknown-action-400"),
    pytest.param("POST", "/_consent/guardian", {"data": "guardian=a@b.example", "headers": FORM}, 404,
                 id="guardian-without-a-mailer-404"),
    pytest.param("GET", "/_consent/guardian/not-a-token", {}, 404, id="guardian-bad-token-404"),
    pytest.param("GET", "/_consent/m/o/forged.gif", {}, 200, id="pixel-wrong-token"),
    pytest.param("HEAD", "/_consent/m/o/forged.gif", {}, 200, id="head-pixel"),
    pytest.param("GET", "/_consent/m/c/forged", {}, 404, id="click-wrong-token-404"),
    pytest.param("GET", "{click}", {"headers": {"User-Agent": "Mozilla/5.0"}}, 302, id="click-302"),
    pytest.param("GET", "{unsubscribe}", {"headers": {"Accept-Language": "zh"}}, 200, id="unsubscribe-page"),
    pytest.param("POST", "{unsubscribe}x", {"data": "List-Unsubscribe=One-Click", "headers": FORM}, 404,
                 id="unsubscribe-wrong-token-404"),
    pytest.param("POST", "{unsubscribe}", {"data": "List-Unsubscribe=One-Click", "headers": FORM}, 200,
                 id="rfc8058-one-click"),
    pytest.param("POST", "{unsubscribe}", {"data": "x" * (1 << 20), "headers": FORM}, 413, id="unsubscribe-1mb-413"),
    pytest.param("GET", "{data}", {}, 200, id="your-data-page"),
    pytest.param("DELETE", "{data}", {}, 405, id="your-data-405"),
])
def test_the_wsgi_and_asgi_doors_answer_byte_for_byte_alike(doors, method, path, options, status):
    clients, links = doors
    answers = []
    for client in clients:
        response = client.open(path.format(**links), method=method, **options)
        # ASGI header names are lower case (the ASGI spec); HTTP names are case-insensitive.
        headers = [(name.lower(), value) for name, value in response.headers.items() if name not in ("Date", "Server")]
        answers.append((response.status_code, headers, response.get_data()))
        response.close()
    wsgi, asgi = answers
    assert wsgi[0] == status
    assert asgi == wsgi


# -- only a POST's body is read -------------------------------------------------------------------


class NeverSent:
    """A request body that was announced and never comes: reading it would wait forever."""

    def read(self, *args):  # pragma: no cover - fails the test if reached
        raise AssertionError("the body of a GET was read")

    readline = read


@pytest.mark.parametrize("path", ["/_consent/", "/_consent/preferences", "/_consent/declaration.json"])
def test_a_get_announcing_a_body_it_never_sends_is_answered_by_both_doors(tmp_path, path):
    wsgi = ConsentMiddleware(wsgi_never_called, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/w.db")
    response = Client(wsgi).get(path, environ_overrides={"wsgi.input": NeverSent(), "CONTENT_LENGTH": "10"})
    assert response.status_code == 200
    asgi = AsgiConsentMiddleware(app_never_called, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/a.db")

    async def never_sent():  # pragma: no cover - fails the test if awaited
        raise AssertionError("the body of a GET was read")

    async def main():
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"localhost"), (b"content-length", b"10")], "scheme": "http"}
        await asgi(scope, never_sent, send)
        return sent[0]["status"]

    assert asyncio.run(main()) == 200


def test_both_doors_read_header_lines_into_the_same_text():
    """RFC 9110 §5.3: a field's lines are one comma-separated list; Cookie's crumbs are
    joined with "; " (RFC 9113 §8.2.3); bytes are ISO-8859-1, as PEP 3333 has them."""
    scope = {"type": "http", "method": "POST", "path": "/shop/_consent/caf\u00e9", "root_path": "/shop",
             "query_string": b"next=/a", "scheme": "https", "client": ("192.0.2.7", 5), "server": ("example.com", 443),
             "headers": [(b"cookie", b"a=1"), (b"Cookie", b"b=2"), (b"accept-language", b"fr"),
                         (b"accept-language", b"en;q=0.5"), (b"x-name", b"caf\xe9"), (b"content-length", b"3")]}
    environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/shop", "PATH_INFO": "/_consent/caf\u00c3\u00a9",
               "QUERY_STRING": "next=/a", "wsgi.url_scheme": "https", "REMOTE_ADDR": "192.0.2.7",
               "SERVER_NAME": "example.com", "SERVER_PORT": "443", "HTTP_COOKIE": "a=1; b=2",
               "HTTP_ACCEPT_LANGUAGE": "fr, en;q=0.5", "HTTP_X_NAME": "caf\xe9", "CONTENT_LENGTH": "3",
               "CONTENT_TYPE": "", "HTTP_CONTENT_LENGTH": "999"}
    from_asgi = bridge.request_of(scope, b"abc", False)
    from_wsgi = Request.from_environ(environ)
    assert from_asgi.headers["COOKIE"] == "a=1; b=2" and from_asgi.header("Accept-Language") == "fr, en;q=0.5"
    assert dict(from_asgi.headers) == dict(from_wsgi.headers)
    assert (from_asgi.method, from_asgi.path, from_asgi.query, from_asgi.scheme, from_asgi.client, from_asgi.server) == (
        from_wsgi.method, from_wsgi.path, from_wsgi.query, from_wsgi.scheme, from_wsgi.client, from_wsgi.server)
    assert from_asgi.content_length == 3 and not from_asgi.incomplete
