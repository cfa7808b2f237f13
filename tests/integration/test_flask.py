"""The Flask extension: FlaskConsent / init_app, consent.allows, consent_script, consent_banner."""
from __future__ import annotations

import dataclasses

import re

import pytest
from flask import Flask, g, render_template_string
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client

from consentlib import ConfigurationError, ConsentMiddleware
from consentlib.flask import FlaskConsent

from tests.support.apps import ALL, KEYS, LINT_STRICT, POLICY, consent_value, fetch

pytestmark = LINT_STRICT

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

PAGE = """{% if consent.allows('analytics') %}analytics:on{% else %}analytics:off{% endif %}
{{ consent_script('analytics', src='/static/a.js?x=1&y="2"') }}
{{ consent_script('marketing', src='/static/ads.js', async='async') }}
{{ consent_banner() }}"""


def _app(tmp_path, *, init_app=False, nonce=True, policy=POLICY, **options):
    app = Flask("flask_ext_test")
    options.setdefault("secret_key", KEYS)
    options.setdefault("store", f"sqlite:///{tmp_path}/consent.db")

    @app.before_request
    def set_nonce():
        if nonce:
            g.csp_nonce = "n0nc3"

    @app.route("/view")
    def view():
        from flask import current_app

        ext = current_app.extensions["consentlib_test_ext"]
        return f"analytics={ext.allows('analytics')} marketing={ext.allows('marketing')}"

    @app.route("/page")
    def page():
        return render_template_string(PAGE)

    if init_app:
        ext = FlaskConsent(policy=policy, **options)
        ext.init_app(app)
    else:
        ext = FlaskConsent(app, policy, **options)
    app.extensions["consentlib_test_ext"] = ext
    return app, ext


def _client(app):
    return Client(LintMiddleware(app), use_cookies=False)


@pytest.fixture(params=["constructor", "init_app"])
def flask_app(request, tmp_path):
    return _app(tmp_path, init_app=request.param == "init_app")


def test_flask_extension_wraps_wsgi_app_and_keeps_no_app(flask_app):
    app, ext = flask_app
    assert isinstance(app.extensions["consentlib"], ConsentMiddleware)
    assert app.wsgi_app is app.extensions["consentlib"]
    assert not any(isinstance(v, Flask) for v in vars(ext).values())


def test_flask_init_app_serves_several_apps(tmp_path):
    ext = FlaskConsent(policy=POLICY, secret_key=KEYS)
    one, two = Flask("one"), Flask("two")
    ext.init_app(one, store=f"sqlite:///{tmp_path}/one.db")
    ext.init_app(two, store=f"sqlite:///{tmp_path}/two.db")
    assert one.extensions["consentlib"] is not two.extensions["consentlib"]
    assert one.extensions["consentlib"].store.path.endswith("one.db")


def test_flask_config_keys_and_store(tmp_path):
    from consentlib.consent import ConsentCookie

    app = Flask("configured")
    app.config["SECRET_KEY"] = "flask-secret-key-0123456789"
    app.config["CONSENTLIB_STORE"] = f"sqlite:///{tmp_path}/cfg.db"
    FlaskConsent(app, POLICY)
    middleware = app.extensions["consentlib"]
    assert middleware.store.path.endswith("cfg.db")
    assert ConsentCookie(["flask-secret-key-0123456789"]).verify(consent_value(middleware)) is not None

    rotated = Flask("rotated")
    rotated.config["SECRET_KEY"] = "flask-secret-key-0123456789"
    rotated.config["CONSENTLIB_SECRET_KEYS"] = ["consent-key-new-0123456789", "consent-key-old-0123456789"]
    FlaskConsent(rotated, POLICY, store=f"sqlite:///{tmp_path}/r.db")
    value = consent_value(rotated.extensions["consentlib"])
    assert ConsentCookie(["consent-key-new-0123456789"]).verify(value) is not None
    assert ConsentCookie(["flask-secret-key-0123456789"]).verify(value) is None


def test_flask_without_secret_key_is_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="secret_key"):
        FlaskConsent(Flask("nokey"), POLICY, store=f"sqlite:///{tmp_path}/c.db")


