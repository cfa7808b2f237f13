"""The ETag firewall (consentlib/etag.py): docs/http.md, "Gating rules", docs/rules.md, "HTTP"."""
from __future__ import annotations

import secrets

import pytest
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client, EnvironBuilder

from consentlib.wsgi.etag import ETagFirewall

# Every WSGI or HTTP mistake the lint middleware notices fails the test.
pytestmark = [
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.WSGIWarning"),
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.HTTPWarning"),
]

PAGE = b"<!doctype html><title>t</title><p>" + b"same for everyone " * 40 + b"</p>"


class App:
    """A configurable WSGI app that records what it saw and how it was closed."""

    def __init__(
        self,
        *,
        status: str = "200 OK",
        headers: list[tuple[str, str]] | None = None,
        blocks: list[bytes] | None = None,
        length: bool = True,
        lazy: bool = False,
        written: list[bytes] = (),  # type: ignore[assignment]
        raise_after: int | None = None,
        as_list: bool = False,
    ) -> None:
        self.status = status
        self.blocks = [PAGE] if blocks is None else blocks
        self.headers = [("Content-Type", "text/html; charset=utf-8")] if headers is None else headers
        self.length = length
        self.lazy = lazy
        self.written = list(written)
        self.raise_after = raise_after
        self.as_list = as_list
        self.environs: list[dict] = []
        self.pulled = 0
        self.closed = 0

    def _headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        if self.length:
            size = sum(map(len, self.blocks)) + sum(map(len, self.written))
            headers.append(("Content-Length", str(size)))
        return headers

    def __call__(self, environ, start_response):
        self.environs.append(dict(environ))
        if self.as_list:
            start_response(self.status, self._headers())
            return list(self.blocks)
        if not self.lazy:
            write = start_response(self.status, self._headers())
            for data in self.written:
                write(data)
            return _Body(self, None)
        return _Body(self, start_response)


class _Body:
    def __init__(self, app: App, start_response) -> None:
        self.app = app
        self.start_response = start_response
        self.index = 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        app = self.app
        if self.start_response is not None:
            write = self.start_response(app.status, app._headers())
            self.start_response = None
            for data in app.written:
                write(data)
        if app.raise_after is not None and self.index >= app.raise_after:
            raise RuntimeError("the app failed mid-stream")
        if self.index >= len(app.blocks):
            raise StopIteration
        app.pulled += 1
        self.index += 1
        return app.blocks[self.index - 1]

    def close(self) -> None:
        self.app.closed += 1


class ReadingClient(Client):
    """Reads and closes every response, as a server does once it has sent it.

    Not ``buffered=True``: werkzeug's buffered test runner drops what the app passes to
    ``write()``.
    """

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        try:
            response.get_data()
        finally:
            response.close()
        return response


def firewall(app, *, applies: bool = True, max_body: int = 1 << 20, lint_outside: bool = True,
             lint_inside: bool = True) -> Client:
    inner = LintMiddleware(app) if lint_inside else app
    wrapped = ETagFirewall(inner, applies=lambda environ: applies, max_body=max_body)
    return ReadingClient(LintMiddleware(wrapped) if lint_outside else wrapped)


def served_etag(app=None) -> str:
    return firewall(app or App()).get("/").headers["ETag"]


# --- the evercookie proof -----------------------------------------------------------


class Evercookie:
    """Identifies visitors by the ETag their cache replays: the tracking trick itself."""

    def __init__(self) -> None:
        self.visits: list[tuple[str, bool]] = []  # (uid, recognised)

    def __call__(self, environ, start_response):
        replayed = environ.get("HTTP_IF_NONE_MATCH", "")
        if replayed.startswith('"uid-'):
            uid = replayed[5:-1]
            self.visits.append((uid, True))
            start_response("304 Not Modified", [("ETag", replayed)])
            return []
        uid = secrets.token_hex(8)
        self.visits.append((uid, False))
        start_response("200 OK", [
            ("Content-Type", "text/html"),
            ("Content-Length", str(len(PAGE))),
            ("Cache-Control", "no-cache"),
            ("ETag", f'"uid-{uid}"'),
        ])
        return [PAGE]


