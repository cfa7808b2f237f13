"""Click-to-load embeds: ``consent_embed`` renders a frame or its placeholder, and the
placeholder's one click (``action=grant``) records consent to that one category."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from consentlib import Category, Policy, Region
from consentlib.consent import Consent
from consentlib.records.report import build_report
from consentlib.web.embeds import embed_html
from consentlib.web.templates import default_templates

from tests.support.apps import KINDS, LINT_STRICT, POLICY, build_site

pytestmark = LINT_STRICT

VIDEO = "https://www.youtube-nocookie.com/embed/abc?rel=0&start=5"
UNDECIDED = Consent(False, frozenset({"necessary"}))
MARKETING = Consent(True, frozenset({"necessary", "marketing"}), frozenset({"necessary", "marketing"}))


def render(consent=UNDECIDED, category="marketing", *, policy=POLICY, language="en", path="/watch?v=1", **kw):
    kw.setdefault("src", VIDEO)
    kw.setdefault("title", "Product tour")
    kw.setdefault("provider", "YouTube")
    page = default_templates().page(language)
    return str(embed_html(consent, policy, page, category, prefix="/_consent/", path=path, **kw))


class _Elements(HTMLParser):
    """Each start tag's name and attributes, as a browser's parser reads them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.found if name == tag]


def hidden(html: str) -> dict[str, str | None]:
    return {a["name"]: a["value"] for a in _Elements(html).all("input") if a.get("type") == "hidden"}


# -- rendering ---------------------------------------------------------------------------


def test_without_consent_a_placeholder_posts_grant_and_comes_back_to_the_embed():
    html = render()
    parsed = _Elements(html)
    assert parsed.all("iframe") == [] and VIDEO not in html  # nothing of the provider's on the page
    (form,) = parsed.all("form")
    assert form["method"] == "post" and form["action"] == "/_consent/" and form["class"] == "consent-embed"
    assert form["aria-label"] == "Product tour" and form["lang"] == "en"
    assert hidden(html) == {"action": "grant", "category": "marketing", "next": f"/watch?v=1#{form['id']}"}
    text = " ".join(parsed.text)
    assert "This content is from YouTube." in text and "the category Marketing" in text
    assert "Load content from YouTube" in text
    assert [b.get("type") for b in parsed.all("button")] == ["submit"]
    assert "style=" not in html  # an enforced CSP refuses inline styles


def test_with_consent_the_frame_itself_with_its_attributes():
    html = render(MARKETING, width="560", height="315", allow="fullscreen; picture-in-picture",
                  referrerpolicy="strict-origin-when-cross-origin")
    (frame,) = _Elements(html).all("iframe")
    assert frame == {"id": frame["id"], "src": VIDEO, "title": "Product tour", "loading": "lazy", "width": "560",
                     "height": "315", "allow": "fullscreen; picture-in-picture",
                     "referrerpolicy": "strict-origin-when-cross-origin"}
    assert "<form" not in html
    # The frame keeps the placeholder's id: the click's #anchor lands on it after the reload.
    assert frame["id"] == _Elements(render()).all("form")[0]["id"]


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("src", 'https://x.example/"><script>alert(1)</script>', id="src"),
    pytest.param("title", '"><script>alert(1)</script>', id="title"),
    pytest.param("provider", "<script>alert(1)</script>", id="provider"),
    pytest.param("width", '1" onload="alert(1)', id="attribute"),
])
@pytest.mark.parametrize("consent", [pytest.param(UNDECIDED, id="placeholder"), pytest.param(MARKETING, id="frame")])
def test_every_value_is_escaped(consent, field, value):
    html = render(consent, **{field: value})
    assert "<script>" not in html and 'onload="' not in html
    parsed = _Elements(html)
    if field == "provider" and consent is UNDECIDED:
        assert value in " ".join(parsed.text)  # shown as text, not run
    elif field == "width" and consent is MARKETING:
        assert parsed.all("iframe")[0]["width"] == value  # one attribute, whole


