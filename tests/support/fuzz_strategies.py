"""Hypothesis strategies and the independent model behind tests/unit/test_fuzz.py.

The model says what a request may get *from what the test generated*, never by asking
consentlib: which categories a Cookie header can grant at most (its genuine, current
consent cookies, verified here with itsdangerous and the documented cookie format),
which category a cookie name belongs to (the declarations, written out again below),
and which mail click targets were signed with the site's keys. It is deliberately an
upper bound: a leak is anything the middleware lets through beyond it.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import quote, urlencode

from hypothesis import strategies as st
from itsdangerous import BadData, BadSignature, Signer, URLSafeTimedSerializer
from werkzeug.test import encode_multipart

from consentlib import Beacon, Category, Cookie, Policy
from consentlib.mail.tokens import MailTokens
from tests.support.apps import KEYS

_PICKS: dict[tuple, st.SearchStrategy] = {}


def pick(options) -> st.SearchStrategy:
    """``st.sampled_from(options)``, built once per option list: a composite that builds
    its strategies on every draw spends most of its time validating them."""
    key = tuple(options)
    strategy = _PICKS.get(key)
    if strategy is None:
        strategy = _PICKS[key] = st.sampled_from(key)
    return strategy


PREFIX = "/_consent/"
REVISION = 3
LIFETIME = 30 * 24 * 3600
CLOCK_SKEW = 300  # a decision may come from a host whose clock runs ahead
FOREIGN_KEYS = ["fuzz-foreign-key-0123456789", "another-site-key-0123456789"]

FUZZ_POLICY = Policy(
    revision=REVISION,
    categories=[
        Category("necessary", required=True),
        Category("preferences"),
        Category("analytics"),
        Category("marketing", gpc=True),
    ],
    cookies=[
        Cookie("sid", "necessary", purpose="Keeps you signed in"),
        Cookie("theme", "preferences", purpose="Remembers light/dark"),
        Cookie("lang", "preferences", purpose="Language", path="/shop", domain="example.com"),
        Cookie("_ga*", "analytics", purpose="Counts visits"),
        Cookie("_fbp", "marketing", purpose="Ad measurement"),
    ],
    beacons=[
        Beacon("/collect", "analytics"),
        Beacon("/ads/pixel.gif", "marketing"),
        Beacon("/track/", "analytics"),
    ],
    etags="analytics",
)

# The model: the same declarations, written out independently of Policy's lookups.
NAMES = frozenset({"necessary", "preferences", "analytics", "marketing"})
REQUIRED = frozenset({"necessary"})
GPC_DENIED = frozenset({"marketing"})
ETAGS = "analytics"
_EXACT = {"sid": "necessary", "theme": "preferences", "lang": "preferences", "_fbp": "marketing"}
_GLOBS = (("_ga*", "analytics"),)
_BEACONS_EXACT = {"/collect": "analytics", "/ads/pixel.gif": "marketing"}
_BEACONS_PREFIX = {"/track/": "analytics"}


def model_category(name: str) -> str | None:
    if name in _EXACT:
        return _EXACT[name]
    for pattern, category in _GLOBS:
        if fnmatch.fnmatchcase(name, pattern):
            return category
    return None


def model_beacon(path: str) -> str | None:
    if path in _BEACONS_EXACT:
        return _BEACONS_EXACT[path]
    for start, category in _BEACONS_PREFIX.items():
        if path.startswith(start):
            return category
    return None


# -- the consent cookie, signed and checked here ----------------------------------------


def _signer(key: str, salt: str = "consentlib.consent") -> Signer:
    return Signer(key, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256)


_ID_SALT = "consentlib.consent-id"
_SITE_SIGNERS = [_signer(k) for k in KEYS]
_SITE_ID_SIGNERS = [_signer(k, _ID_SALT) for k in KEYS]


def sign_payload(payload: object, key: str = KEYS[0], salt: str = "consentlib.consent") -> str:
    """A cookie value carrying ``payload`` (any JSON), signed as docs/http.md, "The consent cookies", says."""
    text = json.dumps(payload, separators=(",", ":"))
    b64 = base64.urlsafe_b64encode(text.encode()).rstrip(b"=")
    return _signer(key, salt).sign(b64).decode("ascii")


def issued_cookies(categories, consent_id: str = "cd" * 16, decided_at: int | None = None) -> dict[str, str]:
    """The two cookies the site issues for a decision now (the current format): the
    ``consent`` scripts read, {r, c, t}, and the HttpOnly ``consent_id`` bound to it."""
    decision = {"r": REVISION, "c": list(categories), "t": int(time.time()) if decided_at is None else decided_at}
    return {"consent": sign_payload(decision), "consent_id": sign_payload({"id": consent_id, **decision}, KEYS[0], _ID_SALT)}


@dataclass(frozen=True)
class Verified:
    categories: frozenset[str]  # the policy's categories it names
    key_index: int
    revision: object
    decided_at: object


def _signed_payload(value: str, signers: list[Signer] = _SITE_SIGNERS) -> tuple[object, int] | None:
    """The JSON a consent cookie value carries if one of the site's keys signed it."""
    if not value.isascii():
        return None
    for index, signer in enumerate(signers):
        try:
            body = signer.unsign(value.encode("ascii"))
            break
        except BadSignature:
            continue
    else:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))), index
    except (ValueError, binascii.Error, RecursionError):
        return None


