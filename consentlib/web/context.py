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

from consentlib.consent import ConsentCookie, CookieNames, CookiePayload, cookie_names
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
    cookie_domain: str | None = None  # the consent cookies' Domain; None: host-only (see cookie_names)
    # Categories whose grant takes effect only on a new page: with third_party_csp="enforce",
    # those with declared hosts (the page's policy, sent before the choice, refuses them).
    reload_for: frozenset[str] = frozenset()

    def is_secure(self, environ: WSGIEnvironment) -> bool:
        """:meth:`secure_over` for a WSGI environ's ``wsgi.url_scheme``."""
        return self.secure_over(environ.get("wsgi.url_scheme", "http"))

    def secure_over(self, scheme: str) -> bool:
        """Whether cookies set on a request over ``scheme`` get ``Secure``: the ``secure``
        option, or else whether it came over https (``X-Forwarded-Proto`` is never trusted)."""
        return self.secure if self.secure is not None else scheme == "https"

    def cookie_names(self, secure: bool) -> CookieNames:
        """The consent cookies' names on a request whose cookies are ``Secure`` (or not)."""
        return cookie_names(secure, self.cookie_domain)

    def consent_cookie_headers(self, environ: WSGIEnvironment, payload: CookiePayload) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` lines that record ``payload`` on this request."""
        return self.consent_cookie_lines(payload, self.is_secure(environ))

    def consent_cookie_lines(self, payload: CookiePayload, secure: bool) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` lines that record ``payload``: always both cookies together.

        ``consent`` is not HttpOnly: the banner reads its revision and categories, and it
        holds no id. ``consent_id`` is HttpOnly (scripts cannot read it) and only written
        when the id is known. Both live exactly as long as the choice counts.

        Their names follow ``secure`` (:func:`~consentlib.consent.cookie_names`): a
        ``__Host-`` cookie must be Secure with Path=/ and no Domain, a ``__Secure-`` one
        Secure (RFC 6265bis §4.1.3), which these lines always are.
        """
        consent, consent_id = self.cookie.values(payload)
        max_age = max(self.cookie.remaining(payload), 0)
        names = self.cookie_names(secure)
        headers = [("Set-Cookie", dump_cookie(names.consent, consent, max_age=max_age, path="/", secure=secure,
                                              domain=names.domain, samesite="Lax"))]
        if consent_id is not None:
            headers.append(("Set-Cookie", dump_cookie(names.consent_id, consent_id, max_age=max_age, path="/",
                                                      domain=names.domain, secure=secure, samesite="Lax",
                                                      httponly=True)))
        return headers
