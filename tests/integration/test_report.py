"""``consentlib report``: on a store of known choices, the figures equal them exactly, a
small group reads "<10", and the HTML page is self-contained and names no one. SQLite
always; PostgreSQL when ``CONSENTLIB_TEST_POSTGRES`` is set (the store contract's
backends)."""
from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from consentlib.cli import main
from consentlib.records.receipts import build_receipt
from consentlib.records.report import HIDDEN, action, build_report
from consentlib.records.report_page import render_html
from consentlib.store import open_store
from consentlib.store.clock import time_text
from consentlib.store.mail import MailEvent
from consentlib.store.report import Decision
from tests.integration.test_store_contract import backend  # noqa: F401  (the fixture: sqlite, postgres)
from tests.support.apps import ALL, NECESSARY, POLICY

REVISION_2 = dataclasses.replace(POLICY, revision=POLICY.revision + 1)
CUSTOM = frozenset({"necessary", "analytics"})
WEEK_A = datetime(2026, 11, 3, 12, tzinfo=timezone.utc)  # ISO week 2026-W45, from Monday 2 November
WEEK_B = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)  # 2026-W46
CAMPAIGN = "<b>november</b>"


def _add(store, *, granted, when, policy=POLICY, method="banner", gpc=False, consent_id=None, previously=frozenset()):
    consent_id = consent_id or uuid.uuid4().hex
    store.add_receipt(build_receipt(policy=policy, consent_id=consent_id, granted=granted,
                                    previously_granted=previously, method=method, gpc=gpc, dnt=False,
                                    lifetime=180 * 86400, ip="198.51.100.23", user_agent="Mozilla/5.0 Firefox/131.0",
                                    when=when))
    return consent_id


def _fill(store) -> dict:
    """48 visitors: 25 accept all (9 of them under revision 2), 12 reject all (2 of them
    withdrawing an earlier accept all, a week later), 11 customised (3 with GPC); 50
    receipts. One campaign: 12 sent, 10 people open, 4 proxy fetches, 10 clicks by
    people, 2 unsubscribes."""
    ids = [_add(store, granted=ALL, when=WEEK_A + timedelta(minutes=i)) for i in range(16)]
    ids += [_add(store, granted=ALL, when=WEEK_B + timedelta(minutes=i), policy=REVISION_2) for i in range(9)]
    ids += [_add(store, granted=NECESSARY, when=WEEK_A + timedelta(hours=1, minutes=i)) for i in range(10)]
    for i in range(2):
        early = _add(store, granted=ALL, when=WEEK_A + timedelta(hours=2, minutes=i))
        ids.append(_add(store, granted=NECESSARY, when=WEEK_B + timedelta(hours=2, minutes=i), method="withdraw",
                        consent_id=early, previously=ALL))
    ids += [_add(store, granted=CUSTOM, when=WEEK_A + timedelta(hours=3, minutes=i), gpc=i < 3) for i in range(11)]

    addresses = [f"reader{i}@example.org" for i in range(12)]
    numbers = {}
    for address in addresses:
        numbers[address] = store.mail_recipient(address, list_id="news")[0]
        store.set_mail_tracking(address, list_id="news", allowed=True, source="signup")
        store.record_mail_send(campaign=CAMPAIGN, recipient=address, list_id="news", links=1, tracked=True)
    later = time_text(datetime.now(timezone.utc) + timedelta(seconds=1))
    events = [MailEvent(numbers[a], CAMPAIGN, "news", "open", "human", later, "Firefox", None) for a in addresses[:10]]
    events += [MailEvent(numbers[a], CAMPAIGN, "news", "open", "human", later, "Firefox", None) for a in addresses[:3]]
    events += [MailEvent(numbers[a], CAMPAIGN, "news", "open", "machine", later, "Apple MPP", None)
               for a in addresses[:4]]
    events += [MailEvent(numbers[a], CAMPAIGN, "news", "click", "human", later, "Firefox", 0) for a in addresses[:10]]
    assert store.add_mail_events(events) == len(events)
    for address in addresses[:2]:
        store.suppress_mail(address, list_id="news", source="one-click", campaign=CAMPAIGN)
    return {"consent_ids": ids, "addresses": addresses}


