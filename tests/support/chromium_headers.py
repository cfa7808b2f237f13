"""A response head as Chromium reads it: the oracle of tests/integration/test_differential.py.

A gate that judges a header by its own reading of the name is walked past by any
spelling the browser reads differently: ``Set-Cookie `` (a trailing space) is no
Set-Cookie to a gate comparing names exactly, and a cookie to Chromium. So the
differential tests judge the bytes that crossed the wire the way the browser does.
These are the rules of Chromium's ``net/http/http_util.cc`` (``AssembleRawHeaders``,
``HeadersIterator``) and ``net/cookies/parsed_cookie.cc``, each one checked against a
real headless Chromium by the rows of :data:`CALIBRATION`
(``test_chromium_reads_the_calibration_heads_as_the_oracle_does``):

* a NUL anywhere in the head makes the whole response invalid: nothing of it is read;
* lines end at any run of CR and LF; a line that starts with a space or a tab continues
  the header line before it (obs-fold, RFC 9112 §5.2), joined by one space;
* a line without ``:``, or whose name is empty or starts with whitespace, is dropped;
* spaces and tabs around the name are trimmed; a name that is then not an RFC 9110
  token (§5.6.2) is dropped; names compare case-insensitively (§5.1);
* a Set-Cookie value's name is the text before the first ``=`` of its first
  ``;``-separated part, trimmed (RFC 6265 §5.2); without ``=`` the cookie has an empty
  name; a control character in that part makes the browser store nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.fuzz_strategies import is_expiry

_LINE_BREAKS = re.compile(rb"[\r\n]+")
# RFC 9110 §5.6.2 tchar, which is also Chromium's HttpUtil::IsTokenChar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LWS = b" \t"


@dataclass(frozen=True)
class Head:
    status: int
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value), in wire order

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def validators(self) -> tuple[str | None, str | None]:
        """The ETag and Last-Modified a browser stores and replays: the first of each."""
        etags, dates = self.values("etag"), self.values("last-modified")
        return (etags[0] if etags else None), (dates[0] if dates else None)

    def jar(self) -> set[str]:
        """Names of the cookies this response leaves in an empty cookie jar."""
        names: set[str] = set()
        for value in self.values("set-cookie"):
            name = stored_cookie_name(value)
            if name is None:
                continue
            if is_expiry(value):
                names.discard(name)
            else:
                names.add(name)
        return names


def end_of_head(raw: bytes) -> int:
    """Where the head ends (after its empty line), or -1 while it is incomplete.

    Like Chromium's ``HttpUtil::LocateEndOfHeaders``: an LF followed by an empty line,
    whether that line ends in CRLF or a bare LF.
    """
    at = raw.find(b"\n")
    while at != -1:
        if raw[at + 1:at + 2] == b"\n":
            return at + 2
        if raw[at + 1:at + 3] == b"\r\n":
            return at + 3
        at = raw.find(b"\n", at + 1)
    return -1


def read_head(raw: bytes) -> Head | None:
    """The status and header fields Chromium reads from ``raw`` (a response, at least
    its head); None when Chromium rejects the response as invalid."""
    end = end_of_head(raw)
    head = raw if end == -1 else raw[:end]
    if b"\0" in head:
        return None  # net::ERR_INVALID_HTTP_RESPONSE: the page does not load at all
    status_end = len(head)
    for stop in (head.find(b"\r"), head.find(b"\n")):
        if stop != -1:
            status_end = min(status_end, stop)
    status_line = head[:status_end].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    lines: list[bytes] = []
    continuable = False
    for segment in _LINE_BREAKS.split(head[status_end:]):
        if not segment:
            continue
        if continuable and segment[:1] in (b" ", b"\t"):
            lines[-1] += b" " + segment.strip(_LWS)  # obs-fold: a continuation
        else:
            lines.append(segment)
            name = segment.partition(b":")[0]
            continuable = b":" in segment and bool(name) and name[:1] not in (b" ", b"\t")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[:1] in (b" ", b"\t"):
            continue
        name = name.strip(_LWS)
        if not _TOKEN.fullmatch(name):
            continue
        headers.append((name.decode("ascii").lower(), value.strip(_LWS).decode("latin-1")))
    return Head(status, tuple(headers))


def cookies_kept(raw: bytes) -> set[str]:
    """The cookies a browser holds after ``raw`` (from an empty jar)."""
    head = read_head(raw)
    return head.jar() if head is not None else set()


def validators_kept(raw: bytes) -> tuple[str | None, str | None]:
    """The (If-None-Match, If-Modified-Since) a browser's reload sends after ``raw``."""
    head = read_head(raw)
    return head.validators() if head is not None else (None, None)


