"""The request's language, chosen once by one rule, in every door: the site's own choice
(environ/scope "consentlib.language", Django's language), then Accept-Language, then the
policy's default_language; the banner tag and the pages agree; a site's locale_dirs add
or change languages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.test import Client

from consentlib import Category, ConfigurationError, ConsentMiddleware, Policy
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
    pytest.param("sv", "en", "ltr", id="unserved"),
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
    assert _page_language(client.get("/_consent/preferences", headers={"Accept-Language": "sv"})) == "de"
    assert _page_language(client.get("/_consent/preferences")) == "de"
    assert _page_language(client.get("/_consent/preferences", headers={"Accept-Language": "fr"})) == "fr"


def test_policy_default_language_must_have_a_catalogue(tmp_path):
    policy = Policy(revision=1, categories=[Category("necessary", required=True)], default_language="sv")
    with pytest.raises(ConfigurationError, match="default_language 'sv' has no catalogue.*locale_dirs"):
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
    directory = _site_locale(tmp_path, "sv", {"reject_all": "Avvisa alla", "banner_reject": "Avvisa alla"})
    client = _wsgi(tmp_path, locale_dirs=[directory])
    page = client.get("/_consent/preferences", headers={"Accept-Language": "sv-FI"})
    html = page.get_data(as_text=True)
    assert _page_language(page) == "sv" and "Avvisa alla" in html
    assert "Accept all" in html  # not translated yet: the English stands in
    banner = client.get("/", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert _banner_language(banner) == ("sv", "ltr") and "Avvisa alla" in banner


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
