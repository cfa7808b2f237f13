"""The request's language, chosen once by one rule, in every door: the site's own choice
(environ/scope "consentlib.language", Django's language), then Accept-Language, then the
policy's default_language; the banner tag and the pages agree; a site's locale_dirs add
or change languages."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.test import Client

from consentlib import Category, ConfigurationError, ConsentMiddleware, Cookie, Policy
from consentlib.flask import FlaskConsent
from consentlib.locale import compile as locale
from consentlib.web.tags import banner_tags
from tests.support.apps import KEYS, KINDS, build_site, fetch

POLICY = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")])


def _banner_language(html: str) -> tuple[str, str]:
    found = re.search(r'data-consent-lang="([^"]+)" data-consent-dir="([^"]+)"', html)
    assert found, html
    return found.group(1), found.group(2)


def _page_language(response) -> str:
    return response.headers["Content-Language"]


def _wsgi(tmp_path, app=None, **options) -> Client:
    def page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [banner_tags(environ, prefix="/_consent/", revision=1).encode()]

    middleware = ConsentMiddleware(app or page, options.pop("policy", POLICY), secret_key=KEYS,
                                   store=f"sqlite:///{tmp_path}/c.db", **options)
    return Client(middleware)


def _outer(language: str, app):
    """An outer middleware that names the request's language, as a site's i18n layer does."""
    def wrapped(environ, start_response):
        environ["consentlib.language"] = language
        return app(environ, start_response)
    return wrapped


@pytest.mark.parametrize("header, language, direction", [
    pytest.param("fr-FR,fr;q=0.9,en;q=0.8", "fr", "ltr", id="fr-FR"),
    pytest.param("de-DE", "de", "ltr", id="de-DE"),
    pytest.param("ar", "ar", "rtl", id="ar-rtl"),
    pytest.param("zh-CN", "zh-Hans", "ltr", id="zh-CN"),
    pytest.param("pl-PL, en;q=0.5", "pl", "ltr", id="pl-PL"),
    pytest.param("nl-BE", "nl", "ltr", id="nl-BE"),
    pytest.param("eo", "en", "ltr", id="unserved"),
    pytest.param("\x00;q=;;,", "en", "ltr", id="junk"),
])
def test_banner_tag_and_pages_agree(tmp_path, header, language, direction):
    client = _wsgi(tmp_path)
    banner = client.get("/", headers={"Accept-Language": header})
    assert _banner_language(banner.get_data(as_text=True)) == (language, direction)
    page = client.get("/_consent/preferences", headers={"Accept-Language": header})
    assert page.status_code == 200 and _page_language(page) == language
    assert f'<html lang="{language}" dir="{direction}">' in page.get_data(as_text=True)


def test_site_choice_wins_over_accept_language(tmp_path):
    middleware = ConsentMiddleware(lambda e, s: [], POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    client = Client(_outer("de", middleware))
    page = client.get("/_consent/preferences", headers={"Accept-Language": "fr"})
    assert _page_language(page) == "de" and "Alle ablehnen" in page.get_data(as_text=True)


def test_site_choice_reaches_the_banner_tag(tmp_path):
    def page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html")])
        return [banner_tags(environ, prefix="/_consent/", revision=1).encode()]

    middleware = ConsentMiddleware(page, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    html = Client(_outer("ar", middleware)).get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert _banner_language(html) == ("ar", "rtl")
    assert "رفض الكل" in html


def test_policy_default_language(tmp_path):
    client = _wsgi(tmp_path, policy=Policy(revision=1, categories=[Category("necessary", required=True)],
                                           default_language="de"))
    assert _page_language(client.get("/_consent/preferences", headers={"Accept-Language": "eo"})) == "de"
    assert _page_language(client.get("/_consent/preferences")) == "de"
    assert _page_language(client.get("/_consent/preferences", headers={"Accept-Language": "fr"})) == "fr"


def test_policy_default_language_must_have_a_catalogue(tmp_path):
    policy = Policy(revision=1, categories=[Category("necessary", required=True)], default_language="eo")
    with pytest.raises(ConfigurationError, match="default_language 'eo' has no catalogue.*locale_dirs"):
        _wsgi(tmp_path, policy=policy)


def _site_locale(tmp_path: Path, tag: str, texts: dict[str, str]) -> Path:
    """A site's locale dir holding ``tag`` with ``texts`` translated (the rest left empty)."""
    target = tmp_path / "locale" / tag / "LC_MESSAGES"
    target.mkdir(parents=True)
    lines = []
    key = None
    for line in locale.TEMPLATE.read_text("utf-8").splitlines():
        if line.startswith("msgctxt "):
            key = line[len('msgctxt "'):-1]
        if line == 'msgstr ""' and key in texts:
            line = f'msgstr "{texts[key]}"'
        lines.append(line)
    (target / "consentlib.po").write_text("\n".join(lines), "utf-8")
    return tmp_path / "locale"