@pytest.fixture
def filled(backend):  # noqa: F811
    store = backend.open()
    return store, _fill(store)


def test_the_figures_equal_the_choices_made(filled):
    store, _ = filled
    report = build_report(store)
    assert report["visitors"] == 48 and report["receipts"] == 50
    assert report["actions"] == [
        {"action": "accept_all", "visitors": 25, "share": 0.5208},
        {"action": "reject_all", "visitors": 12, "share": 0.25},
        {"action": "customised", "visitors": 11, "share": 0.2292},
    ]
    assert report["gpc"] == {"visitors": HIDDEN, "share": None}  # 3 visitors
    assert report["withdrawals"] == HIDDEN  # 2
    assert report["categories"] == [
        {"category": "analytics", "granted": 36, "visitors": 48, "rate": 0.75, "required": False},
        {"category": "marketing", "granted": 25, "visitors": 48, "rate": 0.5208, "required": False},
        {"category": "necessary", "granted": 48, "visitors": 48, "rate": 1.0, "required": True},
        {"category": "preferences", "granted": 25, "visitors": 48, "rate": 0.5208, "required": False},
    ]
    assert report["by_revision"] == [
        {"revision": POLICY.revision, "visitors": 39, "actions": [
            {"action": "accept_all", "visitors": 16, "share": 0.4103},
            {"action": "reject_all", "visitors": 12, "share": 0.3077},
            {"action": "customised", "visitors": 11, "share": 0.2821}]},
        # A bucket of 9 visitors: every figure of it is hidden.
        {"revision": REVISION_2.revision, "visitors": HIDDEN, "actions": [
            {"action": name, "visitors": HIDDEN, "share": None} for name in ("accept_all", "reject_all", "customised")]},
    ]
    assert report["by_week"] == [
        {"week": "2026-W45", "start": "2026-11-02", "receipts": 39, "accept_all": 18, "reject_all": 10,
         "customised": 11},
        {"week": "2026-W46", "start": "2026-11-09", "receipts": 11, "accept_all": HIDDEN, "reject_all": HIDDEN,
         "customised": HIDDEN},
    ]
    # Receipts carry no region or language yet: those sections are empty, not made up.
    assert report["by_region"] == [] and report["by_language"] == []
    assert report["mail"] == [{"campaign": CAMPAIGN, "sent": 12, "human_opens": 10, "machine_opens": HIDDEN,
                               "human_clicks": 10, "scanner_clicks": HIDDEN, "unsubscribes": HIDDEN}]


def test_since_counts_each_visitor_by_their_latest_choice_in_the_period(filled):
    store, _ = filled
    report = build_report(store, since=datetime(2026, 11, 9, tzinfo=timezone.utc))
    # 9 accept all under revision 2 and the 2 withdrawals: the earlier accepts are outside.
    assert report["visitors"] == 11 and report["receipts"] == 11
    assert [a["visitors"] for a in report["actions"]] == [HIDDEN, HIDDEN, HIDDEN]
    assert [w["week"] for w in report["by_week"]] == ["2026-W46"]


