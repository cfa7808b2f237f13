"""ConsentMiddleware gating, run against the same site built as plain WSGI and as Flask."""
from __future__ import annotations

import logging
import time

import pytest
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client

from consentlib import ConfigurationError, ConsentMiddleware
from consentlib.gate.bounded import ENTRY_OVERHEAD
from consentlib.cli import main as cli_main
from consentlib.web.pixel import TRANSPARENT_GIF

from tests.support.apps import KINDS, ALL, KEYS, LINT_STRICT, POLICY, build_site, consent_value, fetch

pytestmark = LINT_STRICT

BROWSER_JAR = "sid=s0; theme=light; _ga=GA1.1.1; _ga_XYZ=GS1; _fbp=fb.1.1; tracker_x=t0"


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def _live(r) -> list[str]:
    # Names stripped: Django writes its Set-Cookie values with a leading space (OWS).
    return [line.split("=", 1)[0].strip() for line in r.set_cookies if "Max-Age=0" not in line]


def _expired(r) -> list[str]:
    return sorted(line.split("=", 1)[0].strip() for line in r.set_cookies if "Max-Age=0" in line)


def _cookie_header(site, grant, jar):
    parts = []
    if grant is not None:
        parts.append(f"consent={site.cookie_value(grant)}")
    if jar:
        parts.append(jar)
    return "; ".join(parts)


def _pairs(header: str | None) -> list[str]:
    return [p.split("=", 1)[0] for p in (header or "").split("; ") if p]