def test_the_category_label_is_escaped_and_in_the_requests_language():
    policy = Policy(revision=1, categories=[Category("necessary", required=True),
                                            Category("marketing", label={"en": "Ads & <video>", "de": "Werbung"})])
    english = render(policy=policy)
    assert "the category Ads &amp; &lt;video&gt;," in english
    german = render(policy=policy, language="de")
    assert "Einwilligung in die Kategorie Werbung" in german and "Inhalt von YouTube laden" in german
    assert _Elements(german).all("form")[0]["lang"] == "de"
    arabic = _Elements(render(policy=policy, language="ar")).all("form")[0]
    assert arabic["lang"] == "ar" and arabic["dir"] == "rtl"


def test_next_drops_the_pages_own_fragment_and_an_id_names_the_anchor():
    assert hidden(render(path="/a?b=1#top", id="tour"))["next"] == "/a?b=1#tour"
    assert _Elements(render(MARKETING, id="tour")).all("iframe")[0]["id"] == "tour"


@pytest.mark.parametrize(("consent", "note"), [
    pytest.param(Consent(False, frozenset({"necessary"}), gpc=True), "(off: Global Privacy Control)", id="gpc"),
    pytest.param(Consent(False, frozenset({"necessary"}), minor=True),
                 "You are below the age of digital consent: ask a parent or guardian.", id="minor"),
])
def test_no_button_when_a_click_could_not_allow_it_and_the_placeholder_says_why(consent, note):
    html = render(consent)
    assert "<button" not in html and "grant" not in html
    assert note in " ".join(_Elements(html).text)


def test_gpc_leaves_the_button_for_a_category_the_signal_does_not_cover():
    assert "<button" in render(Consent(False, frozenset({"necessary"}), gpc=True), "analytics")


@pytest.mark.parametrize(("kw", "named"), [
    pytest.param({"title": ""}, "title", id="empty-title"),
    pytest.param({"title": "  "}, "title", id="blank-title"),
    pytest.param({"provider": ""}, "provider", id="empty-provider"),
    pytest.param({"src": "javascript:alert(1)"}, "src", id="javascript-src"),
    pytest.param({"src": "//evil.example/x"}, "src", id="protocol-relative-src"),
    pytest.param({"srcdoc": "<p>x"}, "srcdoc", id="srcdoc"),
    pytest.param({"onload x": "1"}, "onload x", id="bad-attribute-name"),
    pytest.param({"category": "ads"}, "'ads'", id="unknown-category"),
])
def test_template_mistakes_are_named(kw, named):
    with pytest.raises(ValueError) as caught:
        render(**kw)
    assert named in str(caught.value) and str(caught.value).endswith(".")


# -- the grant action, through every door -------------------------------------------------------


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def granted_after(site, response) -> list[str]:
    value = response.consent_cookie()
    return site.get("/_consent/", headers={"Cookie": f"consent={value}"}).json["granted"]


@pytest.mark.parametrize(("recorded", "granted"), [
    pytest.param(None, ["marketing", "necessary"], id="undecided"),
    pytest.param({"analytics"}, ["analytics", "marketing", "necessary"], id="adds-to-the-recorded-choice"),
    pytest.param(set(), ["marketing", "necessary"], id="after-reject-all"),
])
def test_grant_adds_the_category_to_what_the_visitor_recorded(site, recorded, granted):
    headers = {} if recorded is None else {"Cookie": site.cookie_header(recorded | {"necessary"})}
    r = site.post(data={"action": "grant", "category": "marketing", "next": "/watch?v=1#consent-embed-1"},
                  headers=headers)
    assert r.status_code == 303 and r.headers["Location"] == "http://localhost/watch?v=1#consent-embed-1"
    assert granted_after(site, r) == granted
    (receipt,) = site.store.receipts()
    assert receipt["method"] == "embed" and receipt["granted"] == granted
    assert receipt["categories"]["marketing"] == "given"
    assert site.calls == []


