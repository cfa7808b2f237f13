"""consentlib's own HTML pages in the visitor's language: chosen from Accept-Language
(RFC 9110 §12.5.4) by the banner's rule, said in Content-Language and Vary (RFC 9110
§8.5, §12.5.5), every value escaped, and a site's template directory winning."""
from __future__ import annotations

import json
import re
from html import escape
from html.parser import HTMLParser

import pytest

from consentlib import Category, ConfigurationError, ConsentMiddleware, Cookie, MailTracker, Policy
from consentlib.web.templates import SHIPPED as SHIPPED_DIR
from consentlib.web.templates import Templates
from tests.support.apps import KEYS, KINDS, build_site, fetch
from tests.support.mailkit import BufferedClient, MailSite, prepared, urls

HOSTILE = "<script>alert(1)</script>"
POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics", label=f"Stats {HOSTILE}",
                                                               description='"><img src=x onerror=alert(2)>'),
                Category("marketing", gpc=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("age_group", "necessary"), Cookie("_ga*", "analytics", purpose=f"Counts {HOSTILE}")],
)
SHIPPED = Templates()


def make_site(tmp_path, **options) -> MailSite:
    store = f"sqlite:///{tmp_path / 'consent.db'}"
    mailed: list[tuple] = []
    middleware = ConsentMiddleware(
        lambda environ, start_response: [], POLICY, secret_key=KEYS, store=store, site_url="https://example.com",
        is_minor=lambda environ: "age_group=child" in (environ.get("HTTP_COOKIE") or ""),
        guardian_mailer=lambda *args: mailed.append(args), **options)
    tracker = MailTracker(base_url="https://example.com", secret_key=KEYS, store=store)
    site = MailSite(middleware, tracker, BufferedClient(middleware), store)
    site.mailed = mailed  # type: ignore[attr-defined]
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> MailSite:
    return make_site(tmp_path_factory.mktemp("pages"))


def _ask_guardian(site: MailSite, headers: dict):
    child = BufferedClient(site.middleware)
    child.set_cookie("age_group", "child")
    return child.post("/_consent/guardian", data={"guardian": "parent@example.com", "category": "analytics"},
                      headers=headers)


def _guardian_link(site: MailSite, headers: dict) -> str:
    _ask_guardian(site, headers)
    return site.mailed[-1][1].removeprefix("https://example.com")


def _mail_page(route: str):
    def get(site: MailSite, headers: dict):
        msg = prepared(site, list_id=f"news {HOSTILE}")
        return site.client.get(urls(msg)[route][0], headers=headers)
    return get


def _your_data(site: MailSite, headers: dict):
    page = _mail_page("t")(site, headers).get_data(as_text=True)
    return site.client.get(re.search(r'id="mail-your-data" href="([^"]+)"', page).group(1), headers=headers)


# page kind -> (how to fetch it, the text key of its title)
PAGES = {
    "preferences": (lambda site, h: site.client.get("/_consent/preferences", headers=h), "privacy_choices"),
    "saved": (lambda site, h: site.client.post("/_consent/", data={"action": "reject_all"}, headers=h), "saved"),
    "guardian-sent": (_ask_guardian, "sent"),
    "guardian-question": (lambda site, h: site.client.get(_guardian_link(site, h), headers=h), "guardian_title"),
    "guardian-bad-link": (lambda site, h: site.client.get("/_consent/guardian/forged", headers=h), "guardian_title"),
    "unsubscribe": (_mail_page("u"), "unsubscribe_title"),
    "stop-tracking": (_mail_page("t"), "stop_tracking"),
    "your-data": (_your_data, "your_data_title"),
    "mail-not-found": (lambda site, h: site.client.get("/_consent/m/x/nothing", headers=h), "not_found_title"),
    "mail-wrong-method": (lambda site, h: site.client.delete("/_consent/m/u/token", headers=h),
                          "method_not_allowed_title"),
}

