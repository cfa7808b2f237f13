"""Property tests over the whole WSGI stack (fail closed; visitor input never causes a 5xx).

Hypothesis drives the middleware and every endpoint with random and adversarial input:
Cookie headers holding genuine, expired, foreign, tampered and truncated consent
cookies; mail tokens; guardian links and a minor's requests; form and JSON bodies;
conditional headers; Sec-GPC, DNT, Origin, Sec-Fetch-Site, Host; paths under the
prefix and beacon paths; every method; three site configurations. For every example:

1. no exception escapes, and werkzeug's LintMiddleware (inside and outside the
   middleware) warns of nothing but its two known over-strict HTTP checks;
2. no 5xx (visitor input never causes one);
3. no Set-Cookie of a category the request's genuine consent does not grant leaves
   (ePrivacy Art 5(3)); the ``consent`` cookie only on a recorded choice or a re-sign,
   never holding an id scripts could read, and its HttpOnly ``consent_id`` only with
   it, bound to the same decision; deletions (Max-Age=0) always may;
4. without the ``etags`` category no per-visitor ETag or the app's Last-Modified leaves
   a GET or HEAD, and no validator the browser replays reaches the app (EDPB Guidelines
   2/2023; the firewall gates validators on GET and HEAD, where caches store and replay
   them);
5. only a successful choice (or a guardian's answer) stores a receipt, and no receipt
   names a category the policy lacks (GDPR Art 7(1): the proof must match what was
   answered); a minor gets no more than a guardian allowed (GDPR Art 8).

What is allowed is computed by the model in tests/support/fuzz_strategies.py from what was
generated, never by asking consentlib. Runs are derandomized and use no example
database, so CI sees the same examples every time.
"""
from __future__ import annotations

import io
import json
import os
import sqlite3
import warnings
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.lint import HTTPWarning, LintMiddleware, WSGIWarning
from werkzeug.test import Client

from consentlib import ConsentMiddleware, MailTracker
from consentlib.consent import ALL_COOKIE_NAMES
from consentlib.mail.endpoints import mail_endpoints
from tests.support.apps import KEYS
from tests.support.fuzz_strategies import (
    BODIES,
    ETAGS,
    FUZZ_POLICY,
    GPC_DENIED,
    LIFETIME,
    MINOR_IDS,
    NAMES,
    PREFIX,
    REQUIRED,
    FuzzApp,
    MailTokenFactory,
    Plan,
    Request,
    _guardian_actions,
    bodies,
    choice_bodies,
    common_headers,
    conditional_headers,
    granted_upper_bound,
    guardian_link_data,
    guardian_request_bodies,
    guardian_tokens,
    is_expiry,
    mail_tokens,
    model_beacon,
    model_category,
    model_verify,
    issued_id,
    issued_payload,
    pick,
    plans,
    queries,
    set_cookie_name,
    reissue_possible,
    signed_consent_ids,
    text,
)

# CI runs the defaults: the same 10,400 examples every time (4 x 2,000 + 2,400). For a bug hunt, scale them
# with CONSENTLIB_FUZZ_EXAMPLES and draw new ones with CONSENTLIB_FUZZ_RANDOM=1.
EXAMPLES = int(os.environ.get("CONSENTLIB_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CONSENTLIB_FUZZ_RANDOM") != "1",
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
)

# Lint checks that are stricter than HTTP: RFC 9110 §8.6 forbids Content-Length on a
# 204, and a HEAD answer carries GET's Content-Length without its body (§9.3.2).
_LINT_ALLOWED = ("204 responses must have an empty content length",)
_LINT_ALLOWED_HEAD = ("Content-Length and the number of bytes sent",)


@dataclass(frozen=True)
class Variant:
    client: Client
    middleware: ConsentMiddleware
    honour_dnt: bool = False
    minor: bool = False  # the site's is_minor hook reads X-Minor: 1; guardians are mailed


