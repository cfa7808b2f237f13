"""``POST {prefix}csp-report``: where browsers report what the third-party CSP refused.

The body is a CSP report (``application/csp-report``, CSP2's ``{"csp-report": {...}}``),
or the Reporting API's list of ``csp-violation`` reports (``application/json``,
``application/reports+json``). Only the blocked origin is kept (scheme, host and port of
``blocked-uri``, never its path or query), with the directive, whether the policy declares
that origin (and its category), a count and the first and last day: nothing that names a
visitor, so no address, page, user agent or time of day (GDPR Art 5(1)(c)).

Anyone can post here, so the endpoint is bounded every way: the body by ``max_body``
(413), the reports per body, and the rate by one token bucket per process (429 with
``Retry-After``). A body that is not a report is a 400 with a sentence; never a 5xx. The
store write is the answer's :class:`~consentlib.web.exchange.Pending` work, so the ASGI
door answers on the event loop and writes from a worker thread.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from consentlib.gate.csp import DIRECTIVES
from consentlib.policy import Policy
from consentlib.web.exchange import Answer, Pending, Request, Response
from consentlib.web.http import respond

#: The media types a browser posts reports with (CSP2 §7.1; the Reporting API).
MEDIA_TYPES = ("application/csp-report", "application/json", "application/reports+json")
_SCHEMES = ("http", "https", "ws", "wss")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# A Reporting API body batches reports; more than this in one body are not read.
_REPORTS_PER_BODY = 20
# Reports a process accepts: a burst of this many, refilled at RATE a second. A page
# blocked from a dozen hosts reports a dozen times per view; a flood is refused.
RATE = 50.0
BURST = 500


class TokenBucket:
    """A token bucket (at most ``burst`` tokens, ``rate`` more a second): its memory is
    two numbers, whoever posts."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class CspReports:
    """Answers ``POST {prefix}csp-report`` for one site."""

    def __init__(self, policy: Policy, store: Any, *, note: Callable[[str, str], None] | None = None,
                 bucket: TokenBucket | None = None) -> None:
        self.policy = policy
        self.store = store
        self.note = note  # report mode: a refused fetch is also what enforce mode would block
        self.bucket = bucket or TokenBucket(RATE, BURST)
        self._keeps = callable(getattr(store, "note_csp_report", None))

    def __call__(self, request: Request) -> Answer:
        if request.method != "POST":
            return respond(405, {"error": "Use POST here: browsers post CSP reports to this address."},
                           headers=[("Allow", "POST")])
        if request.over_limit:
            return respond(413, {"error": "The report is larger than this site accepts (max_body); "
                                          "a CSP report is a few hundred bytes."})
        if request.mimetype not in MEDIA_TYPES:
            return respond(415, {"error": f"Send the report as {', '.join(MEDIA_TYPES)}."})
        if not self.bucket.take():
            return respond(429, {"error": "Too many reports right now; send it again in a second."},
                           headers=[("Retry-After", "1")])
        try:
            found = _reports(json.loads(request.body.decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            return respond(400, {"error": "The body is not JSON in UTF-8: send the report as the browser wrote it."})
        if found is None:
            return respond(400, {"error": "The body is not a CSP report: send {\"csp-report\": {...}} or a list of "
                                          "Reporting API reports of type csp-violation."})
        rows = []
        for blocked, directive in found[:_REPORTS_PER_BODY]:
            origin = _origin(blocked)
            if origin is None:
                continue  # inline, eval, data:, blob:, a same-page URL: not another origin
            text, scheme, host, port = origin
            declared = self.policy.host(scheme, host, port)
            rows.append((text, _directive(directive), declared.category if declared is not None else None))
        if not rows or not self._keeps:
            return _accepted()
        note, store = self.note, self.store

        def work() -> None:
            for text, directive, category in rows:
                store.note_csp_report(text, directive, category)
                if note is not None:
                    note("csp", text)

        return Pending(work, lambda _: _accepted())


def _accepted() -> Response:
    return Response(204, [("Cache-Control", "no-store")])


def _reports(body: Any) -> list[tuple[str, str]] | None:
    """(blocked URL, directive) of each report in ``body``, or None for a body of another shape."""
    if isinstance(body, dict) and isinstance(body.get("csp-report"), dict):
        report = body["csp-report"]
        blocked = report.get("blocked-uri", "")
        directive = report.get("effective-directive") or report.get("violated-directive") or ""
        if isinstance(blocked, str) and isinstance(directive, str):
            return [(blocked, directive)]
        return None
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        found = []
        for item in body:
            data = item.get("body")
            if item.get("type") != "csp-violation" or not isinstance(data, dict):
                continue
            blocked, directive = data.get("blockedURL", ""), data.get("effectiveDirective", "")
            if isinstance(blocked, str) and isinstance(directive, str):
                found.append((blocked, directive))
        return found
    return None


def _origin(url: str) -> tuple[str, str, str, int | None] | None:
    """The origin of ``url`` as text, with its scheme, host and port (None: the default)."""
    try:
        parts = urlsplit(url.strip()[:2048])
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _SCHEMES or not host:
        return None
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else ""), scheme, host, port


def _directive(text: str) -> str:
    """The fetch directive a report names: ``script-src-elem`` is reported as ``script-src``,
    anything unknown as ``other`` (the table keeps no text a visitor could choose)."""
    name = text.strip().split(" ")[0].lower()
    for suffix in ("-elem", "-attr"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name if name in DIRECTIVES else "other"
