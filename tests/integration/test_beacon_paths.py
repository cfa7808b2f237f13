"""Beacon paths judged as the app's router will route them.

A server hands the app ``PATH_INFO`` percent-decoded once (PEP 3333): ``/%2fcollect``
arrives as ``//collect``, ``/%252Fcollect`` as ``/%2Fcollect``. Routers then merge
slashes (werkzeug), resolve dot segments or strip ``;params`` (servlet-style), some
decode again. A declared beacon must be refused in every spelling that could reach its
view; when in doubt, refuse (the gate fails closed).
"""
from __future__ import annotations

import pytest

from consentlib import Beacon, Category, Policy
from consentlib.gate.beacons import BeaconPaths
from tests.support.apps import ALL, KINDS, LINT_STRICT, build_site, fetch

pytestmark = LINT_STRICT

# PATH_INFO as a server passes it (already percent-decoded once), and the request
# target a client would have sent for it.
BEACON_SPELLINGS = [
    pytest.param("//collect", id="double-slash"),  # also what /%2fcollect and /%2Fcollect decode to
    pytest.param("///collect", id="triple-slash"),
    pytest.param("/collect/", id="trailing-slash"),
    pytest.param("/collect//", id="trailing-slashes"),
    pytest.param("/%2Fcollect", id="double-encoded-slash-upper"),  # /%252Fcollect on the wire
    pytest.param("/%2fcollect", id="double-encoded-slash-lower"),
    pytest.param("/%252Fcollect", id="triple-encoded-slash"),
    pytest.param("/%63ollect", id="double-encoded-letter"),
    pytest.param("/\\collect", id="backslash"),
    pytest.param("/%5Ccollect", id="encoded-backslash"),
    pytest.param("/./collect", id="dot-segment"),
    pytest.param("/a/../collect", id="dot-dot-segment"),
    pytest.param("/../collect", id="dot-dot-above-root"),
    pytest.param("/%2e/collect", id="encoded-dot-segment"),
    pytest.param("/collect/.", id="trailing-dot"),
    pytest.param("/collect;jsessionid=1", id="path-parameter"),
    pytest.param("/;x/collect", id="path-parameter-in-segment"),
    pytest.param("//ads//pixel.gif", id="gif-merged-slashes"),
    pytest.param("/ads/./pixel.gif", id="gif-dot-segment"),
    pytest.param("//track/a", id="prefix-double-slash"),
    pytest.param("/track//a", id="prefix-inner-double-slash"),
    pytest.param("/x/../track/a", id="prefix-dot-dot"),
    pytest.param("/%74rack/a", id="prefix-double-encoded"),
]


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def get(site, path_info, *, cookie=None, script_name=""):
    """GET with exactly this ``PATH_INFO`` (a path given to the test client would be
    re-parsed); an ASGI site gets it as ``path`` below ``root_path`` (tests/support/asgikit.py)."""
    headers = {"Cookie": cookie} if cookie else {}
    return fetch(site.client, "GET", "/", headers=headers,
                 environ_overrides={"PATH_INFO": path_info, "SCRIPT_NAME": script_name})


@pytest.mark.parametrize("path_info", BEACON_SPELLINGS)
def test_eprivacy_beacon_in_any_router_spelling_never_reaches_the_app(site, path_info):
    r = get(site, path_info)
    assert site.calls == []
    assert r.status_code in (200, 204) and r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path_info", BEACON_SPELLINGS)
def test_beacon_in_any_spelling_reaches_the_app_with_consent(site, path_info):
    r = get(site, path_info, cookie=f"consent={site.cookie_value(ALL)}")
    # The app answers (its router may redirect a spelling it does not route as is).
    assert r.status_code != 204 and r.headers.get("Cache-Control") != "no-store"
    assert len(site.calls) == 1 or 300 <= r.status_code < 400


@pytest.mark.parametrize(
    "path_info",
    [
        pytest.param("/", id="root"),
        pytest.param("/collector", id="longer-name"),
        pytest.param("/collect.js", id="other-file"),
        pytest.param("/blog/collect", id="other-directory"),
        pytest.param("/Collect", id="case-differs-routers-do-not-fold-it"),
        pytest.param("/blog/", id="ordinary-trailing-slash"),
        pytest.param("/.well-known/security.txt", id="dot-directory"),
        pytest.param("/a%2Fb", id="encoded-slash-elsewhere"),
    ],
)
def test_other_paths_reach_the_app_undecided(site, path_info):
    r = get(site, path_info)
    assert r.status_code == 200
    assert len(site.calls) == 1


MOUNTED = Policy(
    revision=3,
    categories=[Category("necessary", required=True), Category("analytics")],
    beacons=[Beacon("/shop/collect", "analytics")],
)


@pytest.mark.parametrize(
    ("script_name", "path_info"),
    [
        pytest.param("/shop", "/collect", id="declared-with-the-mount"),
        pytest.param("/shop", "//collect", id="declared-with-the-mount-double-slash"),
        pytest.param("", "/shop/collect", id="not-mounted"),
        pytest.param("/shop/", "/collect", id="mount-with-trailing-slash"),
    ],
)
def test_eprivacy_beacon_under_a_script_name_mount_never_reaches_the_app(tmp_path, script_name, path_info):
    site = build_site("wsgi", tmp_path, policy=MOUNTED)
    get(site, path_info, script_name=script_name)
    assert site.calls == []