def model_verify(value: str, now: float | None = None) -> Verified | None:
    """What a genuine, current consent cookie value grants; permissive at the edges."""
    signed = _signed_payload(value)
    if signed is None:
        return None
    data, index = signed
    if not isinstance(data, dict):
        return None
    revision, categories, decided_at = data.get("r"), data.get("c"), data.get("t")
    if isinstance(categories, list):
        named = {c for c in categories if isinstance(c, str)}
    elif isinstance(categories, str):
        named = {categories}
    elif isinstance(categories, dict):
        named = set(categories)
    else:
        named = set()
    if revision != REVISION or not isinstance(decided_at, (int, float)):
        return None
    age = (time.time() if now is None else now) - decided_at
    # Five seconds of slack each way: the test's clock runs between signing and asking.
    if not (-CLOCK_SKEW - 5 <= age < LIFETIME + 5):
        return None
    return Verified(frozenset(named) & NAMES, index, revision, decided_at)


def consent_candidates(cookie_header: str | None, cookie: str = "consent") -> list[str]:
    """Every value a lenient parser could read as the ``consent`` (or ``cookie``) cookie."""
    out = []
    for part in (cookie_header or "").split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip() == cookie:
            for v in (value, value.strip(), value.strip().strip('"'), value.strip('"')):
                if v not in out:
                    out.append(v)
    return out


def granted_upper_bound(cookie_header: str | None, gpc: str | None, dnt: str | None, honour_dnt: bool) -> frozenset[str]:
    granted = set(REQUIRED)
    for value in consent_candidates(cookie_header):
        verified = model_verify(value)
        if verified is not None:
            granted |= verified.categories
    if gpc == "1" or (honour_dnt and dnt == "1"):
        granted -= GPC_DENIED
    return frozenset(granted)


def signed_consent_ids(cookie_header: str | None) -> set[str]:
    """The consent ids of every consent cookie of the first format and every consent_id
    cookie a site key signed, current or not, whatever decision they name."""
    ids = set()
    signed = [_signed_payload(v) for v in consent_candidates(cookie_header)]
    signed += [_signed_payload(v, _SITE_ID_SIGNERS) for v in consent_candidates(cookie_header, "consent_id")]
    for found in signed:
        if found is not None and isinstance(found[0], dict) and isinstance(found[0].get("id"), str):
            ids.add(found[0]["id"])
    return ids


def reissue_possible(cookie_header: str | None) -> bool:
    """A site key signed some consent cookie sent: it may be re-issued (older key, first format)."""
    return any(_signed_payload(c) is not None for c in consent_candidates(cookie_header))


def issued_id(value: str) -> dict | None:
    """The payload of a consent_id cookie value signed with the newest key, else None."""
    found = _signed_payload(value, _SITE_ID_SIGNERS)
    return found[0] if found is not None and found[1] == 0 and isinstance(found[0], dict) else None


def issued_payload(value: str) -> object:
    """The JSON an issued consent cookie value carries (it must be signed by the newest key)."""
    found = _signed_payload(value)
    return found[0] if found is not None and found[1] == 0 else None


def set_cookie_name(line: str) -> str:
    pair = line.split(";", 1)[0]
    name, sep, _ = pair.partition("=")
    return name.strip() if sep else ""


def is_expiry(line: str) -> bool:
    """RFC 6265 §5.2.2: the last Max-Age attribute wins; zero or less expires at once."""
    max_age = None
    for attribute in line.split(";")[1:]:
        key, _, value = attribute.partition("=")
        if key.strip().lower() == "max-age":
            max_age = value.strip()
    if max_age is None:
        return False
    try:
        return int(max_age) <= 0
    except ValueError:
        return False


# -- strategies: cookie headers ---------------------------------------------------------