# (granted categories or None for undecided, Cookie jar, extra headers,
#  Set-Cookie names that leave, names expired, cookie names the app sees)
GATING = [
    pytest.param(None, "", {}, ["sid"], [], [], id="undecided-no-cookies"),
    pytest.param(None, BROWSER_JAR, {}, ["sid"], ["_fbp", "_ga", "_ga_XYZ", "theme"], ["sid"],
                 id="undecided-with-jar"),
    pytest.param(ALL, "", {}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="accept-all"),
    pytest.param(ALL, BROWSER_JAR, {}, ["sid", "theme", "_ga", "_fbp"], [],
                 ["consent", "sid", "theme", "_ga", "_ga_XYZ", "_fbp"], id="accept-all-with-jar"),
    pytest.param({"necessary"}, BROWSER_JAR, {}, ["sid"], ["_fbp", "_ga", "_ga_XYZ", "theme"],
                 ["consent", "sid"], id="reject-all-with-jar"),
    pytest.param({"analytics"}, BROWSER_JAR, {}, ["sid", "_ga"], ["_fbp", "theme"],
                 ["consent", "sid", "_ga", "_ga_XYZ"], id="analytics-only"),
    pytest.param({"preferences", "marketing"}, "", {}, ["sid", "theme", "_fbp"], [], ["consent"],
                 id="preferences-and-marketing"),
    pytest.param(ALL, BROWSER_JAR, {"Sec-GPC": "1"}, ["sid", "theme", "_ga"], ["_fbp"],
                 ["consent", "sid", "theme", "_ga", "_ga_XYZ"], id="gpc-over-accept-all"),
    pytest.param(ALL, "", {"Sec-GPC": " 1"}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="gpc-space-1"),
    pytest.param(ALL, "", {"Sec-GPC": "true"}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="gpc-true"),
    pytest.param(ALL, "", {"Sec-GPC": "1, 1"}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="gpc-1-1"),
    pytest.param(ALL, "", {"Sec-GPC": "0"}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="gpc-0"),
    pytest.param(ALL, "", {"Sec-GPC": ""}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"], id="gpc-empty"),
    pytest.param(ALL, "", {"DNT": "1"}, ["sid", "theme", "_ga", "_fbp"], [], ["consent"],
                 id="dnt-recorded-not-honoured-by-default"),
]


@pytest.mark.parametrize(("grant", "jar", "headers", "leave", "expired", "seen"), GATING)
def test_cookie_gating_table(site, grant, jar, headers, leave, expired, seen):
    cookie = _cookie_header(site, grant, jar)
    if cookie:
        headers = {**headers, "Cookie": cookie}
    r = site.get("/", headers=headers)
    assert r.status_code == 200
    assert _live(r) == leave
    assert _expired(r) == expired
    assert _pairs(r.json["cookie"]) == seen
    assert "tracker_x" not in r.set_cookie_names


def test_consent_nothing_preticked_undecided_visitor_gets_only_necessary_cookies(site):
    r = site.get("/")
    assert r.set_cookie_names == ["sid"]
    assert r.json["granted"] == ["necessary"]
    state = site.get("/_consent/").json
    assert state["decided"] is False and state["granted"] == ["necessary"]


def test_consent_per_purpose_necessary_cookies_need_none(site):
    r = site.get("/", headers={"Cookie": f"consent={site.cookie_value({'necessary'})}; sid=1"})
    assert "sid" in _live(r)
    assert _pairs(r.json["cookie"]) == ["consent", "sid"]


def test_app_sees_consent_in_environ(site):
    r = site.get("/", headers={"Cookie": f"consent={site.cookie_value({'analytics'})}"})
    assert r.json["granted"] == ["analytics", "necessary"]
    assert site.get("/").json["granted"] == ["necessary"]


def test_gpc_only_exact_value_1_counts(site):
    value = site.cookie_value(ALL)
    for signal, counts in (("1", True), (" 1", False), ("1 ", False), ("true", False),
                           ("1, 1", False), ("01", False), ("yes", False), ("", False)):
        state = site.get("/_consent/", headers={"Cookie": f"consent={value}", "Sec-GPC": signal}).json
        assert state["gpc"] is counts, signal
        assert ("marketing" in state["granted"]) is not counts, signal


def test_gpc_wins_over_stored_opt_in(site):
    value = site.cookie_value(ALL)
    r = site.get("/", headers={"Cookie": f"consent={value}; _fbp=fb.1.1", "Sec-GPC": "1"})
    assert "_fbp" not in _live(r)
    assert _expired(r) == ["_fbp"]
    assert "_fbp" not in _pairs(r.json["cookie"])
    assert "marketing" not in r.json["granted"]


def test_gpc_later_request_without_signal_is_not_opt_in(site):
    posted = site.post("/_consent/", json={"categories": sorted(ALL)}, headers={"Sec-GPC": "1"})
    assert posted.status_code == 200
    assert "marketing" not in posted.json["granted"]
    value = posted.consent_cookie()
    later = site.get("/", headers={"Cookie": f"consent={value}"})
    assert "_fbp" not in _live(later)
    assert site.get("/_consent/", headers={"Cookie": f"consent={value}"}).json["granted"] == [
        "analytics", "necessary", "preferences"]
    (receipt,) = site.store.receipts()
    assert receipt["signals"]["gpc"] is True
    assert receipt["categories"]["marketing"] == "refused"


def test_dnt_honoured_only_when_the_site_chooses(tmp_path):
    site = build_site("wsgi", tmp_path, honour_dnt=True)
    r = site.get("/", headers={"Cookie": f"consent={site.cookie_value(ALL)}", "DNT": "1"})
    assert "_fbp" not in _live(r)
    assert "_ga" in _live(r)


def test_rfc6265_set_cookie_never_folded(site):
    r = site.get("/", headers={"Cookie": f"consent={site.cookie_value(ALL)}; tracker_x=1"})
    lines = r.set_cookies
    assert len(lines) == 4
    assert all(line.count("=") >= 1 and ", " not in line.split(";")[0] for line in lines)
    assert [line.split("=", 1)[0].strip() for line in lines] == ["sid", "theme", "_ga", "_fbp"]


def _raw_app(headers):
    def app(environ, start_response):
        start_response("200 OK", list(headers))
        return [b"ok"]

    return app


def _raw_client(tmp_path, headers, **options):
    options.setdefault("store", f"sqlite:///{tmp_path}/consent.db")
    middleware = ConsentMiddleware(LintMiddleware(_raw_app(headers)), POLICY, secret_key=KEYS, **options)
    return Client(LintMiddleware(middleware), use_cookies=False), middleware


def test_rfc6265_other_headers_kept_in_order_and_set_cookie_lines_kept_whole(tmp_path):
    expires = "Wed, 21 Oct 2026 07:28:00 GMT"
    headers = [
        ("Content-Type", "text/plain"),
        ("X-One", "1"),
        ("Set-Cookie", f"_ga=1; Expires={expires}; Path=/"),
        ("X-Two", "2"),
        ("Set-Cookie", f"sid=2; Expires={expires}; Path=/; HttpOnly"),
        ("Set-Cookie", "_fbp=3; Path=/"),
        ("X-One", "again"),
        ("Content-Length", "2"),
    ]
    client, mw = _raw_client(tmp_path, headers)
    r = fetch(client, "GET", "/", headers={"Cookie": f"consent={consent_value(mw, {'analytics'})}"})
    assert r.headers.getlist("Set-Cookie") == [
        f"_ga=1; Expires={expires}; Path=/",
        f"sid=2; Expires={expires}; Path=/; HttpOnly",
    ]
    others = [(k, v) for k, v in r.headers.items() if k.lower() not in ("set-cookie", "vary")]
    assert others == [("Content-Type", "text/plain"), ("X-One", "1"), ("X-Two", "2"),
                      ("X-One", "again"), ("Content-Length", "2")]


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("set-cookie", id="lower"),
        pytest.param("SET-COOKIE", id="upper"),
        pytest.param("Set-cookie", id="mixed"),
    ],
)
def test_rfc6265_header_names_compare_case_insensitively(tmp_path, field):
    client, _ = _raw_client(tmp_path, [("Content-Type", "text/plain"), (field, "_ga=1; Path=/"),
                                       (field, "sid=1; Path=/"), ("Content-Length", "2")])
    r = fetch(client, "GET", "/")
    assert [v.split("=")[0] for v in r.headers.getlist("Set-Cookie")] == ["sid"]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("=x; Path=/", id="empty-name"),
        pytest.param("novalue", id="no-equals"),
        pytest.param("; Path=/", id="only-attributes"),
        pytest.param("a;b=1", id="semicolon-before-equals"),
        pytest.param("consent=forged; Path=/", id="app-sets-consent-name"),
    ],
)
def test_malformed_set_cookie_from_app_is_blocked_fail_closed(tmp_path, line):
    client, _ = _raw_client(tmp_path, [("Content-Type", "text/plain"), ("Set-Cookie", line),
                                       ("Content-Length", "2")])
    r = fetch(client, "GET", "/", headers={"Cookie": "x=1"})
    assert r.status_code == 200
    assert r.headers.getlist("Set-Cookie") == []


