"""Response gating: which ``Set-Cookie`` lines of the app's response leave, and ``Vary``.

Each line's cookie name is matched against the policy; a line passes only when its
category is granted (required categories always are). Lines are never folded or
reordered, and every other header is kept as it was (RFC 6265 §3, RFC 9110 §5.3).
A response whose headers depend on the consent cookie or on ``Sec-GPC`` says so in
``Vary`` (RFC 9110 §12.5.5).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from consentlib.consent import evict_oldest
from consentlib.cookies import UNDECLARED, CookieGate, UndeclaredCookies, set_cookie_name
from consentlib.policy import Policy

_SET_COOKIE, _VARY, _ETAG = "set-cookie", "vary", "etag"
# The response header names the gate looks at, in the spellings apps use.
_WATCHED = {
    "Set-Cookie": _SET_COOKIE, "set-cookie": _SET_COOKIE,
    "Vary": _VARY, "vary": _VARY,
    "ETag": _ETAG, "Etag": _ETAG, "etag": _ETAG,
}
# A Set-Cookie line's verdict: kept (required: no Vary), kept or dropped by consent
# (Vary: Cookie, and Sec-GPC for gpc categories), dropped as undeclared.
_KEEP, _KEEP_VARY, _KEEP_VARY_GPC, _DROP, _DROP_VARY_GPC, _DROP_UNDECLARED = range(6)
_VARY_OF = (0, 1, 2, 1, 2, 1)
_CACHE_LIMIT = 4096
_VERDICT_TABLES_LIMIT = 256


class ResponseGate:
    """Builds the gated ``start_response`` for each request of one middleware."""

    def __init__(self, policy: Policy, cookies: CookieGate, undeclared: UndeclaredCookies) -> None:
        self.cookies = cookies
        self.undeclared = undeclared
        self.required = policy.required
        self.gpc_categories = policy.gpc_categories
        # Whether a validator's presence depends on consent (the ETag firewall runs).
        etags_gated = policy.etags is not None and policy.etags not in self.required
        self._etags_vary = (2 if policy.etags in self.gpc_categories else 1) if etags_gated else 0
        # Verdicts per distinct granted set (a handful: subsets of the categories).
        self._verdicts: dict[frozenset[str], dict[str, int]] = {}

    def start_response(self, start_response: Callable, granted: frozenset[str], extra: list | tuple = (),
                       gpc_refused: bool = False, stripped: bool = False) -> Callable:
        """``start_response`` for the app: drops, keeps and Vary-marks as ``granted`` says."""
        verdicts = self._verdicts.get(granted)
        if verdicts is None:
            verdicts = self._verdicts_for(granted)
        etags_vary = self._etags_vary
        # How the response varies before its own headers are seen: 0 not, 1 on Cookie,
        # 2 on Cookie and Sec-GPC.
        base = 2 if gpc_refused else 1 if (stripped or extra) else 0

        def gated(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            kept: list[tuple[str, str]] = []
            append = kept.append
            vary = base
            vary_lines = None
            for item in headers:
                field = item[0]
                # Header names compare case-insensitively (RFC 9110 §5.1); the table holds
                # the usual spellings, so only odd ones of the right length pay for lower().
                kind = _WATCHED.get(field)
                if kind is None and (len(field) not in (4, 10) or (kind := _WATCHED.get(field.lower())) is None):
                    append(item)
                    continue
                if kind is _SET_COOKIE:
                    raw, sep, _ = item[1].partition("=")
                    verdict = verdicts.get(raw) if sep else None
                    if verdict is None:
                        verdict = self._verdict(verdicts, granted, item[1])
                    if verdict < _DROP:
                        append(item)
                    # RFC 9110 §12.5.5: a gated line's presence depends on the consent cookie.
                    if _VARY_OF[verdict] > vary:
                        vary = _VARY_OF[verdict]
                    continue
                if kind is _VARY:
                    vary_lines = (vary_lines or []) + [item[1]]
                elif etags_vary > vary:
                    # Which validator leaves (the app's or the firewall's) depends on consent.
                    vary = etags_vary
                append(item)
            if extra:
                kept.extend(extra)
            if vary:
                if vary_lines is None:  # the common case: the app sent no Vary of its own
                    append(("Vary", "Cookie, Sec-GPC" if vary == 2 else "Cookie"))
                else:
                    add_vary(kept, ("Cookie", "Sec-GPC") if vary == 2 else ("Cookie",), vary_lines)
            return start_response(status, kept, exc_info) if exc_info else start_response(status, kept)

        return gated

    def _verdicts_for(self, granted: frozenset[str]) -> dict[str, int]:
        # One table per distinct granted set (a handful: subsets of the categories).
        if len(self._verdicts) >= _VERDICT_TABLES_LIMIT:
            evict_oldest(self._verdicts, _VERDICT_TABLES_LIMIT)
        return self._verdicts.setdefault(granted, {})

    def _verdict(self, verdicts: dict[str, int], granted: frozenset[str], value: str) -> int:
        """What to do with one Set-Cookie line, remembered by the text before its '='."""
        # RFC 6265 §5.2 in full: whitespace, a ';' before '=', no '=' at all.
        name = set_cookie_name(value)
        category = self.cookies.category_of(name)
        if category in self.required:
            verdict = _KEEP
        elif category in granted:
            verdict = _KEEP_VARY_GPC if category in self.gpc_categories else _KEEP_VARY
        elif category == UNDECLARED:
            if not self.undeclared.note(name):
                return _DROP_UNDECLARED  # not recorded yet: try again on the next response
            verdict = _DROP_UNDECLARED
        else:
            verdict = _DROP_VARY_GPC if category in self.gpc_categories else _DROP
        raw, sep, _ = value.partition("=")
        if sep:  # without '=' the text is the whole value: not a name to remember it by
            if len(verdicts) >= _CACHE_LIMIT:
                evict_oldest(verdicts, _CACHE_LIMIT)
            verdicts[raw] = verdict
        return verdict


def add_vary(headers: list[tuple[str, str]], fields: Iterable[str], present_lines: Iterable[str]) -> None:
    """Add ``fields`` to the response's Vary (whose lines are ``present_lines``) once each.

    ``Vary: *`` already says the response varies on everything; it is left alone.
    """
    present = {token.strip().lower() for line in present_lines for token in line.split(",")}
    if "*" in present:
        return
    missing = [f for f in fields if f.lower() not in present]
    if missing:
        headers.append(("Vary", ", ".join(missing)))