def stored_cookie_name(set_cookie: str) -> str | None:
    """The name a browser stores a Set-Cookie value under; None if it stores nothing."""
    pair = set_cookie.split(";", 1)[0]
    if any(c < " " and c != "\t" or c == "\x7f" for c in pair):
        return None
    name, equals, value = pair.partition("=")
    if not equals:
        name, value = "", name  # RFC 6265bis §5.6: a nameless cookie
    name, value = name.strip(" \t"), value.strip(" \t")
    if not name and not value:
        return None
    return name


# Raw header lines (between the status line and Content-Length) and the cookie names
# Chromium then holds. Each row is served byte for byte to a real Chromium by
# tests/integration/test_differential.py and must give the same jar there as read_head() predicts.
CALIBRATION = [
    ("plain", [b"Set-Cookie: c1=1; Path=/"], {"c1"}),
    ("lower-and-upper-case", [b"set-COOKIE: c1=1; Path=/"], {"c1"}),
    ("space-before-colon", [b"Set-Cookie : c1=1; Path=/"], {"c1"}),
    ("tab-before-colon", [b"Set-Cookie\t: c1=1; Path=/"], {"c1"}),
    ("spaces-and-tabs-before-colon", [b"Set-Cookie \t : c1=1; Path=/"], {"c1"}),
    ("no-space-after-colon", [b"Set-Cookie:c1=1;Path=/"], {"c1"}),
    ("line-carried-in-the-name", [b"Set-Cookie:c1=1;Path=/;y: "], {"c1"}),
    ("double-colon", [b"Set-Cookie:: c1=1; Path=/"], {": c1"}),
    ("leading-space-first-line-dropped", [b" Set-Cookie: c1=1; Path=/"], set()),
    ("leading-tab-first-line-dropped", [b"\tSet-Cookie : c1=1; Path=/"], set()),
    ("leading-space-folds-into-previous", [b"X-Note: a", b" Set-Cookie: c1=1; Path=/"], set()),
    ("folds-into-previous-cookie", [b"Set-Cookie: c1=1; Path=/", b"\tSet-Cookie: c2=1; Path=/"], {"c1"}),
    ("vertical-tab-in-name", [b"Set-Cookie\x0b: c1=1; Path=/"], set()),
    ("form-feed-in-name", [b"Set-Cookie\x0c: c1=1; Path=/"], set()),
    ("nbsp-in-name", [b"Set-Cookie\xa0: c1=1; Path=/"], set()),
    ("soft-hyphen-in-name", [b"Set\xadCookie: c1=1; Path=/"], set()),
    ("space-inside-name", [b"Set Cookie: c1=1; Path=/"], set()),
    ("del-in-name", [b"Set-Cookie\x7f: c1=1; Path=/"], set()),
    ("utf8-look-alike-in-name", ["Set-Coo\u212aie: c1=1; Path=/".encode()], set()),
    ("bare-cr-splits-lines", [b"Set-Cookie: c1=1; Path=/\rSet-Cookie: c2=1; Path=/"], {"c1", "c2"}),
    ("bare-lf-splits-lines", [b"Set-Cookie: c1=1; Path=/\nSet-Cookie: c2=1; Path=/"], {"c1", "c2"}),
    ("cr-before-colon", [b"Set-Cookie\r: c1=1; Path=/"], set()),
    ("nul-rejects-the-response", [b"Set-Cookie\x00: c1=1; Path=/"], set()),
    ("control-character-in-value", [b"Set-Cookie: c1=\x7f1; Path=/"], set()),
    ("nameless-cookie", [b"Set-Cookie: c1; Path=/"], {""}),
    ("spaces-around-the-pair", [b"Set-Cookie:   c1 = 1 ; Path=/"], {"c1"}),
    ("expired-at-once", [b"Set-Cookie: c1=1; Path=/; Max-Age=0"], set()),
]

_DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"

# Raw header lines of a page (served with Cache-Control: no-cache) and what Chromium's
# reload of it sends back: (If-None-Match, If-Modified-Since).
VALIDATOR_CALIBRATION = [
    ("etag-plain", [b'ETag: "v1"'], ('"v1"', None)),
    ("etag-lower-case", [b'etag: "v1"'], ('"v1"', None)),
    ("etag-space-before-colon", [b'ETag : "v1"'], ('"v1"', None)),
    ("etag-line-in-name", [b'ETag:"v1": '], ('"v1":', None)),
    ("etag-nbsp-in-name", [b'ETag\xa0: "v1"'], (None, None)),
    ("etag-folded-into-previous", [b"X-Note: a", b' ETag: "v1"'], (None, None)),
    ("first-etag-wins", [b'ETag : "v1"', b'ETag: W/"w1"'], ('"v1"', None)),
    ("last-modified-tab-before-colon", [b"Last-Modified\t: " + _DATE], (None, _DATE.decode())),
    ("first-last-modified-wins", [b"last-modified: " + _DATE, b"Last-Modified: Mon, 07 Nov 1994 08:49:37 GMT"],
     (None, _DATE.decode())),
]
