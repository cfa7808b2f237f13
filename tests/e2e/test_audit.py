"""`consentlib audit` on a corpus of careless and clean sites: real servers on 127.0.0.1, real
headless Chromium, no --policy (an auditor has the URL, not the site's Python).

Careless sites must exit 1 naming what they did (ePrivacy Art 5(3): nothing stored or read
on the device without consent; GDPR Art 7(3): refusing as easy as accepting); clean sites
must exit 0. Waits are short (--timeout) so the whole file stays fast.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from consentlib.cli import main
from consentlib.testing.audit import ConsentAudit
from tests.support import audit_corpus

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--timeout", "3"]


class _Kept:
    """A browser kept for the next test: ``quit()`` leaves it running."""

    def __init__(self, driver) -> None:
        self._driver = driver

    def __getattr__(self, name):
        return getattr(self._driver, name)

    def quit(self) -> None:
        pass


@pytest.fixture(scope="module")
def browsers():
    started = []
    yield started
    for driver in started:
        driver.quit()


@pytest.fixture(autouse=True)
def reuse_browsers(browsers, monkeypatch):
    """Starting Chromium costs more than auditing a corpus site, so two browsers serve every
    test: the audit's and the second, fresh profile the ETag check starts. Each is emptied
    first (cookies ignore ports, RFC 6265 §8.5; storage and cache are per origin and each
    site is a new port), so each audit still sees a first visit."""
    from consentlib.testing import browser

    start = browser.chrome_driver
    calls = iter(range(10))

    def chrome_driver(**options):
        index = next(calls)
        while len(browsers) <= index:
            browsers.append(start(**options))
        driver = browsers[index]
        driver.get("about:blank")
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.get_log("performance")
        return _Kept(driver)

    monkeypatch.setattr(browser, "chrome_driver", chrome_driver)


def audit(url: str, *args: str, capsys) -> tuple[int, str]:
    code = main(["audit", url, *FAST, *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("name", list(audit_corpus.CARELESS))
def test_careless_site_exits_1_naming_what_it_did(name, live_server, capsys, tmp_path):
    app, names, state = audit_corpus.CARELESS[name]
    code, out = audit(live_server(app) + "/", "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 1, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert any(names in v["detail"] and v["state"] == state for v in report["violations"]), out
    assert names in out


def test_reference_site_is_clean_without_policy(tmp_path, live_site, capsys):
    """Judged by its published declaration: sid is declared necessary, nothing else before a choice."""
    _, url = live_site(tmp_path / "instance")
    code, out = audit(url + "/", "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["judged_by"]["evidence"] == "declaration"
    before = next(s for s in report["snapshots"] if s["state"] == "before")
    assert {c["name"]: c["verdict"]["evidence"] for c in before["cookies"]} == {"sid": "declaration"}
    accepted = {c["name"]: c["verdict"]["category"] for s in report["snapshots"] if s["state"] == "accepted"
                for c in s["cookies"]}
    assert accepted["_ga"] == "analytics" and accepted["_fbp"] == "marketing"


def test_consentlib_site_with_sessionid_is_clean(tmp_path, live_server, capsys):
    url = live_server(audit_corpus.sessionid_site(f"sqlite:///{tmp_path}/consent.db"))
    code, out = audit(url + "/", capsys=capsys)
    assert code == 0, out
    assert "sessionid" not in out.split("unknown")[0]


def test_onetrust_banner_is_found_and_answered(live_server, capsys, tmp_path):
    url = live_server(audit_corpus.onetrust_site)
    code, out = audit(url + "/", "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["banner"] == "OneTrust"
    accepted = {c["name"] for s in report["snapshots"] if s["state"] == "accepted" for c in s["cookies"]}
    assert "_ga" in accepted  # "Accept all" was really clicked: the page's analytics ran


def test_violation_before_choice_is_kept_when_buttons_do_nothing(live_server, capsys, tmp_path):
    """The issue's site: _ga before any choice, then nothing to click. The _ga stays reported."""
    url = live_server(audit_corpus.ga_and_dead_buttons())
    code, out = audit(url + "/", "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 1, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [v["subject"] for v in report["violations"] if v["state"] == "before"] == ["_ga"]
    assert {u["state"] for u in report["unverified"]} == {"rejected", "accepted"}
    assert "NOT VERIFIED [rejected]" in out


def test_pages_follows_same_site_links(live_server, capsys, tmp_path):
    url = live_server(audit_corpus.ga_on_second_page())
    code, out = audit(url + "/", "--pages", "2", "--junit", str(tmp_path / "j.xml"), "--html",
                      str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 1, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["pages"] == [url + "/", url + "/about"]
    # Set on /about before any choice; still held after "Reject all", so on every page then.
    assert {(v["state"], v["page"]) for v in report["violations"] if v["subject"] == "_ga"} == {
        ("before", url + "/about"), ("rejected", url + "/"), ("rejected", url + "/about")}
    suite = ElementTree.parse(tmp_path / "j.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert len(cases) == 6  # three states on two pages
    assert cases[f"before {url}/about"].find("failure") is not None
    assert cases[f"before {url}/"].find("failure") is None
    html = (tmp_path / "r.html").read_text()
    assert html.count('src="data:image/png;base64,') == 6 and "_ga" in html


def test_custom_selectors_answer_an_unknown_banner(live_server, capsys):
    page = audit_corpus.page("", banner="""
<div class="cookie-box"><button class="yes">OK</button><button class="no">No thanks</button></div>
<script>document.querySelectorAll('.cookie-box button').forEach(b => b.onclick = () => {
  document.cookie = 'choice=' + b.className + '; path=/'; b.parentNode.remove(); });
if (document.cookie.includes('choice=')) document.querySelector('.cookie-box').remove();</script>""")
    url = live_server(lambda environ, start_response: __import__("werkzeug").wrappers.Response(
        page, content_type="text/html")(environ, start_response))
    code, out = audit(url + "/", capsys=capsys)
    assert code == 3 and "could not verify" in out and "--accept" in out, out
    code, out = audit(url + "/", "--accept", ".cookie-box .yes", "--reject", ".cookie-box .no", capsys=capsys)
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["not-a-url"], "http://", id="not-a-url"),
        pytest.param(["http://127.0.0.1:9/", "--pages", "0"], "at least 1", id="pages-zero"),
    ],
)
def test_usage_errors_exit_2(args, says, capsys):
    with pytest.raises(SystemExit) as info:
        main(["audit", *args])
    assert info.value.code == 2
    assert says in capsys.readouterr().err


