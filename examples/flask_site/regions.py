"""A region switcher for the demo, in development only: it plays the CDN.

In production a CDN such as Cloudflare sets ``CF-IPCountry`` (and ``CF-Region-Code``)
on every request, overwriting whatever the browser sent, and the site trusts that header
(``region_header``). On a laptop there is no CDN: :class:`PlayCdn` sets the header from
the ``demo_region`` cookie the switcher page (``/region``) writes, so one browser can
visit from Germany, California or China in turn (docs/regions.md). Never wrap a
deployed site in it: it would let every visitor choose the law they are under.
"""
from __future__ import annotations

from http.cookies import SimpleCookie

from flask import Blueprint, redirect, render_template, request

#: What the switcher offers: (code, what the demo calls it); "" is a visitor no CDN placed.
PLACES = (("DE", "Germany (opt-in)"), ("US-CA", "California (opt-out)"), ("US-TX", "Texas (notice)"),
          ("CN", "China (opt-in)"), ("", "Unknown (the default: opt-in)"))
COOKIE = "demo_region"

bp = Blueprint("regions", __name__)


class PlayCdn:
    """WSGI middleware that overwrites the trusted region headers, as a CDN does."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        jar = SimpleCookie()
        try:
            jar.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed header: no place, as a CDN without a guess
            jar = SimpleCookie()
        code = jar[COOKIE].value if COOKIE in jar else ""
        code = code if code in {c for c, _ in PLACES} else ""
        country, _, subdivision = code.partition("-")
        environ["HTTP_CF_IPCOUNTRY"] = country or "XX"  # Cloudflare's "no country"
        environ["HTTP_CF_REGION_CODE"] = subdivision
        return self.app(environ, start_response)


@bp.get("/region")
def switcher():
    return render_template("region.html", places=PLACES, current=request.cookies.get(COOKIE, ""))


@bp.post("/region")
def switch():
    code = request.form.get("region", "")
    response = redirect("/region", code=303)
    if code in {c for c, _ in PLACES}:
        response.set_cookie(COOKIE, code, samesite="Lax", httponly=True)
    return response
