"""Shared test apps and policy for the core suite.

The same small site is built twice, as a plain WSGI app and as a Flask app, so that
the header tables run against both (STYLE.md: one fixture, the whole file twice). The
site behaves like a naive app with careless libraries: every response sets ``sid``,
``theme``, ``_ga``, ``_fbp`` and an undeclared ``tracker_x``, and echoes back the
``Cookie`` header it received, so what the middleware lets through is plain to see.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client

from consentlib import Beacon, Category, ConsentMiddleware, Cookie, Policy

KEYS = ["test-key-newest-0123456789", "test-key-older-0123456789"]

POLICY = Policy(
    revision=3,
    categories=[
        Category("necessary", required=True),
        Category("preferences"),
        Category("analytics"),
        Category("marketing", gpc=True),
    ],
    cookies=[
        Cookie("sid", "necessary", purpose="Keeps you signed in", lifetime="session"),
        Cookie("theme", "preferences", purpose="Remembers light/dark", lifetime="1 year"),
        Cookie("lang", "preferences", purpose="Language", path="/shop", domain="example.com"),
        Cookie("_ga*", "analytics", purpose="Counts visits", lifetime="2 years", third_party="Google"),
        Cookie("_fbp", "marketing", purpose="Ad measurement", lifetime="90 days"),
    ],
    beacons=[
        Beacon("/collect", "analytics"),
        Beacon("/ads/pixel.gif", "marketing"),
        Beacon("/track/", "analytics"),
    ],
)

ALL = frozenset(POLICY.category_names)

# The frameworks the header tables run against: the middleware must not care which.
# "starlette" and "fastapi" go through the ASGI door (consentlib.asgi, tests/support/asgikit.py).
KINDS = ["wsgi", "flask", "django", "starlette", "fastapi"]
ASGI_KINDS = ("starlette", "fastapi")
NECESSARY = frozenset({"necessary"})

# What the site sets on every page, in this order (the undeclared one last).
SITE_COOKIES = [
    ("sid", "s1"),
    ("theme", "dark"),
    ("_ga", "GA1.1.42"),
    ("_fbp", "fb.1.42"),
    ("tracker_x", "t1"),
]

# Lint failures are test failures. Two of Lint's HTTP checks are stricter than HTTP:
# RFC 9110 §8.6 forbids Content-Length on a 204, and a HEAD answer carries the GET's
# Content-Length with no body (§9.3.2); those two are not errors here.
LINT_STRICT = [
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.WSGIWarning"),
    pytest.mark.filterwarnings("error::werkzeug.middleware.lint.HTTPWarning"),
    pytest.mark.filterwarnings("ignore:204 responses must have an empty content length"),
]


# RFC 9110 §10.2.2: Location is a URI reference, ASCII; PEP 3333 header values are
# latin-1, so a raw IRI in it is a 5xx on a real server. Bodies are raw, as a browser
# sends them: the form decoding is part of what is tested.
NEXT_BODIES = [
    pytest.param("/%E2%98%83", "/%E2%98%83", id="snowman"),
    pytest.param("/%E6%97%A5%E6%9C%AC?q=%E6%97%A5#%E6%9C%AC", "/%E6%97%A5%E6%9C%AC?q=%E6%97%A5#%E6%9C%AC",
                 id="cjk-path-query-fragment"),
    pytest.param("/caf%E9", "/caf%E9", id="not-utf8-kept-as-its-byte"),
    pytest.param("/%EF%BC%8F%EF%BC%8Fevil.com", "/%EF%BC%8F%EF%BC%8Fevil.com", id="fullwidth-solidus-is-a-path"),
    pytest.param("/%252F%252Fevil.com", "/%2F%2Fevil.com", id="encoded-slashes-stay-a-path"),
    pytest.param("/%7F", "/", id="del"),
    pytest.param("/a%C2%85b", "/", id="c1-control"),
    pytest.param("/a%E2%80%A8b", "/", id="line-separator"),
    pytest.param("/a%00b", "/", id="nul"),
    pytest.param("/a%0D%0ASet-Cookie:%20x=1", "/", id="crlf"),
    pytest.param("/%5Cevil.com", "/", id="backslash"),
    pytest.param("/%5C%5Cevil.com", "/", id="double-backslash"),
    pytest.param("%2F%2Fevil.com", "/", id="protocol-relative"),
    pytest.param("/%2F%2Fevil.com", "/", id="three-slashes"),
    pytest.param("https:evil.com", "/", id="scheme-without-slashes"),
    pytest.param("/%09/evil.com", "/", id="tab-slash"),
]


def wsgi_site(calls: list) -> Callable:
    """The plain WSGI site. ``?vary=X`` adds ``Vary: X``; ``?set=a,b`` sets only those."""

    def app(environ, start_response):
        from urllib.parse import parse_qs

        calls.append(environ.get("PATH_INFO"))
        query = parse_qs(environ.get("QUERY_STRING", ""))
        consent = environ.get("consentlib.consent")
        body = json.dumps({
            "cookie": environ.get("HTTP_COOKIE"),
            "granted": sorted(consent.granted) if consent is not None else None,
        }).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        wanted = query["set"][0].split(",") if "set" in query else [n for n, _ in SITE_COOKIES]
        headers += [("Set-Cookie", f"{n}={v}; Path=/") for n, v in SITE_COOKIES if n in wanted]
        for value in query.get("vary", []):
            headers.append(("Vary", value))
        start_response("200 OK", headers)
        return [body]

    return app


def flask_site(calls: list):
    """The same site as a Flask app (not yet wrapped)."""
    from flask import Flask, make_response, request

    app = Flask("consentlib_test_site")
    app.config["TESTING"] = True

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST"])
    @app.route("/<path:path>", methods=["GET", "HEAD", "POST"])
    def page(path):
        calls.append(request.path)
        consent = request.environ.get("consentlib.consent")
        response = make_response(json.dumps({
            "cookie": request.headers.get("Cookie"),
            "granted": sorted(consent.granted) if consent is not None else None,
        }))
        response.content_type = "application/json"
        wanted = request.args["set"].split(",") if "set" in request.args else [n for n, _ in SITE_COOKIES]
        for name, value in SITE_COOKIES:
            if name in wanted:
                response.set_cookie(name, value, path="/")
        for value in request.args.getlist("vary"):
            response.headers.add("Vary", value)
        return response

    return app


@dataclass
class Site:
    kind: str
    client: Client
    middleware: ConsentMiddleware
    store_url: str
    calls: list = field(default_factory=list)
    wsgi: Any = None

    @property
    def store(self):
        return self.middleware.store

    def cookie_value(self, categories=ALL, **kw) -> str:
        return consent_value(self.middleware, categories, **kw)

    def cookie_header(self, categories=ALL, **kw) -> str:
        return consent_header(self.middleware, categories, **kw)

    def get(self, path="/", **kw):
        return fetch(self.client, "GET", path, **kw)

    def post(self, path="/_consent/", **kw):
        return fetch(self.client, "POST", path, **kw)


def build_site(kind: str, tmp_path, *, policy: Policy = POLICY, **options) -> Site:
    """The test site of ``kind`` (see KINDS), Lint inside and outside the middleware."""
    calls: list = []
    options.setdefault("secret_key", KEYS)
    options.setdefault("store", f"sqlite:///{tmp_path}/consent.db")
    if kind in ASGI_KINDS:
        from consentlib.asgi import ConsentMiddleware as AsgiConsentMiddleware
        from tests.support.asgikit import AsgiClient, AsgiLint, fastapi_site, starlette_site

        app = (starlette_site if kind == "starlette" else fastapi_site)(calls)
        # Starlette's own way in: add_middleware builds the middleware with keywords.
        app.add_middleware(AsgiLint)
        app.add_middleware(AsgiConsentMiddleware, policy=policy, **options)
        outer = AsgiLint(app)
        store_url = options["store"] if isinstance(options["store"], str) else ""
        # Built now, as Starlette would on the first request, to reach the instance it holds.
        node = app.middleware_stack = app.build_middleware_stack()
        while not isinstance(node, AsgiConsentMiddleware):
            node = node.app
        return Site(kind, AsgiClient(outer), node, store_url, calls, outer)
    if kind == "wsgi":
        middleware = ConsentMiddleware(LintMiddleware(wsgi_site(calls)), policy, **options)
        outer = LintMiddleware(middleware)
    elif kind == "django":
        from tests.support.django_site import application

        # What a Django user writes: consentlib.django.ConsentMiddleware first in MIDDLEWARE.
        django_app, middleware = application(calls, policy, options)
        outer = LintMiddleware(django_app)
    else:
        from consentlib.flask import FlaskConsent

        app = flask_site(calls)
        app.wsgi_app = LintMiddleware(app.wsgi_app)
        FlaskConsent(app, policy, **options)
        middleware = app.extensions["consentlib"]
        outer = LintMiddleware(app)
    store_url = options["store"] if isinstance(options["store"], str) else ""
    return Site(kind, Client(outer, use_cookies=False), middleware, store_url, calls, outer)


def consent_value(middleware: ConsentMiddleware, categories=ALL, *, revision: int | None = None,
                  decided_at: int | None = None) -> str:
    """A genuine ``consent`` cookie value (no consent id in it), as the middleware sets it."""
    return middleware.cookie.dumps(
        revision=POLICY.revision if revision is None else revision,
        categories=frozenset(categories),
        decided_at=int(time.time()) if decided_at is None else decided_at,
    )


def consent_header(middleware: ConsentMiddleware, categories=ALL, *, revision: int | None = None,
                   decided_at: int | None = None, consent_id: str = "ab" * 16) -> str:
    """Both consent cookies as a browser sends them: ``consent=...; consent_id=...``."""
    decision = {
        "revision": POLICY.revision if revision is None else revision,
        "categories": frozenset(categories),
        "decided_at": int(time.time()) if decided_at is None else decided_at,
    }
    return f"consent={middleware.cookie.dumps(**decision)}; consent_id={middleware.cookie.dumps_id(consent_id=consent_id, **decision)}"


class Fetched:
    """A closed response: status, headers and body, read once."""

    def __init__(self, response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.data = response.get_data()
        response.close()

    @property
    def text(self) -> str:
        return self.data.decode()

    @property
    def json(self):
        return json.loads(self.data)

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.getlist("Set-Cookie")

    def set_cookie(self, name: str) -> list[str]:
        return [line for line in self.set_cookies if line.split("=", 1)[0].strip() == name]

    @property
    def set_cookie_names(self) -> list[str]:
        return [line.split("=", 1)[0].strip() for line in self.set_cookies]

    @property
    def vary(self) -> list[str]:
        return [t.strip().lower() for v in self.headers.getlist("Vary") for t in v.split(",") if t.strip()]

    def consent_cookie(self, name: str = "consent") -> str | None:
        """The value of the consent cookie (or of cookie ``name``) this response sets, if any."""
        for line in self.set_cookie(name):
            return line.split(";", 1)[0].split("=", 1)[1].strip('"')
        return None

    def consent_cookies(self) -> str:
        """The consent cookies this response sets, as the browser sends them back."""
        return "; ".join(f"{name}={value}" for name in ("consent", "consent_id")
                         if (value := self.consent_cookie(name)) is not None)


def fetch(client: Client, method: str, path: str, **kw) -> Fetched:
    return Fetched(client.open(path, method=method, **kw))


def append_receipts(path: str, consent_id: str, count: int) -> list[str]:
    """Append ``count`` receipts for one consent id to the SQLite store at ``path``.

    Module-level so that a spawned process can run it (multiprocessing pickles it by name).
    """
    from consentlib.records.receipts import build_receipt
    from consentlib.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    ids = []
    for i in range(count):
        receipt = build_receipt(policy=POLICY, consent_id=consent_id, granted=ALL if i % 2 else NECESSARY,
                                previously_granted=frozenset(), method="api", gpc=False, dnt=False,
                                lifetime=3600, ip="192.0.2.1", user_agent=None)
        ids.append(store.add_receipt(receipt)["record_id"])
    store.close()
    return ids
