"""A small FastAPI site behind consentlib's ASGI door, to copy from.

Like a naive app with careless libraries, every page sets ``sid``, ``theme``, ``_ga``
and ``_fbp``; the middleware decides which of them leave. It shows the banner, cookie
controls, an analytics beacon (``/collect``) and a page that hands every visitor a
unique ETag, which the middleware keeps out of the browser without consent.

    python -m examples.fastapi_site --port 8000
"""
from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from consentlib.asgi import ConsentMiddleware, consent_banner, consent_script
from examples.fastapi_site.policy import POLICY

HERE = Path(__file__).resolve().parent


def create_app(*, secret_key: str | list[str], store: str, site_url: str | None = None) -> FastAPI:
    """The site; ``store`` is where choices are recorded (``sqlite:///path/consent.db``)."""
    app = FastAPI(title="consentlib FastAPI example", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hits = Counter()  # beacon hits that reached the app
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(consent_banner=consent_banner, consent_script=consent_script)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, template: str, **context) -> HTMLResponse:
        response = templates.TemplateResponse(request, template, {"policy": POLICY, **context})
        # What a site with careless libraries does: every page sets every cookie.
        # The middleware, not this code, decides which leave the server.
        response.set_cookie("sid", secrets.token_hex(8), httponly=True, samesite="lax")
        response.set_cookie("theme", "dark", max_age=365 * 86400, samesite="lax")
        response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=2 * 365 * 86400, samesite="lax")
        response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 86400, samesite="lax")
        return response

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request):
        return page(request, "home.html", hits=dict(app.state.hits))

    @app.get("/cookies", response_class=HTMLResponse)
    async def cookie_controls(request: Request):
        return page(request, "cookies.html", consent=request.scope["consentlib.consent"])

    @app.get("/etag-demo", response_class=HTMLResponse)
    async def etag_demo(request: Request):
        # The "ETag instead of a cookie" trick: a unique ETag per new visitor, read back
        # from If-None-Match when the browser revalidates its cache.
        sent = request.headers.get("if-none-match", "")
        known = sent.strip('"') if sent.startswith('"uid-') else None
        visitor = known or f"uid-{secrets.token_hex(6)}"
        response = page(request, "etag.html", visitor=visitor, recognised=known is not None)
        response.headers["ETag"] = f'"{visitor}"'
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.api_route("/collect", methods=["GET", "POST"])
    async def collect():
        app.state.hits["analytics"] += 1
        return Response(status_code=204)

    app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=secret_key, store=store, site_url=site_url)
    return app