class Browser:
    """A visitor with an HTTP cache: replays the last ETag it was given."""

    def __init__(self, app) -> None:
        self.client = ReadingClient(app)
        self.etag: str | None = None
        self.seen_etags: list[str] = []

    def visit(self) -> int:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = self.client.get("/", headers=headers)
        if "ETag" in response.headers:
            self.etag = response.headers["ETag"]
            self.seen_etags.append(self.etag)
        return response.status_code


def test_eprivacy_per_visitor_etag_never_leaves_without_consent():
    tracker = Evercookie()
    app = LintMiddleware(ETagFirewall(LintMiddleware(tracker), applies=lambda environ: True))
    alice, bob = Browser(app), Browser(app)
    assert [alice.visit(), bob.visit(), alice.visit(), bob.visit()] == [200, 200, 304, 304]
    # The tracker never recognised anyone: every visit looked like a new visitor.
    assert [recognised for _, recognised in tracker.visits] == [False] * 4
    assert len({uid for uid, _ in tracker.visits}) == 4
    # Both visitors stored the same, content-derived validator and nothing else.
    assert set(alice.seen_etags) == set(bob.seen_etags) == {alice.seen_etags[0]}
    assert all("uid-" not in tag for tag in alice.seen_etags + bob.seen_etags)


def test_eprivacy_consented_visitor_keeps_the_apps_own_validators():
    tracker = Evercookie()
    app = ETagFirewall(LintMiddleware(tracker), applies=lambda environ: False)
    alice, bob = Browser(app), Browser(app)
    assert [alice.visit(), bob.visit(), alice.visit()] == [200, 200, 304]
    (alice_uid, _), (bob_uid, _), returning = tracker.visits
    assert alice_uid != bob_uid
    assert returning == (alice_uid, True)


# --- conditionals reaching the app ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "sent", "reaching"),
    [
        pytest.param("GET", {"If-None-Match": '"uid-1"'}, {}, id="get-if-none-match-removed"),
        pytest.param("GET", {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, {},
                     id="get-if-modified-since-removed"),
        pytest.param("GET", {"If-Range": '"uid-1"', "Range": "bytes=0-9"}, {},
                     id="get-if-range-removed-with-its-range"),
        pytest.param("GET", {"Range": "bytes=0-9"}, {"HTTP_RANGE": "bytes=0-9"},
                     id="get-range-alone-kept"),
        pytest.param("GET", {"If-Match": '"v1"'}, {"HTTP_IF_MATCH": '"v1"'},
                     id="get-if-match-kept-never-replayed-by-caches"),
        pytest.param("HEAD", {"If-None-Match": '"uid-1"', "If-Modified-Since": "x"}, {},
                     id="head-conditionals-removed"),
        pytest.param("POST", {"If-None-Match": '"uid-1"', "If-Modified-Since": "x"},
                     {"HTTP_IF_NONE_MATCH": '"uid-1"', "HTTP_IF_MODIFIED_SINCE": "x"},
                     id="post-keeps-its-conditionals"),
        pytest.param("PUT", {"If-Match": '"v1"'}, {"HTTP_IF_MATCH": '"v1"'},
                     id="put-keeps-its-conditionals"),
    ],
)
def test_rfc9110_conditionals_never_reach_the_app_without_consent(method, sent, reaching):
    app = App()
    firewall(app, lint_outside=method != "HEAD").open("/", method=method, headers=sent)
    (seen,) = app.environs
    conditionals = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_RANGE",
                    "HTTP_RANGE", "HTTP_IF_MATCH")
    assert {k: seen[k] for k in conditionals if k in seen} == reaching


def test_pep3333_callers_environ_is_left_as_the_client_sent_it():
    environ = EnvironBuilder("/", headers={"If-None-Match": '"uid-1"'}).get_environ()
    fw = ETagFirewall(App(), applies=lambda environ: True)
    body = fw(environ, lambda status, headers, exc_info=None: None)
    body.close() if hasattr(body, "close") else None
    assert environ["HTTP_IF_NONE_MATCH"] == '"uid-1"'