def test_flask_without_policy_says_so():
    with pytest.raises(TypeError, match="Policy"):
        FlaskConsent(Flask("nopolicy"))


@pytest.mark.parametrize(
    ("grant", "gpc", "expected"),
    [
        pytest.param(None, False, "analytics=False marketing=False", id="undecided"),
        pytest.param({"analytics"}, False, "analytics=True marketing=False", id="analytics"),
        pytest.param(ALL, False, "analytics=True marketing=True", id="all"),
        pytest.param(ALL, True, "analytics=True marketing=False", id="all-with-gpc"),
    ],
)
def test_flask_consent_allows_in_view(flask_app, grant, gpc, expected):
    app, _ = flask_app
    headers = {"Cookie": f"consent={consent_value(app.extensions['consentlib'], grant)}"} if grant else {}
    if gpc:
        headers["Sec-GPC"] = "1"
    assert fetch(_client(app), "GET", "/view", headers=headers).text == expected


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>", html)


def test_flask_template_undecided_scripts_are_inert(flask_app):
    app, _ = flask_app
    html = fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text
    assert "analytics:off" in html
    analytics, marketing, banner = _scripts(html)
    assert 'type="text/plain"' in analytics and 'data-consent="analytics"' in analytics
    assert " src=" not in analytics
    assert 'data-consent-src="/static/a.js?x=1&amp;y=&quot;2&quot;"' in analytics
    assert 'type="text/plain"' in marketing and 'async="async"' in marketing
    assert 'nonce="n0nc3"' in analytics
    assert 'type="text/plain"' not in banner


def test_flask_consent_script_runs_only_when_allowed(flask_app):
    app, _ = flask_app
    value = consent_value(app.extensions["consentlib"], {"analytics"})
    html = fetch(_client(app), "GET", "/page", headers={"Cookie": f"consent={value}", "User-Agent": FIREFOX}).text
    assert "analytics:on" in html
    analytics, marketing, _ = _scripts(html)
    assert analytics == '<script src="/static/a.js?x=1&amp;y=&quot;2&quot;" nonce="n0nc3">'
    assert 'type="text/plain"' in marketing


def test_flask_consent_banner_with_csp_nonce(flask_app):
    app, _ = flask_app
    html = fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text
    link = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert link and link.group(1).startswith("/_consent/banner") and link.group(1).endswith(".css")
    banner = _scripts(html)[-1]
    assert re.search(r'src="/_consent/banner[^"]*\.js"', banner)
    assert 'nonce="n0nc3"' in banner
    assert 'data-consent-endpoint="/_consent/"' in banner and 'data-consent-revision="3"' in banner


def test_flask_consent_banner_links_the_policys_privacy_notice(tmp_path):
    """EDPB cookie-banner taskforce 2023: the privacy notice one click from the first layer."""
    app, _ = _app(tmp_path, policy=dataclasses.replace(POLICY, notice_url='/legal/privacy?v=2&lang="en"'))
    banner = _scripts(fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text)[-1]
    assert 'data-consent-notice="/legal/privacy?v=2&amp;lang=&quot;en&quot;"' in banner


def test_flask_consent_banner_carries_the_policys_storage_keys(tmp_path):
    from consentlib import Storage

    app, _ = _app(tmp_path, policy=dataclasses.replace(POLICY, storage=[Storage("_hj*", "analytics")]))
    banner = _scripts(fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text)[-1]
    assert """data-consent-storage='[["localStorage","analytics","^(?:_hj[\\\\s\\\\S]*)$"]""" in banner
    plain, _ = _app(tmp_path / "plain")
    assert "data-consent-storage" not in fetch(_client(plain), "GET", "/page", headers={"User-Agent": FIREFOX}).text


def test_flask_consent_banner_without_nonce(tmp_path):
    app, _ = _app(tmp_path, nonce=False)
    html = fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text
    assert "nonce" not in html