_now = time.time
text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40)
short_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
token_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!#$%&'*+^`|"
token = st.text(pick(token_chars), min_size=1, max_size=12)
category_names = pick(sorted(NAMES) + ["etags", "Analytics", "", "necessary ", "unknown"])
consent_ids = st.one_of(st.just("ab" * 16), st.text("0123456789abcdef", min_size=32, max_size=32),
                        st.text(max_size=40), st.integers(), st.none())


_NOW = object()  # stands for "now" in a drawn payload
_chosen_categories = st.one_of(st.lists(pick(sorted(NAMES)), min_size=1, max_size=4, unique=True),
                               st.lists(category_names, max_size=6))
_odd_payloads = st.one_of(
    st.fixed_dictionaries({"r": pick([REVISION, 3.0, True, "3", None]),
                           "c": st.one_of(st.lists(st.one_of(category_names, st.integers(), st.none())),
                                          category_names, st.none(), st.dictionaries(category_names, st.booleans())),
                           "id": consent_ids,
                           "t": st.one_of(st.just(_NOW), st.floats(allow_nan=True), st.integers(),
                                          st.booleans(), st.text(max_size=5))}),
    st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=10), st.none(),
)
_junk_values = st.one_of(text, st.just("x" * 5000), st.just("e30.abc"), short_ascii)


@st.composite
def consent_values(draw, ids: tuple[str, ...] = ("cd" * 16,)) -> str:
    """Consent cookie values: genuine, expired, future, foreign, tampered, truncated, junk."""
    return draw(consent_cookies(ids))[0]


@st.composite
def consent_cookies(draw, ids: tuple[str, ...] = ("cd" * 16,)) -> tuple[str, str | None]:
    """A consent cookie value (genuine, expired, future, foreign, tampered, truncated,
    junk; the current format {r, c, t} or the first {r, c, id, t}) and, for the current
    format, often a consent_id cookie value: bound to it, to another decision, foreign
    or signed with the older key."""
    kind = draw(pick(["genuine"] * 7 + ["old_key"] * 2 + ["expired", "future", "revision",
                                 "foreign", "shape", "tampered", "truncated", "junk"]))
    categories = draw(_chosen_categories)
    now = int(_now())
    offset = draw(st.integers(min_value=-LIFETIME + 120, max_value=CLOCK_SKEW - 60))
    consent_id = draw(consent_ids) if kind == "shape" else draw(pick(ids))
    payload = {"r": REVISION, "c": categories, "id": consent_id, "t": now + offset}
    id_value = None
    if kind != "shape" and draw(st.integers(0, 3)):
        payload.pop("id")  # the current format; its id travels in the HttpOnly cookie
        how = draw(pick(["bound", "bound", "bound", "other-decision", "old_key", "foreign", "none"]))
        bound = {"id": consent_id, "r": payload["r"], "c": payload["c"], "t": payload["t"]}
        if how == "other-decision":
            bound["t"] -= draw(st.integers(1, 10**6))
        if how != "none":
            key = {"old_key": KEYS[1], "foreign": FOREIGN_KEYS[0]}.get(how, KEYS[0])
            id_value = sign_payload(bound, key, _ID_SALT)
    if kind in ("genuine", "old_key", "tampered", "truncated"):
        value = sign_payload(payload, KEYS[1] if kind == "old_key" else KEYS[0])
        if kind == "tampered":
            i = draw(st.integers(0, len(value) - 1))
            value = value[:i] + draw(pick(list("A_-.=x0 \"%"))) + value[i + 1:]
        elif kind == "truncated":
            value = value[: draw(st.integers(0, len(value) - 1))]
        return value, id_value
    if kind == "expired":
        payload["t"] = now - LIFETIME - draw(st.integers(60, 10**9))
    elif kind == "future":
        payload["t"] = now + CLOCK_SKEW + draw(st.integers(60, 10**12))
    elif kind == "revision":
        payload["r"] = draw(pick([REVISION - 1, REVISION + 1, 0, -3, str(REVISION), None, True]))
    elif kind == "shape":
        payload = draw(_odd_payloads)
        if isinstance(payload, dict) and payload.get("t") is _NOW:
            payload["t"] = now
    if kind == "foreign":
        return sign_payload(payload, draw(pick(FOREIGN_KEYS))), id_value
    if kind == "junk":
        return draw(_junk_values), id_value
    return sign_payload(payload), id_value


cookie_names = pick(["consent", "consent", "consent_id", "sid", "theme", "lang", "_ga", "_ga_ABC", "_gid",
                                "_fbp", "tracker_x", "Consent", "SID", "", "__Host-x"])


_junk_headers = st.one_of(text, st.just(";;;"), st.just("=; =="), st.just("consent"))
_pair_names = st.lists(st.one_of(cookie_names, token), max_size=5)
_pair_values = st.one_of(pick(["1", "x", "", "a b"]), short_ascii)