LANGUAGES = [
    pytest.param("zh-CN", "zh-Hans", id="zh-CN"),
    pytest.param("zh-Hans-CN;q=0.9, en;q=0.8", "zh-Hans", id="zh-Hans-CN-preferred"),
    pytest.param("en;q=0.9, zh;q=0.8", "en", id="en-preferred-over-zh"),
    pytest.param("zh;q=0.5, en;q=0.5", "zh-Hans", id="equal-q-header-order"),
    pytest.param("en;q=0, zh-SG", "zh-Hans", id="q0-is-not-acceptable"),
    pytest.param("eo", "en", id="unsupported-is-english"),
    pytest.param("eo-001, eo;q=0.9, zh-sg;q=0.1", "zh-Hans", id="first-supported-wins"),
    pytest.param("zh-TW, zh-Hant;q=0.9", "zh-Hant", id="traditional-is-not-simplified"),
    pytest.param("fr-FR,fr;q=0.9,en;q=0.8", "fr", id="fr-FR"),
    pytest.param("de-AT", "de", id="de-AT-is-de"),
    pytest.param("ar-EG", "ar", id="ar-EG-is-ar"),
    pytest.param("sv-FI, en;q=0.5", "sv", id="sv-FI-is-sv"),
    pytest.param("it-CH, de;q=0.5", "it", id="it-CH-is-it"),
    pytest.param("pt-BR", "pt-BR", id="pt-BR-is-brazilian"),
    pytest.param("pt-PT", "pt", id="pt-PT-is-european"),
    pytest.param("mt", "mt", id="mt"),
    pytest.param("*", "en", id="any"),
    pytest.param("\x7f;;q=abc, zh;q=2, zh;q=0.5x, ,;q=1", "en", id="junk"),
    pytest.param("eo-001;q=0.9, " * 20_000 + "zh", "en", id="huge-header-read-only-its-start"),
    pytest.param(None, "en", id="no-header"),
]


@pytest.mark.parametrize("header, language", LANGUAGES)
@pytest.mark.parametrize("kind", PAGES)
def test_pages_speak_the_visitors_language(site, kind, header, language):
    fetch, title_key = PAGES[kind]
    response = fetch(site, {"Accept-Language": header} if header is not None else {})
    html = response.get_data(as_text=True)
    assert response.status_code < 500 and response.mimetype == "text/html"
    # RFC 9110 §8.5: the language the page is in; §12.5.5: caches key it by Accept-Language.
    assert response.headers["Content-Language"] == language
    assert "Accept-Language" in [v.strip() for v in ",".join(response.headers.getlist("Vary")).split(",")]
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in html
    title = SHIPPED.catalogues[language].texts[title_key]
    assert f"<title>{escape(title)}</title>" in html  # texts are plain, escaped on the page (l'età, dell'iscrizione)
    assert HOSTILE not in html and "<img" not in html


def test_pages_english_texts_and_ids_unchanged(site):
    html = site.client.get("/_consent/preferences").get_data(as_text=True)
    for text in ('id="consent-category-analytics"', 'value="accept_all">Accept all</button>',
                 "<small>(always on: strictly necessary)</small>", 'id="consent-cookies-analytics"',
                 "The cookies of each category"):
        assert text in html