def test_grant_never_brings_back_a_category_the_visitor_withdrew(site):
    # The cached page's form names only its own category: what else was allowed comes from
    # the consent cookie, and the visitor withdrew everything since.
    withdrawn = site.cookie_header({"necessary"})
    r = site.post(data={"action": "grant", "category": "marketing"}, headers={"Cookie": withdrawn})
    assert granted_after(site, r) == ["marketing", "necessary"]


def test_grant_under_gpc_stays_off_and_goes_back_to_the_placeholder(site):
    r = site.post(data={"action": "grant", "category": "marketing", "next": "/v#e"}, headers={"Sec-GPC": "1"})
    assert r.status_code == 303 and r.headers["Location"] == "http://localhost/v#e"
    (receipt,) = site.store.receipts()
    assert receipt["categories"]["marketing"] == "refused" and receipt["signals"]["gpc"] is True


@pytest.mark.parametrize(("form", "named"), [
    pytest.param({"action": "grant"}, "category", id="no-category"),
    pytest.param({"action": "grant", "category": ""}, "''", id="empty-category"),
    pytest.param({"action": "grant", "category": "ads"}, "'ads'", id="unknown-category"),
])
def test_bad_grant_is_400_with_a_sentence_and_records_nothing(site, form, named):
    r = site.post(data=form)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert named in r.json["error"] and r.json["error"].endswith(".")
    assert r.consent_cookie() is None and site.store.receipts() == []


