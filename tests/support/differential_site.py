"""The site tests/integration/test_differential.py serves, and what its views saw.

One Flask app (so a real router, werkzeug's, which merges slashes) with:

* ``/page?case=<id>``: a page whose extra response headers are the ones the test
  registered under ``id`` in ``cases``, appended to the app's header list exactly as
  given (a plain WSGI app or a library can send any name, and a value with a line
  break, which werkzeug's ``Headers`` would refuse);
* a view for each beacon path of the policy: ``/collect`` (``strict_slashes=False``,
  so ``/collect/`` routes to it too, as many apps write it), ``/ads/pixel.gif`` and
  ``/track/<path>``; each notes every hit it gets.

The app is served twice under one werkzeug ``DispatcherMiddleware``: at the root and
mounted at ``/mounted`` (``SCRIPT_NAME`` as a mount sets it), each behind its own
ConsentMiddleware with the policy of tests/support/fuzz_strategies.py. ``/_probe/hits``, outside
every gate, hands the test the hits noted since it last asked: a side channel that
works the same from a gunicorn worker as from a thread. Outermost, a tap notes the
conditional headers each page request arrived with, before the ETag firewall removes
them: what a browser replays.

No LintMiddleware here: it rejects the odd header names these tests are about.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from flask import Flask, make_response, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from consentlib import ConsentMiddleware
from tests.support.apps import KEYS
from tests.support.fuzz_strategies import FUZZ_POLICY, model_beacon
from tests.support.loadkit import STORE_ENV

MOUNT = "/mounted"
PAGE = "/page"
# Each beacon view and the declared beacon path it serves.
VIEW_BEACONS = {"collect": "/collect", "pixel": "/ads/pixel.gif", "track": "/track/"}
VIEW_CATEGORIES = {view: model_beacon(path) for view, path in VIEW_BEACONS.items()}
# No favicon request after the page: its answer would expire the refused cookies the page
# just planted (withdrawal expiry) before the test could see them in the jar.
_BODY = (b'<!doctype html><html><head><title>differential</title><link rel="icon" href="data:,"></head>'
         b"<body><p>page</p></body></html>")


class Hits:
    """What the beacon views were reached with: (view, SCRIPT_NAME, PATH_INFO)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, str]] = []

    def note(self, view: str) -> None:
        with self.lock:
            self.seen.append((view, request.script_root, request.environ.get("PATH_INFO", "")))

    def take(self) -> list[tuple[str, str, str]]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


def flask_app(hits: Hits) -> Flask:
    app = Flask("consentlib_differential_site")

    @app.get(PAGE)
    def page():
        response = make_response(_BODY)
        response.content_type = "text/html; charset=utf-8"
        # RFC 9111 §5.2.2.4: revalidate on every navigation, so a stored validator is replayed.
        response.headers["Cache-Control"] = "no-cache"
        return response

    beacon_methods = ["GET", "HEAD", "POST"]

    @app.route("/collect", methods=beacon_methods, strict_slashes=False)
    def collect():
        hits.note("collect")
        return "counted"

    @app.route("/ads/pixel.gif", methods=beacon_methods)
    def pixel():
        hits.note("pixel")
        return "counted"

    @app.route("/track/<path:rest>", methods=beacon_methods)
    def track(rest):
        hits.note("track")
        return "counted"

    return app


def with_case_headers(app: Callable, cases: Mapping[str, list[tuple[str, str]]]) -> Callable:
    """``app`` whose page answers also carry the headers registered for their case."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != PAGE:
            return app(environ, start_response)
        extra = cases.get(parse_qs(environ.get("QUERY_STRING", "")).get("case", [""])[0], ())

        def start_with_case(status, headers, exc_info=None):
            return start_response(status, [*headers, *extra], exc_info)

        return app(environ, start_with_case)

    return wrapped


class Tap:
    """Notes the If-None-Match and If-Modified-Since of every page request, by case."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.seen: dict[str, list[tuple[str | None, str | None]]] = {}

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == PAGE:
            with self.lock:
                self.seen.setdefault(environ.get("QUERY_STRING", ""), []).append(
                    (environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE")))
        return self.app(environ, start_response)

    def replayed(self, case: str) -> list[tuple[str | None, str | None]]:
        """(If-None-Match, If-Modified-Since) of each request for the page of ``case``."""
        with self.lock:
            return list(self.seen.get(f"case={case}", ()))


def _probe(hits: Hits):
    def probe(environ, start_response):
        body = json.dumps(hits.take()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]

    return probe


def differential_site(store: str, cases: Mapping[str, list[tuple[str, str]]] | None = None) -> Tap:
    """The whole site (see the module's docstring) with its receipts in ``store``."""
    hits = Hits()
    app = with_case_headers(flask_app(hits), {} if cases is None else cases)

    def gated() -> ConsentMiddleware:
        return ConsentMiddleware(app, FUZZ_POLICY, secret_key=KEYS, store=store)

    return Tap(DispatcherMiddleware(gated(), {MOUNT: gated(), "/_probe": _probe(hits)}))


def site_from_env() -> Tap:
    """The gunicorn app factory: ``tests.support.differential_site:site_from_env()``."""
    return differential_site(os.environ[STORE_ENV])
