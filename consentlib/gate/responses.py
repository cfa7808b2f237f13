"""Response gating: which ``Set-Cookie`` lines of the app's response leave, and ``Vary``.

Each line's cookie name is matched against the policy; a line passes only when its
category is granted (required categories always are). Lines are never folded or
reordered, and every other header is kept as it was (RFC 6265 §3, RFC 9110 §5.3).
A response whose headers depend on the consent cookie or on ``Sec-GPC`` says so in
``Vary`` (RFC 9110 §12.5.5).

With ``third_party_csp`` on, an HTML response (by its ``Content-Type``) also gets the
third-party Content-Security-Policy of its granted set (consentlib.gate.csp), right after
its Content-Type; in report mode (``mode="report"``) a line the gate would drop leaves,
and is told to ``note``. Without either, Content-Type passes like any header and the
loop below is the enforce mode's as it always was.

Every header is judged by the name a browser will see (consentlib.gate.fields): a name that
is not an RFC 9110 token, or a value with a line break, is dropped and logged once,
since a browser could read a ``Set-Cookie``, ``ETag`` or ``Last-Modified`` in it.

The gate a consent reuses (:meth:`ResponseGate.new_gate`) answers a site's usual page in
a shorter loop (headers passed by name, ``Set-Cookie`` lines of names judged before) and
hands any other response whole to the full loop, which answers it as always.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, overload

from consentlib.gate.bounded import BoundedCache
from consentlib.gate.cookies import UNDECLARED, CookieGate, UndeclaredCookies, set_cookie_name
from consentlib.gate.csp import ThirdPartyCsp, is_html
from consentlib.gate.fields import canonical_name, warn_dropped
from consentlib.policy import Policy

log = logging.getLogger("consentlib")

TextHeaders = list[tuple[str, str]]  # WSGI's headers (PEP 3333)
# What a reused gate is chosen by: (granted, a refused cookie is of a gpc category, stripped).
GateKey = tuple[frozenset[str], bool, bool]
RawHeaders = list[tuple[bytes, bytes]]  # ASGI's headers

# What the gate does with a header, by its name: pass it on, gate it as a cookie, merge
# Vary, mark a validator (whose presence depends on consent), or drop it (not a token).
_PASS, _SET_COOKIE, _VARY, _VALIDATOR, _DROP_FIELD = "pass", "set-cookie", "vary", "validator", "drop"
# Content-Type, judged only with third_party_csp on (otherwise it passes like any header).
_CONTENT_TYPE = "content-type"
_KIND_OF = {"set-cookie": _SET_COOKIE, "vary": _VARY, "etag": _VALIDATOR, "last-modified": _VALIDATOR}
# The names apps send most, known up front; any other is judged once and remembered.
_USUAL_NAMES = (
    "Set-Cookie", "set-cookie", "Vary", "vary", "ETag", "Etag", "etag", "Last-Modified", "last-modified",
    "Content-Type", "Content-Length", "Cache-Control", "Location", "Expires", "Date", "Content-Encoding",
)
_REPORTED_VALIDATOR = "reported-validator"
_EXTRA_KINDS = {"content-type": _CONTENT_TYPE, "etag": _REPORTED_VALIDATOR, "last-modified": _REPORTED_VALIDATOR}
_VALIDATOR_NAMES = {"etag": "ETag", "last-modified": "Last-Modified"}
_NAMES_LIMIT = 256
_NAME_MAX = 128
# A Set-Cookie line's verdict: kept (required: no Vary), kept or dropped by consent
# (Vary: Cookie, and Sec-GPC for gpc categories), dropped as undeclared, dropped as
# consentlib's own cookie (whatever the consent: no Vary).
_KEEP, _KEEP_VARY, _KEEP_VARY_GPC, _DROP, _DROP_VARY_GPC, _DROP_UNDECLARED, _DROP_OWN = range(7)
_VARY_OF = (0, 1, 2, 1, 2, 1, 0)
# Verdicts are remembered by the text before a Set-Cookie value's '=': texts of up to
# 128 characters, 64 KiB per table, at most 32 tables (granted sets): 2 MiB at worst.
_VERDICT_KEY_MAX = 128
_VERDICTS_BUDGET = 64 * 1024
_VERDICT_TABLES_LIMIT = 32


_GATES_LIMIT = 64


class ResponseGate:
    """Builds the header gates of one middleware's responses: a function per request's consent
    that keeps, drops and Vary-marks the app's headers (see :meth:`headers_gate`)."""

    def __init__(self, policy: Policy, cookies: CookieGate, undeclared: UndeclaredCookies, *,
                 csp: ThirdPartyCsp | None = None, note: Callable[[str, str], None] | None = None) -> None:
        self.cookies = cookies
        self.undeclared = undeclared
        # third_party_csp: the header added to HTML responses (consentlib.gate.csp).
        self.csp = csp
        # mode="report": what would be dropped is let through and told to note(kind, name).
        self.note = note
        self._etags = policy.etags
        self.required = policy.required
        self.gpc_categories = policy.gpc_categories
        # Whether a validator's presence depends on consent (the ETag firewall runs).
        etags_gated = policy.etags is not None and policy.etags not in self.required
        self._etags_vary = (2 if policy.etags in self.gpc_categories else 1) if etags_gated else 0
        # Verdicts per distinct granted set (a handful: subsets of the categories).
        self._verdicts: dict[frozenset[str], BoundedCache[str | bytes, int]] = {}
        extras = csp is not None or note is not None
        self._kind_of = {**_KIND_OF, **_EXTRA_KINDS} if extras else _KIND_OF
        self._usual = _usual_kinds(extras)
        self._kinds = dict(self._usual)
        self._warned: set[str] = set()
        #: The gates of requests with nothing of their own to add, by (granted, a refused
        #: cookie is of a gpc category, cookies stripped): a handful, each serving every
        #: request with that consent. Read by the doors inline, as ``gates[raw].get(key)``;
        #: :meth:`new_gate` fills them.
        self.gates: tuple[dict[GateKey, Callable[[TextHeaders], TextHeaders]],
                          dict[GateKey, Callable[[RawHeaders], RawHeaders]]] = ({}, {})

    @overload
    def new_gate(self, key: GateKey, raw: Literal[False]) -> Callable[[TextHeaders], TextHeaders]:
        ...

    @overload
    def new_gate(self, key: GateKey, raw: Literal[True]) -> Callable[[RawHeaders], RawHeaders]:
        ...

    def new_gate(self, key: GateKey, raw: bool) -> Callable[[TextHeaders], TextHeaders] | Callable[[RawHeaders], RawHeaders]:
        """The gate of ``key`` (see ``gates``), built and remembered."""
        gates: dict[GateKey, Any] = self.gates[raw]
        if len(gates) >= _GATES_LIMIT:
            gates.clear()
        granted, gpc_refused, stripped = key
        full = (self.headers_gate(granted, (), gpc_refused, stripped, raw=True) if raw
                else self.headers_gate(granted, (), gpc_refused, stripped))
        if self.note is not None:
            gate = full  # report mode lets through lines the usual loop would drop: its own loop judges them
        else:
            verdicts = self._verdicts.get(granted)
            if verdicts is None:  # another request's gate began a new generation of tables meanwhile
                verdicts = self._verdicts_for(granted)
            gate = _usual_case_gate(full, self._kinds, verdicts, _vary_before(gpc_refused, stripped), raw)
        gates[key] = gate
        return gate

    @overload
    def headers_gate(self, granted: frozenset[str], extra: Sequence[tuple[str, str]] = (), gpc_refused: bool = False,
                     stripped: bool = False, *, raw: Literal[False] = False) -> Callable[[TextHeaders], TextHeaders]:
        ...

    @overload
    def headers_gate(self, granted: frozenset[str], extra: Sequence[tuple[str, str]] = (), gpc_refused: bool = False,
                     stripped: bool = False, *, raw: Literal[True]) -> Callable[[RawHeaders], RawHeaders]:
        ...

    def headers_gate(self, granted: frozenset[str], extra: Sequence[tuple[str, str]] = (), gpc_refused: bool = False,
                     stripped: bool = False, *, raw: bool = False
                     ) -> Callable[[TextHeaders], TextHeaders] | Callable[[RawHeaders], RawHeaders]:
        """The response headers that may leave, from the app's, for one request.

        Plain ``(name, value)`` pairs, whatever the server interface: the WSGI door
        passes text; the ASGI door (``raw=True``) passes the bytes it has, read as
        ISO-8859-1 wherever a name or value is judged, as a WSGI server reads them
        (PEP 3333), and gets bytes back. ``extra`` is text either way.
        """
        verdicts = self._verdicts.get(granted)
        if verdicts is None:
            verdicts = self._verdicts_for(granted)
        kinds = self._kinds
        base = _vary_before(gpc_refused, stripped or bool(extra))
        # For bytes, ints: 'in' then searches for a byte without taking a buffer each time.
        lf, cr, nul, equals = (10, 13, 0, b"=") if raw else ("\n", "\r", "\0", "=")
        extra_pairs: Sequence[tuple[Any, Any]] = _raw_pairs(extra) if raw and extra else extra
        # Only with third_party_csp or report mode on do Content-Type and the validators
        # take the last branch below (see _usual_kinds): the enforce mode's loop is unchanged.
        note = self.note
        csp = self.csp
        csp_line: tuple[Any, Any] | None = None
        csp_vary = 0
        if csp is not None:
            text_line = csp.line(granted)
            csp_line = _raw_pairs([text_line])[0] if raw else text_line
            csp_vary = csp.vary
        note_validators = note is not None and self._etags is not None and self._etags not in granted

        # One loop for both doors: the pairs are text or bytes, as ``raw`` says. Its names
        # are bound as defaults, each one local read: a closure's cells and the module's
        # globals are objects of their own, which the app's work between two responses
        # pushes out of the CPU's caches (in a request they cost as much as the loop's
        # own work; bench/stages.py). The usual kinds (passed, Set-Cookie, Vary) are
        # judged here; any other, a dropped field included, by _judge_rare.
        def gate(headers: list[tuple[Any, Any]], kinds: dict[Any, str] = kinds,
                 verdicts: BoundedCache[Any, int] = verdicts, kind_of: Callable[[Any], str] = self._kind,
                 verdict_of: Callable[[BoundedCache[Any, int], frozenset[str], Any], int] = self._verdict,
                 judge_rare: Callable[..., int] = self._judge_rare, granted: frozenset[str] = granted,
                 note: Callable[[str, str], None] | None = note, base: int = base, lf: Any = lf, cr: Any = cr,
                 nul: Any = nul, equals: Any = equals, PASS: str = _PASS, SET_COOKIE: str = _SET_COOKIE,
                 VARY: str = _VARY, DROP_FIELD: str = _DROP_FIELD, DROP: int = _DROP,
                 DROP_OWN: int = _DROP_OWN, VARY_OF: tuple[int, ...] = _VARY_OF,
                 extra_pairs: Sequence[tuple[Any, Any]] = extra_pairs,
                 vary_line: tuple[tuple[Any, Any], ...] = _VARY_LINES[raw]) -> list[tuple[Any, Any]]:
            kept: list[tuple[Any, Any]] = []
            append = kept.append
            vary = base
            vary_lines = debug = None
            for item in headers:
                name, value = item
                kind = kinds.get(name) or kind_of(name)
                # RFC 9110 §5.5: a line break would start a header the gate never saw. Three
                # one-character searches (ints for bytes: no buffer taken) cost less than
                # one isprintable() pass, which judges every character's Unicode class.
                if lf in value or cr in value or nul in value:
                    kind = DROP_FIELD
                if kind is PASS:
                    append(item)
                elif kind is SET_COOKIE:
                    raw_name, sep, _ = value.partition(equals)
                    verdict = verdicts.get(raw_name) if sep else None
                    if verdict is None:
                        verdict = verdict_of(verdicts, granted, value)
                    if verdict < DROP:
                        append(item)
                    elif note is not None and verdict != DROP_OWN:
                        # Report mode: let through, and say what enforce would do. An app's
                        # line named like consentlib's own cookie still never leaves: it is
                        # no consent decision, it would overwrite the visitor's choice.
                        append(item)
                        note("cookie", set_cookie_name(_text(value)) or "(no name)")
                    else:
                        if debug is None:  # asked once per response, only when a line is refused
                            debug = log.isEnabledFor(logging.DEBUG)
                        if debug:
                            log.debug("consentlib refused Set-Cookie %r: %s", set_cookie_name(_text(value)),
                                      _why_refused(verdict, granted))
                    # RFC 9110 §12.5.5: a gated line's presence depends on the consent cookie.
                    if VARY_OF[verdict] > vary:
                        vary = VARY_OF[verdict]
                elif kind is VARY:
                    vary_lines = (vary_lines or []) + [value]
                    append(item)
                else:
                    vary = judge_rare(item, kind, kept, vary, csp_line, csp_vary, note_validators)
            if extra_pairs:
                kept.extend(extra_pairs)
            if vary:
                if vary_lines is None:  # the common case: the app sent no Vary of its own
                    append(vary_line[vary - 1])
                else:
                    fields = ("Cookie", "Sec-GPC") if vary == 2 else ("Cookie",)
                    if raw:
                        added: list[tuple[str, str]] = []
                        add_vary(added, fields, [_text(line) for line in vary_lines])
                        kept.extend(_raw_pairs(added))
                    else:
                        add_vary(kept, fields, vary_lines)
            return kept

        return gate

    def _judge_rare(self, item: tuple[Any, Any], kind: str, kept: list[tuple[Any, Any]], vary: int,
                    csp_line: tuple[Any, Any] | None, csp_vary: int, note_validators: bool) -> int:
        """Keep or drop one header of a kind the gate's loop does not judge itself (see
        headers_gate), appending what leaves to ``kept``; the response's Vary degree after it."""
        if kind is _DROP_FIELD:
            warn_dropped(_text(item[0]), self._warned)
            return vary
        if kind is _VALIDATOR or kind is _REPORTED_VALIDATOR:
            # Which validator leaves (the app's ETag and Last-Modified, or the firewall's
            # ETag) depends on consent.
            vary = max(vary, self._etags_vary)
            if kind is _REPORTED_VALIDATOR and note_validators and self.note is not None:
                self.note("validator", _VALIDATOR_NAMES.get(canonical_name(_text(item[0])), "ETag"))
        elif kind is _CONTENT_TYPE and csp_line is not None and is_html(_text(item[1])):
            kept.append(item)
            item = csp_line  # the page's own policy stays; this one narrows it
            vary = max(vary, csp_vary)
        kept.append(item)
        return vary

    def _kind(self, name: str | bytes) -> str:
        """What to do with header ``name``, judged by the name a browser will see."""
        canonical = canonical_name(_text(name))
        kind = self._kind_of.get(canonical, _PASS) if canonical else _DROP_FIELD
        if isinstance(name, (str, bytes)) and len(name) <= _NAME_MAX:
            if len(self._kinds) >= _NAMES_LIMIT:
                self._kinds = dict(self._usual)
            self._kinds[name] = kind
        return kind

    def _verdicts_for(self, granted: frozenset[str]) -> BoundedCache[str | bytes, int]:
        # One table per distinct granted set (a handful: subsets of the categories).
        if len(self._verdicts) >= _VERDICT_TABLES_LIMIT:
            self._verdicts.clear()  # a new generation: O(1), unlike evicting the oldest
        return self._verdicts.setdefault(granted, BoundedCache(budget=_VERDICTS_BUDGET, max_size=_VERDICT_KEY_MAX))

    def _verdict(self, verdicts: BoundedCache[str | bytes, int], granted: frozenset[str], value: str | bytes) -> int:
        """What to do with one Set-Cookie line, remembered by the text before its '='."""
        # RFC 6265 §5.2 in full: whitespace, a ';' before '=', no '=' at all.
        name = set_cookie_name(_text(value))
        category = self.cookies.category_of(name)
        if name in self.cookies.own_cookies:
            # Only consentlib writes the visitor's choice (its lines are added after the
            # app's): an app line named like it, even under a policy glob such as
            # "consent*", would overwrite or forge the choice in the browser.
            verdict = _DROP_OWN
        elif category in self.required:
            verdict = _KEEP
        elif category in granted:
            verdict = _KEEP_VARY_GPC if category in self.gpc_categories else _KEEP_VARY
        elif category == UNDECLARED:
            # In report mode the line leaves: noted as would-block, not as blocked.
            if self.note is None and not self.undeclared.note(name):
                return _DROP_UNDECLARED  # not recorded yet: try again on the next response
            verdict = _DROP_UNDECLARED
        else:
            verdict = _DROP_VARY_GPC if category in self.gpc_categories else _DROP
        raw, sep, _ = value.partition(b"=") if isinstance(value, bytes) else value.partition("=")
        if sep:  # without '=' the text is the whole value: not a name to remember it by
            verdicts.remember(raw, verdict)
        return verdict