@pytest.mark.parametrize(
    "method", [pytest.param("GET", id="get"), pytest.param("POST", id="post")]
)
def test_consent_passes_the_apps_iterable_through_untouched(method):
    app = App()
    calls = []
    fw = ETagFirewall(app, applies=lambda environ: calls.append(1) or method == "POST")
    environ = EnvironBuilder("/", method=method, headers={"If-None-Match": '"x"'}).get_environ()
    body = fw(environ, lambda status, headers, exc_info=None: None)
    assert type(body) is _Body and body.app is app
    assert app.environs[0]["HTTP_IF_NONE_MATCH"] == '"x"'
    assert calls == ([1] if method == "GET" else [])  # not even asked for other methods
    body.close()


# --- validators leaving the app -------------------------------------------------------

APP_VALIDATORS = [("ETag", '"uid-42"'), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")]


@pytest.mark.parametrize(
    ("app", "expected_status", "gets_etag"),
    [
        pytest.param(App(headers=APP_VALIDATORS), 200, True, id="200-gets-content-etag"),
        pytest.param(App(headers=[("etag", '"uid-1"'), ("LAST-MODIFIED", "x")]), 200, True,
                     id="header-names-any-case"),
        pytest.param(App(headers=[*APP_VALIDATORS, ("Cache-Control", "no-store")]), 200, False,
                     id="no-store-gets-no-etag"),
        pytest.param(App(headers=[*APP_VALIDATORS, ("Cache-Control", "private, NO-STORE")]), 200,
                     False, id="no-store-any-case-in-a-list"),
        pytest.param(App(headers=[*APP_VALIDATORS, ("Cache-Control", "no-cache")]), 200, True,
                     id="no-cache-still-validates"),
        pytest.param(App(status="404 Not Found", headers=APP_VALIDATORS), 404, False,
                     id="404-no-validator"),
        pytest.param(App(status="206 Partial Content", headers=APP_VALIDATORS), 206, False,
                     id="206-no-validator"),
        pytest.param(App(status="304 Not Modified", headers=[("ETag", '"uid-1"')], blocks=[],
                         length=False), 304, False, id="apps-own-304-loses-its-etag"),
        pytest.param(App(headers=APP_VALIDATORS, length=False), 200, False,
                     id="streamed-without-length-no-validator"),
        pytest.param(App(headers=APP_VALIDATORS, lazy=True), 200, True,
                     id="lazy-start-response-validates"),
        pytest.param(App(headers=APP_VALIDATORS, blocks=[b"", PAGE[:10], b"", PAGE[10:], b""]),
                     200, True, id="empty-blocks"),
        pytest.param(App(headers=APP_VALIDATORS, blocks=[]), 200, True, id="empty-body"),
        pytest.param(App(headers=APP_VALIDATORS, written=[b"<!-- w -->"]), 200, True,
                     id="write-callable-then-iterable"),
        pytest.param(App(headers=APP_VALIDATORS, written=[b"<!-- w -->"], length=False), 200,
                     False, id="write-callable-streamed"),
    ],
)
def test_eprivacy_app_validators_never_leave_without_consent(app, expected_status, gets_etag):
    response = firewall(app).get("/")
    assert response.status_code == expected_status
    assert "Last-Modified" not in response.headers
    etags = response.headers.getlist("ETag")
    assert len(etags) == (1 if gets_etag else 0)
    assert all(tag.startswith('W/"') and "uid-" not in tag for tag in etags)
    expected_body = b"" if expected_status == 304 else b"".join(app.written + app.blocks)
    assert response.data == expected_body
    assert app.closed == 1


def test_list_body_without_length_is_validated():
    # No lint inside: its wrapper would hide that the app returned a list.
    app = App(headers=APP_VALIDATORS, length=False, as_list=True)
    response = firewall(app, lint_inside=False).get("/")
    assert response.headers["ETag"].startswith('W/"') and response.data == PAGE


def test_eprivacy_etag_is_the_same_for_every_visitor_and_follows_the_content():
    first = served_etag(App(headers=[("ETag", '"uid-a"')]))
    assert served_etag(App(headers=[("ETag", '"uid-b"')])) == first
    assert served_etag(App(blocks=[PAGE[:50], PAGE[50:]])) == first
    assert served_etag(App(blocks=[PAGE + b" "])) != first


# --- If-None-Match (RFC 9110 §13.1.2) --------------------------------------------------

TAG = served_etag()
OPAQUE = TAG[3:-1]


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [
        pytest.param(TAG, 304, id="same-weak-tag"),
        pytest.param(f'"{OPAQUE}"', 304, id="strong-form-matches-weakly"),
        pytest.param(f'"a", {TAG}, "b"', 304, id="in-a-list"),
        pytest.param(f' "a" ,\t{TAG}  ', 304, id="list-with-spaces-and-tabs"),
        pytest.param("*", 304, id="star"),
        pytest.param(' * ', 304, id="star-with-spaces"),
        pytest.param('W/"other"', 200, id="other-tag"),
        pytest.param('"uid-42"', 200, id="apps-identity-tag"),
        pytest.param(f'W/"{OPAQUE}x"', 200, id="longer-tag-with-our-prefix"),
        pytest.param(f'W/"x{OPAQUE}"', 200, id="longer-tag-with-our-suffix"),
        pytest.param('W/', 200, id="malformed-bare-weak-marker"),
        pytest.param('"unterminated', 200, id="malformed-unterminated"),
        pytest.param(',,, ,', 200, id="malformed-only-commas"),
        pytest.param("*, " + TAG, 304, id="malformed-star-in-a-list-still-finds-ours"),
        pytest.param('"x", ' * 20_000 + '"y"', 200, id="huge-list"),
        pytest.param(" " * 60_000 + TAG, 304, id="huge-whitespace-then-ours"),
        pytest.param("\u00e9\u00ff", 200, id="latin-1-garbage"),
    ],
)
def test_rfc9110_if_none_match_weak_comparison(if_none_match, expected):
    response = firewall(App(headers=APP_VALIDATORS)).get("/", headers={"If-None-Match": if_none_match})
    assert response.status_code == expected
    assert response.headers["ETag"] == TAG