def test_bad_policy_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["audit", "http://127.0.0.1:9/", "--policy", "tests.support.apps:KEYS"])
    assert info.value.code == 2
    assert "must be a consentlib.Policy" in capsys.readouterr().err


def test_unreachable_site_exits_3(capsys):
    code = main(["audit", "http://127.0.0.1:9/", "--timeout", "1"])
    assert code == 3, capsys.readouterr()


def test_policy_overrides_what_the_database_says_in_a_real_process(live_server, tmp_path):
    """`python -m consentlib audit --policy`: a policy that declares _ga necessary is what counts."""
    app, _, _ = audit_corpus.CARELESS["server-cookie"]
    url = live_server(app)
    done = subprocess.run([sys.executable, "-m", "consentlib", "audit", url + "/", *FAST, "--policy",
                           "tests.support.audit_corpus:GA_NECESSARY", "--json", str(tmp_path / "r.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["judged_by"]["evidence"] == "--policy"
    before = next(s for s in report["snapshots"] if s["state"] == "before")
    assert {c["name"]: c["verdict"]["evidence"] for c in before["cookies"]}["_ga"] == "--policy"


def test_audit_api_assertions_on_reference_site(tmp_path, live_site, consent_browser):
    from examples.flask_site.policy import POLICY

    _, url = live_site(tmp_path / "instance")
    result = ConsentAudit(consent_browser, url + "/", policy=POLICY, timeout=5).run()
    result.assert_no_tracking_before_choice()
    result.assert_reject_is_honoured()
    result.assert_accept_enables("_ga", "_fbp", "theme")
