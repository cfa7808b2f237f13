"""The consentlib reference site: a small Flask app a web developer can copy from.

Like a naive app with careless libraries, it sets ``sid``, ``theme``, ``_ga`` and
``_fbp`` on every page; the middleware decides which of them actually leave.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, g, render_template, request

from consentlib import MailTracker
from consentlib.flask import FlaskConsent
from consentlib.web.pixel import TRANSPARENT_GIF
from examples.flask_site import mailviews, regions
from examples.flask_site.counters import Counters
from examples.flask_site.outbox import Outbox
from examples.flask_site.policy import POLICY

consent = FlaskConsent()


def _secret_keys(instance: Path) -> list[str]:
    """Keys newest first, one per line in instance/secret_keys (generated on first start).

    Several workers may start at once: the first to link its new file into place wins,
    and everyone reads the file back, so all of them sign with the same key. The file
    is created 0600, never readable by others even for a moment.
    """
    path = instance / "secret_keys"
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=instance, prefix=".secret_keys.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            try:
                os.link(temporary, path)  # fails if another worker got there first
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def create_app(instance_path: str | os.PathLike | None = None, *, policy=POLICY,
               site_url: str = "http://127.0.0.1:5000", demo_regions: bool = False, video: str | None = None,
               **consent_options) -> Flask:
    """The site, its data in ``instance_path``; ``site_url`` is its public origin, used in
    the links it mails (never taken from a request's Host header). ``demo_regions``
    (development only) adds the region switcher at ``/region``, which plays the CDN.
    ``video`` is the URL of a frame the home page embeds with ``consent_embed`` (category
    marketing); its host must be among the policy's ``hosts`` for ``third_party_csp``."""
    instance = Path(instance_path or Path.cwd() / "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance))
    counters = Counters(str(instance / "site.db"))
    app.extensions["site_counters"] = counters
    app.extensions["site_outbox"] = Outbox(str(instance / "outbox.db"), smtp=os.environ.get("SMTP"))
    options = {
        "secret_key": _secret_keys(instance),
        # Retention, set once: the proof of choices for 400 days, mail opens and clicks for
        # 180 (applied by `consentlib receipts prune` and `consentlib mail prune` from cron).
        "store": f"sqlite:///{instance / 'consent.db'}?receipts_days=400&mail_days=180",
        "gpc_last_update": "2026-11-27",
        "site_url": site_url,
        "is_minor": mailviews.is_minor,
        "guardian_mailer": lambda address, url, labels: mailviews.send_guardian_mail(app, address, url, labels),
        **consent_options,
    }
    if demo_regions:
        options.setdefault("region_header", "CF-IPCountry")
        options.setdefault("subdivision_header", "CF-Region-Code")
    consent.init_app(app, policy, **options)
    app.wsgi_app = mailviews.remember_outbox_key(app.wsgi_app)  # type: ignore[method-assign]
    if demo_regions:
        # Outermost, where a CDN would be: it sets the header before consentlib reads it.
        app.register_blueprint(regions.bp)
        app.config["DEMO_REGIONS"] = True
        app.wsgi_app = regions.PlayCdn(app.wsgi_app)  # type: ignore[method-assign]
    site = app.extensions["consentlib"]
    app.extensions["site_tracker"] = MailTracker(base_url=site.core.site_url, secret_key=list(site.core.secret_keys),
                                                 store=site.store, prefix=site.prefix)
    app.register_blueprint(mailviews.bp)

    # The site's own policy lets the video's origin be framed; consentlib's third_party_csp,
    # when set, adds a policy that allows it only once marketing is granted.
    video_origin = ""
    if video:
        parts = urlsplit(video)
        video_origin = f" {parts.scheme}://{parts.netloc}"

    @app.before_request
    def make_nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def careless_libraries_and_csp(response: Response) -> Response:
        # What a site with careless libraries does: every page sets every cookie.
        # The middleware, not this code, decides which leave the server.
        if response.mimetype == "text/html":
            response.set_cookie("sid", secrets.token_hex(8), httponly=True, samesite="Lax")
            response.set_cookie("theme", "dark", max_age=365 * 86400, samesite="Lax")
            response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=2 * 365 * 86400, samesite="Lax")
            response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 86400, samesite="Lax")
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src 'self' 'nonce-{g.csp_nonce}'; style-src 'self'; "
                f"img-src 'self'; connect-src 'self'; frame-src 'self'{video_origin}; object-src 'none'; "
                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
            )
        return response

    @app.get("/")
    def home():
        return render_template("home.html", hits=counters.all(), policy=policy, video=video)

    @app.get("/privacy")
    def privacy():
        return render_template("privacy.html", policy=policy)

    @app.get("/privacy/cookies")
    def cookie_controls():
        # consentlib's own two cookies first, under the names this request gives them.
        core = app.extensions["consentlib"].core
        own = core.own_cookies(core.is_secure(request.is_secure))
        return render_template("cookies.html", policy=policy, cookies=[*own, *policy.cookies])

    @app.get("/etag-demo")
    def etag_demo():
        # The "ETag instead of a cookie" trick: hand each new visitor a unique ETag and
        # recognise them when the browser revalidates with If-None-Match.
        sent = request.headers.get("If-None-Match", "")
        known = sent.strip('"') if sent.startswith('"uid-') else None
        visitor = known or f"uid-{secrets.token_hex(6)}"
        html = render_template("etag.html", visitor=visitor, recognised=known is not None)
        response = Response(html, mimetype="text/html")
        response.headers["ETag"] = f'"{visitor}"'
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.route("/collect", methods=["GET", "POST"])
    def collect():
        counters.hit("analytics")
        return Response(status=204)

    @app.get("/ads/pixel.gif")
    def ad_pixel():
        counters.hit("marketing")
        return Response(TRANSPARENT_GIF, mimetype="image/gif", headers={"Cache-Control": "no-store"})

    return app