def test_debug_logs_say_why_each_cookie_header_and_beacon_was_refused(site, caplog):
    # A developer who turns on DEBUG for "consentlib" learns why something was refused,
    # on every request (the warning for an undeclared cookie is only said once).
    caplog.set_level(logging.DEBUG, logger="consentlib")
    site.get("/", headers={"Cookie": "_ga=GA1.1.1; sid=s1"})
    site.get("/collect")
    said = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.DEBUG]
    assert any("refused Set-Cookie '_fbp'" in m and "not granted" in m for m in said)
    assert any("refused Set-Cookie 'tracker_x'" in m and "does not declare" in m for m in said)
    assert any("withheld cookie '_ga' from the app" in m and "'analytics' is not granted" in m for m in said)
    assert any("answered beacon /collect itself" in m for m in said)
    assert not any("'sid'" in m for m in said)  # required: never refused, never logged


def test_turning_debug_on_or_off_takes_effect_on_the_next_response(site, caplog):
    # The response gate reuses one gate per consent for the life of the process: a level
    # changed while the site runs must still count from the next response on.
    consentlib_log = logging.getLogger("consentlib")

    def refusals() -> list[str]:
        caplog.clear()
        site.get("/", headers={"Cookie": "sid=s1"})
        return [rec.getMessage() for rec in caplog.records if "refused Set-Cookie" in rec.getMessage()]

    caplog.set_level(logging.DEBUG, logger="consentlib")  # the capturing handler takes all
    consentlib_log.setLevel(logging.INFO)
    assert refusals() == [] and refusals() == []  # the gate of this consent, built and reused
    consentlib_log.setLevel(logging.DEBUG)
    assert any("'_fbp'" in m for m in refusals())
    consentlib_log.setLevel(logging.INFO)
    assert refusals() == []
    root, root_level = logging.getLogger(), logging.getLogger().level
    try:
        root.setLevel(logging.DEBUG)  # a parent's level, with consentlib's own unset
        consentlib_log.setLevel(logging.NOTSET)
        assert any("'_fbp'" in m for m in refusals())
        logging.disable(logging.DEBUG)
        assert refusals() == []
    finally:
        logging.disable(logging.NOTSET)
        root.setLevel(root_level)


