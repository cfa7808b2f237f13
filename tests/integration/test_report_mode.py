"""mode="report" through every door: the gate decides, lets everything through, and lists
what it would have blocked; mode="enforce" (the default) still blocks it."""
from __future__ import annotations

import logging

import pytest

from consentlib import ConfigurationError
from consentlib.cli import main
from consentlib.records.would_block import would_block
from tests.support.cspsite import DOORS, build, html_path

NECESSARY = frozenset({"necessary"})


def echo_path(kind: str) -> str:
    """A page that shows the Cookie header the app received."""
    return "/echo?x=1" if kind != "django" else "/echo"


def app_saw(kind: str, answer) -> str:
    return answer.json["cookie"] or "" if kind == "django" else answer.text


def etag_path(kind: str) -> str:
    return "/etag" if kind == "django" else "/echo"


@pytest.mark.parametrize("kind", DOORS)
def test_enforce_mode_blocks_what_report_mode_lets_through(kind, tmp_path):
    door = build(kind, tmp_path)  # the default: enforce
    page = door.get(html_path(kind), categories=NECESSARY)
    assert "_ga" not in page.set_cookie_names and "tracker_x" not in page.set_cookie_names
    assert "_ga=" not in app_saw(kind, door.get(echo_path(kind), categories=NECESSARY,
                                                headers={"Cookie": "_ga=GA1.1.7"}))
    beacon = door.get("/collect")
    assert (beacon.status_code, beacon.data) == (204, b"")  # answered by the gate; the app never saw it
    # The firewall's validator, derived from the body: not the app's per-visitor one.
    assert door.get(etag_path(kind)).headers["ETag"].startswith('W/"')


@pytest.mark.parametrize("kind", DOORS)
def test_report_mode_lets_cookies_beacons_and_validators_through_and_lists_them(kind, tmp_path, caplog):
    door = build(kind, tmp_path, mode="report")
    caplog.set_level(logging.WARNING, logger="consentlib")
    for _ in range(2):
        page = door.get(html_path(kind), categories=NECESSARY)
        # Set-Cookie both ways: an undeclared cookie and one of a category not granted leave.
        assert {"_ga", "tracker_x", "sid"} <= set(page.set_cookie_names)
        # Cookie: the app sees what the browser sent.
        seen = app_saw(kind, door.get(echo_path(kind), categories=NECESSARY, headers={"Cookie": "_ga=GA1.1.7"}))
        assert "_ga=GA1.1.7" in seen
        # A beacon reaches the app.
        calls_before = door.get("/collect")
        assert calls_before.status_code == 200 and calls_before.data
        # The per-visitor validator passes as the app sent it.
        etag = door.get(etag_path(kind)).headers["ETag"]
        assert etag.startswith('"uid-')
    door.core.would_block.flush()
    listed = {(row["kind"], row["name"]): row["count"] for row in would_block(door.core.store)}
    assert listed[("cookie", "tracker_x")] >= 2 and listed[("cookie", "_ga")] >= 4
    assert listed[("beacon", "/collect")] == 2
    assert listed[("validator", "ETag")] >= 2
    assert ("cookie", "sid") not in listed  # necessary: enforce mode lets it through too
    # Logged once per name, however often it is seen.
    said = [r.getMessage() for r in caplog.records if "report mode" in r.getMessage()]
    assert len([m for m in said if "'tracker_x'" in m]) == 1
    assert all(r.levelno == logging.WARNING for r in caplog.records if "report mode" in r.getMessage())


@pytest.mark.parametrize("kind", DOORS)
def test_report_mode_sends_the_third_party_csp_report_only(kind, tmp_path):
    door = build(kind, tmp_path, mode="report", third_party_csp="enforce")
    page = door.get(html_path(kind))
    assert not any("report-uri" in line for line in page.headers.getlist("Content-Security-Policy"))
    assert len(page.headers.getlist("Content-Security-Policy-Report-Only")) == 1


def test_a_granted_category_is_not_listed(tmp_path):
    door = build("wsgi", tmp_path, mode="report")
    door.get("/", categories=NECESSARY | {"analytics", "marketing", "preferences"})
    door.core.would_block.flush()
    assert [(r["kind"], r["name"]) for r in would_block(door.core.store)] == [("cookie", "tracker_x")]


def test_would_block_command_lists_them(tmp_path, capsys):
    door = build("wsgi", tmp_path, mode="report")
    door.get("/collect")
    door.core.would_block.flush()
    store = f"sqlite:///{tmp_path}/consent.db"
    assert main(["would-block", "--store", store, "--kind", "beacon"]) == 0
    assert capsys.readouterr().out.startswith("beacon\t/collect\t1 time(s)")
    assert main(["would-block", "--store", f"sqlite:///{tmp_path}/none.db"]) == 3


@pytest.mark.parametrize("value", ["Report", "audit", None])
def test_a_wrong_mode_is_refused_with_a_sentence(value, tmp_path):
    with pytest.raises(ConfigurationError, match="mode must be 'enforce' or 'report'"):
        build("wsgi", tmp_path, mode=value)


def test_enforce_mode_holds_no_report_parts(tmp_path):
    """The enforce path is the one it always was: no wrapper, no recorder, per request."""
    from consentlib.gate.beacons import Routes
    from consentlib.gate.visits import Visits

    core = build("wsgi", tmp_path).core
    assert type(core.visits) is Visits and type(core.routes) is Routes
    assert core.would_block is None and core.responses.note is None and core.csp is None


def test_report_mode_still_never_lets_the_app_write_the_visitors_choice(tmp_path):
    """An app line named like consentlib's own cookie is no consent decision: dropped in
    both modes, or it would overwrite the choice in the browser."""
    from werkzeug.test import Client

    from consentlib import ConsentMiddleware
    from tests.support.cspsite import POLICY

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "consent=forged; Path=/"),
                                  ("Set-Cookie", "tracker_x=t1; Path=/")])
        return [b"ok"]

    middleware = ConsentMiddleware(app, POLICY, secret_key=["k" * 24], store=f"sqlite:///{tmp_path}/c.db",
                                   mode="report")
    lines = Client(middleware).get("/").headers.getlist("Set-Cookie")
    assert lines == ["tracker_x=t1; Path=/"]


def test_report_would_block_lists_what_report_mode_let_through(tmp_path, capsys):
    """`consentlib report --would-block --store URL`: the first-deploy list, by the owner's command."""
    door = build("wsgi", tmp_path, mode="report")
    door.get("/collect")
    door.get("/")
    door.core.would_block.flush()
    store = f"sqlite:///{tmp_path}/consent.db"
    listed = would_block(door.core.store)
    assert main(["report", "--would-block", "--store", store]) == 0
    out = capsys.readouterr().out
    assert {"/collect", "tracker_x"} <= {row["name"] for row in listed}
    assert all(f"{row['kind']}\t{row['name']}\t" in out for row in listed)
    with pytest.raises(SystemExit) as info:
        main(["report", "--would-block", "--json", "-", "--store", store])
    assert info.value.code == 2