def test_flask_consent_banner_nothing_for_crawler(flask_app):
    app, _ = flask_app
    html = fetch(_client(app), "GET", "/page", headers={"User-Agent": GOOGLEBOT}).text
    assert "/_consent/banner" not in html
    assert len(_scripts(html)) == 2  # only the inert category scripts


def test_flask_banner_assets_are_served(flask_app):
    app, _ = flask_app
    html = fetch(_client(app), "GET", "/page", headers={"User-Agent": FIREFOX}).text
    for url in re.findall(r'(?:href|src)="(/_consent/banner[^"]+)"', html):
        r = fetch(_client(app), "GET", url)
        assert r.status_code == 200 and r.data
        assert "immutable" in r.headers["Cache-Control"]


def _configured(tmp_path, name="configured", **config):
    app = Flask(name, instance_path=str(tmp_path / "instance"))
    app.config.update(config)
    return app


def test_flask_every_option_from_app_config(tmp_path):
    app = _configured(
        tmp_path,
        CONSENTLIB_POLICY="tests.support.apps:POLICY",
        CONSENTLIB_SECRET_KEYS=KEYS,
        CONSENTLIB_STORE=f"sqlite:///{tmp_path}/cfg.db",
        CONSENTLIB_PREFIX="/privacy-choices/",
        CONSENTLIB_LIFETIME=3600,
        CONSENTLIB_SECURE=True,
        CONSENTLIB_TRUSTED_ORIGINS=["https://www.example.com"],
        CONSENTLIB_HONOUR_DNT=True,
        CONSENTLIB_GPC_LAST_UPDATE="2026-11-01",
        CONSENTLIB_MAX_BODY=2048,
        CONSENTLIB_ETAG_BODY_LIMIT=4096,
        CONSENTLIB_SITE_URL="https://example.com",
        CONSENTLIB_CONSENT_MODE={"analytics": ["analytics_storage"]},
    )
    FlaskConsent(app)
    middleware = app.extensions["consentlib"]
    assert middleware.policy is POLICY
    assert middleware.store.path.endswith("cfg.db")
    assert (middleware.prefix, middleware.cookie.lifetime, middleware.core.secure) == ("/privacy-choices/", 3600, True)
    assert middleware.core.trusted_origins == {"https://www.example.com"}
    assert (middleware.core.honour_dnt, middleware.core.gpc_last_update, middleware.core.max_body) == (True, "2026-11-01", 2048)
    assert middleware.core.site_url == "https://example.com"
    client = _client(app)
    assert client.get("/privacy-choices/", headers={"DNT": "1"}).json["dnt"] is True


def test_flask_keyword_arguments_win_over_app_config(tmp_path):
    app = _configured(tmp_path, CONSENTLIB_SECRET_KEYS=KEYS, CONSENTLIB_PREFIX="/from-config/",
                      CONSENTLIB_STORE=f"sqlite:///{tmp_path}/config.db")
    FlaskConsent(app, POLICY, prefix="/from-keyword/", store=f"sqlite:///{tmp_path}/keyword.db")
    middleware = app.extensions["consentlib"]
    assert middleware.prefix == "/from-keyword/" and middleware.store.path.endswith("keyword.db")


def test_flask_init_app_keyword_wins_over_constructor_keyword_which_wins_over_config(tmp_path):
    ext = FlaskConsent(policy=POLICY, prefix="/from-constructor/")
    first = _configured(tmp_path / "first", "first", CONSENTLIB_SECRET_KEYS=KEYS, CONSENTLIB_PREFIX="/from-config/")
    second = _configured(tmp_path / "second", "second", CONSENTLIB_SECRET_KEYS=KEYS, CONSENTLIB_PREFIX="/from-config/",
                         CONSENTLIB_LIFETIME=3600)
    ext.init_app(first, prefix="/from-init-app/")
    ext.init_app(second)
    assert first.extensions["consentlib"].prefix == "/from-init-app/"
    assert second.extensions["consentlib"].prefix == "/from-constructor/"
    assert second.extensions["consentlib"].cookie.lifetime == 3600  # given nowhere else: the config's


