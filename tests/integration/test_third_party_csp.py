"""third_party_csp through every door, and POST {prefix}csp-report against what anyone
on the Internet can send it."""
from __future__ import annotations

import json
import sqlite3

import pytest

from consentlib import ConfigurationError
from consentlib.cli import main
from consentlib.web.csp_report import BURST, RATE, TokenBucket
from tests.support.apps import consent_header
from tests.support.cspsite import DOORS, SITE_CSP, build, html_path

NECESSARY = frozenset({"necessary"})
REPORT = {"csp-report": {
    "document-uri": "https://shop.example/account/42?token=secret",
    "referrer": "https://search.example/?q=ana",
    "blocked-uri": "https://www.google-analytics.com/g/collect?cid=123.456&uid=ana@example.com",
    "effective-directive": "script-src-elem", "violated-directive": "script-src-elem",
    "original-policy": "script-src 'self'", "disposition": "enforce", "status-code": 200,
    "source-file": "https://shop.example/app.js", "line-number": 3,
}}


def csp_lines(response, name="Content-Security-Policy"):
    return response.headers.getlist(name)


@pytest.mark.parametrize("kind", DOORS)
def test_an_html_page_gets_one_more_policy_and_keeps_its_own(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="enforce")
    before = door.get(html_path(kind))
    lines = csp_lines(before)
    ours = [line for line in lines if "report-uri /_consent/csp-report" in line]
    assert len(ours) == 1
    if kind != "django":  # the Django test page sends no policy of its own
        assert SITE_CSP in lines  # never modified: the browser enforces both
    assert "https://cdn.example.net" in ours[0]  # required: always
    assert "google-analytics" not in ours[0] and "ads.example" not in ours[0]
    assert "cookie" in before.vary and "sec-gpc" in before.vary  # a gpc category's host is declared
    assert not csp_lines(before, "Content-Security-Policy-Report-Only")

    accepted = door.get(html_path(kind), categories=NECESSARY | {"analytics", "marketing"})
    ours = [line for line in csp_lines(accepted) if "report-uri" in line]
    assert "*.google-analytics.com" in ours[0] and "ads.example" in ours[0]


@pytest.mark.parametrize("kind", DOORS)
def test_other_responses_get_no_policy(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="enforce")
    assert not any("report-uri" in line for line in csp_lines(door.get("/api")))


@pytest.mark.parametrize("kind", DOORS)
def test_report_sends_it_report_only(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="report")
    page = door.get(html_path(kind))
    assert not any("report-uri" in line for line in csp_lines(page))
    assert len(csp_lines(page, "Content-Security-Policy-Report-Only")) == 1


@pytest.mark.parametrize("kind", DOORS)
def test_without_the_option_nothing_is_added_and_no_endpoint(kind, tmp_path):
    door = build(kind, tmp_path)
    assert not any("report-uri" in line for line in csp_lines(door.get(html_path(kind))))
    assert door.post("/_consent/csp-report", data=json.dumps(REPORT),
                     content_type="application/csp-report").status_code == 404


@pytest.mark.parametrize("value", ["on", True, "Enforce"])
def test_a_wrong_value_is_refused_with_a_sentence(value, tmp_path):
    with pytest.raises(ConfigurationError, match="third_party_csp must be 'enforce' or 'report' or None"):
        build("wsgi", tmp_path, third_party_csp=value)


# -- POST {prefix}csp-report --------------------------------------------------------------------

def rows(tmp_path):
    with sqlite3.connect(tmp_path / "consent.db") as conn:
        return conn.execute("SELECT * FROM csp_reports").fetchall()


def kept(door):
    return door.core.store.csp_reports()


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_report_keeps_the_origin_and_directive_and_nothing_personal(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="enforce")
    for _ in range(2):
        sent = door.post("/_consent/csp-report", data=json.dumps(REPORT), content_type="application/csp-report")
        assert sent.status_code == 204 and sent.data == b""
    [row] = rows(tmp_path)
    origin, directive, declared, category, first_day, last_day, count = row
    assert (origin, directive, declared, category, count) == (
        "https://www.google-analytics.com", "script-src", 1, "analytics", 2)
    assert len(first_day) == len(last_day) == 10  # a day, not a time
    # Nothing of the page, the visitor, the path or the query is anywhere in the store's
    # files: the database and its write-ahead log, where a row stays until a checkpoint.
    files = sorted(tmp_path.glob("consent.db*"))
    assert tmp_path / "consent.db" in files
    data = b"".join(path.read_bytes() for path in files)
    assert b"www.google-analytics.com" in data  # the origin kept: the search below reads the right bytes
    for personal in (b"account/42", b"secret", b"q=ana", b"ana@example.com", b"cid=", b"/g/collect",
                     b"search.example", b"app.js"):
        assert personal not in data


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_reporting_api_shape_is_read_too(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="report")
    body = [{"type": "csp-violation", "age": 3, "url": "https://shop.example/",
             "body": {"blockedURL": "https://tracker.test:8443/p.gif?u=1", "effectiveDirective": "img-src"}},
            {"type": "deprecation", "body": {"id": "x"}}]
    assert door.post("/_consent/csp-report", data=json.dumps(body),
                     content_type="application/reports+json").status_code == 204
    assert [(r["origin"], r["directive"], r["declared"], r["category"]) for r in kept(door)] == [
        ("https://tracker.test:8443", "img-src", False, None)]


