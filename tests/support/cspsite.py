"""A small site behind each door (WSGI, ASGI, Django) for the third-party CSP and report
mode tests: an HTML page with the site's own strict CSP, a JSON answer, a beacon, cookies
(one undeclared) and a per-visitor ETag."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.test import Client

from consentlib import Beacon, Category, Cookie, Host, Policy
from tests.support.apps import KEYS, Fetched, consent_header, fetch

POLICY = Policy(
    revision=3,
    categories=[Category("necessary", required=True), Category("preferences"), Category("analytics"),
                Category("marketing", gpc=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("theme", "preferences"), Cookie("_ga*", "analytics"),
             Cookie("_fbp", "marketing")],
    beacons=[Beacon("/collect", "analytics")],
    hosts=[Host("https://cdn.example.net", "necessary"), Host("*.google-analytics.com", "analytics"),
           Host("ads.example", "marketing")],
    etags="analytics",
)
DOORS = ("wsgi", "asgi", "django", "flask")
SITE_CSP = "script-src 'nonce-r4nd0m'"
PAGE = b"<!doctype html><title>Home</title><p>Hello</p>"


def wsgi_app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    status, headers, body = answer(path, environ.get("HTTP_COOKIE") or "")
    start_response(status, headers)
    return [body]


def answer(path: str, cookie: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The app's answer: what a careless site sends, whatever the visitor chose."""
    if path == "/api":
        body = b'{"ok": true}'
        return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body
    body = PAGE if path == "/" else f"cookie={cookie}".encode()
    return "200 OK", [
        ("Content-Type", "text/html; charset=utf-8" if path == "/" else "text/plain"),
        ("Content-Length", str(len(body))),
        ("Content-Security-Policy", SITE_CSP),
        ("Set-Cookie", "sid=s1; Path=/"),
        ("Set-Cookie", "_ga=GA1.1.42; Path=/"),
        ("Set-Cookie", "tracker_x=t1; Path=/"),
        ("ETag", '"uid-0042"'),
    ], body


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    cookie = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
    status, headers, body = answer(scope["path"], cookie)
    await send({"type": "http.response.start", "status": int(status[:3]),
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Door:
    kind: str
    client: Any
    core: Any  # the door's ConsentCore
    middleware: Any

    def get(self, path: str = "/", categories: frozenset[str] | None = None, **kw: Any) -> Fetched:
        headers = dict(kw.pop("headers", {}))
        if categories is not None:
            cookie = consent_header(self.middleware, categories)
            headers["Cookie"] = f"{cookie}; {headers['Cookie']}" if "Cookie" in headers else cookie
        return fetch(self.client, "GET", path, headers=headers, **kw)

    def post(self, path: str, **kw: Any) -> Fetched:
        return fetch(self.client, "POST", path, **kw)


def build(kind: str, tmp_path, **options: Any) -> Door:
    options.setdefault("secret_key", KEYS)
    options.setdefault("store", f"sqlite:///{tmp_path}/consent.db")
    if kind == "wsgi":
        from consentlib import ConsentMiddleware

        middleware = ConsentMiddleware(wsgi_app, POLICY, **options)
        return Door(kind, Client(middleware, use_cookies=False), middleware.core, middleware)
    if kind == "asgi":
        from consentlib.asgi import ConsentMiddleware as AsgiMiddleware
        from tests.support.asgikit import AsgiClient

        asgi = AsgiMiddleware(asgi_app, POLICY, **options)
        return Door(kind, AsgiClient(asgi), asgi.core, asgi)
    if kind == "flask":
        from flask import Flask, request

        from consentlib.flask import FlaskConsent

        app = Flask(__name__)

        @app.route("/", defaults={"path": ""})
        @app.route("/<path:path>")
        def any_path(path: str) -> tuple[bytes, int, list[tuple[str, str]]]:
            status, headers, body = answer("/" + path, request.headers.get("Cookie", ""))
            return body, int(status[:3]), headers

        FlaskConsent(app, POLICY, **options)
        flask_middleware = app.extensions["consentlib"]
        return Door(kind, Client(app, use_cookies=False), flask_middleware.core, flask_middleware)
    from tests.support.django_site import application

    django_app, middleware = application([], POLICY, options)
    return Door(kind, Client(django_app, use_cookies=False), middleware.core, middleware)


def html_path(kind: str) -> str:
    """The door's HTML page: Django's test site serves it at /template."""
    return "/template" if kind == "django" else "/"
