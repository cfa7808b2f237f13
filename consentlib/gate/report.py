"""Report mode (``mode="report"``): the gate decides as usual, then lets everything through.

On the day a site switches consentlib on, every cookie it forgot to declare would be
blocked, and something (often the login) breaks. In report mode the decisions are made
by the same code, and what would have been blocked is told to ``note(kind, name)``
instead: a cookie the app would not have seen (``"cookie"``), a beacon it would not
have been called for (``"beacon"``). :class:`consentlib.gate.responses.ResponseGate` does
the same for the ``Set-Cookie`` lines and validators of a response.

These wrappers replace the enforcing parts in the core only in report mode, so the
enforce mode's path is the one it always was, with no test of the mode per request.
"""
from __future__ import annotations

from collections.abc import Callable

from consentlib.consent import Consent, CookiePayload
from consentlib.gate.beacons import APP, BLOCKED, Routes
from consentlib.gate.visits import Visit, Visits

#: ``note(kind, name)``: one thing the gate would have blocked.
Note = Callable[[str, str], None]
COOKIE, BEACON, VALIDATOR, CSP = "cookie", "beacon", "validator", "csp"
_NAME_MAX = 200


class ReportVisits:
    """:class:`~consentlib.gate.visits.Visits` that hands the app every cookie sent and
    expires none, noting each cookie it would have withheld."""

    def __init__(self, visits: Visits, note: Note) -> None:
        self.inner = visits
        self.note = note

    def of(self, header: str, gpc: bool, dnt: bool, secure: bool = False, region: str | None = None) -> Visit:
        return self._let_through(self.inner.of(header, gpc, dnt, secure, region), header)

    def derive(self, consent: Consent, payload: CookiePayload | None, header: str, valid_until: float) -> Visit:
        return self._let_through(self.inner.derive(consent, payload, header, valid_until), header)

    def _let_through(self, visit: Visit, header: str) -> Visit:
        if not visit.stripped and not visit.refused:
            return visit
        kept = {part.partition("=")[0].strip() for part in visit.filtered.split(";")}
        for part in header.split(";"):
            name = part.partition("=")[0].strip()
            if name and name not in kept:
                self.note(COOKIE, name[:_NAME_MAX])
        # The app sees the header as sent, and nothing is expired: only the verdict is noted.
        return visit._replace(filtered=header, refused=(), stripped=False, gpc_refused=False)


class ReportRoutes:
    """:class:`~consentlib.gate.beacons.Routes` that lets a beacon through to the app,
    noting its path."""

    def __init__(self, routes: Routes, note: Note) -> None:
        self.inner = routes
        self.note = note
        self.is_endpoint = routes.is_endpoint

    def route(self, path: str, granted: frozenset[str], mount: str = "") -> int:
        where = self.inner.route(path, granted, mount)
        if where == BLOCKED:
            self.note(BEACON, (mount + path)[:_NAME_MAX])
            return APP
        return where

    def blocks_beacon(self, path: str, granted: frozenset[str], mount: str = "") -> bool:
        if self.inner.blocks_beacon(path, granted, mount):
            self.note(BEACON, (mount + path)[:_NAME_MAX])
        return False