@st.composite
def cookie_headers(draw, ids: tuple[str, ...] = ("cd" * 16,)) -> str | None:
    shape = draw(pick(["pairs"] * 6 + ["none", "junk"]))
    if shape == "none":
        return None
    if shape == "junk":
        return draw(_junk_headers)
    pairs = []
    for name in draw(_pair_names):
        if name.strip() == "consent" or draw(st.integers(0, 9)) == 0:
            value = draw(consent_values(ids))
            if draw(st.integers(0, 5)) == 0:
                value = f'"{value}"'
        else:
            value = draw(_pair_values)
        around = draw(pick(["", "", " ", "  "]))
        pairs.append(f"{around}{name}{around}={value}" if draw(st.integers(0, 9)) else name)
    if draw(st.integers(0, 3)):
        # Most headers carry a consent cookie somewhere, as a returning visitor's do,
        # and with the current format often its consent_id cookie, before or after it.
        value, id_value = draw(consent_cookies(ids))
        pairs.insert(draw(st.integers(0, len(pairs))), f"consent={value}")
        if id_value is not None:
            pairs.insert(draw(st.integers(0, len(pairs))), f"consent_id={id_value}")
    separator = draw(pick(["; ", "; ", ";", " ; ", ";;"]))
    return separator.join(pairs)


# -- strategies: request headers and bodies -------------------------------------------------

header_junk = st.one_of(text, pick(["", " ", "\x00", "\xff\xfe", "1, 1", "null"]))


@st.composite
def _sometimes(draw, strategy, present: int, absent: int):
    # An integer decides, not st.one_of(st.none(), ...): one_of merges repeated
    # branches, so it cannot weigh them.
    return draw(strategy) if draw(st.integers(1, present + absent)) <= present else None


def maybe(strategy, weight: int = 2):
    """``None`` about once in ``weight`` draws, else a value of ``strategy``."""
    return _sometimes(strategy, weight - 1, 1)


def rarely(strategy, weight: int = 3):
    """A value of ``strategy`` about once in ``weight`` draws, else ``None``."""
    return _sometimes(strategy, 1, weight - 1)