def test_beacon_relative_to_the_mount_is_refused_too(tmp_path):
    # Mounted under /app, the middleware sees PATH_INFO /collect: that is the beacon.
    site = build_site("wsgi", tmp_path)
    get(site, "/collect", script_name="/app")
    assert site.calls == []


def test_beacon_paths_read_the_path_as_the_router_does():
    policy = Policy(revision=1, categories=[Category("a")], beacons=[Beacon("/collect", "a")])
    beacons = BeaconPaths(policy.beacons)
    assert beacons.find("//collect") is policy.beacons[0]
    assert beacons.find("/%2Fcollect") is policy.beacons[0]
    assert beacons.find("/collector") is None


# -- under gunicorn, request targets as they travel on the wire -------------------------

GUNICORN_KEY = "gunicorn-beacon-key-0123456789"
GUNICORN_POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics")],
    beacons=[Beacon("/collect", "analytics"), Beacon("/track/", "analytics")],
)

# What a client can put on the request line; gunicorn decodes it once into PATH_INFO.
WIRE_SPELLINGS = [
    "/collect", "//collect", "///collect", "/%2fcollect", "/%2Fcollect", "/%252Fcollect", "/%2F%2Fcollect",
    "/collect/", "/./collect", "/a/../collect", "/%2e/collect", "/%2E%2E/collect", "/collect;x",
    "/%5Ccollect", "/%63ollect", "/%2563ollect", "//track/x", "/track//x", "/%74rack/x",
    "/track/..%2f..%2fcollect", "/x/../track/x",
]


def beacon_site_from_env():
    """The gunicorn app factory: a Flask site whose beacon views count their hits."""
    import os

    from flask import Flask

    from consentlib import ConsentMiddleware

    app = Flask("beacon_site")
    hits: list[str] = []

    @app.route("/collect", methods=["GET", "POST"])
    def collect():
        hits.append("collect")
        return "counted"

    @app.route("/track/<path:rest>", methods=["GET", "POST"])
    def track(rest):
        hits.append("track")
        return "counted"

    @app.get("/hits")
    def count():
        return str(len(hits))

    return ConsentMiddleware(app, GUNICORN_POLICY, secret_key=[GUNICORN_KEY],
                             store=f"sqlite:///{os.environ['CONSENTLIB_LOAD_INSTANCE']}/consent.db")


@pytest.mark.load
def test_eprivacy_beacon_spellings_never_reach_a_flask_view_under_gunicorn(tmp_path):
    import time

    from consentlib.consent import ConsentCookie
    from tests.support.loadkit import Gunicorn, request

    consent = ConsentCookie([GUNICORN_KEY]).dumps(revision=1, categories={"analytics"}, decided_at=int(time.time()))
    with Gunicorn(tmp_path, "", workers=1, app="tests.integration.test_beacon_paths:beacon_site_from_env()") as server:
        def hits() -> int:
            return int(request(server.base, "GET", "/hits")[2])

        answers = {}
        for path in WIRE_SPELLINGS:
            for method in ("GET", "POST"):
                status, headers, _ = request(server.base, method, path, body=b"{}" if method == "POST" else None)
                answers[method, path] = (status, headers.get("Cache-Control"))
        assert hits() == 0
        assert set(answers.values()) == {(204, "no-store")}, answers

        # A visitor who allowed analytics reaches the view, in the plain spelling and the merged one.
        cookie = {"Cookie": f"consent={consent}"}
        for path in ("/collect", "//collect", "/track/x"):
            request(server.base, "POST", path, body=b"{}", headers=cookie)
        assert hits() == 3


@pytest.mark.parametrize("mount", ["", "/app", "/shop", "/shop/", "/%73hop", "/a/.."])
def test_eprivacy_route_decides_every_spelling_as_blocks_beacon_does(mount):
    # Routes.route decides most paths by the beacons' marks alone (no call to
    # blocks_beacon): on every spelling above, mounted or not, it must say what the full
    # reading says, or a beacon spelling would reach the app.
    from consentlib.gate.beacons import APP, BLOCKED, ENDPOINT, Routes

    routes = Routes("/_consent/", [Beacon("/collect", "analytics"), Beacon("/ads/pixel.gif", "analytics"),
                                   Beacon("/track/", "analytics"), Beacon("/shop/collect", "analytics")])
    paths = [param.values[0] for param in BEACON_SPELLINGS]
    paths += ["/", "/about", "/collection", "/shop", "/collect/x", "/_consent/", "/_consent/choice",
              "/.well-known/gpc.json", "/%", "/c%6Fllect", "/pixel.gif", "/ads", "/.well-known/gpc.json/",
              "/.well-known/gpc.jsonx", "/x/_consent/", "/_consent", "/_CONSENT/choice"]
    for granted in (frozenset(), frozenset({"analytics"})):
        for path in paths:
            expected = ENDPOINT if routes.is_endpoint(path) else \
                BLOCKED if routes.blocks_beacon(path, granted, mount) else APP
            assert routes.route(path, granted, mount) == expected, (path, mount, granted)
    assert routes.route("//collect", frozenset(), mount) == BLOCKED  # the test can fail