def test_cross_origin_grant_is_refused(site):
    r = site.post(data={"action": "grant", "category": "marketing"},
                  headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and r.consent_cookie() is None and site.store.receipts() == []


def test_a_minor_cannot_widen_by_a_grant(tmp_path):
    site = build_site("wsgi", tmp_path, is_minor=lambda environ: True)
    r = site.post(data={"action": "grant", "category": "marketing"})
    assert r.status_code == 403 and r.json["minor"] is True
    assert site.store.receipts() == []


SEPARATE = Policy(revision=3, categories=[Category("necessary", required=True), Category("analytics"),
                                          Category("transfer", separate=True)])


@pytest.mark.parametrize(("named", "granted"), [
    pytest.param(["transfer"], ["necessary", "transfer"], id="named-alone-is-its-own-act"),
    pytest.param(["analytics", "transfer"], ["analytics", "necessary"], id="named-with-another-is-not"),
])
def test_a_separate_category_only_by_a_placeholder_naming_it_alone(tmp_path, named, granted):
    site = build_site("wsgi", tmp_path, policy=SEPARATE)
    r = site.post(data={"action": "grant", "category": named})
    assert site.get("/_consent/", headers={"Cookie": f"consent={r.consent_cookie()}"}).json["granted"] == granted


def test_where_the_law_grants_before_a_choice_a_grant_opts_out_of_nothing(tmp_path):
    policy = Policy(revision=3, categories=SEPARATE.categories, regions=[Region("US", "opt-out", ["US"])])
    site = build_site("wsgi", tmp_path, policy=policy, region_header="CF-IPCountry")
    us = {"CF-IPCountry": "US"}
    assert site.get("/_consent/", headers=us).json["granted"] == ["analytics", "necessary"]  # before a choice
    r = site.post(data={"action": "grant", "category": "transfer"}, headers=us)
    after = site.get("/_consent/", headers={**us, "Cookie": f"consent={r.consent_cookie()}"}).json["granted"]
    assert after == ["analytics", "necessary", "transfer"]


def test_the_receipts_page_says_how_and_the_report_counts_it(tmp_path):
    site = build_site("wsgi", tmp_path)
    cookies = site.post(data={"action": "grant", "category": "marketing"}).consent_cookies()
    page = site.get("/_consent/receipts", headers={"Cookie": cookies, "Accept": "text/html"}).text
    assert "a button to load embedded content" in page
    for _ in range(10):
        site.post(data={"action": "grant", "category": "marketing"})
    site.post(data={"action": "reject_all"})  # someone refuses marketing: it is optional
    report = build_report(site.store)
    # Counted by what it grants, like every receipt: marketing alone is "customised".
    assert {row["action"]: row["visitors"] for row in report["actions"]} == {
        "accept_all": "<10", "reject_all": "<10", "customised": 11}


# -- the doors' helpers ----------------------------------------------------------------------


def test_flask_global_renders_in_the_requests_language(tmp_path):
    from flask import Flask, render_template_string

    from consentlib.flask import FlaskConsent

    app = Flask("embeds")
    FlaskConsent(app, POLICY, secret_key=["flask-embed-key-0123456789"], store=f"sqlite:///{tmp_path}/c.db")
    source = '{{ consent_embed("marketing", src=src, title="Tour", provider="YouTube", width="560") }}'
    app.add_url_rule("/v", "v", lambda: render_template_string(source, src=VIDEO))
    client = app.test_client()
    placeholder = client.get("/v?x=1", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Charger le contenu de YouTube" in placeholder
    assert hidden(placeholder)["next"].startswith("/v?x=1#consent-embed-")
    client.post("/_consent/", data={"action": "grant", "category": "marketing"})
    frame = _Elements(client.get("/v").get_data(as_text=True)).all("iframe")
    assert [(f["src"], f["width"]) for f in frame] == [(VIDEO, "560")]


def test_django_tag_renders_placeholder_and_frame():
    from django.template import engines
    from django.test import RequestFactory, override_settings

    from consentlib.wsgi.middleware import ENVIRON_KEY
    from tests.support.django_site import configure

    configure()
    source = ('{% load consentlib %}{% consent_embed "marketing" src=src title="Tour" provider="YouTube" '
              'width="560" %}')
    with override_settings(CONSENTLIB={"POLICY": POLICY, "PREFIX": "/consent/"}):
        for consent, expected in ((UNDECIDED, "form"), (MARKETING, "iframe")):
            request = RequestFactory().get("/page?q=1", HTTP_ACCEPT_LANGUAGE="es")
            request.META[ENVIRON_KEY] = consent
            html = engines["django"].from_string(source).render({"request": request, "src": VIDEO}, request)
            assert [tag for tag, _ in _Elements(html).found][0] == expected
        assert "Cargar el contenido de YouTube" in engines["django"].from_string(source).render(
            {"request": _with(RequestFactory().get("/p", HTTP_ACCEPT_LANGUAGE="es"), UNDECIDED), "src": VIDEO})


def _with(request, consent):
    from consentlib.wsgi.middleware import ENVIRON_KEY

    request.META[ENVIRON_KEY] = consent
    return request


def test_asgi_helper_renders_placeholder_then_frame(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from consentlib.asgi import ConsentMiddleware, consent_embed
    from tests.support.asgikit import AsgiClient

    async def page(request):
        return HTMLResponse(str(consent_embed(request, "marketing", src=VIDEO, title="Tour", provider="YouTube")))

    app = Starlette(routes=[Route("/v", page)])
    app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=["asgi-embed-key-0123456789"],
                       store=f"sqlite:///{tmp_path}/c.db")
    client = AsgiClient(app)
    placeholder = client.open("/v?x=1", headers={"Accept-Language": "ja"}).get_data().decode()
    assert "YouTubeのコンテンツを読み込む" in placeholder
    assert re.fullmatch(r"/v\?x=1#consent-embed-[0-9a-f]{10}", hidden(placeholder)["next"])
    r = client.open("/_consent/", method="POST", data={"action": "grant", "category": "marketing"})
    cookie = "; ".join(line.split(";", 1)[0] for line in r.headers.getlist("Set-Cookie"))
    frame = client.open("/v", headers={"Cookie": cookie}).get_data().decode()
    assert _Elements(frame).all("iframe")[0]["src"] == VIDEO
