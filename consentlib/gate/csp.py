"""The third-party Content-Security-Policy: which other origins a page may reach, by consent.

With ``third_party_csp`` on, every HTML response gets one more ``Content-Security-Policy``
(or, in report mode, ``Content-Security-Policy-Report-Only``) header. A browser enforces
every policy it is given, each on its own (CSP3 §8.1 "multiple policies"), so this one only
narrows the site's own and never loosens it; the site's header is left as it is.

Each fetch directive a tracker can use allows ``'self'``, ``data:``, ``blob:``, and the
declared hosts (:class:`consentlib.policy.Host`) of the categories this visitor granted
(required ones always are); any other origin is refused. It restricts where the page may
reach and nothing else: ``script-src`` also carries ``'unsafe-inline' 'unsafe-eval'`` and
never a nonce or a hash, because either would switch ``'unsafe-inline'`` off (CSP3
§6.7.3.2) and block the site's inline scripts, which the site's own policy governs.

Reports go by ``report-uri`` only: Chromium ignores ``report-uri`` when ``report-to`` is
present, and delivers Reporting-API reports late, batched, or (on plain http) not at all.
"""
from __future__ import annotations

from typing import Final

from consentlib.policy import Policy

#: The fetch directives a tracker uses (CSP3 §6.1): scripts, beacons and XHR/fetch,
#: pixels, iframes, video, fonts, workers, manifests, plugins. ``prefetch-src`` is not
#: among them: it was dropped from CSP3, and Chromium (156) no longer knows it: it logs
#: "Unrecognized Content-Security-Policy directive 'prefetch-src'" and ignores it.
DIRECTIVES: Final = ("script-src", "connect-src", "img-src", "frame-src", "media-src", "font-src",
                     "worker-src", "manifest-src", "object-src")
_SCRIPT_EXTRAS = "'unsafe-inline' 'unsafe-eval'"
_EVERY_DIRECTIVE = "'self' data: blob:"
ENFORCE, REPORT = "enforce", "report"
HEADER = {ENFORCE: "Content-Security-Policy", REPORT: "Content-Security-Policy-Report-Only"}
# Header texts kept per granted set: subsets of the categories, a handful in practice.
_TEXTS_LIMIT = 64
# The HTML media types (RFC 2854, RFC 3236): the documents whose fetches a CSP governs.
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class ThirdPartyCsp:
    """The header line for a visitor's granted categories, built once per granted set."""

    def __init__(self, policy: Policy, prefix: str, mode: str) -> None:
        self.name = HEADER[mode]
        self.report_uri = f"{prefix}csp-report"
        self.hosts = policy.hosts
        self.required = policy.required
        # RFC 9110 §12.5.5: the header depends on the consent cookie when a host of a
        # category the visitor can refuse is declared, and on Sec-GPC when one of a gpc
        # category is (the gate's Vary degrees: 0 none, 1 Cookie, 2 Cookie and Sec-GPC).
        optional = {host.category for host in policy.hosts} - self.required
        self.vary = 2 if optional & policy.gpc_categories else 1 if optional else 0
        self._texts: dict[frozenset[str], str] = {}

    def value(self, granted: frozenset[str]) -> str:
        """The policy text for a visitor who granted ``granted`` (required included)."""
        text = self._texts.get(granted)
        if text is None:
            text = self._build(granted)
            if len(self._texts) >= _TEXTS_LIMIT:
                self._texts.clear()  # a new generation: granted sets come from the policy, so rare
            self._texts[granted] = text
        return text

    def line(self, granted: frozenset[str]) -> tuple[str, str]:
        return self.name, self.value(granted)

    def _build(self, granted: frozenset[str]) -> str:
        allowed: list[str] = []
        for host in self.hosts:
            if (host.category in granted or host.category in self.required) and host.pattern not in allowed:
                allowed.append(host.pattern)
        sources = " ".join([_EVERY_DIRECTIVE, *allowed])
        directives = [f"{name} {_SCRIPT_EXTRAS + ' ' if name == 'script-src' else ''}{sources}"
                      for name in DIRECTIVES]
        return "; ".join([*directives, f"report-uri {self.report_uri}"])


def is_html(content_type: str) -> bool:
    """Whether a ``Content-Type`` value names an HTML document (its media type, RFC 9110
    §8.3.1, compared case-insensitively, parameters ignored)."""
    essence = content_type.partition(";")[0].strip().lower()
    return essence in _HTML_TYPES