@pytest.mark.parametrize(
    "if_modified_since",
    [
        pytest.param("Mon, 01 Jan 2024 00:00:00 GMT", id="valid-date"),
        pytest.param("yesterday", id="malformed"),
        pytest.param("9" * 70_000, id="huge"),
    ],
)
def test_rfc9110_if_modified_since_is_never_evaluated_without_consent(if_modified_since):
    response = firewall(App(headers=APP_VALIDATORS)).get(
        "/", headers={"If-Modified-Since": if_modified_since}
    )
    assert response.status_code == 200 and response.data == PAGE


def test_rfc9110_304_keeps_only_listed_headers():
    app = App(headers=[
        ("Content-Type", "text/html"),
        ("Cache-Control", "no-cache"),
        ("Content-Location", "/page"),
        ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Expires", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Vary", "Accept-Encoding"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Language", "en"),
        ("X-Frame-Options", "DENY"),
        *APP_VALIDATORS,
    ])
    tag = served_etag(app)
    response = firewall(app).get("/", headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.data == b""
    assert list(response.headers) == [
        ("Cache-Control", "no-cache"),
        ("Content-Location", "/page"),
        ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Expires", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Vary", "Accept-Encoding"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("ETag", tag),
    ]


# --- HEAD (RFC 9110 §9.3.2) ------------------------------------------------------------


def _flask_app(**headers: str):
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)

    @app.get("/")
    def index():
        return PAGE, 200, headers

    return app


