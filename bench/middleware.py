"""ConsentMiddleware on a Flask page that sets four cookies (budget: >= 0.90 of the bare app).

The visitor has a valid consent cookie granting analytics, so the middleware verifies
it (cached), strips the request's cookies, and filters the page's four Set-Cookie
lines on every request.
"""
from __future__ import annotations

import tempfile

from flask import Flask, make_response
from werkzeug.test import EnvironBuilder

from bench.common import compare
from consentlib import Beacon, Category, ConsentMiddleware, Cookie, Policy

POLICY = Policy(
    revision=3,
    categories=[
        Category("necessary", required=True),
        Category("preferences"),
        Category("analytics"),
        Category("marketing", gpc=True),
    ],
    cookies=[
        Cookie("sid", "necessary"),
        Cookie("theme", "preferences"),
        Cookie("_ga*", "analytics"),
        Cookie("_fbp", "marketing"),
    ],
    beacons=[Beacon("/collect", "analytics")],
    etags="analytics",
)


def page_app() -> Flask:
    app = Flask("bench")

    @app.get("/")
    def page():
        response = make_response("<!doctype html><title>Home</title><p>Hello</p>")
        response.set_cookie("sid", "s3ss10n", httponly=True)
        response.set_cookie("theme", "dark")
        response.set_cookie("_ga", "GA1.1.123.456")
        response.set_cookie("_fbp", "fb.1.123.456")
        return response

    return app


def measure(seconds_per_round: float = 0.5, rounds: int = 5) -> dict[str, float]:
    bare = page_app()
    store_dir = tempfile.mkdtemp(prefix="consentlib-bench-")
    wrapped = ConsentMiddleware(page_app().wsgi_app, POLICY, secret_key=["bench-key-" + "x" * 22],
                                store=f"sqlite:///{store_dir}/consent.db")
    # What a returning visitor's browser sends: both consent cookies, as the middleware set them.
    decision = wrapped.cookie.decide(revision=3, categories={"necessary", "analytics"}, consent_id="0" * 32)
    value, id_value = wrapped.cookie.values(decision)
    cookie_header = f"consent={value}; consent_id={id_value}; sid=s3ss10n; _ga=GA1.1.123.456"
    environ = EnvironBuilder(path="/", headers={"Cookie": cookie_header, "User-Agent": "Mozilla/5.0"}).get_environ()
    best = compare({"bare": (bare.wsgi_app, environ), "wrapped": (wrapped, environ)},
                   seconds=seconds_per_round, rounds=rounds)
    return {**best, "ratio": best["wrapped"] / best["bare"]}


if __name__ == "__main__":
    result = measure()
    print(f"middleware: bare {result['bare']:.0f} req/s, wrapped {result['wrapped']:.0f} req/s, ratio {result['ratio']:.3f}")