@dataclass
class FuzzSite:
    variants: tuple[Variant, ...]  # one store, two configurations; each example picks one
    app: FuzzApp
    db: sqlite3.Connection
    tokens: MailTokenFactory
    etags: list[str]  # the body-derived ETags the firewall serves, for If-None-Match
    outbox: list  # what the guardian mailer sent
    # Per consent id, every category a guardian link the site signed offered and a
    # guardian allowed: the most a minor with that id may get.
    guardian_upper: dict[str, set[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "consent.db"
    store = f"sqlite:///{path}"
    app = FuzzApp()
    variants = []
    outbox: list = []
    minor = {"is_minor": lambda environ: environ.get("HTTP_X_MINOR") == "1",
             "guardian_mailer": lambda address, url, labels: outbox.append((address, url, labels)),
             "site_url": "http://localhost"}
    for options in ({}, {"honour_dnt": True, "secure": True, "max_body": 1024,
                         "trusted_origins": ["https://www.example.com"]}, minor):
        middleware = ConsentMiddleware(LintMiddleware(app), FUZZ_POLICY, secret_key=KEYS, store=store,
                                       lifetime=LIFETIME, **options)
        variants.append(Variant(Client(LintMiddleware(middleware), use_cookies=False), middleware,
                                options.get("honour_dnt", False), options is minor))
    client = variants[0].client
    tracker = MailTracker(base_url="https://example.com", secret_key=KEYS, store=store)
    ids = []
    for address, tracked in (("ana@example.com", True), ("bo@example.com", False), ("cy@example.com", True)):
        tracker.set_tracking(address, list_id="news", allowed=tracked)
        ids.append(tracker.store.mail_recipient(address, list_id="news")[0])
    etags = []
    for body in BODIES:
        plan = Plan(200, (), "0", False, body, "list", False, None, False)
        response = client.get("/", environ_overrides={"fuzz.plan": plan})
        etags += response.headers.getlist("ETag")
        response.close()
    db = sqlite3.connect(path)
    yield FuzzSite(tuple(variants), app, db, MailTokenFactory(ids), etags, outbox)
    for variant in variants:
        mail_endpoints(variant.middleware).events.close()
        variant.middleware.store.close()
    db.close()
    tracker.store.close()


# -- one request, checked --------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: object
    body: bytes
    app_seen: dict | None
    new_receipts: list[dict]


def _receipt_seq(db: sqlite3.Connection) -> int:
    return db.execute("SELECT coalesce(max(seq), 0) FROM receipts").fetchone()[0]


def send(site: FuzzSite, variant: Variant, req: Request) -> Answer:
    """Send ``req`` through Lint, the middleware and Lint again; fail on any Lint warning."""
    before = _receipt_seq(site.db)
    site.app.seen = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = variant.client.open(
            "/", method=req.method, input_stream=io.BytesIO(req.body),
            environ_overrides=req.environ_overrides(),
        )
        try:
            status, headers, body = response.status_code, response.headers, response.get_data()
        finally:
            response.close()
    allowed = _LINT_ALLOWED + (_LINT_ALLOWED_HEAD if req.method == "HEAD" else ())
    lint = [str(w.message) for w in caught if issubclass(w.category, (WSGIWarning, HTTPWarning))
            and not str(w.message).startswith(allowed)]
    assert not lint, f"Lint: {lint}"
    rows = site.db.execute("SELECT data FROM receipts WHERE seq > ? ORDER BY seq", (before,)).fetchall()
    return Answer(status, headers, body, site.app.seen, [json.loads(r[0]) for r in rows])


def check(req: Request, answer: Answer, site: FuzzSite, variant: Variant) -> None:
    """The five properties of the module docstring, for one request and its answer."""
    assert 100 <= answer.status < 500, f"{answer.status} for {req!r}"
    # What the examples covered: pytest --hypothesis-show-statistics lists these.
    event(f"{req.method} -> {answer.status}")

    cookie = req.cookie
    gpc, dnt = req.headers.get("HTTP_SEC_GPC"), req.headers.get("HTTP_DNT")
    granted = granted_upper_bound(cookie, gpc, dnt, variant.honour_dnt)
    minor = variant.minor and req.headers.get("HTTP_X_MINOR") == "1"
    if minor:
        # GDPR Art 8: a minor gets what a guardian allowed for one of the consent ids
        # the browser holds (narrowed by the minor's own choice), never more.
        granted = set(REQUIRED)
        for consent_id in signed_consent_ids(cookie):
            granted |= site.guardian_upper.get(consent_id, set())
        if gpc == "1" or (variant.honour_dnt and dnt == "1"):
            granted -= GPC_DENIED
        granted = frozenset(granted)
    path = req.path
    own = path.startswith(PREFIX) or path == "/.well-known/gpc.json"
    beacon = model_beacon(path)
    post = req.method == "POST"
    recorded = post and path == PREFIX and answer.status in (200, 303)
    # A minor's request to a guardian records a first, necessary-only choice (and sets
    # its cookie) when the browser had no consent id; a guardian's answer records one.
    asked_guardian = post and path == PREFIX + "guardian" and answer.status == 303
    guardian_answer = post and path.startswith(PREFIX + "guardian/") and answer.status == 200

    # 3. Set-Cookie: required, granted, a deletion, or our own consent cookies where due.
    consent_lines, id_lines = [], []
    # Secure (https, or secure=True) the consent cookies carry the __Host- prefix (RFC
    # 6265bis §4.1.3), and nothing of consentlib's is written under the other kind's names.
    prefix = "__Host-" if variant.middleware.core.is_secure(req.scheme == "https") else ""
    for line in answer.headers.getlist("Set-Cookie"):
        name = set_cookie_name(line)
        if name == prefix + "consent":
            consent_lines.append(line)
            continue
        if name == prefix + "consent_id":
            id_lines.append(line)
            continue
        category = model_category(name)
        assert category in REQUIRED or category in granted or is_expiry(line), (
            f"leaked {line!r} (category {category!r}, granted at most {sorted(granted)})")
    event(f"granted at most {len(granted)} categories")
    if consent_lines:
        event("consent cookie issued")
        resign = not own and reissue_possible(cookie) and not (beacon is not None and beacon not in granted)
        assert recorded or resign or asked_guardian, f"consent cookie issued without a choice or re-sign: {consent_lines}"
        assert len(consent_lines) == 1, consent_lines
        value = consent_lines[0].split(";", 1)[0].partition("=")[2].strip('"')
        payload = issued_payload(value)
        # ePrivacy Art 5(3): what scripts read holds no lasting identifier.
        assert isinstance(payload, dict) and set(payload) == {"r", "c", "t"}, f"issued {payload!r}"
        assert "httponly" not in consent_lines[0].lower()  # the banner reads it
        verified = model_verify(value)
        if recorded or asked_guardian:
            # A re-issue may carry a choice of an older revision as it was; a new one is current.
            assert verified is not None and verified.key_index == 0, f"issued a consent cookie that is not genuine: {value!r}"
            assert len(id_lines) == 1, "a new choice's consent id was not issued with it"
        for line in id_lines:
            assert "; HttpOnly" in line, f"the consent id is readable by scripts: {line!r}"
            bound = issued_id(line.split(";", 1)[0].partition("=")[2].strip('"'))
            assert bound is not None and [bound.get(k) for k in "rct"] == [payload[k] for k in "rct"], (
                f"a consent_id cookie for another decision: {line!r}")
        assert len(id_lines) <= 1, id_lines
        if asked_guardian:
            assert verified.categories == REQUIRED
        if recorded:
            # A re-sign carries the old payload as it was; a new choice names the policy's.
            assert REQUIRED <= verified.categories <= NAMES
            if minor:
                assert verified.categories <= granted | REQUIRED, "a minor recorded more than a guardian allowed"
            if req.headers.get("HTTP_SEC_GPC") == "1":
                assert not verified.categories & GPC_DENIED, "a choice made under Sec-GPC: 1 recorded a gpc category"
    elif recorded:
        pytest.fail(f"a recorded choice ({answer.status}) set no consent cookie")
    assert not id_lines or consent_lines, f"a consent_id cookie without its consent cookie: {id_lines}"

    # 4. ETags and what reached the app. the firewall gates validators on GET and HEAD only:
    # browsers store and replay those; other methods keep theirs (If-Match on a PUT).
    if ETAGS not in granted and req.method in ("GET", "HEAD"):
        for etag in answer.headers.getlist("ETag"):
            assert "uid-" not in etag, f"per-visitor ETag {etag!r} left without consent"
        assert "Last-Modified" not in answer.headers, "the app's Last-Modified left without consent"
    seen = answer.app_seen
    if seen is not None:
        assert not own, f"the app was called for {path!r}, which the middleware answers"
        assert beacon is None or beacon in granted, f"blocked beacon {path!r} reached the app"
        for part in (seen["HTTP_COOKIE"] or "").split(";"):
            name = part.partition("=")[0].strip()
            if part.strip():
                assert name in ALL_COOKIE_NAMES or model_category(name) in granted, (
                    f"cookie {name!r} reached the app")
        if ETAGS not in granted and req.method in ("GET", "HEAD"):
            for key in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_RANGE"):
                assert seen[key] is None, f"{key} reached the app without consent"

    # 5. Receipts.
    if recorded or guardian_answer:
        assert len(answer.new_receipts) == 1, answer.new_receipts
    elif asked_guardian:
        assert len(answer.new_receipts) == len(consent_lines), answer.new_receipts
    else:
        assert answer.new_receipts == [], f"{req.method} {path} answered {answer.status} stored a receipt"
    for receipt in answer.new_receipts:
        assert set(receipt["categories"]) == NAMES
        assert set(receipt["granted"]) <= NAMES and set(receipt["denied"]) <= NAMES
        assert set(receipt["granted"]) | set(receipt["denied"]) == NAMES
        if consent_lines:
            assert verified.categories == frozenset(receipt["granted"]), "the receipt and the cookie disagree"
        if guardian_answer:
            assert receipt["method"] == "guardian" and "guardian" in receipt


# -- the tests ---------------------------------------------------------------------------------

_APP_PATHS = ["/", "/page", "/shop/cart", "/collect", "/collect/", "/collect/x", "/ads/pixel.gif", "/ADS/PIXEL.GIF",
              "/track/", "/track/a.gif", "/track", "/_consent", "/.well-known/gpc.json", "/x%2F..%2F_consent/"]
_app_paths = st.one_of(pick(_APP_PATHS), text.map(lambda s: "/" + s))
variants = st.integers(0, 1)


@st.composite
def page_requests(draw, etags: tuple[str, ...]):
    headers = draw(common_headers())
    headers.update(draw(conditional_headers(etags)))
    method = draw(pick(["GET", "GET", "GET", "HEAD", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]))
    req = Request(method, draw(_app_paths), draw(queries), headers, plan=draw(plans),
                  scheme=draw(pick(["http", "http", "https"])))
    if method in ("POST", "PUT"):
        req.body, req.content_type, req.content_length, req.input_terminated = draw(bodies())
    return req


@FUZZ
@given(data=st.data(), variant=variants)
def test_pages_and_beacons(fuzz_site, data, variant):
    """App pages and beacon paths: cookies, ETags and conditionals gated by genuine consent."""
    req = data.draw(page_requests(tuple(fuzz_site.etags)), label="request")
    site = fuzz_site.variants[variant]
    check(req, send(fuzz_site, site, req), fuzz_site, site)


_OWN_ROUTES = ["", "", "", "preferences", "receipts", "banner.js", "banner.css", "nope", "m/", "m/x/y",
               "preferences/", "receipts?x", "../", "%2e%2e/"]
_own_routes = st.one_of(st.just(""), st.just(""), pick(_OWN_ROUTES), text)


@st.composite
def consent_requests(draw):
    headers = draw(common_headers())
    method = draw(pick(["POST", "POST", "POST", "POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS"]))
    route = draw(_own_routes)
    path = draw(pick([PREFIX + route] * 5 + ["/.well-known/gpc.json"]))
    req = Request(method, path, draw(queries), headers, scheme=draw(pick(["http", "https"])))
    if draw(st.booleans()):
        # Half are choices as a browser posts them, so that many get recorded.
        req.method, req.path = "POST", PREFIX
        req.body, req.content_type, req.content_length, req.input_terminated = draw(choice_bodies)
    elif method != "GET" or draw(st.booleans()):
        req.body, req.content_type, req.content_length, req.input_terminated = draw(bodies())
    return req


@FUZZ
@given(req=consent_requests(), variant=variants)
# A Host that is no authority made the 303's Location unparsable (Lint raised ValueError).
@example(req=Request("POST", PREFIX, "", {"HTTP_HOST": "[::1"}, b"action=accept_all",
                     "application/x-www-form-urlencoded", "17"), variant=0)
def test_consent_endpoints(fuzz_site, req, variant):
    """POST /_consent/ (form, JSON, junk) and the other endpoints: 4xx and no receipt, or a
    recorded choice with exactly one receipt and a genuine consent cookie."""
    site = fuzz_site.variants[variant]
    check(req, send(fuzz_site, site, req), fuzz_site, site)


_one_click_bodies = pick([b"List-Unsubscribe=One-Click", b"tracking=off", b"List-Unsubscribe=One-Click&via=page"])


@st.composite
def mail_requests(draw, factory):
    headers = draw(common_headers())
    letter, token = draw(mail_tokens(factory))
    method = draw(pick(["GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS"]))
    req = Request(method, f"{PREFIX}m/{letter}/{token}", "", headers)
    if method == "POST":
        if draw(st.booleans()):
            req.body = draw(_one_click_bodies)
            req.content_type, req.content_length = "application/x-www-form-urlencoded", str(len(req.body))
        else:
            req.body, req.content_type, req.content_length, req.input_terminated = draw(bodies())
    return req


def _mail_state(site: FuzzSite) -> tuple:
    return tuple(site.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                 for t in ("mail_tracking", "mail_suppressions", "mail_events"))


@FUZZ
@given(data=st.data(), variant=variants)
def test_mail_endpoints(fuzz_site, data, variant):
    """Open pixel, click, unsubscribe and untrack URLs with genuine, foreign, misshapen,
    mutated and junk tokens: never a redirect to a target the site did not sign, and no
    GET or HEAD changes what the store holds (docs/rules.md, "Email")."""
    req = data.draw(mail_requests(fuzz_site.tokens), label="request")
    site = fuzz_site.variants[variant]
    before = _mail_state(fuzz_site)
    answer = send(fuzz_site, site, req)
    check(req, answer, fuzz_site, site)
    if 300 <= answer.status < 400:
        # OWASP unvalidated redirects: only to a target the site signed, and a web URL.
        location = answer.headers.get("Location", "")
        parts = urlsplit(location)
        assert req.path.startswith(f"{PREFIX}m/c/"), f"redirect from {req.path!r}"
        assert location in fuzz_site.tokens.signed_targets, f"redirect to {location!r}, which the site never signed"
        assert parts.scheme in ("http", "https") and parts.hostname, f"redirect to {location!r}"
        assert not any(ord(c) < 0x21 or c == "\x7f" for c in location)
    if req.path.startswith(f"{PREFIX}m/o/") and req.method in ("GET", "HEAD"):
        # Whatever the token: the same transparent GIF, so the answer tells nothing.
        assert answer.status == 200 and answer.headers["Content-Type"] == "image/gif"
    mail_endpoints(site.middleware).events.flush()
    after = _mail_state(fuzz_site)
    if req.method != "POST" or answer.status != 200:
        assert after[:2] == before[:2], "tracking permissions or unsubscribes changed without a successful POST"
    engagement = req.method == "GET" and req.path.startswith((f"{PREFIX}m/o/", f"{PREFIX}m/c/"))
    if not engagement:
        assert after[2] == before[2], "an open or click was recorded for a HEAD, a POST or another URL"
    assert not answer.headers.getlist("Set-Cookie"), "a mail URL set a cookie"
    assert "ETag" not in answer.headers and "Last-Modified" not in answer.headers


@settings(FUZZ, max_examples=EXAMPLES * 6 // 5)
@given(value=st.one_of(text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))),
       header=st.one_of(text, st.lists(text, max_size=5).map("; ".join)))
def test_consent_cookie_and_gate_never_raise(fuzz_site, value, header):
    """The cookie verifier and the Cookie-header gate on arbitrary strings: never an
    exception, never a payload the model would not accept, never a refused cookie kept."""
    middleware = fuzz_site.variants[0].middleware
    payload = middleware.cookie.verify(value)
    assert payload is None or model_verify(value) is not None or payload.revision != FUZZ_POLICY.revision
    filtered, refused = middleware.core.gate.filter_request_cookies(header, frozenset(REQUIRED))
    for part in filtered.split(";"):
        if part.strip():
            name = part.partition("=")[0].strip()
            assert name in ALL_COOKIE_NAMES or model_category(name) in REQUIRED
    for name in refused:
        assert model_category(name) is not None
        assert is_expiry(middleware.core.gate.expiry_header(name, secure=False))


# -- guardians (GDPR Art 8) ----------------------------------------------------------------------

MINOR_HEADERS = common_headers(MINOR_IDS)


@st.composite
def guardian_requests(draw, etags: tuple[str, ...]):
    """A minor's pages and requests to a guardian, and guardians' links, as one stream."""
    headers = draw(MINOR_HEADERS)
    if draw(st.integers(0, 3)):
        headers["HTTP_X_MINOR"] = "1"  # mostly minors: they are what this test is about
    kind = draw(pick(["page", "page", "ask", "link", "link", "choice"]))
    if kind == "page":
        headers.update(draw(conditional_headers(etags)))
        method = draw(pick(["GET", "GET", "HEAD", "POST"]))
        return Request(method, draw(_app_paths), "", headers, plan=draw(plans))
    if kind == "choice":
        req = Request("POST", PREFIX, "", headers)
        req.body, req.content_type, req.content_length, req.input_terminated = draw(choice_bodies)
        return req
    if kind == "ask":
        req = Request(draw(pick(["POST", "POST", "POST", "GET", "PUT"])), PREFIX + "guardian", "", headers)
        req.body, req.content_type, req.content_length, req.input_terminated = draw(guardian_request_bodies())
        return req
    req = Request(draw(pick(["POST", "POST", "GET", "HEAD", "DELETE"])), PREFIX + "guardian/" + draw(guardian_tokens()),
                  "", headers)
    if draw(st.integers(0, 3)):
        req.body = draw(_guardian_actions)
        req.content_type, req.content_length = "application/x-www-form-urlencoded", str(len(req.body))
    else:
        req.body, req.content_type, req.content_length, req.input_terminated = draw(bodies())
    return req


@FUZZ
@given(data=st.data())
def test_guardian_consent(fuzz_site, data):
    """A site with minors: a minor's pages pass only what a guardian allowed through a
    link the site signed, guardian requests and answers store what they say and no more,
    and forged, foreign or mutated guardian links change nothing."""
    req = data.draw(guardian_requests(tuple(fuzz_site.etags)), label="request")
    site = fuzz_site.variants[2]
    sent = len(fuzz_site.outbox)
    answer = send(fuzz_site, site, req)
    check(req, answer, fuzz_site, site)
    if req.method == "POST" and req.path.startswith(PREFIX + "guardian/") and answer.status == 200:
        link = guardian_link_data(req.path[len(PREFIX + "guardian/"):])
        assert link is not None, f"a guardian link the site never signed was accepted: {req.path!r}"
        if link.get("k") == "confirm":
            # Allowed or declined: at most what the link offered.
            event("guardian answered")
            fuzz_site.guardian_upper.setdefault(link["id"], set()).update(link["c"])
    if req.path == PREFIX + "guardian" and answer.status == 303:
        event("guardian asked")
        assert len(fuzz_site.outbox) == sent + 1
        address, url, _labels = fuzz_site.outbox[-1]
        assert "\n" not in address and "\r" not in address
        link = guardian_link_data(urlsplit(url).path.rpartition("/")[2])
        assert link is not None and link["k"] == "confirm" and set(link["c"]) <= NAMES - REQUIRED
    else:
        assert len(fuzz_site.outbox) == sent, "a guardian was mailed without a successful request"