_HTTP_DATES = [formatdate(0, usegmt=True), formatdate(2_000_000_000, usegmt=True),
               "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "yesterday"]


@dataclass
class Request:
    """One generated request, with what the model needs to judge its answer."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # WSGI environ keys (HTTP_*)
    body: bytes = b""
    content_type: str | None = None
    content_length: str | None = None
    scheme: str = "http"
    input_terminated: bool = False
    plan: object = None

    def environ_overrides(self) -> dict:
        env = dict(self.headers)
        env["PATH_INFO"] = self.path
        env["QUERY_STRING"] = self.query
        env["wsgi.url_scheme"] = self.scheme
        if self.content_type is not None:
            env["CONTENT_TYPE"] = self.content_type
        if self.content_length is not None:
            env["CONTENT_LENGTH"] = self.content_length
        if self.input_terminated:
            env["wsgi.input_terminated"] = True
        if self.plan is not None:
            env["fuzz.plan"] = self.plan
        return env

    @property
    def cookie(self) -> str | None:
        return self.headers.get("HTTP_COOKIE")


METHODS = pick(["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
_HOSTS = ["localhost", "localhost:80", "example.com", "[::1]:8080", "LOCALHOST"]
hosts = st.one_of(pick(_HOSTS), pick(["", "a b", "/", "[::1", "evil.com@localhost"]))
_ORIGINS = ["http://localhost", "http://localhost:80", "https://localhost", "https://www.example.com",
            "http://evil.example", "null",
            "http://localhost/", "HTTP://LOCALHOST", "http://[::1", ""]
_AGENTS = ["Mozilla/5.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36",
           "Mozilla/5.0 (compatible; GoogleImageProxy)", "curl/8.0", "Googlebot/2.1", "x" * 700]
_ADDRESSES = ["192.0.2.7", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "not-an-ip", "", "999.1.1.1"]


def _optional(strategy, weight: int) -> st.SearchStrategy:
    return maybe(strategy, weight) if weight > 0 else rarely(strategy, -weight)


@functools.cache
def common_headers(minor_ids: tuple[str, ...] = ()) -> st.SearchStrategy:
    """The request headers every test varies (as WSGI environ keys), each often absent.

    With ``minor_ids``, consent cookies carry those ids and half the visitors say
    ``X-Minor: 1`` (the test site's ``is_minor`` hook).
    """
    fields = [
        ("HTTP_COOKIE", _optional(cookie_headers(minor_ids or ("cd" * 16,)), 5)),
        ("HTTP_SEC_GPC", _optional(st.one_of(pick(["1", "1", "0", " 1", "true", "1 "]), header_junk), 2)),
        ("HTTP_DNT", _optional(st.one_of(pick(["1", "0", "null"]), header_junk), 3)),
        # Mostly absent (curl, old browsers) or this site's: a foreign one is refused early.
        ("HTTP_ORIGIN", _optional(st.one_of(pick(_ORIGINS[:3] * 3 + _ORIGINS), header_junk), -5)),
        ("HTTP_SEC_FETCH_SITE", _optional(pick(["same-origin", "same-origin", "same-site", "cross-site", "none",
                                                "CROSS-SITE", ""]), -5)),
        ("HTTP_HOST", _optional(hosts, -5)),
        ("HTTP_REFERER", _optional(st.one_of(pick(["http://localhost/back?x=1", "http://evil.example/",
                                                   "http://[::1/x", "/relative", "http://localhost"]),
                                             header_junk), 3)),
        ("HTTP_USER_AGENT", _optional(st.one_of(pick(_AGENTS), header_junk), 3)),
        ("REMOTE_ADDR", _optional(st.one_of(pick(_ADDRESSES), short_ascii), 2)),
        ("HTTP_ACCEPT", _optional(pick(["image/*", "image/webp,image/*", "*/*", "text/html", ""]), 3)),
    ]
    if minor_ids:
        fields.append(("HTTP_X_MINOR", _optional(pick(["1", "1", "1", "0"]), 4)))
    return st.tuples(*(strategy for _, strategy in fields)).map(
        lambda values: {key: value for (key, _), value in zip(fields, values) if value is not None})


@functools.cache
def conditional_headers(etags: tuple[str, ...]) -> st.SearchStrategy:
    """If-None-Match, If-Modified-Since, If-Range and Range, each often absent."""
    etags = list(etags)
    fields = (
        ("HTTP_IF_NONE_MATCH", maybe(st.one_of(
            pick(etags + ["*", '"uid-visitor1"', 'W/"uid-visitor1"', '"uid-visitor1", W/"x"']),
            st.lists(pick(etags + ['"uid-visitor2"', "junk", 'W/""']), min_size=1, max_size=4).map(", ".join),
            header_junk,
        ), 2)),
        ("HTTP_IF_MODIFIED_SINCE", maybe(st.one_of(pick(_HTTP_DATES), header_junk), 3)),
        ("HTTP_IF_RANGE", maybe(st.one_of(pick(etags + _HTTP_DATES + ['"uid-visitor1"']), header_junk), 4)),
        ("HTTP_RANGE", maybe(pick(["bytes=0-3", "bytes=-1", "bytes=5-", "lines=1-2", "bytes=9-1"]), 3)),
    )
    return st.tuples(*(strategy for _, strategy in fields)).map(
        lambda values: {key: value for (key, _), value in zip(fields, values) if value is not None})


_NEXTS = ["/", "/page?x=1", "//evil.example", "https://evil.example/", "/\\evil", "javascript:alert(1)",
          "/%0d%0aSet-Cookie:x=1", "/a\x00b", "/" + "a" * 2100, "", "/ok#frag"]
form_fields = st.lists(st.tuples(
    pick(["action", "action", "category", "category", "next", "List-Unsubscribe", "tracking", "via", "x"]),
    st.one_of(pick(["accept_all", "reject_all", "save", "withdraw", "ACCEPT_ALL", "One-Click", "off",
                               "page", *sorted(NAMES), "etags", *_NEXTS]), text),
), max_size=8)

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), category_names, text)
json_values = st.recursive(_json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                st.dictionaries(text, inner, max_size=4)),
                           max_leaves=12)
json_choices = st.fixed_dictionaries(
    {"categories": st.one_of(st.lists(st.one_of(category_names, _json_leaf), max_size=6), json_values)},
    optional={"method": pick(["banner", "api", "form", "withdraw", None, 1])},
)
_CONTENT_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json",
                  "application/json; charset=utf-8", "text/plain", "application/JSON", "", "multipart/form-data; boundary="]


_choice_categories = st.lists(pick(sorted(NAMES)), max_size=4, unique=True)
_json_docs = st.one_of(json_choices, json_choices, json_values)
_content_types = st.one_of(pick(_CONTENT_TYPES), st.none(), short_ascii)


@st.composite
def _choice_bodies(draw) -> tuple[bytes, str | None, str | None, bool]:
    """Well formed, as the banner and the no-JS form send it: most of these are recorded."""
    categories = draw(_choice_categories)
    if draw(st.booleans()):
        body = json.dumps({"categories": categories, "method": draw(pick(["banner", "api"]))}).encode()
        content_type = "application/json"
    else:
        action = draw(pick(["accept_all", "reject_all", "save", "withdraw"]))
        fields = [("action", action)] + [("category", c) for c in categories]
        if draw(st.booleans()):
            fields.append(("next", draw(pick(_NEXTS))))
        body = urlencode(fields).encode()
        content_type = "application/x-www-form-urlencoded"
    return body, content_type, str(len(body)), False


choice_bodies = _choice_bodies()


@st.composite
def bodies(draw) -> tuple[bytes, str | None, str | None, bool]:
    """(body, Content-Type, Content-Length, wsgi.input_terminated) of a POST-like request."""
    kind = draw(pick(["choice", "choice", "choice", "urlencoded", "urlencoded", "multipart", "json",
                                 "json", "raw", "none"]))
    content_type: str | None
    if kind == "choice":
        return draw(choice_bodies)
    if kind == "urlencoded":
        fields = draw(form_fields)
        body = urlencode(fields).encode() if draw(st.integers(0, 4)) else "&".join(
            f"{quote(k)}={v}" for k, v in fields).encode("utf-8", "surrogatepass")
        content_type = "application/x-www-form-urlencoded"
    elif kind == "multipart":
        from werkzeug.datastructures import MultiDict

        boundary, body = encode_multipart(MultiDict(draw(form_fields)), boundary="fuzzboundary")
        content_type = f"multipart/form-data; boundary={boundary}"
        if draw(st.integers(0, 4)) == 0:
            body = body[: draw(st.integers(0, len(body)))]
    elif kind == "json":
        doc = draw(_json_docs)
        body = json.dumps(doc).encode()
        if draw(st.integers(0, 9)) == 0:
            body = b"[" * draw(st.integers(100, 20000))
        content_type = "application/json"
    elif kind == "raw":
        body = draw(st.binary(max_size=300))
        content_type = None
    else:
        body, content_type = b"", None
    if draw(st.integers(0, 3)) == 0:
        content_type = draw(_content_types)
    length_kind = draw(pick(["exact", "exact", "exact", "none", "more", "less", "junk", "huge"]))
    length = {
        "exact": str(len(body)), "none": None, "more": str(len(body) + draw(st.integers(1, 100))),
        "less": str(max(0, len(body) - draw(st.integers(1, 100)))), "huge": "99999999999999",
        "junk": draw(pick(["abc", "-5", " 10", "1e3", ""])),
    }[length_kind]
    terminated = draw(st.integers(0, 5)) == 0
    return body, content_type, length, terminated


queries = st.one_of(st.just(""), pick(["next=/", "next=//evil.example", "a=1&a=2", "%zz", "next=%00"]),
                    short_ascii.map(lambda s: quote(s, safe="=&")))


# -- the app behind the middleware ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the fuzz app answers (carried in the environ, so Hypothesis drives it)."""

    status: int
    cookies: tuple[tuple[str, str], ...]  # (header name, Set-Cookie value)
    uid: str
    weak_uid: bool
    body: bytes
    shape: str  # list | gen | gen_nolen | write | empty
    no_store: bool
    vary: str | None
    recognise: bool  # answer 304 when If-None-Match holds a uid tag


BODIES = [b"hello", b"<!doctype html><p>" + b"the same page " * 60, b""]
LAST_MODIFIED = "Tue, 15 Nov 1994 12:45:26 GMT"
_SET_COOKIE_NAMES = ["sid", "theme", "lang", "_ga", "_ga_XYZ", "_gid", "_fbp", "tracker_x", "consent", "Consent",
                     "SID", " sid", "_fbp ", "__Host-x", ""]
_ATTRIBUTES = ["", "; Path=/", "; Max-Age=0", "; Max-Age=100", "; max-age=0; Max-Age=5", "; Max-Age=-1",
               "; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "; Domain=example.com; Secure; HttpOnly", "; SameSite=None"]


_set_cookie_names = st.one_of(pick(_SET_COOKIE_NAMES), token)


@st.composite
def set_cookie_lines(draw) -> tuple[str, str]:
    header = draw(pick(["Set-Cookie", "Set-Cookie", "set-cookie", "SET-COOKIE"]))
    shape = draw(pick(["pair", "pair", "pair", "noeq", "junk"]))
    if shape == "noeq":
        return header, draw(pick(["sid", "_ga", "sid; Path=/", "; _ga=1"]))
    if shape == "junk":
        return header, draw(short_ascii)
    name = draw(_set_cookie_names)
    value = draw(pick(["1", "v", "", '"q"', "a=b", "x; _ga=2"]))
    return header, f"{name}={value}{draw(pick(_ATTRIBUTES))}"


plans = st.builds(
    Plan,
    status=pick([200, 200, 200, 204, 206, 301, 304, 404, 410]),
    cookies=st.lists(set_cookie_lines(), max_size=5).map(tuple),
    uid=st.text("abcdef0123456789", min_size=1, max_size=12),
    weak_uid=st.booleans(),
    body=pick(BODIES),
    shape=pick(["list", "gen", "gen_nolen", "write", "empty"]),
    no_store=st.booleans(),
    vary=maybe(pick(["Accept-Encoding", "*", "Cookie", "cookie, sec-gpc"]), 2),
    recognise=st.booleans(),
)


class FuzzApp:
    """Like a careless app: sets whatever cookies the plan says and a per-visitor ETag.

    It records what it saw so the test can check what reached it.
    """

    def __init__(self) -> None:
        self.seen: dict | None = None

    def __call__(self, environ, start_response):
        plan: Plan = environ.get("fuzz.plan") or Plan(200, (), "0", False, BODIES[0], "list", False, None, False)
        method = environ.get("REQUEST_METHOD")
        self.seen = {k: environ.get(k) for k in (
            "PATH_INFO", "REQUEST_METHOD", "HTTP_COOKIE", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_RANGE")}
        etag = f'{"W/" if plan.weak_uid else ""}"uid-{plan.uid}"'
        cookies = [(h, v) for h, v in plan.cookies]
        inm = environ.get("HTTP_IF_NONE_MATCH") or ""
        if plan.recognise and '"uid-' in inm and method in ("GET", "HEAD"):
            # The evercookie trick: "I know you" from the replayed validator.
            start_response("304 Not Modified", [("ETag", etag), *cookies])
            return []
        status = plan.status
        headers = [("ETag", etag), ("Last-Modified", LAST_MODIFIED), *cookies]
        if plan.no_store:
            headers.append(("Cache-Control", "no-store"))
        if plan.vary:
            headers.append(("Vary", plan.vary))
        if status == 301:
            headers.append(("Location", "http://localhost/moved"))
        reason = {200: "OK", 204: "No Content", 206: "Partial Content", 301: "Moved Permanently",
                  304: "Not Modified", 404: "Not Found", 410: "Gone"}[status]
        if status in (204, 304):
            if status == 304:
                headers = [h for h in headers if h[0] != "Last-Modified"]
            start_response(f"{status} {reason}", headers)
            return []
        body = b"" if plan.shape == "empty" else plan.body
        headers.append(("Content-Type", "text/html; charset=utf-8"))
        if plan.shape != "gen_nolen":
            headers.append(("Content-Length", str(len(body))))
        write = start_response(f"{status} {reason}", headers)
        if method == "HEAD":
            return []
        if plan.shape == "write":
            write(body[:3])
            return [body[3:]]
        if plan.shape in ("gen", "gen_nolen"):
            return _Blocks([body[:7], body[7:]])
        return [body]


class _Blocks:
    def __init__(self, blocks: list[bytes]) -> None:
        self._it = iter(blocks)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        return next(self._it)

    def close(self) -> None:
        pass


# -- mail tokens -------------------------------------------------------------------------------

MAIL_KINDS = ("open", "click", "unsubscribe", "untrack")
_TARGETS = ["https://shop.example/a?x=1", "http://blog.example/", "javascript:alert(1)", "//evil.example",
            "https://", "https://evil.example\x00.com/", "ftp://files.example/", "https://ex ample.com/", "/local"]


@dataclass
class MailTokenFactory:
    """Signs tokens the way a mailing job would, and remembers click targets it signed."""

    recipient_ids: list[int]
    site: MailTokens = field(init=False)
    older: MailTokens = field(init=False)
    foreign: MailTokens = field(init=False)
    signed_targets: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.site = MailTokens([k.encode() for k in KEYS])
        self.older = MailTokens([KEYS[1].encode()])
        self.foreign = MailTokens([FOREIGN_KEYS[0].encode()])


_odd_token_payloads = st.lists(json_values, max_size=7)
_junk_tokens = st.one_of(short_ascii, st.just("a" * 3000), text)


@st.composite
def mail_tokens(draw, factory: MailTokenFactory) -> tuple[str, str]:
    """(route letter, token) for a mail URL, the letter not always the token's kind."""
    kind = draw(pick(MAIL_KINDS))
    letter = {"open": "o", "click": "c", "unsubscribe": "u", "untrack": "t"}[kind]
    recipient = draw(pick([*factory.recipient_ids * 3, 999_999, 0, -1]))
    ids = [recipient, draw(pick(["2026-11", "c"])), draw(pick(["news", "other"]))]
    payload: list = ids
    if kind == "click":
        target = draw(pick(_TARGETS[:2] * 4 + _TARGETS))
        link = draw(pick([0, 0, 1, -1, 5]))
        payload = [*ids, target, link, draw(pick([1, 2, 2, 3, 0, 20_000]))]
    how = draw(pick(["site", "site", "site", "older", "foreign", "shape", "mutated", "junk"]))
    if how == "shape":
        payload = draw(_odd_token_payloads)
    signer = {"older": factory.older, "foreign": factory.foreign}.get(how, factory.site)
    token = signer.dumps(kind, payload)
    if how != "foreign" and kind == "click" and isinstance(payload, list) and len(payload) > 3 \
            and isinstance(payload[3], str):
        factory.signed_targets.add(payload[3])
    if how == "mutated":
        i = draw(st.integers(0, len(token) - 1))
        token = [token[:i], token[:i] + "A" + token[i + 1:], token + "x", token + "/x"][draw(st.integers(0, 3))]
    elif how == "junk":
        token = draw(_junk_tokens)
    if draw(st.integers(0, 5)) == 0:
        letter = draw(pick(["o", "c", "u", "t", "x", "", "o/"]))
    if letter == "o" and draw(st.integers(0, 5)):
        token += ".gif"
    return letter, token


# -- guardian links (consentlib/guardian.py) ---------------------------------------------------

MINOR_IDS = ("ee" * 16, "ff" * 16, "12" * 16)
GUARDIAN_SERIALIZER = URLSafeTimedSerializer(list(reversed(KEYS)), salt="consentlib.guardian")
_FOREIGN_GUARDIAN = URLSafeTimedSerializer(FOREIGN_KEYS[0], salt="consentlib.guardian")


def guardian_link_data(token: str) -> dict | None:
    """What a guardian link signed with a site key says (any age), or None."""
    try:
        data = GUARDIAN_SERIALIZER.loads(token)
    except (BadData, UnicodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


_guardian_data = st.fixed_dictionaries({
    "id": pick([*MINOR_IDS, "cd" * 16, "x"]),
    "c": st.one_of(*[st.lists(pick(sorted(NAMES)), max_size=4, unique=True)] * 3, st.lists(category_names, max_size=3)),
    "g": st.just("9" * 32),
    "n": st.one_of(st.text("0123456789abcdef", min_size=16, max_size=16), st.just("")),
    "k": pick(["confirm", "confirm", "withdraw", "other"]),
})
_guardian_odd = st.one_of(json_values, st.fixed_dictionaries({"id": json_values, "c": json_values, "g": json_values,
                                                              "n": json_values, "k": json_values}))


@st.composite
def guardian_tokens(draw) -> str:
    how = draw(pick(["site"] * 6 + ["foreign", "shape", "mutated", "junk"]))
    data = draw(_guardian_odd) if how == "shape" else draw(_guardian_data)
    token = (_FOREIGN_GUARDIAN if how == "foreign" else GUARDIAN_SERIALIZER).dumps(data)
    if how == "mutated":
        i = draw(st.integers(0, len(token) - 1))
        token = [token[:i], token[:i] + "A" + token[i + 1:], token + "x", token + "/x", token + "%"][draw(st.integers(0, 4))]
    elif how == "junk":
        token = draw(_junk_tokens)
    return token


_guardian_emails = st.one_of(pick(["parent@example.com"] * 6 + ["PARENT@Example.COM ", "a@b", "x" * 300 + "@example.com",
                                   "", "p@example.com\nBcc: x@y.z"]), pick(["parent@example.com"]), short_ascii)


_asked_categories = st.one_of(*[st.lists(pick(sorted(NAMES)), min_size=1, max_size=4, unique=True)] * 3,
                              st.lists(category_names, max_size=4))


@st.composite
def guardian_request_bodies(draw) -> tuple[bytes, str | None, str | None, bool]:
    """A minor's form asking a guardian: address and categories, mostly well formed."""
    if draw(st.integers(0, 3)) == 0:
        return draw(bodies())
    fields = [("guardian", draw(_guardian_emails))]
    fields += [("category", c) for c in draw(_asked_categories)]
    if draw(st.booleans()):
        fields.append(("next", draw(pick(_NEXTS))))
    body = urlencode(fields).encode()
    return body, "application/x-www-form-urlencoded", str(len(body)), False


_guardian_actions = pick([b"action=allow", b"action=allow", b"action=decline", b"action=withdraw", b"action=x", b""])