def test_locale_dirs_add_a_language(tmp_path):
    directory = _site_locale(tmp_path, "eo", {"reject_all": "Rifuzi ĉiujn", "banner_reject": "Rifuzi ĉiujn"})
    client = _wsgi(tmp_path, locale_dirs=[directory])
    page = client.get("/_consent/preferences", headers={"Accept-Language": "eo-001"})
    html = page.get_data(as_text=True)
    assert _page_language(page) == "eo" and "Rifuzi ĉiujn" in html
    assert "Accept all" in html  # not translated yet: the English stands in
    banner = client.get("/", headers={"Accept-Language": "eo"}).get_data(as_text=True)
    assert _banner_language(banner) == ("eo", "ltr") and "Rifuzi ĉiujn" in banner


def test_locale_dirs_change_a_shipped_text(tmp_path):
    directory = _site_locale(tmp_path, "de", {"reject_all": "Nein danke"})
    html = _wsgi(tmp_path, locale_dirs=[directory]).get(
        "/_consent/preferences", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Nein danke" in html and "Alle akzeptieren" in html  # the rest stays the shipped German


@pytest.mark.parametrize("value, message", [
    pytest.param("locale", "must be a list of directories", id="one-string"),
    pytest.param(["no/such/dir"], "is not a directory", id="missing"),
])
def test_locale_dirs_refused(tmp_path, value, message):
    with pytest.raises(ConfigurationError, match=message):
        _wsgi(tmp_path, locale_dirs=value)


def test_locale_dirs_refuse_a_broken_placeholder(tmp_path):
    directory = _site_locale(tmp_path, "sv", {"unsubscribe_question": "Avsluta {lista}?"})
    with pytest.raises(ConfigurationError, match="unsubscribe_question: the placeholders must be"):
        _wsgi(tmp_path, locale_dirs=[directory])


def test_flask_banner_in_the_request_language(tmp_path):
    app = Flask("lang_test")

    @app.route("/page")
    def page():
        return render_template_string("{{ consent_banner() }}")

    FlaskConsent(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    html = Client(app).get("/page", headers={"Accept-Language": "ar-EG"}).get_data(as_text=True)
    assert _banner_language(html) == ("ar", "rtl")


@pytest.mark.parametrize("kind", KINDS)
def test_every_door_answers_pages_in_the_language(tmp_path, kind):
    site = build_site(kind, tmp_path)
    for header, language in (("fr-FR", "fr"), ("ar", "ar"), ("de-AT", "de")):
        answer = fetch(site.client, "GET", "/_consent/preferences", headers={"Accept-Language": header})
        assert answer.headers["Content-Language"] == language, (kind, header)
        assert "Accept-Language" in answer.headers["Vary"]


def test_django_banner_follows_django_language(tmp_path):
    site = build_site("django", tmp_path)
    html = fetch(site.client, "GET", "/template", headers={"Accept-Language": "de-DE"}).text
    assert _banner_language(html) == ("de", "ltr")


def test_asgi_banner_in_the_scope_language(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from consentlib.asgi import ConsentMiddleware as AsgiMiddleware, consent_banner
    from tests.support.asgikit import AsgiClient

    async def page(request):
        return HTMLResponse(str(consent_banner(request)))

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(AsgiMiddleware, policy=POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")

    async def outer(scope, receive, send):  # the site's own choice, in the scope
        if scope["type"] == "http" and scope["path"] == "/chosen":
            scope = {**scope, "path": "/", "consentlib.language": "fr"}
        await app(scope, receive, send)

    client = AsgiClient(outer)
    assert _banner_language(client.open("/", headers={"Accept-Language": "ar"}).get_data().decode()) == ("ar", "rtl")
    assert _banner_language(client.open("/chosen", headers={"Accept-Language": "ar"}).get_data().decode()) == (
        "fr", "ltr")


class _Lazy:
    """What gettext_lazy gives: a text made when str() is called, in the active language."""

    active = "en"

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    def __str__(self) -> str:
        return self.texts[_Lazy.active]


TRANSLATED = Policy(revision=1, categories=[
    Category("necessary", required=True),
    Category("analytics", label={"en": "Statistics", "de": "Statistik", "ar": "إحصاءات"},
             description=_Lazy({"en": "Counts visits.", "de": "Zählt Besuche."})),
], cookies=[Cookie("_ga", "analytics", purpose={"en": "Counts visits", "de-AT": "Zählt Besuche (AT)",
                                                 "de": "Zählt Besuche"})])


@pytest.mark.parametrize("header, label, purpose, own_purpose", [
    pytest.param("de-DE", "Statistik", "Zählt Besuche", "Speichert Ihre Auswahl", id="de"),
    # One language per request: the page is in de, so are the site's texts (not its de-AT one).
    pytest.param("de-AT", "Statistik", "Zählt Besuche", "Speichert Ihre Auswahl", id="de-AT-follows-the-page"),
    pytest.param("ar", "إحصاءات", "Counts visits", "يسجّل اختيارك", id="ar-purpose-falls-back-to-english"),
    pytest.param("sv", "Statistics", "Counts visits", "Sparar ditt val", id="sv-site-texts-fall-back-to-english"),
    pytest.param("eo", "Statistics", "Counts visits", "Records your choice", id="unserved"),
])
def test_declaration_in_the_request_language(tmp_path, header, label, purpose, own_purpose):
    client = _wsgi(tmp_path, policy=TRANSLATED)
    answer = client.get("/_consent/declaration.json", headers={"Accept-Language": header})
    body = answer.get_json()
    assert answer.headers["Content-Language"] == body["language"]
    assert "Accept-Language" in answer.headers["Vary"]
    assert [c["label"] for c in body["categories"]] == ["Necessary", label]
    assert [c["purpose"] for c in body["cookies"] if c["name"] == "_ga"] == [purpose]
    assert body["cookies"][0]["purpose"].startswith(own_purpose)


def _tag_texts(html: str) -> dict[str, str]:
    found = re.search(r"data-consent-texts='([^']*)'", html)
    assert found, html
    return json.loads(unescape(found.group(1)))


def _catalogue_texts(tag: str, prefix: str) -> dict[str, str]:
    texts = json.loads((locale.COMPILED / f"{tag}.json").read_text("utf-8"))["texts"]
    return {key[len(prefix):]: text for key, text in texts.items() if key.startswith(prefix)}


def _layer_texts(tag: str) -> dict[str, str]:
    """declaration.json's "texts": the second layer's, and the sentence that asks a separate
    category apart (the catalogue's separate_consent, its {label} for the banner to fill)."""
    return {**_catalogue_texts(tag, "banner2_"), "separate": _catalogue_texts(tag, "separate_")["consent"]}


@pytest.mark.parametrize("language, header", [
    pytest.param("de", "de-DE", id="de"),
    pytest.param("ar", "ar", id="ar-rtl"),
    pytest.param("zh-Hans", "zh-CN", id="zh-Hans"),
])
def test_banner_tag_carries_the_first_layer_and_the_declaration_the_second(tmp_path, language, header):
    # The first paint needs only the first layer's texts (tests/integration/test_banner_build.py
    # holds it to 4,096 B gzip); the second layer asks declaration.json in the tag's language.
    client = _wsgi(tmp_path)
    html = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    # All but a minor's notice, which the consent state carries to a minor (minor_notice).
    first = _catalogue_texts(language, "banner_")
    assert _tag_texts(html) == {key: text for key, text in first.items() if key != "minor"}
    body = client.get(f"/_consent/declaration.json?lang={_banner_language(html)[0]}").get_json()
    assert body["language"] == language
    assert body["texts"] == _layer_texts(language)
    assert "{label}" in body["texts"]["separate"]
    assert body["texts"]["cats"] != _catalogue_texts("en", "banner2_")["cats"]


@pytest.mark.parametrize("query, header, language", [
    # The banner's tag named the language (the site's choice or Accept-Language, chosen when
    # the page was made): the declaration answers in it, whatever this request's header says.
    pytest.param("lang=de", "ar", "de", id="lang-over-header"),
    pytest.param("lang=zh-Hant", "", "zh-Hant", id="script-subtag"),
    pytest.param("lang=pt-BR", "pt-PT", "pt-BR", id="region-subtag"),
    # Anything that is not a catalogue's tag is ignored: the usual rule applies.
    pytest.param("lang=eo", "de-DE", "de", id="no-catalogue"),
    pytest.param("lang=de-AT", "fr", "fr", id="not-a-catalogue-tag"),
    pytest.param("lang=", "fr", "fr", id="empty"),
    pytest.param("lang=%3Cscript%3E", "", "en", id="markup"),
    pytest.param("lang=" + "a" * 5000, "", "en", id="huge"),
    pytest.param("lang=de&lang=fr", "", "de", id="repeated-first-wins"),
])
def test_declaration_lang_names_its_language(tmp_path, query, header, language):
    client = _wsgi(tmp_path, policy=TRANSLATED)
    answer = client.get(f"/_consent/declaration.json?{query}", headers={"Accept-Language": header} if header else {})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["language"] == answer.headers["Content-Language"] == language
    assert body["texts"] == _layer_texts(language)
    # A ?lang= that names a catalogue is its own cache entry and depends on no header; any
    # other answer is chosen by Accept-Language, and says so.
    named = query.split("&")[0].removeprefix("lang=") == language
    assert ("Accept-Language" in answer.headers.get("Vary", "")) is not named
    assert answer.headers["Cache-Control"] == "public, max-age=3600"


def test_declaration_lang_names_a_site_catalogue(tmp_path):
    directory = _site_locale(tmp_path, "eo", {"banner2_cats": "Kategorioj"})
    client = _wsgi(tmp_path, locale_dirs=[directory])
    body = client.get("/_consent/declaration.json?lang=eo").get_json()
    assert body["language"] == "eo"
    assert body["texts"]["cats"] == "Kategorioj"
    assert body["texts"]["none"] == "No cookies."  # not translated yet: the English stands in


def test_lazy_texts_are_read_per_request(tmp_path):
    client = _wsgi(tmp_path, policy=TRANSLATED)
    _Lazy.active = "de"
    try:
        page = client.get("/_consent/preferences", headers={"Accept-Language": "de"}).get_data(as_text=True)
        assert "Zählt Besuche." in page and "Statistik" in page
        state = client.get("/_consent/", headers={"Accept-Language": "de", "Accept": "application/json"})
        assert state.get_json()["categories"][1] == {"name": "analytics", "label": "Statistik",
                                                     "description": "Zählt Besuche.", "required": False,
                                                     "gpc": False, "sale_or_share": False, "separate": False}
        assert "Accept-Language" in state.headers["Vary"]
    finally:
        _Lazy.active = "en"
    assert "Counts visits." in client.get("/_consent/preferences").get_data(as_text=True)


@pytest.mark.parametrize("value, message", [
    pytest.param({"en": 3}, "must map language tags to texts", id="not-text"),
    pytest.param({}, "must map language tags to texts", id="empty-mapping"),
    pytest.param(3, "must be a text, a mapping", id="number"),
])
def test_translated_texts_refused(value, message):
    with pytest.raises(ConfigurationError, match=message):
        Category("analytics", label=value)


def test_a_policy_with_translations_stays_hashable():
    assert hash(TRANSLATED.categories[1]) == hash(Category(
        "analytics", label={"ar": "إحصاءات", "de": "Statistik", "en": "Statistics"},
        description=TRANSLATED.categories[1].description))


@pytest.mark.parametrize("header, language", [
    pytest.param("de-DE", "de", id="de"), pytest.param("ar", "ar", id="ar"), pytest.param(None, "en", id="default"),
])
def test_receipt_records_what_was_shown(tmp_path, header, language):
    import hashlib
    import json

    middleware = ConsentMiddleware(lambda e, s: [], TRANSLATED, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
    client = Client(middleware)
    headers = {"Origin": "http://localhost", **({"Accept-Language": header} if header else {})}
    answer = client.post("/_consent/", json={"categories": ["analytics"], "method": "banner"}, headers=headers)
    assert answer.status_code == 200
    [receipt] = middleware.store.receipts()
    assert receipt["shown"]["language"] == language
    # A third party recomputes the hash from the published texts, as docs/languages.md says.
    messages = json.loads((locale.COMPILED / f"{language}.json").read_text("utf-8"))["texts"]
    label = {"en": "Statistics", "de": "Statistik", "ar": "إحصاءات"}[language]
    purpose = {"de": "Zählt Besuche"}.get(language, "Counts visits")
    canonical = {"language": language, "messages": messages, "policy": {
        "categories": [{"name": "necessary", "label": "Necessary", "description": ""},
                       {"name": "analytics", "label": label, "description": "Counts visits."}],
        "cookies": [{"name": "_ga", "purpose": purpose}]}}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert receipt["shown"]["texts_sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hash_changes_with_a_single_text(tmp_path):
    from consentlib.records.receipts import shown

    english = locale.shipped_english()
    assert shown("en", english, TRANSLATED) != shown("en", {**english, "reject_all": "Reject"}, TRANSLATED)
    assert shown("en", english, TRANSLATED) != shown("de", english, TRANSLATED)


def test_flask_locale_selector_chooses_for_banner_and_pages(tmp_path):
    from flask import request

    app = Flask("lang_selector_test")

    @app.route("/page")
    def page():
        return render_template_string("{{ consent_banner() }}")

    # As Flask-Babel's selector would: the user's setting, here a query parameter.
    FlaskConsent(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                 locale_selector=lambda: request.args.get("lang"))
    client = Client(app)
    html = client.get("/page?lang=fr", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert _banner_language(html) == ("fr", "ltr")
    assert _page_language(client.get("/_consent/preferences?lang=ar", headers={"Accept-Language": "de"})) == "ar"
    # None: no choice of the site's, so Accept-Language.
    assert _page_language(client.get("/_consent/preferences", headers={"Accept-Language": "de"})) == "de"


@pytest.mark.parametrize("language", sorted(locale.po.sources(locale.HERE)))
def test_every_shipped_language_answers_the_preferences_page_in_that_language(tmp_path, language):
    """Informed consent (GDPR Art 4(11), 7(2)): each shipped catalogue really serves the
    page a visitor reads, not only the banner: its own words, its lang and dir."""
    from consentlib.web.templates import Templates

    texts = Templates().page(language).catalogue.texts
    response = _wsgi(tmp_path).get("/_consent/preferences", headers={"Accept-Language": language})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and _page_language(response) == language
    assert re.search(rf'<html[^>]* lang="{re.escape(language)}"', page), page[:300]
    assert ('dir="rtl"' in page) == (language in ("ar", "he"))
    for key in ("status_undecided", "cookies_heading", "privacy_notice"):
        assert _escaped(texts[key]) in page, f"{language}: {key} is not the catalogue's"


def _escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)