def test_undeclared_cookie_blocked_warned_once_and_recorded(site, caplog):
    caplog.set_level(logging.WARNING, logger="consentlib")
    value = site.cookie_value(ALL)
    for _ in range(3):
        r = site.get("/", headers={"Cookie": f"consent={value}"})
        assert "tracker_x" not in r.set_cookie_names
    warnings = [rec for rec in caplog.records if "tracker_x" in rec.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "does not declare" in message and "Cookie('tracker_x'" in message
    names = [row["name"] for row in site.store.undeclared_cookies()]
    assert names == ["tracker_x"]


def test_undeclared_cookie_listed_by_cli(site, capsys):
    site.get("/")
    assert cli_main(["cookies", "--undeclared", "--store", site.store_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tracker_x\t")
    assert cli_main(["cookies", "--undeclared", "--store", site.store_url, "--format", "json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["tracker_x"] and rows[0]["count"] >= 1


def test_undeclared_incoming_cookie_stripped_but_not_expired(site):
    r = site.get("/", headers={"Cookie": "tracker_x=1; other=2; sid=1"})
    assert _pairs(r.json["cookie"]) == ["sid"]
    assert _expired(r) == []


def test_consent_withdrawal_expires_withdrawn_cookies(site):
    before = f"consent={site.cookie_value(ALL)}; sid=1; theme=d; lang=en; _ga=1; _ga_XYZ=2; _fbp=3"
    r = site.post("/_consent/", data={"action": "save", "category": "marketing"}, headers={"Cookie": before})
    assert r.status_code == 303
    expired = {line.split("=", 1)[0].strip(): line for line in r.set_cookies if "Max-Age=0" in line}
    assert sorted(expired) == ["_ga", "_ga_XYZ", "lang", "theme"]
    assert "Path=/shop" in expired["lang"] and "Domain=example.com" in expired["lang"]
    assert "Path=/" in expired["_ga"] and "Domain" not in expired["_ga"]
    # And on the next page the browser, if it still sends them, gets them expired again.
    after = f"consent={r.consent_cookie()}; sid=1; theme=d; _ga=1; _fbp=3"
    page = site.get("/", headers={"Cookie": after})
    assert _expired(page) == ["_ga", "theme"]
    assert _pairs(page.json["cookie"]) == ["consent", "sid", "_fbp"]


def test_withdrawal_expiry_marks_secure_prefixed_cookies_secure(tmp_path):
    from consentlib import Category, Cookie, Policy

    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                    cookies=[Cookie("__Secure-a", "analytics"), Cookie("__Host-b", "analytics")])
    site = build_site("wsgi", tmp_path, policy=policy)
    r = site.get("/", headers={"Cookie": "__Secure-a=1; __Host-b=2"})
    assert len(r.set_cookies) == 2
    assert all("Secure" in line and "Max-Age=0" in line for line in r.set_cookies)


# -- Vary ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant", "query", "gpc", "expected"),
    [
        pytest.param(None, "", False, ["cookie", "sec-gpc"], id="undecided"),
        pytest.param(None, "?set=sid,_ga", False, ["cookie"], id="undecided-no-gpc-category"),
        pytest.param(ALL, "", False, ["cookie", "sec-gpc"], id="gpc-category-cookie-set"),
        pytest.param({"analytics"}, "?set=sid,_ga", False, ["cookie"], id="no-gpc-category"),
        pytest.param(ALL, "?set=sid,_fbp", True, ["cookie", "sec-gpc"], id="gpc-signal"),
        pytest.param(ALL, "?vary=Accept-Encoding", False, ["accept-encoding", "cookie", "sec-gpc"],
                     id="merged-with-existing"),
        pytest.param(ALL, "?vary=cookie", False, ["cookie", "sec-gpc"], id="not-duplicated"),
        pytest.param(ALL, "?vary=Cookie,%20Sec-GPC", False, ["cookie", "sec-gpc"], id="already-complete"),
        pytest.param(ALL, "?vary=*", False, ["*"], id="star-left-alone"),
        pytest.param(None, "?set=sid", False, [], id="only-necessary-no-vary"),
    ],
)
def test_vary_names_what_the_response_depends_on(site, grant, query, gpc, expected):
    headers = {"Cookie": f"consent={site.cookie_value(grant)}"} if grant else {}
    if gpc:
        headers["Sec-GPC"] = "1"
    r = site.get("/" + query, headers=headers)
    assert sorted(r.vary) == sorted(expected)


def test_vary_sec_gpc_when_gpc_expires_a_cookie(site):
    # The _fbp expiry is there because of Sec-GPC: a cache must key on it.
    value = site.cookie_value(ALL)
    r = site.get("/?set=sid", headers={"Cookie": f"consent={value}; _fbp=1", "Sec-GPC": "1"})
    assert _expired(r) == ["_fbp"]
    assert sorted(r.vary) == ["cookie", "sec-gpc"]
    r = site.get("/?set=sid", headers={"Cookie": f"consent={value}; _ga=1; theme=1"})
    assert sorted(r.vary) == []
    r = site.get("/?set=sid", headers={"Cookie": "_ga=1"})
    assert _expired(r) == ["_ga"] and sorted(r.vary) == ["cookie"]


@pytest.mark.parametrize(
    ("validator", "streamed"),
    [
        pytest.param(("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"), False, id="last-modified"),
        pytest.param(("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"), True, id="last-modified-streamed"),
        pytest.param(("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"), True, id="last-modified-lower-case"),
        pytest.param(("ETag", '"v1"'), True, id="etag-streamed"),
    ],
)
def test_rfc9110_vary_cookie_when_consent_decides_which_validator_leaves(tmp_path, validator, streamed):
    # With etags consent the app's own validator leaves; without it, the firewall's or none.
    # A shared cache must not hand one visitor's answer to the other (RFC 9110 §12.5.5).
    from consentlib import Category, Policy

    policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                    etags="analytics")

    def app(environ, start_response):
        headers = [("Content-Type", "text/plain"), validator]
        if not streamed:
            headers.append(("Content-Length", "2"))
        start_response("200 OK", headers)
        return iter([b"ok"])

    middleware = ConsentMiddleware(LintMiddleware(app), policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    value = middleware.cookie.dumps(revision=1, categories={"analytics"}, decided_at=int(time.time()))
    r = fetch(Client(LintMiddleware(middleware), use_cookies=False), "GET", "/", headers={"Cookie": f"consent={value}"})
    assert r.headers.get(validator[0]) == validator[1]
    assert "cookie" in r.vary


# -- beacons --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept", "grant", "image"),
    [
        pytest.param("/collect", None, None, False, id="sendbeacon-undecided"),
        pytest.param("/collect", "image/webp,image/*", None, True, id="img-fetch-undecided"),
        pytest.param("/collect", None, {"marketing"}, False, id="wrong-category"),
        pytest.param("/ads/pixel.gif", None, {"analytics"}, True, id="gif-path"),
        pytest.param("/ads/pixel.gif", None, ALL, True, id="gif-path-gpc"),
        pytest.param("/track/a/b", None, None, False, id="prefix-beacon"),
        pytest.param("/track/x.png", "*/*", None, True, id="prefix-beacon-image"),
    ],
)
def test_blocked_beacon_answered_by_middleware_never_by_app(site, path, accept, grant, image):
    headers = {"Sec-GPC": "1"} if grant is ALL else {}
    if accept:
        headers["Accept"] = accept
    cookie = _cookie_header(site, grant, "_ga=1; _fbp=2")
    r = site.get(path, headers={**headers, "Cookie": cookie})
    assert site.calls == []
    assert r.headers["Cache-Control"] == "no-store"
    assert r.set_cookies == []
    assert "ETag" not in r.headers and "Last-Modified" not in r.headers
    if image:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "image/gif"
        assert r.data == TRANSPARENT_GIF and len(r.data) == 43
    else:
        assert r.status_code == 204
        assert r.data == b""


@pytest.mark.parametrize(
    ("path", "grant"),
    [
        pytest.param("/collect", {"analytics"}, id="exact"),
        pytest.param("/ads/pixel.gif", {"marketing"}, id="gif"),
        pytest.param("/track/a/b", {"analytics"}, id="prefix"),
        pytest.param("/collector", None, id="not-a-beacon"),
        pytest.param("/track", None, id="prefix-without-slash-is-not-a-beacon"),
    ],
)
def test_beacon_with_consent_reaches_app(site, path, grant):
    headers = {"Cookie": f"consent={site.cookie_value(grant)}"} if grant else {}
    r = site.get(path, headers=headers)
    assert r.status_code == 200
    assert site.calls == [path]


def test_blocked_beacon_head_has_no_body(tmp_path):
    site = build_site("wsgi", tmp_path)
    # HEAD through the bare middleware: Lint does not know HEAD answers carry no body.
    client = Client(site.middleware, use_cookies=False)
    r = fetch(client, "HEAD", "/ads/pixel.gif")
    assert r.status_code == 200 and r.data == b""
    assert r.headers["Content-Type"] == "image/gif"
    assert site.calls == []


# -- PEP 3333 ----------------------------------------------------------------------------


def _environ():
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder("/").get_environ()


def test_pep3333_write_callable_and_close_pass_through(tmp_path):
    closed = []

    class Body:
        def __iter__(self):
            yield b"b"

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "_ga=1")])
        write(b"a")
        return Body()

    mw = ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    r = fetch(Client(mw, use_cookies=False), "GET", "/")
    assert r.data == b"ab"
    assert r.set_cookies == []
    assert closed == [True]


