"""The regions' visitor texts in the visitor's language: the opt-out page, the banner's
opt-out link (the state), the separate-consent sentence and the receipts' "how"
(consentlib/locale: opt_out_*, separate_consent, method_opt-out)."""
from __future__ import annotations

import html
import re

import pytest
from werkzeug.test import Client

from consentlib import Category, ConsentMiddleware, Cookie, Policy, Region
from consentlib.web.templates import shipped_catalogues
from tests.support.apps import KEYS

POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("marketing", sale_or_share=True),
                Category("transfer", separate=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("ad_id", "marketing"), Cookie("xb", "transfer")],
    regions=[Region("California", "opt-out", ["US-CA"])],
)
CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
# The English title is the statutory one (Cal. Civ. Code §1798.135(a)(1)), word for word.
TITLES = {
    "en": "Do Not Sell or Share My Personal Information",
    "de": "Meine personenbezogenen Daten nicht verkaufen oder weitergeben",
    "fr": "Ne pas vendre ni partager mes informations personnelles",
}
BUTTONS = {"en": "Opt out", "de": "Ablehnen", "fr": "Refuser"}


@pytest.fixture
def client(tmp_path) -> Client:
    middleware = ConsentMiddleware(lambda environ, start_response: [], POLICY, secret_key=KEYS,
                                   store=f"sqlite:///{tmp_path}/c.db",
                                   region_header="CF-IPCountry", subdivision_header="CF-Region-Code")
    return Client(middleware)


def _title(page: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert found, page
    return html.unescape(found.group(1).strip())


LANGUAGES = [pytest.param("de-DE,de;q=0.9", "de", id="de"), pytest.param("fr-FR", "fr", id="fr"),
             pytest.param("en-US", "en", id="en")]


@pytest.mark.parametrize(("accept", "language"), LANGUAGES)
def test_the_opt_out_page_answers_in_the_visitors_language(client, accept, language):
    answer = client.get("/_consent/opt-out", headers={**CA, "Accept-Language": accept})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["Content-Language"] == language
    assert "accept-language" in answer.headers["Vary"].lower()
    assert _title(page) == TITLES[language]
    assert f">{html.escape(BUTTONS[language])}</button>" in page
    if language != "en":
        assert "Do Not Sell" not in page and "Opt out" not in page


@pytest.mark.parametrize(("accept", "language"), LANGUAGES)
def test_the_banners_opt_out_link_is_titled_in_the_visitors_language(client, accept, language):
    answer = client.get("/_consent/", headers={**CA, "Accept-Language": accept})
    assert answer.headers["Content-Language"] == language
    assert answer.get_json()["opt_out"] == ["/_consent/opt-out", TITLES[language]]


@pytest.mark.parametrize(("accept", "said"), [
    pytest.param("fr", "Votre navigateur envoie un signal Global Privacy Control", id="fr"),
    pytest.param("en", "Your browser sends a Global Privacy Control signal", id="en"),
])
def test_the_opt_out_page_says_gpc_was_honored_in_the_visitors_language(client, accept, said):
    page = client.get("/_consent/opt-out", headers={**CA, "Sec-GPC": "1", "Accept-Language": accept})
    assert said in page.get_data(as_text=True)


@pytest.mark.parametrize(("accept", "sentence"), [
    pytest.param("de", "Transfer erfordert Ihre gesonderte Einwilligung", id="de"),
    pytest.param("fr", "Transfer requiert votre consentement distinct", id="fr"),
    pytest.param("en", "Transfer needs your separate consent", id="en"),
])
def test_the_separate_consent_sentence_is_in_the_visitors_language(client, accept, sentence):
    page = html.unescape(client.get("/_consent/preferences", headers={"Accept-Language": accept}).get_data(as_text=True))
    assert sentence in page
    assert page.index(sentence) < page.index('value="transfer"')


@pytest.mark.parametrize(("accept", "how"), [
    pytest.param("de", "eine Ablehnung", id="de"),
    pytest.param("fr", "un refus", id="fr"),
    pytest.param("en", "an opt-out", id="en"),
])
def test_the_receipts_page_names_an_opt_out(client, accept, how):
    posted = client.post("/_consent/opt-out", data={"action": "opt_out", "next": "/"},
                         headers={**CA, "Origin": "http://localhost"})
    assert posted.status_code == 303
    page = client.get("/_consent/receipts", headers={"Accept": "text/html", "Accept-Language": accept})
    cells = [html.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", page.get_data(as_text=True), re.S)]
    assert how in cells
    assert "opt-out" not in cells


@pytest.mark.parametrize("tag", sorted(shipped_catalogues()))
def test_every_language_names_its_own_buttons_and_gpc(tag):
    """The separate-consent sentence names "Accept all" as that language's banner does,
    and the opt-out page names Global Privacy Control as its banner note does."""
    texts = shipped_catalogues()[tag]["texts"]
    assert texts["banner_accept"] in texts["separate_consent"]
    gpc = "全球隐私控制" if tag == "zh-Hans" else "Global Privacy Control"
    assert gpc in texts["banner_gpc"] and gpc in texts["opt_out_gpc"]
    if tag != "en":
        assert texts["opt_out_title"] != TITLES["en"]