@pytest.mark.parametrize(("body", "content_type", "status"), [
    pytest.param(b"x" * (1 << 20), "application/csp-report", 413, id="1-MB-body"),
    pytest.param(b"{not json", "application/csp-report", 400, id="junk-json"),
    pytest.param(b"\xff\xfe{}", "application/json", 400, id="not-utf8"),
    pytest.param(b'{"csp-report": "x"}', "application/csp-report", 400, id="wrong-shape"),
    pytest.param(b'{"csp-report": {"blocked-uri": 3}}', "application/csp-report", 400, id="wrong-types"),
    pytest.param(b"[]", "application/json", 400, id="empty-list"),
    pytest.param(b'"text"', "application/json", 400, id="a-string"),
    pytest.param(json.dumps(REPORT).encode(), "text/plain", 415, id="wrong-media-type"),
    pytest.param(b'{"csp-report": {"blocked-uri": "inline", "effective-directive": "script-src-elem"}}',
                 "application/csp-report", 204, id="inline-nothing-to-keep"),
    pytest.param(b'{"csp-report": {"blocked-uri": "https://a.example:99999/", "effective-directive": "img-src"}}',
                 "application/csp-report", 204, id="bad-port-ignored"),
])
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_what_is_not_a_report_is_refused_with_a_sentence_never_a_5xx(kind, body, content_type, status, tmp_path):
    door = build(kind, tmp_path, third_party_csp="enforce")
    answer = door.post("/_consent/csp-report", data=body, content_type=content_type)
    assert answer.status_code == status
    if status >= 400:
        assert answer.json["error"].endswith(".")
    assert kept(door) == []


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_flood_is_refused_with_429(kind, tmp_path):
    door = build(kind, tmp_path, third_party_csp="enforce")
    # The bucket's clock stands still: no refill while the requests are sent, however slowly.
    door.core.endpoints.csp_reports.bucket = TokenBucket(RATE, BURST, clock=lambda: 0.0)
    junk = b'{"csp-report": {"blocked-uri": "inline"}}'  # no store work: the bucket alone is measured
    codes = [door.post("/_consent/csp-report", data=junk, content_type="application/csp-report").status_code
             for _ in range(BURST + 20)]
    assert codes[:BURST] == [204] * BURST  # a burst of honest reports passes
    assert codes[BURST:] == [429] * 20
    refused = door.post("/_consent/csp-report", data=junk, content_type="application/csp-report")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json["error"] == "Too many reports right now; send it again in a second."


def test_get_is_405(tmp_path):
    door = build("wsgi", tmp_path, third_party_csp="enforce")
    answer = door.get("/_consent/csp-report")
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"


# -- consentlib hosts --undeclared ------------------------------------------------------------

def test_hosts_lists_the_undeclared_origins_with_a_suggested_category(tmp_path, capsys):
    door = build("wsgi", tmp_path, third_party_csp="enforce")
    for blocked, directive in [("https://connect.facebook.net/en_US/fbevents.js", "script-src-elem"),
                               ("https://connect.facebook.net/tr?id=1", "img-src"),
                               ("https://videos.example/embed/1", "frame-src"),
                               ("https://www.google-analytics.com/g/collect", "connect-src")]:
        report = {"csp-report": {"blocked-uri": blocked, "effective-directive": directive}}
        door.post("/_consent/csp-report", data=json.dumps(report), content_type="application/csp-report")
    store = f"sqlite:///{tmp_path}/consent.db"
    assert main(["hosts", "--undeclared", "--store", store, "--format", "json"]) == 1
    listed = json.loads(capsys.readouterr().out)
    assert [(r["origin"], r["directives"], r["count"], r["suggested_category"]) for r in listed] == [
        ("https://connect.facebook.net", ["img-src", "script-src"], 2, "marketing"),
        ("https://videos.example", ["frame-src"], 1, None),
    ]
    assert main(["hosts", "--undeclared", "--store", store]) == 1
    text = capsys.readouterr().out
    assert "suggested category marketing (Meta Pixel)" in text and "google-analytics" not in text


def test_hosts_exit_codes(tmp_path, capsys):
    build("wsgi", tmp_path, third_party_csp="enforce").get("/")  # creates the store
    assert main(["hosts", "--undeclared", "--store", f"sqlite:///{tmp_path}/consent.db"]) == 0
    assert main(["hosts", "--undeclared", "--store", f"sqlite:///{tmp_path}/missing.db"]) == 3
    with pytest.raises(SystemExit) as usage:
        main(["hosts", "--undeclared"])
    assert usage.value.code == 2


def _choose(door, categories, had=None):
    headers = {"Content-Type": "application/json"}
    if had is not None:
        headers["Cookie"] = consent_header(door.middleware, had)
    answer = door.post("/_consent/", data=json.dumps({"categories": categories, "method": "banner"}), headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json


@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize(("option", "chosen", "had", "reload"), [
    pytest.param("enforce", ["analytics"], None, True, id="grants-a-host's-category"),
    pytest.param("enforce", ["preferences"], None, False, id="no-host-in-what-it-grants"),
    pytest.param("enforce", ["analytics", "preferences"], NECESSARY | {"analytics"}, False, id="host-already-allowed"),
    pytest.param("enforce", [], NECESSARY | {"analytics"}, False, id="a-withdrawal-reloads-by-the-banner's-rule"),
    pytest.param("report", ["analytics"], None, False, id="report-only-refuses-nothing"),
    pytest.param(None, ["analytics"], None, False, id="no-third-party-csp"),
])
def test_a_choice_says_reload_when_the_page_policy_refuses_what_it_grants(kind, tmp_path, option, chosen, had,
                                                                          reload):
    # The page that posted the choice was sent a policy for what the visitor had then: the
    # hosts of a category granted now stay refused on it until a new page view.
    door = build(kind, tmp_path, **({"third_party_csp": option} if option else {}))
    assert _choose(door, chosen, had)["reload"] is reload