def test_pep3333_exc_info_honoured(tmp_path):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "_ga=1")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            start_response("500 Internal Server Error", [("Content-Type", "text/plain"),
                                                          ("Set-Cookie", "_fbp=1"), ("Set-Cookie", "sid=1")],
                           sys.exc_info())
        return [b"error"]

    calls = []

    def start_response(status, headers, exc_info=None):
        calls.append((status, [v.split("=")[0] for k, v in headers if k == "Set-Cookie"], exc_info))

    mw = ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    body = mw(_environ(), start_response)
    assert list(body) == [b"error"]
    assert [(s, names) for s, names, _ in calls] == [("200 OK", []), ("500 Internal Server Error", ["sid"])]
    assert calls[0][2] is None
    assert calls[1][2][0] is RuntimeError


def test_pep3333_streamed_blocks_not_delayed(tmp_path):
    produced = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            for chunk in (b"one", b"two", b"three"):
                produced.append(chunk)
                yield chunk

        return body()

    mw = ConsentMiddleware(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    iterable = mw(_environ(), lambda s, h, e=None: None)
    iterator = iter(iterable)
    assert next(iterator) == b"one"
    assert produced == [b"one"]
    getattr(iterable, "close", lambda: None)()


def test_caches_are_safe_with_request_threads(tmp_path):
    # A threaded server fills the bounded caches from several threads at once; starting
    # a new generation must never fail a request nor let a cache pass its budget.
    import sys
    import threading

    mw = ConsentMiddleware(_raw_app([]), POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    errors = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def work(t):
        try:
            for i in range(6000):
                mw.read_consent({"HTTP_COOKIE": f"consent=v{t}-{i}; a={i}"})
        except Exception as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    for cache in (mw.visits.cache, mw.cookie._cache, mw.core.gate.categories):
        assert cache.used <= cache.budget and len(cache) <= cache.budget // ENTRY_OVERHEAD


# -- options: a string where a list belongs, "no" where a bool belongs ---------------------------


@pytest.mark.parametrize(("options", "named"), [
    pytest.param({"trusted_origins": "https://www.example.com"}, "trusted_origins", id="origins-a-string"),
    pytest.param({"trusted_origins": b"https://www.example.com"}, "trusted_origins", id="origins-bytes"),
    pytest.param({"trusted_origins": {"https://www.example.com": True}}, "trusted_origins", id="origins-a-dict"),
    pytest.param({"trusted_origins": [None]}, "trusted_origins", id="origins-holding-none"),
    pytest.param({"trusted_origins": ["www.example.com"]}, "origin", id="origin-without-scheme"),
    pytest.param({"trusted_origins": ["https://www.example.com/shop"]}, "origin", id="origin-with-path"),
    pytest.param({"trusted_origins": ["https://www.example.com:port"]}, "origin", id="origin-bad-port"),
    pytest.param({"trusted_origins": ["javascript://x"]}, "origin", id="origin-other-scheme"),
    pytest.param({"honour_dnt": "no"}, "honour_dnt", id="dnt-the-string-no"),
    pytest.param({"honour_dnt": 1}, "honour_dnt", id="dnt-a-number"),
    pytest.param({"honour_dnt": None}, "honour_dnt", id="dnt-none"),
    pytest.param({"secure": "false"}, "secure", id="secure-the-string-false"),
    pytest.param({"secure": 0}, "secure", id="secure-a-number"),
    pytest.param({"lifetime": True}, "lifetime", id="lifetime-a-bool"),
    pytest.param({"lifetime": "180 days"}, "lifetime", id="lifetime-a-string"),
    pytest.param({"etag_body_limit": "1MB"}, "etag_body_limit", id="etag-limit-a-string"),
    pytest.param({"gpc_last_update": 20261127}, "gpc_last_update", id="gpc-date-a-number"),
    pytest.param({"gpc_last_update": "27/11/2026"}, "gpc_last_update", id="gpc-date-not-iso"),
])
def test_options_of_the_wrong_kind_refused_at_construction(tmp_path, options, named):
    with pytest.raises(ConfigurationError, match=named) as caught:
        ConsentMiddleware(wsgi_app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db", **options)
    assert str(caught.value).endswith(".")


def test_options_of_the_right_kind_kept(tmp_path):
    site = ConsentMiddleware(wsgi_app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                             trusted_origins=("https://WWW.example.com:443/", "http://shop.example.com:8080"),
                             honour_dnt=True, secure=None, gpc_last_update="2026-11-27")
    assert site.core.trusted_origins == {"https://www.example.com", "http://shop.example.com:8080"}
    assert site.core.honour_dnt is True and site.core.secure is None


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


# -- retention against the consent lifetime (GDPR Art 7(1), Art 17) ----------------------------


@pytest.mark.parametrize("door", ["wsgi", "asgi"])
@pytest.mark.parametrize(("receipts_days", "lifetime", "refused"), [
    pytest.param(30, None, True, id="30-days-under-the-default-180"),
    pytest.param(179, None, True, id="a-day-short"),
    pytest.param(180, None, False, id="exactly-the-lifetime"),
    pytest.param(30, 10 * 86400, False, id="a-short-lifetime"),
    pytest.param(None, None, False, id="no-retention-set"),
])
def test_receipts_must_outlive_the_consent_they_prove(tmp_path, door, receipts_days, lifetime, refused):
    # A receipt pruned while its choice still counts leaves a consent without proof.
    from consentlib.asgi import ConsentMiddleware as AsgiConsentMiddleware

    url = f"sqlite:///{tmp_path}/consent.db" + (f"?receipts_days={receipts_days}" if receipts_days else "")
    options = {"secret_key": KEYS, "store": url, **({"lifetime": lifetime} if lifetime else {})}
    build = ConsentMiddleware if door == "wsgi" else AsgiConsentMiddleware
    if refused:
        with pytest.raises(ConfigurationError, match=r"receipts_days to at least 180"):
            build(lambda *args: None, POLICY, **options)
    else:
        build(lambda *args: None, POLICY, **options)
