"""Every list of options is the schema's: ``consentlib.options.OPTIONS``.

The WSGI and ASGI ``ConsentMiddleware`` signatures, ``FlaskConsent``'s keywords, Flask's
``CONSENTLIB_*`` keys, Django's ``CONSENTLIB`` keys and the table in docs/options.md are
each compared with the schema by a function of (schema, the thing checked) that lists
the differences in words (tests/support/options_schema.py); each function is shown to
find a doctored difference, so the comparison can fail. Then: a misspelt option is named with the nearest one, and a
policy given by its path is loaded the same way by Flask and Django.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask

from consentlib.asgi.middleware import ConsentMiddleware as AsgiConsentMiddleware
from consentlib.django.settings import KEYS as DJANGO_KEYS
from consentlib.errors import ConfigurationError
from consentlib.flask import CONFIG_KEYS, FlaskConsent
from consentlib.options import OPTIONS, REQUIRED, Option, checked
from consentlib.wsgi.middleware import ConsentMiddleware
from tests.support.apps import KEYS, POLICY, consent_value, fetch
from tests.support.options_schema import (
    docs_differences,
    docs_rows,
    documented_default,
    flask_parameters,
    key_differences,
    middleware_parameters,
    signature_differences,
)
from tests.support.prerequisites import needs_missing

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")

# -- the real things equal the schema -----------------------------------------------------------


@pytest.mark.parametrize(("door", "signature"), [
    pytest.param("wsgi", inspect.signature(ConsentMiddleware.__init__), id="wsgi"),
    pytest.param("asgi", inspect.signature(AsgiConsentMiddleware.__init__), id="asgi"),
])
def test_each_middleware_signature_is_the_schemas(door, signature):
    assert signature_differences(middleware_parameters(OPTIONS, door), signature) == []


@pytest.mark.parametrize("method", [
    pytest.param(FlaskConsent.__init__, id="FlaskConsent"),
    pytest.param(FlaskConsent.init_app, id="init_app"),
])
def test_flask_keywords_are_the_schemas(method):
    signature = inspect.signature(method)
    assert signature_differences(flask_parameters(OPTIONS), signature) == []
    # The catch-all for typos: mypy refuses any keyword given to it.
    *_, typos = signature.parameters.values()
    assert (typos.name, typos.kind, typos.annotation) == ("typos", typos.VAR_KEYWORD, "NoReturn")


@pytest.mark.parametrize(("door", "keys", "prefix"), [
    pytest.param("flask", CONFIG_KEYS, "CONSENTLIB_", id="flask-app.config"),
    pytest.param("django", DJANGO_KEYS, "", id="django-CONSENTLIB"),
])
def test_settings_keys_are_the_schemas(door, keys, prefix):
    assert key_differences(OPTIONS, keys, door=door, prefix=prefix) == []


def test_the_docs_table_is_the_schemas():
    assert docs_differences(OPTIONS, DOCS) == []


# -- each comparison can fail ---------------------------------------------------------------------

WSGI = inspect.signature(ConsentMiddleware.__init__)


def _doctored(signature: inspect.Signature, name: str, **change: object) -> inspect.Signature:
    """``signature`` without the parameter ``name``, or with it changed."""
    parameters = [p.replace(**change) if p.name == name else p
                  for p in signature.parameters.values() if change or p.name != name]
    return signature.replace(parameters=parameters)


@pytest.mark.parametrize(("signature", "schema", "found"), [
    pytest.param(_doctored(WSGI, "site_url"), OPTIONS, "site_url is in the schema but not in the signature",
                 id="option-missing-from-signature"),
    pytest.param(_doctored(WSGI, "max_body", default=8192), OPTIONS,
                 "max_body: the schema's default is 16384, the signature's 8192", id="default-differs"),
    pytest.param(_doctored(WSGI, "honour_dnt", default=0), OPTIONS,
                 "honour_dnt: the schema's default is False, the signature's 0", id="default-of-another-type"),
    pytest.param(_doctored(WSGI, "prefix", annotation="str | None"), OPTIONS,
                 "prefix: the schema's annotation is 'str', the signature's 'str | None'", id="annotation-differs"),
    pytest.param(_doctored(WSGI, "secret_key", kind=inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
                 OPTIONS, "secret_key: the schema's kind is 'KEYWORD_ONLY'", id="kind-differs"),
    pytest.param(WSGI, (*OPTIONS, Option("new_option", "int", 1, "A new option.", lambda name, value: value)),
                 "new_option is in the schema but not in the signature", id="new-option-only-in-schema"),
    pytest.param(WSGI, tuple(option for option in OPTIONS if option.name != "templates"),
                 "templates is in the signature but not in the schema", id="option-only-in-signature"),
    pytest.param(WSGI, tuple(reversed(OPTIONS)), "the order differs", id="order-differs"),
])
def test_a_signature_that_differs_from_the_schema_is_found(signature, schema, found):
    differences = signature_differences(middleware_parameters(schema, "wsgi"), signature)
    assert any(difference.startswith(found) for difference in differences), differences


def test_flask_keywords_that_differ_are_found():
    flask = inspect.signature(FlaskConsent.init_app)
    assert signature_differences(flask_parameters(OPTIONS), _doctored(flask, "csp_nonce")) == [
        "csp_nonce is in the schema but not in the signature"]
    assert signature_differences(flask_parameters(OPTIONS), _doctored(flask, "prefix", default="/_consent/")) == [
        "prefix: the schema's default is None, the signature's '/_consent/'"]


def test_settings_keys_that_differ_are_found():
    without = {key: name for key, name in CONFIG_KEYS.items() if key != "CONSENTLIB_SITE_URL"}
    assert key_differences(OPTIONS, without, door="flask", prefix="CONSENTLIB_") == [
        "CONSENTLIB_SITE_URL (for site_url) is missing"]
    misspelt = {**{key: name for key, name in DJANGO_KEYS.items() if key != "SECRET_KEYS"}, "SECRET_KEY": "secret_key"}
    assert key_differences(OPTIONS, misspelt, door="django") == [
        "SECRET_KEY is no key of the schema's", "SECRET_KEYS (for secret_key) is missing"]
    assert key_differences(OPTIONS, {**DJANGO_KEYS, "STORE": "prefix"}, door="django") == [
        "STORE gives prefix, not store"]


@pytest.mark.parametrize(("markdown", "found"), [
    pytest.param(re.sub(r"\n\| `site_url` \|[^\n]*", "", DOCS), ["site_url has no row"], id="row-missing"),
    pytest.param(DOCS.replace("| `16384` (16 KiB) |", "| `8192` (8 KiB) |"),
                 ["max_body: the docs give the default `8192` (8 KiB), the schema 16384"], id="default-differs"),
    pytest.param(DOCS.replace("| `secure` | `SECURE` | `None` |", "| `secure` | `SECURE` | `False` |"),
                 ["secure: the docs give the default `False`, the schema None"], id="none-became-false"),
    pytest.param(DOCS.replace("| `PREFIX` |", "| `PREFIXES` |"),
                 ["prefix: the docs give the key PREFIXES, the schema PREFIX"], id="key-differs"),
    pytest.param(DOCS.replace("| `policy` | `POLICY` | required |", "| `policy` | `POLICY` | `None` |"),
                 ["policy: the docs give the default `None`, the schema REQUIRED"], id="required-not-said"),
])
def test_a_docs_table_that_differs_from_the_schema_is_found(markdown, found):
    assert markdown != DOCS  # the doctoring took
    assert docs_differences(OPTIONS, markdown) == found


# -- each option's check refuses a wrong value, naming the option -----------------------------

WRONG = {
    "policy": "mysite.consent:POLICY",
    "secret_key": "short",
    "store": 42,
    "prefix": "_consent",
    "lifetime": 0,
    "secure": "no",
    "cookie_domain": "https://example.com",
    "trusted_origins": "https://www.example.com",
    "honour_dnt": "no",
    "gpc_last_update": "27/11/2026",
    "max_body": 512,
    "etag_body_limit": -1,
    "is_minor": True,
    "guardian_mailer": "smtp.example.com",
    "site_url": "example.com",
    "on_change": "crm",
    "templates": 3,
    "locale_dirs": "mysite/locale",
    "mode": "Report",
    "third_party_csp": "on",
    "consent_mode": {"analytics": "analytics_storage"},
    "csp_nonce": "abc123",
}


def test_every_option_has_a_wrong_value_here():
    assert list(WRONG) == [option.name for option in OPTIONS]


@pytest.mark.parametrize("option", [pytest.param(option, id=option.name) for option in OPTIONS])
def test_each_check_refuses_a_wrong_value_and_takes_the_default(option):
    with pytest.raises(ConfigurationError, match=rf"^(Each of )?{option.name}\b") as refused:
        option.check(option.name, WRONG[option.name])
    assert str(refused.value).endswith((".", "'")) and "must" in str(refused.value)
    if option.default is not REQUIRED:
        option.check(option.name, option.default)


@pytest.mark.parametrize(("given", "says"), [
    pytest.param({"secret_key": KEYS}, "ConsentMiddleware needs policy", id="policy-missing"),
    pytest.param({"policy": POLICY, "secret_key": KEYS, "site_ur": "https://example.com"},
                 "ConsentMiddleware has no option 'site_ur'; did you mean 'site_url'?", id="typo"),
    pytest.param({"policy": POLICY, "secret_key": KEYS, "csp_nonce": lambda: None},
                 "ConsentMiddleware has no option 'csp_nonce'", id="flask-only-option"),
    pytest.param({"policy": POLICY, "secret_key": KEYS, "guardian_mailer": print},
                 "guardian_mailer needs site_url", id="mailer-without-site-url"),
])
def test_checked_refuses_with_a_sentence(given, says):
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        checked(given)


def test_checked_fills_in_the_defaults_and_normalises():
    values = checked({"policy": POLICY, "secret_key": KEYS, "trusted_origins": ["HTTPS://WWW.Example.com:443"],
                      "site_url": "https://example.com/"})
    assert [name for name in values] == [option.name for option in OPTIONS if "wsgi" in option.doors]
    assert values["trusted_origins"] == {"https://www.example.com"} and values["site_url"] == "https://example.com"
    assert (values["prefix"], values["max_body"], values["is_minor"]) == ("/_consent/", 16384, None)


# -- a misspelt option is named, with the nearest one ------------------------------------------


def _flask(tmp_path, name="options", **config):
    app = Flask(name, instance_path=str(tmp_path / "instance"))
    app.config.update({"CONSENTLIB_SECRET_KEYS": KEYS, **config})
    return app


@pytest.mark.parametrize(("build", "says"), [
    pytest.param(lambda app: FlaskConsent(app, POLICY, secrt_key=KEYS),
                 "FlaskConsent has no option 'secrt_key'; did you mean 'secret_key'? Its options are: policy, "
                 "secret_key, store,", id="FlaskConsent"),
    pytest.param(lambda app: FlaskConsent().init_app(app, POLICY, prefx="/c/"),
                 "FlaskConsent.init_app has no option 'prefx'; did you mean 'prefix'?", id="init_app"),
    pytest.param(lambda app: FlaskConsent(app, POLICY, colour="blue"),
                 "FlaskConsent has no option 'colour'. Its options are:", id="nothing-near"),
])
def test_flask_keyword_typo_is_named_with_the_nearest_option(tmp_path, build, says):
    app = _flask(tmp_path)
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        build(app)
    assert "consentlib" not in app.extensions  # nothing was set up


def test_flask_config_key_typo_is_named_with_the_nearest_key(tmp_path):
    app = _flask(tmp_path, CONSENTLIB_SITEURL="https://example.com")
    with pytest.raises(ConfigurationError, match=re.escape(
            "consentlib's app.config has no key 'CONSENTLIB_SITEURL'; did you mean 'CONSENTLIB_SITE_URL'?")):
        FlaskConsent(app, POLICY)


def test_flask_wrong_value_from_config_names_the_key(tmp_path):
    app = _flask(tmp_path, CONSENTLIB_HONOUR_DNT="no")
    with pytest.raises(ConfigurationError, match=re.escape(
            "honour_dnt must be True or False, not 'no'. It came from app.config['CONSENTLIB_HONOUR_DNT'].")):
        FlaskConsent(app, POLICY)


def test_flask_csp_nonce_comes_from_init_app_or_config_per_app(tmp_path):
    consent = FlaskConsent(policy=POLICY)
    one = _flask(tmp_path / "one", "one")
    two = _flask(tmp_path / "two", "two", CONSENTLIB_CSP_NONCE=lambda: "from-config")
    consent.init_app(one, csp_nonce=lambda: "from-keyword")
    consent.init_app(two)
    for app, nonce in ((one, "from-keyword"), (two, "from-config")):
        with app.test_request_context("/"):
            assert f'nonce="{nonce}"' in consent.banner()


def _mypy_errors(source: str, tmp_path: Path) -> list[str]:
    if importlib.util.find_spec("mypy") is None:
        needs_missing("mypy is not installed, so FlaskConsent's typed keywords are not checked: "
                      "pip install --group dev (./dev test installs it).")
    user = tmp_path / "user_site.py"
    user.write_text(textwrap.dedent(source))
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(user)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    return [match.group(1) for match in re.finditer(r"user_site\.py:\d+: error: (.*?)  \[", done.stdout)]


def test_flask_keyword_typo_and_wrong_type_are_mypy_errors(tmp_path):
    errors = _mypy_errors("""
        from flask import Flask
        from consentlib.flask import FlaskConsent

        FlaskConsent(Flask("site"), secrt_key=["a-key-of-sixteen-chars"])
        FlaskConsent().init_app(Flask("site"), lifetime="180 days")
        FlaskConsent(Flask("site"), secret_key=["a-key-of-sixteen-chars"], prefix="/c/", honour_dnt=True)
    """, tmp_path)
    assert errors == [
        'Argument "secrt_key" to "FlaskConsent" has incompatible type "list[str]"; expected "Never"',
        'Argument "lifetime" to "init_app" of "FlaskConsent" has incompatible type "str"; expected "int | None"',
    ]


def test_django_key_typo_is_named_with_the_nearest_key(tmp_path):
    from django.test import override_settings

    from consentlib.django.settings import options
    from tests.support import django_site

    django_site.configure()
    with override_settings(CONSENTLIB={"POLICY": POLICY, "SECRET_KEYS": KEYS, "SITEURL": "https://example.com"}):
        with pytest.raises(ConfigurationError, match=re.escape(
                "settings.CONSENTLIB has unknown key(s) SITEURL; did you mean 'SITE_URL'?; the keys are: POLICY,")):
            options()


def test_django_consent_mode_of_the_wrong_shape_is_refused(tmp_path):
    from django.test import override_settings

    from consentlib.django.settings import options
    from tests.support import django_site

    django_site.configure()
    given = {"POLICY": POLICY, "SECRET_KEYS": KEYS, "CONSENT_MODE": {"analytics": "analytics_storage"}}
    with override_settings(CONSENTLIB=given):
        with pytest.raises(ConfigurationError, match=re.escape(
                "CONSENTLIB['CONSENT_MODE']['analytics'] must be a list of strings, like ['analytics_storage']")):
            options()


# -- a policy by its path: one form, read alike by Flask and Django --------------------------

PATHS_ACCEPTED = [
    pytest.param("tests.support.apps:POLICY", id="module-colon-name"),
    pytest.param("tests.support.apps.POLICY", id="dotted"),
]
PATHS_REFUSED = [
    pytest.param("tests.support.apps:NOT_THERE", ["could not be imported", "has no attribute 'NOT_THERE'",
                                                   "like 'mysite.consent:POLICY'"], id="no-such-name"),
    pytest.param("tests.support.nowhere.POLICY", ["could not be imported", "No module named 'tests.support.nowhere'"],
                 id="no-such-module"),
    pytest.param("tests.support.apps:KEYS", ["must be a consentlib.Policy or a path naming one",
                                              "not 'tests.support.apps:KEYS' (it names a list)"], id="not-a-policy"),
    pytest.param("", ["must be a consentlib.Policy or a path naming one, like 'mysite.consent:POLICY'"],
                 id="empty"),
    pytest.param(":POLICY", ["could not be imported (Empty module name)"], id="no-module-before-the-colon"),
]


def _flask_policy(tmp_path, path):
    app = _flask(tmp_path, CONSENTLIB_POLICY=path)
    FlaskConsent(app)
    return app.extensions["consentlib"].policy


def _django_policy(tmp_path, path):
    from django.test import override_settings

    from consentlib.django.settings import options
    from tests.support import django_site

    django_site.configure()
    with override_settings(CONSENTLIB={"POLICY": path, "SECRET_KEYS": KEYS}):
        return options()["policy"]


DOORS = [
    pytest.param(_flask_policy, "app.config['CONSENTLIB_POLICY']", id="flask"),
    pytest.param(_django_policy, "settings.CONSENTLIB['POLICY']", id="django"),
]


@pytest.mark.parametrize(("load", "source"), DOORS)
@pytest.mark.parametrize("path", PATHS_ACCEPTED)
def test_a_policy_path_in_either_form_is_loaded(tmp_path, load, source, path):
    assert load(tmp_path, path) is POLICY


@pytest.mark.parametrize(("load", "source"), DOORS)
@pytest.mark.parametrize(("path", "says"), PATHS_REFUSED)
def test_a_bad_policy_path_is_refused_naming_the_setting(tmp_path, load, source, path, says):
    with pytest.raises(ConfigurationError) as refused:
        load(tmp_path, path)
    message = str(refused.value)
    assert message.startswith(f"{source} ") and message.endswith(".")
    for part in says:
        assert part in message


def test_django_function_options_take_a_path_in_either_form(tmp_path):
    from django.test import override_settings

    from consentlib.django.settings import options
    from tests.support import django_site

    django_site.configure()
    given = {"POLICY": POLICY, "SECRET_KEYS": KEYS, "IS_MINOR": "tests.support.apps:consent_value",
             "ON_CHANGE": "tests.support.apps.fetch"}
    with override_settings(CONSENTLIB=given):
        found = options()
    assert found["is_minor"] is consent_value and found["on_change"] is fetch


def test_the_unchanged_option_keeps_its_default_in_the_docs_parser():
    """The parser reads what the table writes: every cell yields a literal or REQUIRED."""
    defaults = {name: documented_default(cell) for name, (_, cell) in docs_rows(DOCS).items()}
    assert defaults["lifetime"] == 15552000 and defaults["trusted_origins"] == () and defaults["secret_key"] is REQUIRED
    assert documented_default("180 days") == "no code span in '180 days'"
