"""What the consent endpoints know of the site: a small, frozen context.

The middleware (a door) builds one from its checked options; the endpoint handlers
(:mod:`consentlib.web.endpoints`, :mod:`consentlib.web.guardian`, :mod:`consentlib.mail.endpoints`)
take it instead of the middleware, so they import no door and read no door's private
state: any door can serve them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.http import dump_cookie

from consentlib.consent import COOKIE_NAME, ID_COOKIE_NAME, ConsentCookie, CookiePayload
from consentlib.gate.cookies import CookieGate
from consentlib.policy import Policy
from consentlib.web.templates import Templates

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from consentlib.store.base import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointContext:
    """The site as its consent endpoints see it (see ``ConsentMiddleware`` for each option)."""

    policy: Policy
    store: Store
    cookie: ConsentCookie  # signs and verifies the two consent cookies
    secret_keys: tuple[bytes, ...]  # newest first; guardian and mail tokens are signed with them
    prefix: str
    max_body: int  # the largest request body an endpoint reads
    trusted_origins: frozenset[str]
    site_url: str | None  # the origin of mailed links and redirects, never the request's Host
    secure: bool | None
    honour_dnt: bool
    gpc_last_update: str | None
    gate: CookieGate
    guardian_mailer: Callable[[str, str, list[str]], None] | None
    changed: Callable[[], None]  # a change was queued: on_change hears of it soon
    templates: Templates  # the pages' templates and message catalogues

    def is_secure(self, environ: WSGIEnvironment) -> bool:
        """:meth:`secure_over` for a WSGI environ's ``wsgi.url_scheme``."""
        return self.secure_over(environ.get("wsgi.url_scheme", "http"))

    def secure_over(self, scheme: str) -> bool:
        """Whether cookies set on a request over ``scheme`` get ``Secure``: the ``secure``
        option, or else whether it came over https (``X-Forwarded-Proto`` is never trusted)."""
        return self.secure if self.secure is not None else scheme == "https"

    def consent_cookie_headers(self, environ: WSGIEnvironment, payload: CookiePayload) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` lines that record ``payload`` on this request."""
        return self.consent_cookie_lines(payload, self.is_secure(environ))

    def consent_cookie_lines(self, payload: CookiePayload, secure: bool) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` lines that record ``payload``: always both cookies together.

        ``consent`` is not HttpOnly: the banner reads its revision and categories, and it
        holds no id. ``consent_id`` is HttpOnly (scripts cannot read it) and only written
        when the id is known. Both live exactly as long as the choice counts.
        """
        consent, consent_id = self.cookie.values(payload)
        max_age = max(self.cookie.remaining(payload), 0)
        headers = [("Set-Cookie", dump_cookie(COOKIE_NAME, consent, max_age=max_age, path="/", secure=secure,
                                              samesite="Lax"))]
        if consent_id is not None:
            headers.append(("Set-Cookie", dump_cookie(ID_COOKIE_NAME, consent_id, max_age=max_age, path="/",
                                                      secure=secure, samesite="Lax", httponly=True)))
        return headers
