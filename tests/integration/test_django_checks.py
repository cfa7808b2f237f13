"""``manage.py check`` for consentlib in a Django project (consentlib.django.checks).

E002: ConsentMiddleware below another middleware (which then sees and sets what the
gate must decide); W001: a cookie Django sets that the policy does not declare (blocked
for everyone); W002: a relative SQLite store path (receipts split between processes).
"""
from __future__ import annotations

import pytest

from consentlib.django.middleware import ConsentMiddleware
from tests.support import django_site
from tests.support.apps import KEYS, POLICY

SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"
MESSAGES = "django.contrib.messages.middleware.MessageMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
DOOR = "consentlib.django.ConsentMiddleware"

DJANGO_POLICY = django_site.POLICY_WITH_DJANGO_COOKIES


class SiteDoor(ConsentMiddleware):
    """A site's own subclass: still the door."""


def messages(tmp_path, *, middleware, policy=DJANGO_POLICY, store=None, **more) -> list:
    from django.core.checks import run_checks
    from django.test import override_settings

    django_site.configure()
    setting = {"POLICY": policy, "SECRET_KEYS": KEYS, "STORE": store or f"sqlite:///{tmp_path}/c.db"}
    if store is False:
        del setting["STORE"]
    with override_settings(CONSENTLIB=setting, MIDDLEWARE=middleware, **more):
        return [m for m in run_checks() if m.id.startswith("consentlib")]


# -- E002: first in MIDDLEWARE ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("middleware", "above"),
    [
        pytest.param([DOOR, SESSION, CSRF], None, id="first"),
        pytest.param([SESSION, CSRF], None, id="absent-wsgi-wrapper-instead"),
        pytest.param([SESSION, DOOR, CSRF], SESSION, id="after-session"),
        pytest.param([COMMON, "consentlib.django.middleware.ConsentMiddleware"], COMMON, id="module-path"),
        pytest.param([CSRF, f"{__name__}.SiteDoor"], CSRF, id="a-subclass"),
    ],
)
def test_django_check_reports_consentlib_below_another_middleware(tmp_path, middleware, above):
    found = [m for m in messages(tmp_path, middleware=middleware) if m.id == "consentlib.E002"]
    if above is None:
        assert found == []
    else:
        (error,) = found
        assert error.is_serious() and repr(above) in error.msg and "first" in error.msg
        assert error.hint.startswith("Move ") and "to the top of MIDDLEWARE" in error.hint
        assert ("sets the session cookie for visitors who have not decided" in error.msg) == (above == SESSION)


def test_django_manage_py_check_fails_with_consentlib_after_session_middleware(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    django_site.configure()
    setting = {"POLICY": DJANGO_POLICY, "SECRET_KEYS": KEYS, "STORE": f"sqlite:///{tmp_path}/c.db"}
    with override_settings(CONSENTLIB=setting, MIDDLEWARE=[SESSION, DOOR]):
        with pytest.raises(SystemCheckError, match=r"consentlib\.E002"):
            call_command("check")


# -- W001: Django's own cookies declared ----------------------------------------------------


@pytest.mark.parametrize(
    ("middleware", "policy", "more", "expected"),
    [
        pytest.param([DOOR, SESSION, CSRF], POLICY, {}, {
            "sessionid": 'Cookie("sessionid", "necessary", purpose="Keeps you signed in")',
            "csrftoken": 'Cookie("csrftoken", "necessary", purpose="Protects forms against cross-site request forgery")',
        }, id="session-and-csrf"),
        pytest.param([DOOR, SESSION, CSRF], POLICY, {"SESSION_COOKIE_NAME": "sid", "CSRF_USE_SESSIONS": True}, {},
                     id="renamed-to-a-declared-name-and-csrf-in-session"),
        pytest.param([DOOR, SESSION, LOCALE, MESSAGES], POLICY, {"LANGUAGE_COOKIE_NAME": "lang_x"}, {
            "sessionid": 'Cookie("sessionid", "necessary", purpose="Keeps you signed in")',
            "lang_x": 'Cookie("lang_x", "preferences", purpose="Remembers your language")',
            "messages": 'Cookie("messages", "necessary", purpose="Carries a message to the next page you see")',
        }, id="language-and-messages"),
        pytest.param([DOOR, SESSION, MESSAGES], DJANGO_POLICY,
                     {"MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage"}, {},
                     id="messages-in-the-session"),
        pytest.param([DOOR, SESSION, CSRF, LOCALE, MESSAGES], DJANGO_POLICY, {}, {}, id="all-declared"),
        pytest.param([DOOR, COMMON], POLICY, {}, {}, id="no-django-cookies-in-use"),
    ],
)
def test_django_check_warns_of_django_cookies_the_policy_does_not_declare(tmp_path, middleware, policy, more,
                                                                         expected):
    found = [m for m in messages(tmp_path, middleware=middleware, policy=policy, **more) if m.id == "consentlib.W001"]
    assert {m.msg.split("'")[1]: m.hint for m in found} == {
        name: f"Add {line} to your Policy's cookies." for name, line in expected.items()}
    assert all(not m.is_serious() and "blocks an undeclared cookie for every visitor" in m.msg for m in found)


def test_django_check_names_the_setting_of_a_renamed_cookie(tmp_path):
    (found,) = [m for m in messages(tmp_path, middleware=[DOOR, SESSION], policy=POLICY,
                                    SESSION_COOKIE_NAME="app_session") if m.id == "consentlib.W001"]
    assert "'app_session' (SESSION_COOKIE_NAME, for SessionMiddleware)" in found.msg


# -- W002: an absolute store path ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "warned"),
    [
        pytest.param("sqlite:///consent.db", "CONSENTLIB['STORE'] is 'sqlite:///consent.db'", id="relative"),
        pytest.param("sqlite:///data/consent.db?receipts_days=400", "a path relative", id="relative-with-query"),
        pytest.param(False, "The default store (no CONSENTLIB['STORE'])", id="default"),
        pytest.param(None, None, id="absolute"),
        pytest.param("postgresql://u:p@localhost:5432/consent", None, id="postgres"),
    ],
)
def test_django_check_warns_of_a_relative_sqlite_store(tmp_path, monkeypatch, store, warned):
    monkeypatch.chdir(tmp_path)  # a relative store would be opened here by the E001 check
    found = [m for m in messages(tmp_path, middleware=[DOOR], store=store) if m.id == "consentlib.W002"]
    if warned is None:
        assert found == []
    else:
        (warning,) = found
        assert warned in warning.msg and "GDPR Art 7(1)" in warning.msg
        assert "sqlite:////" in warning.hint  # four slashes: what an absolute path looks like
