"""The visitor's rights over HTTP: downloading what the store holds (GDPR Art 15, 20),
a mail recipient's "your data" page with "forget me" (Art 17), and the ``on_change``
hooks of the middleware and the tracker (Art 17(2), 19)."""
from __future__ import annotations

import json
import re
import threading

import pytest

from consentlib import MailTracker, Suppressed
from tests.support.apps import build_site
from tests.support.mailkit import BASE, KEYS, make_site, newsletter, prepared, unsubscribe_path, urls

pytestmark = [
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.WSGIWarning"),
    pytest.mark.filterwarnings("ignore:Content-Length and the number of bytes sent to the client do not match"),
]
ANA = "ana@example.com"


def test_receipts_download_is_an_attachment_of_everything_about_the_visitor(tmp_path):
    site = build_site("wsgi", tmp_path)
    cookies = site.post("/_consent/", data={"action": "accept_all"}).consent_cookies()
    cookies = site.post("/_consent/", data={"action": "reject_all"}, headers={"Cookie": cookies}).consent_cookies()
    site.post("/_consent/", data={"action": "accept_all"})  # someone else
    shown = site.get("/_consent/receipts", headers={"Cookie": cookies})
    assert "Content-Disposition" not in shown.headers
    r = site.get("/_consent/receipts?download=1", headers={"Cookie": cookies})
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="my-consent-data.json"'
    assert r.headers["Cache-Control"] == "no-store" and "Cookie" in r.headers["Vary"]
    body = json.loads(r.data)
    assert [x["status"] for x in body["receipts"]] == ["superseded", "active"]
    assert {x["consent_id"] for x in body["receipts"]} == {body["consent_id"]}
    assert [c["kind"] for c in body["pending_changes"]] == ["consent", "consent"]
    assert "retention" in body["kept"]
    nobody = site.get("/_consent/receipts?download=1")
    assert json.loads(nobody.data)["receipts"] == [] and nobody.status_code == 200


@pytest.mark.parametrize("kind", ["wsgi", "starlette"])
def test_middleware_on_change_hears_of_each_choice(tmp_path, kind):
    heard, arrived = [], threading.Event()

    def on_change(change):
        heard.append(change)
        arrived.set()

    site = build_site(kind, tmp_path, on_change=on_change)
    site.post("/_consent/", data={"action": "reject_all"})
    assert arrived.wait(10)
    (change,) = heard
    assert change["kind"] == "consent" and change["data"]["granted"] == ["necessary"]
    site.middleware.changes.stop()
    assert site.store.changes() == []  # delivered, so gone from the queue


def test_tracker_on_change_hears_of_an_unsubscribe_and_retries_a_failure(tmp_path):
    heard, arrived = [], threading.Event()

    def on_change(change):
        heard.append(change)
        if len(heard) == 1:
            raise ConnectionError("the provider is down")  # retried, never lost
        arrived.set()

    site = make_site(tmp_path)
    tracker = MailTracker(base_url=BASE, secret_key=KEYS, store=site.store_url, on_change=on_change)
    tracker.unsubscribe(ANA, list_id="news", source="complaint")
    assert arrived.wait(10)
    tracker.changes.stop()
    assert [c["id"] for c in heard][0] == heard[1]["id"] and heard[1]["attempt"] == 2
    assert heard[1]["data"]["recipient"] == ANA


def _your_data_path(site, page_path: str) -> str:
    page = site.client.get(page_path)
    assert page.status_code == 200
    (path,) = re.findall(r'id="mail-your-data" href="([^"]+)"', page.get_data(as_text=True))
    return path


def test_every_stop_tracking_and_unsubscribe_page_links_to_your_data(tmp_path):
    site = make_site(tmp_path)
    paths = urls(prepared(site))
    for page in (paths["t"][0], paths["u"][0]):
        assert _your_data_path(site, page).startswith("/_consent/m/d/")


def test_your_data_download_then_forget_me(tmp_path):
    site = make_site(tmp_path)
    msg = prepared(site)
    site.client.get(urls(msg)["o"][0], headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
    site.flush()
    site.client.post(unsubscribe_path(msg), data={"List-Unsubscribe": "One-Click"})
    data_path = _your_data_path(site, urls(msg)["t"][0])
    page = site.client.get(data_path)
    assert 'id="mail-download"' in page.get_data(as_text=True) and 'id="mail-forget"' in page.get_data(as_text=True)
    download = site.client.get(data_path + "?download=1")
    assert download.headers["Content-Disposition"] == 'attachment; filename="my-mail-data.json"'
    mine = json.loads(download.data)
    assert mine["recipient"] == ANA
    assert [e["event"] for e in mine["events"]] == ["open"] and mine["sends"][0]["campaign"] == "2026-11"
    assert {p["type"] for p in mine["permissions"]} == {"tracking", "unsubscribe"}
    assert site.tracker.data(ANA)["events"] == mine["events"]
    # A GET (a link scanner) changes nothing; forget=yes must be posted.
    assert site.client.post(data_path, data={"forget": "no"}).status_code == 400
    assert site.tracker.export(recipient=ANA)
    forgotten = site.client.post(data_path, data={"forget": "yes"})
    assert forgotten.status_code == 200 and "erased" in forgotten.get_data(as_text=True)
    assert site.tracker.export(recipient=ANA) == []
    assert site.tracker.is_suppressed(ANA, list_id="news")  # the unsubscribe outlives the erasure
    with pytest.raises(Suppressed):
        site.tracker.prepare(newsletter(), recipient=ANA, campaign="2026-12", list_id="news")
    assert site.client.get(data_path).status_code == 404  # nothing left to show


@pytest.mark.parametrize("token", [
    pytest.param("forged", id="forged"),
    pytest.param("x" * 5000, id="huge"),
    pytest.param("%00", id="nul"),
])
def test_your_data_bad_token_is_404(tmp_path, token):
    site = make_site(tmp_path)
    assert site.client.get(f"/_consent/m/d/{token}").status_code == 404
    assert site.client.post(f"/_consent/m/d/{token}", data={"forget": "yes"}).status_code == 404


def test_a_token_of_another_kind_is_not_a_data_token(tmp_path):
    site = make_site(tmp_path)
    token = unsubscribe_path(prepared(site)).rsplit("/", 1)[1]
    assert site.client.get(f"/_consent/m/d/{token}?download=1").status_code == 404


@pytest.mark.parametrize("tracked", [pytest.param(True, id="tracked"), pytest.param(False, id="untracked")])
def test_every_mail_links_to_your_data(tmp_path, tracked):
    site = make_site(tmp_path)
    msg = prepared(site, tracked=tracked)
    (path,) = urls(msg)["d"]
    text = "".join(p.get_content() for p in msg.walk() if p.get_content_maintype() == "text")
    assert ">Your data</a>" in text and "Your data (download it, or have us forget you):" in text
    assert 'id="mail-forget"' in site.client.get(path).get_data(as_text=True)