@pytest.mark.parametrize(
    ("make_app", "max_body"),
    [
        pytest.param(lambda: App(headers=APP_VALIDATORS), 1 << 20, id="plain-app-sends-body-on-head"),
        pytest.param(lambda: _flask_app(ETag='"uid-1"'), 1 << 20, id="flask-drops-body-on-head"),
        pytest.param(lambda: App(headers=[("Cache-Control", "no-store")]), 1 << 20, id="no-store"),
        pytest.param(lambda: App(length=False), 1 << 20, id="streamed"),
        pytest.param(lambda: App(blocks=[PAGE] * 4), len(PAGE), id="oversized"),
        pytest.param(lambda: App(status="404 Not Found"), 1 << 20, id="404"),
    ],
)
def test_rfc9110_head_gets_exactly_gets_headers(make_app, max_body):
    get = firewall(make_app(), max_body=max_body, lint_inside=False).get("/")
    app = make_app()
    # The outer lint would object to HEAD's Content-Length without bytes; that is HEAD.
    head = firewall(app, max_body=max_body, lint_outside=False, lint_inside=False).head("/")
    assert head.status_code == get.status_code
    assert list(head.headers) == list(get.headers)
    assert head.data == b""
    if isinstance(app, App):
        assert app.environs[0]["REQUEST_METHOD"] == "GET"
        assert app.closed == 1
        assert app.pulled <= 2  # an oversized body is not read to the end for HEAD


def test_rfc9110_head_revalidates_like_get():
    response = firewall(App(), lint_outside=False).head("/", headers={"If-None-Match": TAG})
    assert response.status_code == 304 and response.headers["ETag"] == TAG


# --- bounded memory and streaming ----------------------------------------------------


def _first_block(app, max_body: int, **headers: str):
    """Run the firewall as a server would; return the first block and what was pulled."""
    environ = EnvironBuilder("/", headers=headers).get_environ()
    sent: list = []
    written: list[bytes] = []
    fw = ETagFirewall(app, applies=lambda environ: True, max_body=max_body)
    body = fw(environ, lambda status, headers, exc_info=None: sent.append(headers) or written.append)
    iterator = iter(body)
    first = next(iterator)
    pulled = app.pulled
    rest = b"".join(iterator)
    body.close()
    return first, pulled, b"".join(written) + first + rest, sent


BLOCK = b"x" * 1024


@pytest.mark.parametrize(
    ("app", "max_pulled"),
    [
        pytest.param(App(blocks=[BLOCK] * 64, length=False), 1, id="streamed-not-held-at-all"),
        pytest.param(App(blocks=[BLOCK] * 64), 1, id="content-length-over-limit-not-held"),
        pytest.param(App(blocks=[BLOCK] * 64, headers=[("Content-Length", "1")], length=False), 5,
                     id="lying-content-length-held-up-to-the-limit"),
        pytest.param(App(blocks=[BLOCK] * 64, lazy=True, length=False), 1,
                     id="lazy-start-response-streamed"),
    ],
)
def test_memory_never_holds_more_than_max_body(app, max_pulled):
    first, pulled, body, sent = _first_block(app, max_body=4 * 1024)
    assert first and pulled <= max_pulled
    assert body == b"".join(app.blocks)
    assert [h for h in sent[0] if h[0].lower() == "etag"] == []
    assert app.closed == 1


def test_memory_write_callable_over_the_limit_streams_in_order():
    app = App(blocks=[b"C" * 3000], written=[b"A" * 3000, b"B" * 3000],
              headers=[("Content-Length", "10")], length=False)
    first, _, body, sent = _first_block(app, max_body=4 * 1024)
    assert body == b"A" * 3000 + b"B" * 3000 + b"C" * 3000
    assert [h for h in sent[0] if h[0].lower() == "etag"] == []


# --- PEP 3333: exc_info, close() ---------------------------------------------------------


def _error_app(*, after_body: bool, closed: list):
    class Body:
        def __init__(self, start_response):
            self.start_response = start_response
            self.done = False

        def __iter__(self):
            return self

        def __next__(self):
            if self.done:
                raise StopIteration
            self.done = True
            if after_body:
                return b"partial"
            try:
                raise ValueError("boom")
            except ValueError:
                import sys

                self.start_response("500 Internal Server Error",
                                    [("Content-Type", "text/plain"), ("ETag", '"uid-1"'),
                                     ("Content-Length", "5")], sys.exc_info())
            return b"error"

        def close(self):
            closed.append(1)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return Body(start_response)

    return app