def _usual_case_gate(full: Callable[[list[tuple[Any, Any]]], list[tuple[Any, Any]]], kinds: dict[Any, str],
                     verdicts: BoundedCache[Any, int], base: int, raw: bool
                     ) -> Callable[[list[tuple[Any, Any]]], list[tuple[Any, Any]]]:
    """A gate that answers as ``full`` does, judging only what most responses hold.

    A response whose headers all pass by name or are ``Set-Cookie`` lines of names
    already judged (a site sets the same few cookies on every page) is answered by the
    short loop below; any other (an app's own ``Vary``, a validator, a name or line seen
    for the first time, a line break in a value, a refused line while DEBUG logs) is
    handed whole to ``full``, which judges every kind. Fewer names to set up per call and
    fewer branches per header: in a request both cost cache misses, not just
    instructions (bench/instructions.py). Its names are read from closure cells and
    globals: bound as defaults, as headers_gate binds its own, they counted the same.
    """
    lf, cr, nul, equals = (10, 13, 0, b"=") if raw else ("\n", "\r", "\0", "=")
    vary_line = _VARY_LINES[raw]

    def gate(headers: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        if type(headers) is not list:
            # ASGI allows any iterable: read once here, it must still be whole for ``full``.
            headers = list(headers)
        kept: list[tuple[Any, Any]] = []
        vary = base
        dropped = False
        for item in headers:
            name, value = item
            kind = kinds.get(name)
            if lf in value or cr in value or nul in value:
                return full(headers)
            if kind is _PASS:
                kept.append(item)
            elif kind is _SET_COOKIE:
                raw_name, sep, _ = value.partition(equals)
                verdict = verdicts.get(raw_name) if sep else None
                if verdict is None:
                    return full(headers)
                if verdict < _DROP:
                    kept.append(item)
                else:
                    dropped = True
                if _VARY_OF[verdict] > vary:
                    vary = _VARY_OF[verdict]
            else:
                return full(headers)
        if dropped and log.isEnabledFor(logging.DEBUG):
            return full(headers)  # it says why each line was refused
        if vary:
            kept.append(vary_line[vary - 1])
        return kept

    return gate


def _vary_before(gpc_refused: bool, varies: bool) -> int:
    """How a response varies before its own headers are seen: 0 not, 1 on Cookie (its
    request's cookies were stripped, or it carries lines of its own), 2 on Cookie and
    Sec-GPC (a refused cookie's category is one GPC denies)."""
    return 2 if gpc_refused else 1 if varies else 0


def _why_refused(verdict: int, granted: frozenset[str]) -> str:
    if verdict == _DROP_UNDECLARED:
        return "the policy does not declare it, so it counts as non-necessary"
    if verdict == _DROP_OWN:
        return "it is consentlib's own cookie, which only consentlib writes"
    return f"its category is not granted on this request (granted: {', '.join(sorted(granted))})"


def _usual_kinds(extras: bool = False) -> dict[str | bytes, str]:
    """The kinds of the usual names; with ``extras`` (third_party_csp or report mode),
    Content-Type and the validators get kinds of their own."""
    # Both spellings a door may pass: text (WSGI) and ASGI's lower-case bytes.
    kinds: dict[str | bytes, str] = {}
    of = {**_KIND_OF, **_EXTRA_KINDS} if extras else _KIND_OF
    for name in _USUAL_NAMES:
        kinds[name] = kinds[name.lower().encode()] = of.get(name.lower(), _PASS)
    return kinds


def _text(data: str | bytes) -> str:
    """A header name or value as text: bytes read as ISO-8859-1, as PEP 3333 does."""
    return data.decode("latin-1") if isinstance(data, bytes) else data


def _raw_pairs(pairs: Iterable[tuple[str, str]]) -> RawHeaders:
    # ASGI wants lower-case names (bytes.lower(): ASCII only).
    return [(name.encode("latin-1").lower(), value.encode("latin-1")) for name, value in pairs]


# The Vary line added to a response that sent none, by door (text, bytes) and degree - 1
# (1: Cookie; 2: Cookie and Sec-GPC).
_VARY_LINES: tuple[tuple[tuple[Any, Any], ...], ...] = (
    (("Vary", "Cookie"), ("Vary", "Cookie, Sec-GPC")),
    ((b"vary", b"Cookie"), (b"vary", b"Cookie, Sec-GPC")),
)


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