@pytest.mark.parametrize("kind", ["preferences", "guardian-question", "unsubscribe"])
def test_pages_escape_every_value_xss(site, kind):
    html = PAGES[kind][0](site, {"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html and "<img" not in html


class InlineCode(HTMLParser):
    """What a strict Content-Security-Policy (no 'unsafe-inline') would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.found.append(tag)
        self.found += [name for name, _ in attrs if name == "style" or name.startswith("on")]


@pytest.mark.parametrize("kind", PAGES)
def test_pages_have_no_inline_script_or_style_csp(site, kind):
    parser = InlineCode()
    parser.feed(PAGES[kind][0](site, {"Accept-Language": "zh-CN"}).get_data(as_text=True))
    assert parser.found == []


# -- a site's own templates ---------------------------------------------------------------------------


@pytest.fixture
def own_templates(tmp_path):
    directory = tmp_path / "templates"
    (directory / "messages").mkdir(parents=True)
    (directory / "page.html").write_text(
        '<!doctype html><html lang="{{ lang }}" class="our-site"><title>{{ title }}</title>'
        "<h1>{{ title }}</h1>{{ body }}</html>", "utf-8")
    (directory / "messages" / "en.json").write_text(json.dumps({"accept_all": "Yes to all"}), "utf-8")
    (directory / "messages" / "eo.json").write_text(json.dumps(
        {"@accepts": ["eo*"], "privacy_choices": "Viaj elektoj", "accept_all": "Akcepti ĉiujn"}), "utf-8")
    (directory / "messages" / "fr.json").write_text(json.dumps({"accept_all": "Oui à tout"}), "utf-8")
    return directory


@pytest.mark.parametrize("header, language, expected", [
    pytest.param("en", "en", ["Yes to all", "Reject all", "<title>Privacy choices</title>"], id="en-one-text-changed"),
    pytest.param("eo-001, en;q=0.5", "eo", ["<title>Viaj elektoj</title>", "Akcepti ĉiujn", "Reject all"],
                 id="added-language-falls-back-to-english"),
    pytest.param("fr-CA", "fr", ["<title>Choix de confidentialité</title>", "Oui à tout", "Tout refuser"],
                 id="shipped-language-one-text-changed"),
    pytest.param("zh-CN", "zh-Hans", ["<title>隐私选项</title>", "全部接受"], id="shipped-language-kept"),
])
def test_pages_site_templates_win(tmp_path, own_templates, header, language, expected):
    site = make_site(tmp_path, templates=own_templates)
    response = site.client.get("/_consent/preferences", headers={"Accept-Language": header})
    html = response.get_data(as_text=True)
    assert response.headers["Content-Language"] == language
    assert f'<html lang="{language}" class="our-site">' in html
    for text in expected:
        assert text in html


@pytest.mark.parametrize("files, message", [
    pytest.param({"page.html": "{{ secret }}"}, "uses the value 'secret'", id="unknown-value"),
    pytest.param({"page.html": "{{ t.nope }}"}, "t.nope", id="unknown-text"),
    pytest.param({"page.html": "{% if lang %}"}, "no {% endif %}", id="unclosed-if"),
    pytest.param({"pgae.html": "x"}, "replaces no page template", id="misspelt-template"),
    pytest.param({"messages/fr.json": "{"}, "not valid UTF-8 JSON", id="bad-json"),
    pytest.param({"messages/fr.json": '{"accept_all": 1}'}, "JSON object of texts", id="not-text"),
    pytest.param({"messages/fr.json": '{"@accepts": "fr"}'}, '"@accepts" must be a list', id="accepts-not-list"),
    pytest.param({"messages/fr_FR.json": "{}"}, "language tag", id="not-a-language-tag"),
])
def test_pages_bad_site_templates_refused_at_construction(tmp_path, files, message):
    directory = tmp_path / "templates"
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, "utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        ConsentMiddleware(lambda e, s: [], POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                          templates=directory)


@pytest.mark.parametrize("value", [pytest.param("no/such/dir", id="missing"), pytest.param(3, id="not-a-path")])
def test_pages_templates_must_be_a_directory(tmp_path, value):
    with pytest.raises(ConfigurationError, match="templates must be the path of a directory"):
        ConsentMiddleware(lambda e, s: [], POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                          templates=value)


def test_pages_shipped_catalogues_are_complete():
    # tests/unit/test_catalogues.py checks each .po; here, what the pages load.
    english = set(SHIPPED.catalogues["en"].texts)
    for catalogue in SHIPPED.catalogues.values():
        assert set(catalogue.texts) == english


@pytest.mark.parametrize("kind", KINDS)
def test_pages_every_door_speaks_the_language_and_takes_templates(tmp_path, own_templates, kind):
    # Flask (CONSENTLIB_TEMPLATES via the keyword), Django (CONSENTLIB["TEMPLATES"]) and
    # the ASGI door pass the option through and answer the same pages.
    site = build_site(kind, tmp_path, templates=own_templates)
    chinese = fetch(site.client, "GET", "/_consent/preferences", headers={"Accept-Language": "zh-CN"})
    assert chinese.headers["Content-Language"] == "zh-Hans" and "<title>隐私选项</title>" in chinese.text
    english = fetch(site.client, "GET", "/_consent/preferences", headers={"Accept-Language": "en-GB"})
    assert "Accept-Language" in english.headers["Vary"] and "Yes to all" in english.text
    assert 'class="our-site"' in english.text