def test_pep3333_exc_info_before_body_replaces_the_response():
    closed: list = []
    response = firewall(_error_app(after_body=False, closed=closed)).get("/")
    assert response.status_code == 500
    assert "ETag" not in response.headers
    assert response.data == b"error"
    assert closed == [1]


def test_pep3333_exc_info_after_body_reraises():
    import sys

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"partial"
            try:
                raise ValueError("boom")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            yield b"never"

        return body()

    with pytest.raises(ValueError, match="boom"):
        firewall(app, lint_inside=False, lint_outside=False).get("/")


@pytest.mark.parametrize(
    ("app", "kwargs"),
    [
        pytest.param(App(blocks=[PAGE, PAGE], raise_after=1), {}, id="buffered"),
        pytest.param(App(blocks=[PAGE, PAGE], raise_after=1, length=False), {}, id="streamed"),
        pytest.param(App(blocks=[PAGE, PAGE], raise_after=0, lazy=True), {},
                     id="before-start-response"),
        pytest.param(App(blocks=[BLOCK] * 8, raise_after=6), {"max_body": 4096},
                     id="after-overflow"),
    ],
)
def test_pep3333_close_called_once_when_the_app_raises_mid_stream(app, kwargs):
    client = firewall(app, lint_inside=False, lint_outside=False, **kwargs)
    with pytest.raises(RuntimeError, match="mid-stream"):
        client.get("/")
    assert app.closed == 1


@pytest.mark.parametrize(
    ("app", "headers", "method"),
    [
        pytest.param(App(), {}, "GET", id="validated"),
        pytest.param(App(), {"If-None-Match": TAG}, "GET", id="answered-304"),
        pytest.param(App(length=False), {}, "GET", id="streamed"),
        pytest.param(App(), {}, "HEAD", id="head"),
        pytest.param(App(length=False), {}, "HEAD", id="head-streamed"),
        pytest.param(App(), {}, "POST", id="post"),
    ],
)
def test_pep3333_close_called_exactly_once(app, headers, method):
    firewall(app, lint_outside=method != "HEAD").open("/", method=method, headers=headers)
    assert app.closed == 1


def test_pep3333_start_response_twice_without_exc_info_is_an_error():
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b""]

    with pytest.raises(AssertionError):
        firewall(app, lint_inside=False, lint_outside=False).get("/")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"max_body": -1}, ValueError, id="negative-max-body"),
        pytest.param({"max_body": 1.5}, ValueError, id="fractional-max-body"),
        pytest.param({"applies": True}, TypeError, id="applies-not-callable"),
    ],
)
def test_configuration_errors_fail_when_built(kwargs, error):
    with pytest.raises(error, match="ETagFirewall"):
        ETagFirewall(App(), **{"applies": lambda environ: True, **kwargs})


# --- properties -------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def _status_for(if_none_match: str) -> str:
    environ = EnvironBuilder("/").get_environ()
    environ["HTTP_IF_NONE_MATCH"] = if_none_match
    sent: list = []
    app = App()
    fw = ETagFirewall(app, applies=lambda environ: True)
    body = fw(environ, lambda status, headers, exc_info=None: sent.append((status, headers)))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    assert app.closed == 1
    (status, headers), = sent
    assert [v for k, v in headers if k == "ETag"] == [TAG]
    return status


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.text(max_size=300))
def test_rfc9110_any_if_none_match_gives_200_or_304_never_an_error(value):
    status = _status_for(value)
    assert status in ("200 OK", "304 Not Modified")
    if status.startswith("304"):
        assert value.strip() == "*" or OPAQUE in value


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(st.lists(st.sampled_from([TAG, f'"{OPAQUE}"', '"a"', 'W/"b"', "junk", "", 'W/"'])))
def test_rfc9110_if_none_match_list_matches_iff_it_names_our_tag(tags):
    status = _status_for(", ".join(tags))
    names_ours = TAG in tags or f'"{OPAQUE}"' in tags
    assert status == ("304 Not Modified" if names_ours else "200 OK")
