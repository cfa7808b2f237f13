"""What tests/integration/test_differential.py generates, and what the policy allows each visitor.

Two kinds of cases, both drawn by Hypothesis:

* :func:`header_lines`: a response header an app could send for ``Set-Cookie``, ``ETag``
  or ``Last-Modified``, in every spelling of its name an app or a library can produce:
  case, spaces and tabs before or after it, other whitespace, a ``-`` replaced, Unicode
  look-alikes, the header's whole line carried inside the name (``("Set-Cookie:_fbp=1;
  Path=/", "")``) or after a line break in another header's value; for Set-Cookie, a cookie whose category the visitor granted or
  refused, or one the policy does not declare.
* :func:`beacon_requests`: a request for a declared beacon path in the forms a server
  and a router may turn into that path: doubled slashes, ``%2F``/``%2f``, double
  encoding, a trailing slash, dot segments, a ``SCRIPT_NAME`` mount, absolute-form.

What the policy allows comes from the model in tests/support/fuzz_strategies.py (the policy's
declarations written out independently, consent cookies signed and checked with
itsdangerous), never from consentlib: :func:`header_findings`, :func:`browser_findings`
and :func:`beacon_findings` say what a visitor got beyond it, in sentences.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import formatdate

from hypothesis import strategies as st

from tests.support.chromium_headers import Head, stored_cookie_name
from tests.support.differential_site import MOUNT, VIEW_BEACONS, VIEW_CATEGORIES
from tests.support.fuzz_strategies import ETAGS, NAMES, granted_upper_bound, is_expiry, issued_cookies, model_category, pick

# -- visitors -------------------------------------------------------------------------------

# The categories each visitor chose (None: no choice yet).
VISITORS = {
    "undecided": None,
    "rejected": [],
    "analytics-only": ["analytics"],
    "all-but-marketing": ["preferences", "analytics"],
    "accepted": sorted(NAMES),
}


# Visitors drawn: more who refused something, where a leak would show.
visitors = pick(["undecided", "undecided", "rejected", "rejected", "analytics-only", "all-but-marketing", "accepted"])


def consent_cookies(visitor: str) -> dict[str, str]:
    """The consent cookies ``visitor`` holds (none before a choice), as the site issues them."""
    chosen = VISITORS[visitor]
    return {} if chosen is None else issued_cookies(chosen)


def cookie_header(visitor: str) -> str | None:
    return "; ".join(f"{name}={value}" for name, value in consent_cookies(visitor).items()) or None


def granted(visitor: str, gpc: bool = False) -> frozenset[str]:
    return granted_upper_bound(cookie_header(visitor), "1" if gpc else None, None, False)


# -- response header names ---------------------------------------------------------------------

KINDS = ("Set-Cookie", "ETag", "Last-Modified")
# Declared (every category: required, granted or refused by some visitor) and undeclared;
# exact-case matters (RFC 6265 §5.3: names are case-sensitive), so "Sid" is undeclared.
COOKIES = ["sid", "theme", "lang", "_ga", "_ga_XYZ", "_fbp", "_gid", "tracker_x", "Sid", "_FBP"]
_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Whitespace an app's string handling leaves around a name (str.strip() removes all of them).
_AROUND = [" ", "\t", " ", "\t", "  ", " \t", "\x0b", "\x0c", "\xa0", "\x85", "\u3000"]
_DASHES = ["_", " ", "", "\t", "\xad", "\u2010", "--"]
# Letters that look like (or case-fold to) ASCII ones: "\u212a".lower() == "k".
_LOOK_ALIKES = {"S": "\u0405", "e": "\u0435", "C": "\u0421", "o": "\u043e", "k": "\u212a", "i": "\u0131",
                "T": "\u0422", "a": "\u0430", "M": "\u041c", "t": "\u0442"}
PER_VISITOR_EPOCH = 1_500_000_000
# The middleware's own cookies, which the test plants in the browser for each visitor.
SITE_OWN = frozenset({"consent", "consent_id"})
_BREAKS = {"after-crlf": "\r\n", "after-lf": "\n", "after-cr": "\r"}


@dataclass(frozen=True)
class HeaderLine:
    """One response header as the app adds it; ``header(n)`` carries the marker ``n``."""

    kind: str  # the header it stands for: one of KINDS
    spelling: str  # its name as the app writes it
    # How the line travels: as itself (""), inside the name ("line-in-name",
    # "line-in-name-spaced", "trailing-colon"), or after a line break in another
    # header's value ("after-crlf", "after-lf", "after-cr").
    carrier: str = ""
    cookie: str = ""  # Set-Cookie only: the cookie's name

    def field_value(self, n: int) -> str:
        if self.kind == "Set-Cookie":
            return f"{self.cookie}={marker(n)}; Path=/"
        if self.kind == "ETag":
            return f'"uid-{n}"'  # a per-visitor entity tag: the evercookie
        return formatdate(PER_VISITOR_EPOCH + n, usegmt=True)  # a per-visitor date

    def header(self, n: int) -> tuple[str, str]:
        value = self.field_value(n)
        if self.carrier == "line-in-name":
            return f"{self.spelling}:{value}", ""
        if self.carrier == "line-in-name-spaced":
            return f"{self.spelling}: {value}", ""
        if self.carrier == "trailing-colon":
            return f"{self.spelling}:", value
        if self.carrier in _BREAKS:
            return "X-Note", f"1{_BREAKS[self.carrier]}{self.spelling}: {value}"
        return self.spelling, value

    @property
    def clean(self) -> bool:
        """A well-formed name (RFC 9110 §5.1: any case): it must pass when granted."""
        return not self.carrier and bool(_TCHAR.fullmatch(self.spelling)) and self.spelling.lower() == self.kind.lower()

    @property
    def encodable(self) -> bool:
        """PEP 3333 headers are Latin-1: a server cannot send any other character."""
        return all(ord(c) < 256 for c in "".join(self.header(0)))


def marker(n: int) -> str:
    return f"m{n}x"


def _cased(name: str, how: str, flips: list[bool]) -> str:
    if how == "lower":
        return name.lower()
    if how == "upper":
        return name.upper()
    if how == "mixed":
        return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips))
    return name


@st.composite
def header_lines(draw) -> HeaderLine:
    kind = draw(pick(KINDS))
    cookie = draw(pick(COOKIES)) if kind == "Set-Cookie" else ""
    name = _cased(kind, draw(pick(["as-is", "as-is", "lower", "upper", "mixed"])),
                  draw(st.lists(st.booleans(), min_size=len(kind), max_size=len(kind))))
    for change in draw(st.lists(pick(["clean", "clean", "trailing", "trailing", "leading", "dash", "look-alike"]),
                                min_size=1, max_size=2)):
        if change == "trailing":
            name += draw(pick(_AROUND))
        elif change == "leading":
            name = draw(pick(_AROUND)) + name
        elif change == "dash" and "-" in name:
            name = name.replace("-", draw(pick(_DASHES)), 1)
        elif change == "look-alike":
            letters = [i for i, c in enumerate(name) if c in _LOOK_ALIKES]
            if letters:
                i = draw(pick(letters))
                name = name[:i] + _LOOK_ALIKES[name[i]] + name[i + 1:]
    carrier = draw(pick(["", "", "", "", "", "line-in-name", "line-in-name-spaced", "trailing-colon", *_BREAKS]))
    return HeaderLine(kind, name, carrier, cookie)


responses = st.lists(header_lines(), min_size=1, max_size=4)
# What a server can put on the wire at all (a browser has nothing else to judge).
sendable_responses = st.lists(header_lines().filter(lambda line: line.encodable), min_size=2, max_size=6)


def _line_of(value: str, lines: list[HeaderLine]) -> str:
    """Which generated line a header value came from (by its marker), for the message."""
    for n, line in enumerate(lines):
        if marker(n) in value or f"uid-{n}\"" in value or formatdate(PER_VISITOR_EPOCH + n, usegmt=True) in value:
            return f"the app's header {line.header(n)!r}"
    return "a header the app did not send"


@dataclass
class Findings:
    """What a visitor got beyond what the policy allows, by kind, and what was allowed
    but never arrived (a gate that blocks everything is broken too), in sentences."""

    cookies: list[str] = field(default_factory=list)
    validators: list[str] = field(default_factory=list)
    beacons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cookies or self.validators or self.beacons or self.missing)


def _refused_cookie(name: str, granted: frozenset[str]) -> str | None:
    category = model_category(name)
    if category in granted:
        return None
    return f"category {category!r}, not granted" if category else "undeclared"


def header_findings(head: Head | None, lines: list[HeaderLine], granted: frozenset[str]) -> Findings:
    """What a browser reading ``head`` keeps beyond ``granted``; the app's well-formed,
    allowed headers it does not get."""
    found = Findings()
    if head is None:  # the browser rejects the response: it keeps nothing
        return found
    for value in head.values("set-cookie"):
        name = stored_cookie_name(value)
        if name is None or is_expiry(value):
            continue
        refused = _refused_cookie(name, granted)
        if refused:
            found.cookies.append(f"cookie {name!r} ({refused}) reaches the browser, from {_line_of(value, lines)}")
    if ETAGS not in granted:
        # Without the etags category only the firewall's content tag (W/"<hash>") may leave.
        for name in ("etag", "last-modified"):
            for value in head.values(name):
                if "uid-" in value or name == "last-modified":
                    found.validators.append(f"a per-visitor {name} {value!r} reaches the browser without the "
                                            f"{ETAGS!r} category, from {_line_of(value, lines)}")
    if all(line.encodable for line in lines):
        if head.status != 200:
            found.missing.append(f"the page answered {head.status} instead of 200")
        for n, line in enumerate(lines):
            if line.clean and allowed(line, granted):
                name, value = line.header(n)
                if not any(value.split(";", 1)[0] in sent for sent in head.values(line.kind.lower())):
                    found.missing.append(f"the allowed, well-formed header {(name, value)!r} never reaches the browser")
    return found


def allowed(line: HeaderLine, granted: frozenset[str]) -> bool:
    if line.kind == "Set-Cookie":
        return model_category(line.cookie) in granted
    return ETAGS in granted


def browser_findings(jar: set[str], received: dict[str, list[str]], replayed: tuple[str | None, str | None],
                     lines: list[HeaderLine], granted: frozenset[str]) -> Findings:
    """What Chromium holds beyond ``granted``: cookies in its jar, validators among the
    response headers it read (``received``) or sent back on the reload (``replayed``:
    If-None-Match, If-Modified-Since); allowed cookies and validators it lacks.

    Whether a reload replays a validator also depends on Vary (RFC 9111 §4.1: a response
    that varies on Cookie is not reused once the page has set a cookie), so an allowed
    validator need only have been received.
    """
    found = Findings()
    for name in sorted(jar - SITE_OWN):
        refused = _refused_cookie(name, granted)
        if refused:
            found.cookies.append(f"Chromium stored cookie {name!r} ({refused})")
    if ETAGS not in granted:
        for name in ("etag", "last-modified"):
            for value in received.get(name, ()):
                if "uid-" in value or name == "last-modified":
                    found.validators.append(f"Chromium received the per-visitor {name} {value!r} without the "
                                            f"{ETAGS!r} category")
        if_none_match, if_modified_since = replayed
        if if_none_match and "uid-" in if_none_match:
            found.validators.append(f"Chromium replays the per-visitor If-None-Match {if_none_match!r} "
                                    f"without the {ETAGS!r} category")
        if if_modified_since:
            found.validators.append(f"Chromium replays the per-visitor If-Modified-Since {if_modified_since!r} "
                                    f"without the {ETAGS!r} category")
    if not all(line.encodable for line in lines):
        return found
    for n, line in enumerate(lines):
        if not (line.clean and allowed(line, granted)):
            continue
        if line.kind == "Set-Cookie":
            if line.cookie not in jar:
                found.missing.append(f"Chromium lacks the allowed cookie {line.cookie!r} from {line.header(n)!r}")
        elif not any(line.field_value(n) in value for value in received.get(line.kind.lower(), ())):
            found.missing.append(f"Chromium never received the allowed {line.header(n)!r}")
    return found


# -- beacon request paths ------------------------------------------------------------------------

_SLASH_FORMS = ["%2F", "%2f"]


@dataclass(frozen=True)
class BeaconRequest:
    """A request meant for the beacon view ``view``; ``path`` is sent as it stands."""

    view: str
    path: str
    method: str = "GET"
    absolute: bool = False  # absolute-form request target (RFC 9112 §3.2.2)
    changes: tuple[str, ...] = ()

    @property
    def canonical(self) -> bool:
        """The declared path itself (or under the mount): allowed, it must reach the view."""
        return not self.changes

    def target(self, base: str) -> str:
        return base + self.path if self.absolute else self.path


def _slashes(path: str) -> list[int]:
    return [i for i, c in enumerate(path) if c == "/"]


@st.composite
def beacon_requests(draw, *, browser: bool = False) -> BeaconRequest:
    """A request for a declared beacon path; ``browser``: only what a page's fetch() can send."""
    view = draw(pick(sorted(VIEW_BEACONS)))
    path = VIEW_BEACONS[view]
    if path.endswith("/"):
        path += draw(pick(["x", "a/b", "p.gif"]))
    changes = draw(st.lists(pick(["double-slash", "double-slash", "encoded-slash", "encoded-slash",
                                  "double-encoded-slash", "encoded-letter", "trailing-slash", "dot-segment",
                                  "backslash", "upper-case"]), max_size=3))
    for change in changes:
        slashes = _slashes(path)
        at = draw(pick(slashes)) if slashes else 0
        if change == "double-slash":
            path = path[:at] + "/" * draw(pick([2, 2, 3])) + path[at + 1:]
        elif change == "encoded-slash":
            # The first slash stays: an origin-form target starts with "/" (RFC 9112 §3.2.1).
            form = draw(pick(_SLASH_FORMS))
            path = path[:at] + ("/" + form if at == 0 else form) + path[at + 1:]
        elif change == "double-encoded-slash":
            path = path[:at] + ("/%252F" if at == 0 else "%252f") + path[at + 1:]
        elif change == "encoded-letter":
            letters = [i for i, c in enumerate(path) if c.isalpha()]
            if letters:
                i = draw(pick(letters))
                path = path[:i] + f"%{ord(path[i]):02X}" + path[i + 1:]
        elif change == "trailing-slash":
            path += "/"
        elif change == "dot-segment":
            path = path[:at] + draw(pick(["/.", "/x/.."])) + path[at:]
        elif change == "backslash" and at:
            path = path[:at] + "\\" + path[at + 1:]
        elif change == "upper-case":
            path = path.upper()
    if draw(st.booleans()):
        path = MOUNT + path
    if draw(st.integers(0, 3)) == 3:
        path += "?v=1"
    method = draw(pick(["GET", "GET", "POST", "HEAD"]))
    absolute = not browser and draw(st.integers(0, 4)) == 4
    return BeaconRequest(view, path, method, absolute, tuple(changes))


def beacon_findings(hits: list, request: BeaconRequest, granted: frozenset[str], status: object = None) -> Findings:
    """Beacon views that ran without their category; an allowed beacon that did not reach its view."""
    found = Findings()
    # Each hit: (view, mount, path): WSGI's SCRIPT_NAME and PATH_INFO, ASGI's root_path and path.
    for view, script_name, path_info in hits:
        category = VIEW_CATEGORIES[view]
        if category not in granted:
            found.beacons.append(f"the {view!r} beacon view ({category!r}, not granted) ran for {request.method} "
                                 f"{request.path!r} (mount {script_name!r}, path {path_info!r})")
    if request.canonical and VIEW_CATEGORIES[request.view] in granted and not any(h[0] == request.view for h in hits):
        found.missing.append(f"the allowed beacon {request.method} {request.path!r} never reached its view "
                             f"(status {status})")
    return found
