"""An erased consent id never links anything again (GDPR Art 17; Art 5(1)(e)).

``consentlib forget --consent-id`` keeps a visitor's receipts as proof but not their
id's future: the browser keeps its HttpOnly ``consent_id`` cookie, and its next choice
must start a new id (both cookies replaced), while ``/_consent/receipts`` answers that
browser as one without an id. Through the middleware, with explicit Cookie headers.
"""
from __future__ import annotations

import json

import pytest

from consentlib.cli import main
from tests.support.apps import KEYS, LINT_STRICT, build_site

pytestmark = LINT_STRICT

CHOICES = [
    pytest.param({"data": {"action": "reject_all"}}, 303, id="form"),
    pytest.param({"json": {"categories": []}}, 200, id="json"),
]


def forget(site, consent_id: str) -> None:
    """What the site's operator runs on the visitor's request."""
    keys = [arg for key in KEYS for arg in ("--secret-key", key)]
    assert main(["forget", "--store", site.store_url, "--consent-id", consent_id, *keys]) == 0


def erased_visitor(site):
    """A visitor who chose, then had their consent id erased: (their cookies, the id)."""
    cookies = site.post(data={"action": "accept_all"}).consent_cookies()
    (receipt,) = site.store.receipts()
    forget(site, receipt["consent_id"])
    return cookies, receipt["consent_id"]


def cookie_id(site, response) -> str:
    """The consent id the response's HttpOnly consent_id cookie carries."""
    payload = site.middleware.cookie.verify_id(response.consent_cookie("consent_id"))
    assert payload is not None
    return payload.consent_id


@pytest.mark.parametrize("kind", ["wsgi", "starlette"])
@pytest.mark.parametrize(("choice", "status"), CHOICES)
def test_erased_id_next_choice_gets_a_fresh_id_in_both_cookies(tmp_path, kind, choice, status):
    # GDPR Art 17: recording the new choice under the erased id would link the visitor
    # to it again. The receipt is under a new id, and both cookies carry that id.
    site = build_site(kind, tmp_path)
    cookies, erased = erased_visitor(site)
    again = site.post(headers={"Cookie": cookies}, **choice)
    assert again.status_code == status
    assert [r["consent_id"] for r in site.store.receipts()][0] == erased
    (old,) = site.store.receipts(consent_id=erased)  # nothing added under the erased id
    new = [r for r in site.store.receipts() if r["consent_id"] != erased]
    assert len(new) == 1 and new[0]["replaces"] is None  # no link to the erased id's records
    assert new[0]["granted"] == ["necessary"]
    assert set(new[0]["categories"].values()) == {"given", "refused"}  # no "withdrawn": no history carried
    assert cookie_id(site, again) == new[0]["consent_id"]
    assert "HttpOnly" in again.set_cookie("consent_id")[0]
    assert again.consent_cookie("consent") is not None  # the pair is replaced together
    # The new id works as any other: its next choice chains to its own record.
    later = site.post(data={"action": "accept_all"}, headers={"Cookie": again.consent_cookies()})
    assert cookie_id(site, later) == new[0]["consent_id"]
    assert site.store.receipts()[-1]["replaces"] == new[0]["record_id"]


@pytest.mark.parametrize("path", ["/_consent/receipts", "/_consent/receipts?download=1"])
def test_erased_id_receipts_are_answered_as_for_no_id(tmp_path, path):
    # GDPR Art 17: the erased id is not shown again to whoever holds the old cookie; the
    # kept proof stays the site's (Art 17(3)(b),(e)).
    site = build_site("wsgi", tmp_path)
    cookies, erased = erased_visitor(site)
    held = site.get(path, headers={"Cookie": cookies})
    nobody = site.get(path)
    assert held.status_code == nobody.status_code == 200
    assert held.json == nobody.json
    assert held.json["consent_id"] is None and held.json["receipts"] == []
    assert erased not in held.text
    if "download" in path:
        assert held.json["pending_changes"] == []


def test_erased_id_page_views_read_no_store_and_keep_the_visitors_choice(tmp_path, monkeypatch):
    # The erased id is recognised only where a choice is recorded or receipts are shown:
    # a page view reads nothing from the store, and its cookie still gates as chosen.
    site = build_site("wsgi", tmp_path)
    cookies, _ = erased_visitor(site)

    def no_read(*args, **kwargs):
        raise AssertionError("a page view read the store")

    for name in ("consent_id_forgotten", "receipts", "guardian_receipts", "_read"):
        monkeypatch.setattr(site.store, name, no_read)
    page = site.get("/", headers={"Cookie": cookies + "; _ga=GA1.1.7"})
    assert page.status_code == 200
    assert "analytics" in page.json["granted"] and "_ga=GA1.1.7" in page.json["cookie"]


def test_erased_id_a_minor_asking_a_guardian_gets_a_fresh_id(tmp_path):
    # The guardian's answer must not be recorded under the erased id: the request starts
    # a new one, and a link mailed for the erased id records nothing.
    mail: list = []
    site = build_site("wsgi", tmp_path, is_minor=lambda environ: True, site_url="http://localhost",
                      guardian_mailer=lambda *args: mail.append(args))
    first = site.post("/_consent/guardian", data={"guardian": "parent@example.com", "category": "analytics"})
    (receipt,) = site.store.receipts()
    stale_link = mail[-1][1].split("localhost", 1)[1]
    erased = receipt["consent_id"]
    forget(site, erased)
    asked = site.post("/_consent/guardian", data={"guardian": "parent@example.com", "category": "analytics"},
                      headers={"Cookie": first.consent_cookies()})
    assert asked.status_code == 303
    fresh = cookie_id(site, asked)
    assert fresh != erased and site.store.receipts(consent_id=fresh)[0]["granted"] == ["necessary"]
    assert site.post(stale_link, data={"action": "allow"}).status_code == 410
    assert len(site.store.receipts(consent_id=erased)) == 1
    confirmed = site.post(mail[-1][1].split("localhost", 1)[1], data={"action": "allow"})
    assert confirmed.status_code == 200
    assert [r["method"] for r in site.store.receipts(consent_id=fresh)] == ["form", "guardian"]
    assert erased not in json.dumps(site.store.receipts(consent_id=fresh))


def test_erased_id_a_guardians_grant_no_longer_counts_for_the_child(tmp_path):
    # GDPR Art 17 and Art 8: after the erasure the child's browser still holds the erased
    # id; a page view must not keep granting what the guardian allowed through it (and
    # that guardian's withdrawal link no longer reaches it). Only required categories,
    # until a guardian answers anew.
    mail: list = []
    site = build_site("wsgi", tmp_path, is_minor=lambda environ: True, site_url="http://localhost",
                      guardian_mailer=lambda *args: mail.append(args))
    first = site.post("/_consent/guardian", data={"guardian": "parent@example.com", "category": "analytics"})
    assert site.post(mail[-1][1].split("localhost", 1)[1], data={"action": "allow"}).status_code == 200
    cookies = first.consent_cookies()
    assert "analytics" in site.get("/", headers={"Cookie": cookies}).json["granted"]
    forget(site, site.store.receipts()[0]["consent_id"])
    page = site.get("/", headers={"Cookie": cookies + "; _ga=GA1.1.7"})
    assert page.json["granted"] == ["necessary"] and "_ga" not in (page.json["cookie"] or "")
