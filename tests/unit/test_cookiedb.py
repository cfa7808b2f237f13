"""The shipped Open Cookie Database, weighed with platform and domain; the hints and checks built on it."""
from __future__ import annotations

import logging
import sys
import types
from importlib import resources

import pytest

from consentlib import Category, Cookie, Policy
from consentlib.cli import main
from consentlib.gate.cookies import UndeclaredCookies
from consentlib.data import cookiedb
from consentlib.data.trackers import tracker_of
from consentlib.store import open_store
from consentlib.testing.judge import Judge


def test_database_ships_with_its_licence_and_source():
    """Apache-2.0 §4: a redistributed copy keeps the licence and says where it came from."""
    folder = resources.files("consentlib.data").joinpath("open-cookie-database")
    assert "Apache License" in folder.joinpath("LICENSE").read_text(encoding="utf-8")
    assert "jkwakman/Open-Cookie-Database" in folder.joinpath("README.md").read_text(encoding="utf-8")
    assert len(cookiedb.entries()) == 2264


@pytest.mark.parametrize(
    ("name", "host", "category"),
    [
        pytest.param("_ga", "shop.example", "analytics", id="exact-tag-cookie"),
        pytest.param("_ga_ABC123", "shop.example", "analytics", id="wildcard-prefix"),
        pytest.param("_gat_UA-1-1", "shop.example", "analytics", id="wildcard-longest-prefix"),
        pytest.param("_fbp", "shop.example", "marketing", id="third-party-listed-distinctive-name"),
        pytest.param("_hjid", "shop.example", "analytics", id="storage-key"),
        pytest.param("OptanonConsent", "shop.example", "necessary", id="consent-managers-own-cookie"),
        pytest.param("sessionid", "shop.example", "necessary", id="django-session-not-instagram"),
        pytest.param("sessionid", "www.instagram.com", "marketing", id="instagram-on-instagram"),
        pytest.param("token", "shop.example", "unknown", id="plain-word-of-another-domain"),
        pytest.param("token", "adform.net", "marketing", id="plain-word-on-its-domain"),
        pytest.param("c", "shop.example", "unknown", id="one-letter-name"),
        pytest.param("SRVNAME", "shop.example", "unknown", id="two-letter-prefix"),
        pytest.param("sid", "shop.example", "unknown", id="not-listed"),
        pytest.param("_GA", "shop.example", "unknown", id="case-sensitive-rfc6265"),
    ],
)
def test_known_weighs_platform_and_domain(name, host, category):
    verdict = cookiedb.known(name, host)
    assert verdict.category == category, verdict.reason
    assert verdict.reason  # every verdict says what it rests on


def test_sessionid_off_instagram_says_why_the_entry_does_not_apply():
    reason = cookiedb.known("sessionid", "127.0.0.1").reason
    assert "Django" in reason and "instagram.com" in reason and "does not apply" in reason


@pytest.mark.parametrize(
    ("name", "evidence", "category", "needs_consent"),
    [
        pytest.param("sid", "declaration", "necessary", False, id="declared-exact"),
        pytest.param("_ga_XYZ", "declaration", "analytics", True, id="declared-glob"),
        pytest.param("consent", "declaration", "necessary", False, id="consentlibs-own-cookie"),
        pytest.param("_fbp", "database", "marketing", True, id="undeclared-falls-to-database"),
        pytest.param("zz_mystery", "none", "unknown", None, id="unknown-is-not-a-violation"),
    ],
)
def test_judge_evidence_order(name, evidence, category, needs_consent):
    declared = {"categories": [{"name": "necessary", "required": True}, {"name": "analytics", "required": False}],
                "cookies": [{"name": "sid", "glob": False, "category": "necessary"},
                            {"name": "_ga*", "glob": True, "category": "analytics"}]}
    verdict = Judge(declared, evidence="declaration", where="https://shop.example/_consent/declaration.json").cookie(
        name, "shop.example")
    assert (verdict.evidence, verdict.category, verdict.needs_consent) == (evidence, category, needs_consent)


@pytest.mark.parametrize(
    ("url", "service"),
    [
        pytest.param("https://www.google-analytics.com/g/collect?v=2&tid=G-1", "Google Analytics", id="ga4"),
        pytest.param("https://connect.facebook.net/en_US/fbevents.js", "Meta Pixel", id="meta"),
        pytest.param("https://shop.example/g/collect?v=2&tid=G-1", "Google Analytics 4 hit", id="ga4-proxied"),
        pytest.param("https://notgoogle-analytics.com/x", None, id="lookalike-host"),
        pytest.param("https://shop.example/collect", None, id="own-path"),
    ],
)
def test_tracker_requests(url, service):
    assert tracker_of(url) == service


@pytest.mark.parametrize(
    ("name", "categories", "says"),
    [
        pytest.param("_ga", ["necessary", "statistics"], "Cookie('_ga', 'statistics'", id="mapped-to-policys-name"),
        pytest.param("_fbp", ["necessary", "analytics"], "add Category('marketing')", id="policy-lacks-category"),
        pytest.param("tracker_x", ["necessary", "analytics"], "one of: 'necessary', 'analytics'", id="unknown"),
    ],
)
def test_undeclared_cookie_warning_suggests_a_category_the_policy_has(tmp_path, caplog, name, categories, says):
    """The old warning always said 'analytics', which raises at Policy() when there is no such category."""
    undeclared = UndeclaredCookies(open_store(f"sqlite:///{tmp_path}/consent.db"), categories)
    with caplog.at_level(logging.WARNING, logger="consentlib"):
        assert undeclared.note(name)
    assert says in caplog.text


def _policy_module(monkeypatch, policy):
    module = types.ModuleType("cookiedb_check_policy")
    module.POLICY = policy
    monkeypatch.setitem(sys.modules, "cookiedb_check_policy", module)
    return "cookiedb_check_policy:POLICY"


def test_cookies_check_reports_analytics_declared_necessary(monkeypatch, capsys):
    spec = _policy_module(monkeypatch, Policy(
        revision=1, categories=[Category("necessary", required=True), Category("analytics")],
        cookies=[Cookie("sid", "necessary", purpose="Session"), Cookie("_ga*", "necessary", purpose="Visits"),
                 Cookie("_fbp", "necessary", purpose="Ads")]))
    assert main(["cookies", "--policy", spec, "--check"]) == 1
    out = capsys.readouterr().out
    assert "_ga*: declared 'necessary'" in out and "declare it under 'analytics'" in out
    assert "_fbp: declared 'necessary'" in out and "add Category('marketing')" in out
    assert "sid:" not in out


def test_cookies_check_passes_an_honest_policy(capsys):
    assert main(["cookies", "--policy", "tests.support.apps:POLICY", "--check"]) == 0
    assert capsys.readouterr().out.startswith("ok:")


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param({"categories": "x", "cookies": [1, None, {"name": 5}]}, id="wrong-types"),
        pytest.param({"categories": [{"name": "necessary", "required": "yes"}],
                      "cookies": [{"name": "_ga", "category": "necessary"}]}, id="required-not-a-boolean"),
        pytest.param({"categories": [], "cookies": [{"name": "_ga", "category": ["necessary"]}],
                      "beacons": [{"path": None}]}, id="category-not-a-string"),
    ],
)
def test_malformed_declaration_declares_nothing_necessary(declared):
    """A site's JSON is not trusted: a malformed entry never makes a tracker necessary, nor crashes the audit."""
    judge = Judge(declared, evidence="declaration", where="x")
    assert judge.cookie("_ga", "shop.example").needs_consent is True
    assert judge.beacon_category("/collect") is None