@pytest.mark.parametrize(
    ("config", "named"),
    [
        pytest.param({"SECRET_KEY": "dev"}, "app.config['SECRET_KEY']", id="flaskr-dev-key"),
        pytest.param({"SECRET_KEY": "x" * 40, "CONSENTLIB_SECRET_KEYS": ["short"]},
                     "app.config['CONSENTLIB_SECRET_KEYS']", id="short-consent-key"),
        pytest.param({}, "CONSENTLIB_SECRET_KEYS", id="no-key-at-all"),
    ],
)
def test_flask_bad_key_error_says_where_the_key_came_from(tmp_path, config, named):
    app = _configured(tmp_path, **config)
    with pytest.raises(ConfigurationError) as caught:
        FlaskConsent(app, POLICY)
    assert named in str(caught.value)
    for secret in [config.get("SECRET_KEY"), *config.get("CONSENTLIB_SECRET_KEYS", [])]:
        if secret:
            assert repr(secret) not in str(caught.value)  # an error message must not leak a key into logs


def test_flask_bad_policy_string_in_config_says_what_to_change(tmp_path):
    app = _configured(tmp_path, CONSENTLIB_SECRET_KEYS=KEYS, CONSENTLIB_POLICY="tests.support.apps:NOT_THERE")
    with pytest.raises(ConfigurationError, match=r"CONSENTLIB_POLICY.*tests\.support\.apps:NOT_THERE"):
        FlaskConsent(app)


def test_flask_default_store_is_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = _configured(tmp_path, CONSENTLIB_SECRET_KEYS=KEYS)
    FlaskConsent(app, POLICY)
    store_path = app.extensions["consentlib"].store.path
    assert store_path == str(tmp_path / "instance" / "consent.db")
    assert not (tmp_path / "consent.db").exists()


def test_flask_init_app_twice_on_one_app_refuses_instead_of_gating_twice(tmp_path):
    app = _configured(tmp_path, CONSENTLIB_SECRET_KEYS=KEYS)
    ext = FlaskConsent(app, POLICY)
    wrapped = app.wsgi_app
    with pytest.raises(ConfigurationError, match="already set up"):
        ext.init_app(app)
    with pytest.raises(ConfigurationError, match="already set up"):
        FlaskConsent(app, POLICY)
    assert app.wsgi_app is wrapped


def test_flask_test_request_context_acts_as_an_undecided_visitor(tmp_path):
    # Flask-WTF's tests render forms inside app.test_request_context(), which never
    # passes through the middleware: nothing optional is allowed there, and nothing raises.
    app, ext = _app(tmp_path)
    with app.test_request_context("/"):
        assert ext.allows("analytics") is False
        assert ext.allows("necessary") is True
        assert ext.current.decided is False
        html = render_template_string(PAGE)
    assert "analytics:off" in html and 'type="text/plain"' in html and "banner." in html
@pytest.mark.parametrize(("options", "named"), [
    pytest.param({"consent_mode": {"analytics": "analytics_storage"}}, "consent_mode", id="types-a-string"),
    pytest.param({"consent_mode": [("analytics", ["analytics_storage"])]}, "consent_mode", id="not-a-mapping"),
    pytest.param({"consent_mode": {"analytic": ["analytics_storage"]}}, "analytic", id="unknown-category"),
    pytest.param({"csp_nonce": "abc123"}, "csp_nonce", id="nonce-a-string"),
    pytest.param({"trusted_origins": "https://www.example.com"}, "trusted_origins", id="origins-a-string"),
    pytest.param({"honour_dnt": "no"}, "honour_dnt", id="dnt-the-string-no"),
])
def test_flask_options_of_the_wrong_kind_refused(tmp_path, options, named):
    with pytest.raises(ConfigurationError, match=named):
        FlaskConsent(Flask("options"), POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db", **options)


def test_flask_consent_mode_from_app_config_checked_too(tmp_path):
    app = Flask("options_from_config")
    app.config["CONSENTLIB_CONSENT_MODE"] = {"analytics": "analytics_storage"}
    with pytest.raises(ConfigurationError, match="consent_mode"):
        FlaskConsent(app, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db")
