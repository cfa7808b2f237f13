"""The site tests/integration/test_differential.py serves, and what its views saw.

One Flask app (so a real router, werkzeug's, which merges slashes) with:

* ``/page?case=<id>``: a page whose extra response headers are the ones the test
  registered under ``id`` (through ``/_probe/cases/<id>``), appended to the app's
  header list exactly as given (a plain WSGI app or a library can send any name, and a
  value with a line break, which werkzeug's ``Headers`` would refuse);
* a view for each beacon path of the policy: ``/collect`` (``strict_slashes=False``,
  so ``/collect/`` routes to it too, as many apps write it), ``/ads/pixel.gif`` and
  ``/track/<path>``; each notes every hit it gets.

The app is served twice under one werkzeug ``DispatcherMiddleware``: at the root and
mounted at ``/mounted`` (``SCRIPT_NAME`` as a mount sets it), each behind its own
ConsentMiddleware with the policy of tests/support/fuzz_strategies.py. ``/_probe/``,
outside every gate, is the test's side channel (:class:`Records`): it works the same
from a gunicorn worker as from a thread. Outermost, a tap notes the conditional
headers each page request arrived with, before the ETag firewall removes them: what a
browser replays. tests/support/differential_asgi_site.py is the same site for the ASGI
door.

No LintMiddleware here: it rejects the odd header names these tests are about.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
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
BODY = (b'<!doctype html><html><head><title>differential</title><link rel="icon" href="data:,"></head>'
         b"<body><p>page</p></body></html>")


class Records:
    """What the site saw, and the headers the test registered, behind one lock.

    The test reads and writes them through ``/_probe/`` (:meth:`probe`), which works the
    same from a gunicorn or uvicorn process as from a thread of the test's own:

    * ``GET /_probe/hits``: the beacon views' hits since the last ask, each
      (view, mount, path): WSGI's SCRIPT_NAME and PATH_INFO, ASGI's ``root_path`` and
      ``path``;
    * ``PUT /_probe/cases/<id>``: a JSON list of [name, value], the extra headers of
      ``/page?case=<id>``;
    * ``GET /_probe/replayed/<id>``: [If-None-Match, If-Modified-Since] of each request
      for that page so far (what a browser replays).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: list[tuple[str, str, str]] = []
        self.cases: dict[str, list[tuple[str, str]]] = {}
        self.replays: dict[str, list[tuple[str | None, str | None]]] = {}

    def hit(self, view: str, mount: str, path: str) -> None:
        with self.lock:
            self.hits.append((view, mount, path))

    def page(self, query: str, if_none_match: str | None, if_modified_since: str | None) -> None:
        with self.lock:
            self.replays.setdefault(_case_of(query), []).append((if_none_match, if_modified_since))

    def case_headers(self, query: str) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.cases.get(_case_of(query), ()))

    def probe(self, method: str, path: str, body: bytes) -> bytes:
        """The JSON answer to ``method path`` below ``/_probe`` (see the class docstring)."""
        kind, _, case = path.strip("/").partition("/")
        with self.lock:
            if kind == "hits":
                answer, self.hits = self.hits, []
            elif kind == "cases" and method == "PUT":
                self.cases[case] = [(name, value) for name, value in json.loads(body)]
                answer = []
            elif kind == "replayed":
                answer = self.replays.get(case, [])
            else:
                raise LookupError(f"no probe {method} {path!r}")
        return json.dumps(answer).encode()


def _case_of(query: str) -> str:
    return parse_qs(query).get("case", [""])[0]


def probe_headers(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]


def flask_app(records: Records) -> Flask:
    app = Flask("consentlib_differential_site")

    @app.get(PAGE)
    def page():
        response = make_response(BODY)
        response.content_type = "text/html; charset=utf-8"
        # RFC 9111 §5.2.2.4: revalidate on every navigation, so a stored validator is replayed.
        response.headers["Cache-Control"] = "no-cache"
        return response

    beacon_methods = ["GET", "HEAD", "POST"]

    def _note(view: str) -> None:
        records.hit(view, request.script_root, request.environ.get("PATH_INFO", ""))

    @app.route("/collect", methods=beacon_methods, strict_slashes=False)
    def collect():
        _note("collect")
        return "counted"

    @app.route("/ads/pixel.gif", methods=beacon_methods)
    def pixel():
        _note("pixel")
        return "counted"

    @app.route("/track/<path:rest>", methods=beacon_methods)
    def track(rest):
        _note("track")
        return "counted"

    return app


def with_case_headers(app: Callable, records: Records) -> Callable:
    """``app`` whose page answers also carry the headers registered for their case."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != PAGE:
            return app(environ, start_response)
        extra = records.case_headers(environ.get("QUERY_STRING", ""))

        def start_with_case(status, headers, exc_info=None):
            return start_response(status, [*headers, *extra], exc_info)

        return app(environ, start_with_case)

    return wrapped


def tapped(app: Callable, records: Records) -> Callable:
    """``app``, noting the If-None-Match and If-Modified-Since of every page request."""

    def tap(environ, start_response):
        if environ.get("PATH_INFO") == PAGE:
            records.page(environ.get("QUERY_STRING", ""), environ.get("HTTP_IF_NONE_MATCH"),
                         environ.get("HTTP_IF_MODIFIED_SINCE"))
        return app(environ, start_response)

    return tap


def _probe(records: Records) -> Callable:
    def probe(environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = records.probe(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ["wsgi.input"].read(size))
        start_response("200 OK", probe_headers(body))
        return [body]

    return probe


def differential_site(store: str) -> Callable:
    """The whole site (see the module's docstring) with its receipts in ``store``."""
    records = Records()
    app = with_case_headers(flask_app(records), records)

    def gated() -> ConsentMiddleware:
        return ConsentMiddleware(app, FUZZ_POLICY, secret_key=KEYS, store=store)

    return tapped(DispatcherMiddleware(gated(), {MOUNT: gated(), "/_probe": _probe(records)}), records)


def site_from_env() -> Callable:
    """The gunicorn app factory: ``tests.support.differential_site:site_from_env()``."""
    return differential_site(os.environ[STORE_ENV])