@pytest.mark.parametrize(
    ("granted", "denied", "optional", "expected"),
    [
        pytest.param(("a", "n"), (), {"a"}, "accept_all", id="denies-nothing"),
        pytest.param(("n",), ("a", "m"), {"a", "m"}, "reject_all", id="grants-only-the-required"),
        pytest.param(("a", "n"), ("m",), {"a", "m"}, "customised", id="grants-some"),
        pytest.param(("n",), ("a",), {"a"}, "reject_all", id="a-withdrawal"),
    ],
)
def test_the_action_is_derived_from_the_receipt_alone(granted, denied, optional, expected):
    decision = Decision(1, granted, denied, "banner", False, None, None)
    assert action(decision, frozenset(optional)) == expected


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.figures: list[list[str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag == "figure":
            self.figures.append([])
        elif self.figures:
            self.figures[-1].append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_the_html_page_is_self_contained_and_names_no_one(filled):
    store, made = filled
    html = render_html(build_report(store))
    page = Page()
    page.feed(html)
    assert "<svg" in html
    for tag, name, value in page.attributes:
        assert name not in ("src", "href", "srcset", "action", "data", "poster"), (tag, name, value)
        assert "http:" not in (value or "") and "https:" not in (value or "") and "//" not in (value or ""), (tag, name)
    assert "http://" not in html and "https://" not in html and "src=" not in html
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert len(page.figures) >= 5
    for figure in page.figures:  # a chart, its title, its table, its sentence
        assert figure.count("svg") == 1 and figure.count("title") == 1 and figure.count("table") == 1
        assert "p" in figure
    assert all(value for tag, name, value in page.attributes if tag == "svg" and name == "aria-labelledby")
    for consent_id in made["consent_ids"]:
        assert consent_id not in html
    for address in made["addresses"]:
        assert address not in html
    assert "198.51.100" not in html and "Firefox" not in html
    # Every text is escaped: the campaign's name is shown, its markup is not.
    assert "<b>" not in html and "&lt;b&gt;november&lt;/b&gt;" in html
    assert "under 10" in "".join(page.text)


def test_cli_writes_html_json_and_a_text_summary(filled, tmp_path, capsys, backend):  # noqa: F811
    store, made = filled
    url = backend.stores[0].url if backend.kind == "postgres" else f"sqlite:///{store.path}"
    html, out = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["report", "--store", url, "--html", str(html), "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["actions"][0] == {"action": "accept_all", "visitors": 25, "share": 0.5208}
    assert figures["gpc"]["visitors"] == "<10"
    assert "<svg" in html.read_text(encoding="utf-8")
    for text in (out.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")):
        assert not any(consent_id in text for consent_id in made["consent_ids"])
    capsys.readouterr()
    assert main(["report", "--store", url, "--since", "2026-11-09"]) == 0
    printed = capsys.readouterr().out
    assert "visitors: 11" in printed and "latest receipt" in printed


@pytest.mark.parametrize(
    ("arguments", "code", "says"),
    [
        pytest.param(["--since", "last tuesday"], 2, "is not a date", id="bad-since"),
        pytest.param(["--html", "{missing}/report.html"], 2, "--html", id="html-unwritable"),
        pytest.param(["--json", "{missing}/report.json"], 2, "--json", id="json-unwritable"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path, capsys, arguments, code, says):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    _add(open_store(url), granted=ALL, when=WEEK_A)
    arguments = [a.replace("{missing}", str(tmp_path / "no" / "such")) for a in arguments]
    with pytest.raises(SystemExit) as info:
        main(["report", "--store", url, *arguments])
    assert info.value.code == code
    assert says in capsys.readouterr().err


def test_cli_store_missing_or_down_exits_3_and_creates_nothing(tmp_path, capsys):
    typo = tmp_path / "typo.db"
    assert main(["report", "--store", f"sqlite:///{typo}"]) == 3
    assert "no store at" in capsys.readouterr().err
    assert not typo.exists()
    assert main(["report", "--store", "postgresql://nobody:secret@127.0.0.1:1/consent"]) == 3
    assert "secret" not in capsys.readouterr().err


def test_cli_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    section = text.split("exit codes:\n", 1)[1]
    assert [line[2] for line in section.splitlines() if line[:2] == "  " and line[2:3].isdigit()] == ["0", "2", "3"]


def test_an_empty_store_reports_nothing_hidden_as_nothing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    open_store(url).receipts()  # creates the tables
    html, out = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["report", "--store", url, "--html", str(html), "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["visitors"] == HIDDEN and figures["by_week"] == [] and figures["mail"] == []
    assert all(a["share"] is None for a in figures["actions"])
    page = Page()
    page.feed(html.read_text(encoding="utf-8"))
    assert "svg" in page.tags
