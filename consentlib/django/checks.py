"""``manage.py check``: what in a Django project keeps consentlib from gating it.

=====================  =======  ==================================================
id                     level    what
=====================  =======  ==================================================
``consentlib.E001``    Error    ``settings.CONSENTLIB`` is not usable (:mod:`.settings`)
``consentlib.E002``    Error    ``ConsentMiddleware`` is not first in ``MIDDLEWARE``
``consentlib.W001``    Warning  a cookie Django sets is not declared in the policy
``consentlib.W002``    Warning  the SQLite store's path is relative
=====================  =======  ==================================================
"""
from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from consentlib.django.consent import configured_policy
from consentlib.policy import Policy

DOOR = "consentlib.django.ConsentMiddleware"
_DOOR_PATHS = frozenset({DOOR, "consentlib.django.middleware.ConsentMiddleware"})
_DEFAULT_STORE = "sqlite:///consent.db"  # ConsentMiddleware's default


def check_middleware_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """consentlib.E002: the door is in ``MIDDLEWARE`` but not first."""
    middleware = [str(entry) for entry in getattr(settings, "MIDDLEWARE", None) or ()]
    at = next((i for i, entry in enumerate(middleware) if _is_door(entry)), None)
    if not at:  # first, or not there (the WSGI middleware may wrap the project in wsgi.py)
        return []
    above = ", ".join(repr(entry) for entry in middleware[:at])
    session = _DJANGO_COOKIES[0][2]
    example = (f" Here {session.rsplit('.', 1)[1]} sets the session cookie for visitors who have not decided."
               if session in middleware[:at] else "")
    return [Error(
        f"{middleware[at]!r} is not first in MIDDLEWARE (above it: {above}). Middleware above consentlib's "
        "runs outside the gate: it can read the cookies and cache validators a visitor refused, and set "
        f"cookies the gate never sees (ePrivacy Art 5(3)).{example}",
        hint=f"Move {middleware[at]!r} to the top of MIDDLEWARE.",
        id="consentlib.E002",
    )]


def _is_door(entry: str) -> bool:
    """consentlib's middleware, by either path, or a site's subclass of it."""
    if entry in _DOOR_PATHS:
        return True
    from consentlib.django.middleware import ConsentMiddleware

    try:
        found = import_string(entry)
    except ImportError:
        return False  # Django reports a MIDDLEWARE entry that does not import
    return isinstance(found, type) and issubclass(found, ConsentMiddleware)


# Django's own cookies: (setting, default name, in use when, category, purpose).
_DJANGO_COOKIES = (
    ("SESSION_COOKIE_NAME", "sessionid", "django.contrib.sessions.middleware.SessionMiddleware", "necessary",
     "Keeps you signed in"),
    ("CSRF_COOKIE_NAME", "csrftoken", "django.middleware.csrf.CsrfViewMiddleware", "necessary",
     "Protects forms against cross-site request forgery"),
    ("LANGUAGE_COOKIE_NAME", "django_language", "django.middleware.locale.LocaleMiddleware", "preferences",
     "Remembers your language"),
)
_COOKIE_MESSAGE_STORAGES = frozenset({"django.contrib.messages.storage.cookie.CookieStorage",
                                      "django.contrib.messages.storage.fallback.FallbackStorage"})


def check_django_cookies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """consentlib.W001: a cookie Django sets that the policy does not declare.

    The gate blocks an undeclared cookie for every visitor, whatever they chose: the
    session, the CSRF token or the messages would silently stop working.
    """
    policy = configured_policy()
    if policy is None:
        return []  # consentlib.E001 says why
    middleware = {str(entry) for entry in getattr(settings, "MIDDLEWARE", None) or ()}
    found: list[CheckMessage] = []
    for setting, name, component, category, purpose in _used_cookies(middleware):
        if policy.cookie(name) is not None:
            continue
        category = category if policy.category(category) is not None else _required_category(policy)
        found.append(Warning(
            f"Django sets the cookie {name!r} ({setting}, for {component.rsplit('.', 1)[1]}), and the consent "
            "policy does not declare it: consentlib blocks an undeclared cookie for every visitor, so it "
            "never reaches the browser.",
            hint=f'Add Cookie("{name}", "{category}", purpose="{purpose}") to your Policy\'s cookies.',
            id="consentlib.W001",
        ))
    return found


def _used_cookies(middleware: set[str]) -> list[tuple[str, str, str, str, str]]:
    used = []
    for setting, default, component, category, purpose in _DJANGO_COOKIES:
        if component not in middleware:
            continue
        if setting == "CSRF_COOKIE_NAME" and getattr(settings, "CSRF_USE_SESSIONS", False):
            continue  # the token lives in the session: no cookie of its own
        used.append((setting, str(getattr(settings, setting, default)), component, category, purpose))
    storage = str(getattr(settings, "MESSAGE_STORAGE", "django.contrib.messages.storage.fallback.FallbackStorage"))
    message_middleware = "django.contrib.messages.middleware.MessageMiddleware"
    if message_middleware in middleware and storage in _COOKIE_MESSAGE_STORAGES:
        used.append(("MESSAGE_STORAGE", "messages", message_middleware, "necessary",
                     "Carries a message to the next page you see"))
    return used


def _required_category(policy: Policy) -> str:
    required = [c.name for c in policy.categories if c.required]
    return required[0] if required else policy.category_names[0]


def check_store_path(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """consentlib.W002: a SQLite store whose path is relative to the working directory."""
    given = getattr(settings, "CONSENTLIB", None)
    if not isinstance(given, dict):
        return []  # consentlib.E001 says why
    store = given.get("STORE", _DEFAULT_STORE)
    if not isinstance(store, str) or not store.startswith("sqlite:///"):
        return []
    path = store[len("sqlite:///"):].partition("?")[0]
    if not path or path == ":memory:" or os.path.isabs(path):
        return []
    shown = "CONSENTLIB['STORE']" if "STORE" in given else "The default store (no CONSENTLIB['STORE'])"
    return [Warning(
        f"{shown} is {store!r}, a path relative to the directory each process starts in: "
        "runserver, the WSGI or ASGI server and manage.py commands can each open a file of their own, "
        "and the receipts that prove consent (GDPR Art 7(1)) end up split between them.",
        hint="Give an absolute path: 'sqlite:////var/lib/mysite/consent.db' (four slashes), "
             "or f\"sqlite:///{BASE_DIR / 'consent.db'}\".",
        id="consentlib.W002",
    )]

