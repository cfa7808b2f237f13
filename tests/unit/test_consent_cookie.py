"""The signed consent cookies: roundtrip, key rotation, lifetime, revision, the cache,
and what scripts can read (ePrivacy Art 5(3): no lasting identifier)."""
from __future__ import annotations

import base64
import json
import re
import time

import pytest

from werkzeug.test import Client

from consentlib import ConsentMiddleware, Cookie, Policy
from consentlib.gate.bounded import ENTRY_OVERHEAD
from consentlib.consent import DEFAULT_LIFETIME, MAX_COOKIE_LENGTH, ConsentCookie, new_consent_id, time_resolution

from tests.support.apps import ALL, KEYS, KINDS, LINT_STRICT, NECESSARY, POLICY, build_site, consent_header

pytestmark = LINT_STRICT

NEW, OLD, OLDER = "key-newest-0123456789abc", "key-older-0123456789abc", "key-oldest-0123456789abc"
CID = "0123456789abcdef0123456789abcdef"


def _dump(cookie: ConsentCookie, categories=("analytics",), revision=3, decided_at=None):
    return cookie.dumps(revision=revision, categories=set(categories),
                        decided_at=int(time.time()) if decided_at is None else decided_at)


def _dump_id(cookie: ConsentCookie, categories=("analytics",), revision=3, decided_at=None, consent_id=CID):
    return cookie.dumps_id(consent_id=consent_id, revision=revision, categories=set(categories),
                           decided_at=int(time.time()) if decided_at is None else decided_at)


def _legacy(key: str, categories=ALL, revision=3, decided_at=None, consent_id=CID) -> str:
    """A consent cookie of the first format, {r, c, id, t}: what visitors already hold."""
    decided_at = int(time.time()) if decided_at is None else decided_at
    return _signed(json.dumps({"r": revision, "c": sorted(categories), "id": consent_id, "t": decided_at},
                              separators=(",", ":")), key=key)


def _readable(value: str) -> dict:
    body = value.rsplit(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_consent_cookie_roundtrip():
    cookie = ConsentCookie([NEW])
    now = int(time.time())
    value = _dump(cookie, ("analytics", "necessary"), decided_at=now)
    payload = cookie.verify(value)
    assert payload.revision == 3
    assert payload.categories == {"analytics", "necessary"}
    assert payload.consent_id is None  # not in what scripts read
    assert payload.decided_at == now
    assert payload.key_index == 0
    assert not payload.needs_reissue
    assert cookie.is_current(payload, POLICY)


def test_consent_id_cookie_roundtrip_binds_to_its_decision():
    cookie = ConsentCookie([NEW])
    now = int(time.time())
    payload = cookie.verify(_dump(cookie, decided_at=now))
    bound = cookie.bind(payload, [_dump_id(cookie, decided_at=now)])
    assert bound.consent_id == CID and bound.categories == payload.categories
    assert cookie.verify_id(_dump_id(cookie, decided_at=now)).consent_id == CID


@pytest.mark.parametrize(
    "id_cookies",
    [
        pytest.param([], id="missing"),
        pytest.param(["forged." + "A" * 43], id="forged"),
        pytest.param([_dump_id(ConsentCookie(["a-key-this-site-never-had-0"]))], id="unknown-key"),
        pytest.param([_dump(ConsentCookie([NEW]))], id="consent-cookie-as-id"),
        pytest.param([_dump_id(ConsentCookie([NEW]), categories=ALL)], id="other-categories"),
        pytest.param([_dump_id(ConsentCookie([NEW]), revision=2)], id="other-revision"),
        pytest.param([_dump_id(ConsentCookie([NEW]), decided_at=1)], id="other-time"),
    ],
)
def test_consent_id_cookie_of_another_decision_or_forged_gives_no_id(id_cookies):
    # GDPR Art 7(1): receipts prove a choice only when linked to an id this server issued
    # for that very decision; anything else is no id at all.
    cookie = ConsentCookie([NEW])
    payload = cookie.verify(_dump(cookie))
    assert cookie.bind(payload, id_cookies).consent_id is None


def test_consent_id_cookie_never_passes_as_a_consent_cookie():
    cookie = ConsentCookie([NEW])
    assert cookie.verify(_dump_id(cookie)) is None
    assert cookie.verify_id(_dump(cookie)) is None


def test_eprivacy_consent_cookie_readable_payload_holds_no_consent_id():
    # ePrivacy Art 5(3): what every script on the page can read is revision, categories
    # and the decision time, never the lasting id; the signature alone protects it.
    data = _readable(_dump(ConsentCookie([NEW]), ("analytics",)))
    assert data.keys() == {"r", "c", "t"}
    assert data["c"] == ["analytics"] and data["r"] == 3


@pytest.mark.parametrize(
    ("lifetime", "resolution"),
    [
        pytest.param(DEFAULT_LIFETIME, 86400, id="180-days-a-day"),
        pytest.param(10 * 86400, 86400, id="10-days-a-day"),
        pytest.param(7 * 86400, 3600, id="7-days-an-hour"),
        pytest.param(3600, 60, id="1-hour-a-minute"),
        pytest.param(30, 1, id="30-seconds-a-second"),
        pytest.param(1, 1, id="1-second"),
    ],
)
def test_eprivacy_decision_time_scripts_read_is_coarse_but_at_most_a_tenth_of_the_lifetime(lifetime, resolution):
    assert time_resolution(lifetime) == resolution
    cookie = ConsentCookie([NEW], lifetime=lifetime)
    now = 1_800_012_345
    decision = cookie.decide(revision=3, categories={"analytics"}, consent_id=CID, now=now)
    assert decision.decided_at % resolution == 0 and now - resolution < decision.decided_at <= now
    # The choice counts from the floored time: never longer than the lifetime.
    assert cookie.is_current(decision, POLICY, now=now)
    assert not cookie.is_current(decision, POLICY, now=decision.decided_at + lifetime)
    assert cookie.remaining(decision, now=now) == decision.decided_at + lifetime - now


def test_eprivacy_consent_cookie_is_the_same_for_everyone_who_chose_alike_that_day():
    # At one-second resolution the value, with its categories, told visitors apart; floored
    # to the day it is shared by everyone with the same choice that day (the HMAC is
    # deterministic), so a script learns the choice and the day, not who.
    cookie = ConsentCookie([NEW])
    day = 1_800_000_000 - 1_800_000_000 % 86400
    first = cookie.decide(revision=3, categories={"analytics"}, consent_id=new_consent_id(), now=day + 5)
    second = cookie.decide(revision=3, categories={"analytics"}, consent_id=new_consent_id(), now=day + 80_000)
    assert cookie.values(first)[0] == cookie.values(second)[0]
    assert cookie.values(first)[1] != cookie.values(second)[1]


def test_consent_cookie_of_the_first_format_is_accepted_with_its_id():
    cookie = ConsentCookie([NEW])
    payload = cookie.verify(_legacy(NEW))
    assert payload.consent_id == CID and payload.legacy and payload.needs_reissue
    assert cookie.is_current(payload, POLICY)
    reissued = cookie.reissued(payload)
    assert not reissued.legacy and reissued.consent_id == CID
    assert reissued.decided_at % 86400 == 0
    consent, consent_id = cookie.values(reissued)
    assert "id" not in _readable(consent)
    assert cookie.bind(cookie.verify(consent), [consent_id]).consent_id == CID


def test_consent_id_is_128_random_bits():
    ids = {new_consent_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_consent_cookie_key_rotation_accepts_older_key():
    old = _dump(ConsentCookie([OLD]))
    rotated = ConsentCookie([NEW, OLD])
    payload = rotated.verify(old)
    assert payload is not None and payload.key_index == 1 and payload.needs_reissue
    resigned, _ = rotated.values(rotated.reissued(payload))
    assert ConsentCookie([NEW]).verify(resigned) is not None
    assert rotated.verify(resigned).key_index == 0
    # An id cookie signed with the older key makes the pair need re-signing too.
    fresh = rotated.verify(_dump(ConsentCookie([NEW]), decided_at=payload.decided_at))
    old_id = _dump_id(ConsentCookie([OLD]), decided_at=payload.decided_at)
    assert rotated.bind(fresh, [old_id]).needs_reissue


def test_consent_cookie_removed_key_is_rejected():
    old = _dump(ConsentCookie([OLDER]))
    assert ConsentCookie([NEW, OLD]).verify(old) is None


def test_consent_cookie_default_lifetime_is_180_days():
    assert ConsentCookie([NEW]).lifetime == DEFAULT_LIFETIME == 180 * 24 * 3600


@pytest.mark.parametrize(
    ("age", "current"),
    [
        pytest.param(0, True, id="fresh"),
        pytest.param(DEFAULT_LIFETIME - 1, True, id="last-second"),
        pytest.param(DEFAULT_LIFETIME, False, id="lifetime-reached"),
        pytest.param(DEFAULT_LIFETIME + 86400, False, id="expired"),
        pytest.param(-60, True, id="small-clock-skew"),
        pytest.param(-3600, False, id="from-the-future"),
    ],
)
def test_consent_ask_again_after_lifetime(age, current):
    cookie = ConsentCookie([NEW])
    now = 1_800_000_000
    payload = cookie.verify(_dump(cookie, decided_at=now - age))
    assert cookie.is_current(payload, POLICY, now=now) is current


def test_consent_ask_again_after_revision():
    cookie = ConsentCookie([NEW])
    payload = cookie.verify(_dump(cookie, revision=2))
    assert payload is not None
    assert not cookie.is_current(payload, POLICY)
    newer = Policy(revision=4, categories=POLICY.categories)
    assert not cookie.is_current(cookie.verify(_dump(cookie, revision=3)), newer)


def test_verification_cache_never_changes_an_answer():
    cookie = ConsentCookie([NEW, OLD], lifetime=3600)
    now = 1_800_000_000
    value = _dump(cookie, decided_at=now)
    first = cookie.verify(value)
    assert cookie.is_current(first, POLICY, now=now + 10)
    # The same (cached) payload still expires and still goes stale with a new revision.
    cached = cookie.verify(value)
    assert cached == first
    assert not cookie.is_current(cached, POLICY, now=now + 3600)
    assert not cookie.is_current(cached, Policy(revision=4, categories=POLICY.categories), now=now + 10)
    # A ConsentCookie without the key (key removed) rejects what the old one cached.
    assert ConsentCookie([OLD]).verify(value) is None
    # A forged value is rejected every time, cached or not.
    # Well inside the signature: its last base64 character carries two unused bits.
    forged = value[:-10] + ("A" if value[-10] != "A" else "B") + value[-9:]
    assert cookie.verify(forged) is None
    assert cookie.verify(forged) is None


def test_consent_cookie_verification_cache_is_bounded():
    cookie = ConsentCookie([NEW])
    for i in range(20000):
        cookie.verify(f"junk{i}")
        cookie.verify_id(f"junk{i}")
    # Bounded by what it holds (values' characters plus a per-entry overhead), not a count.
    assert 0 < cookie._cache.used <= cookie._cache.budget
    assert sum(len(value) + ENTRY_OVERHEAD for _, value in cookie._cache) <= cookie._cache.budget


def test_consent_cookie_cache_does_not_keep_oversized_values():
    cookie = ConsentCookie([NEW])
    for i in range(20):
        assert cookie.verify(f"{i}" + "x" * 100_000) is None
        assert cookie.verify_id(f"{i}" + "x" * 100_000) is None
    assert cookie._cache == {}  # never a genuine cookie: remembering it would let junk fill memory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(raw_json: str, key: str = NEW) -> str:
    from itsdangerous import Signer
    import hashlib

    signer = Signer(key, salt="consentlib.consent", key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.sign(_b64(raw_json.encode())).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("a.b.c", id="dots"),
        pytest.param(_b64(b'{"r":3,"c":["analytics"],"id":"' + CID.encode() + b'","t":1}') + ".forged",
                     id="forged-signature"),
        pytest.param(_signed('{"r":3,"c":["analytics"],"id":"%s","t":1}' % CID, key="some-other-key-0123456789"),
                     id="unknown-key"),
        pytest.param(_signed("not json"), id="signed-not-json"),
        pytest.param(_signed('["r",3]'), id="signed-list"),
        pytest.param(_signed('{"r":"3","c":[],"id":"%s","t":1}' % CID), id="revision-string"),
        pytest.param(_signed('{"r":3,"c":"analytics","id":"%s","t":1}' % CID), id="categories-string"),
        pytest.param(_signed('{"r":3,"c":[1],"id":"%s","t":1}' % CID), id="categories-numbers"),
        pytest.param(_signed('{"r":3,"c":[],"id":"short","t":1}'), id="first-format-short-id"),
        pytest.param(_signed('{"r":3,"c":[],"id":null,"t":1}'), id="first-format-null-id"),
        pytest.param(_signed('{"r":3,"c":[],"id":"%s","t":1.5}' % CID), id="time-float"),
        pytest.param(_signed('{"r":3,"c":[],"id":"%s"}' % CID), id="missing-time"),
        pytest.param("é" * 40, id="non-ascii"),
        pytest.param("x" * (MAX_COOKIE_LENGTH + 1), id="oversized"),
    ],
)
def test_consent_cookie_rejects_bad_values(value):
    assert ConsentCookie([NEW]).verify(value) is None


def _signed_id(raw_json: str, key: str = NEW) -> str:
    from itsdangerous import Signer
    import hashlib

    signer = Signer(key, salt="consentlib.consent-id", key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.sign(_b64(raw_json.encode())).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param(_signed_id('{"id":"%s","r":3,"c":[],"t":1}' % CID, key="some-other-key-0123456789"),
                     id="unknown-key"),
        pytest.param(_signed_id('{"r":3,"c":[],"t":1}'), id="no-id"),
        pytest.param(_signed_id('{"id":"short","r":3,"c":[],"t":1}'), id="short-id"),
        pytest.param(_signed_id('{"id":"%s","r":3,"c":[]}' % CID), id="no-decision-time"),
        pytest.param(_signed_id('["%s"]' % CID), id="signed-list"),
        pytest.param("x" * (MAX_COOKIE_LENGTH + 1), id="oversized"),
    ],
)
def test_consent_id_cookie_rejects_bad_values(value):
    assert ConsentCookie([NEW]).verify_id(value) is None


def test_consent_cookie_truncated_is_rejected():
    value = _dump(ConsentCookie([NEW]))
    for cut in (1, 5, len(value) // 2, len(value) - 1):
        assert ConsentCookie([NEW]).verify(value[:cut]) is None


# -- through the middleware ------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def _cookie_attributes(line: str) -> dict[str, str]:
    return {a.strip().split("=")[0].lower(): a.strip() for a in line.split(";")[1:]}


def test_consent_key_rotation_resigns_both_cookies_with_newest_key(site, tmp_path):
    old_only = ConsentCookie(["test-key-older-0123456789"])
    day = int(time.time()) // 86400 * 86400
    value = _dump(old_only, ALL, decided_at=day)
    id_value = _dump_id(old_only, ALL, decided_at=day)
    r = site.get("/", headers={"Cookie": f"consent={value}; consent_id={id_value}"})
    assert r.status_code == 200
    assert r.json["granted"] == sorted(ALL)
    resigned, resigned_id = r.consent_cookie(), r.consent_cookie("consent_id")
    assert resigned and resigned != value and resigned_id and resigned_id != id_value
    newest = ConsentCookie(["test-key-newest-0123456789"])
    payload = newest.bind(newest.verify(resigned), [resigned_id])
    assert payload.categories == ALL and payload.consent_id == CID and payload.key_index == 0
    # The re-signed pair lives exactly as long as the choice still counts, no longer.
    max_age = int(_cookie_attributes(r.set_cookie("consent")[0])["max-age"].split("=")[1])
    assert day + DEFAULT_LIFETIME - time.time() - 5 <= max_age <= day + DEFAULT_LIFETIME - time.time() + 5
    assert "httponly" in _cookie_attributes(r.set_cookie("consent_id")[0])
    # Signed with the newest key already: nothing to re-sign.
    again = site.get("/", headers={"Cookie": r.consent_cookies()})
    assert again.set_cookie("consent") == [] and again.set_cookie("consent_id") == []
    assert site.get("/_consent/receipts", headers={"Cookie": r.consent_cookies()}).json["consent_id"] == CID


def test_eprivacy_consent_cookie_of_the_first_format_is_honoured_and_reissued_without_readable_id(site):
    # An upgrade asks nobody again: the choice counts at once, and the same response
    # moves the id out of script reach (ePrivacy Art 5(3)), keeping it for the receipts.
    legacy = _legacy("test-key-newest-0123456789", ALL)
    r = site.get("/", headers={"Cookie": f"consent={legacy}; _ga=1"})
    assert r.json["granted"] == sorted(ALL)
    assert "_ga=1" in r.json["cookie"]
    readable = _readable(r.consent_cookie())
    assert readable.keys() == {"r", "c", "t"} and readable["c"] == sorted(ALL) and readable["t"] % 86400 == 0
    assert "httponly" not in _cookie_attributes(r.set_cookie("consent")[0])
    assert "httponly" in _cookie_attributes(r.set_cookie("consent_id")[0])
    state = site.get("/_consent/", headers={"Cookie": r.consent_cookies()}).json
    assert state["decided"] is True and state["granted"] == sorted(ALL)
    assert site.get("/_consent/receipts", headers={"Cookie": r.consent_cookies()}).json["consent_id"] == CID
    # The new pair is not re-issued again.
    assert site.get("/", headers={"Cookie": r.consent_cookies()}).set_cookie("consent") == []


def test_eprivacy_consent_cookie_of_the_first_format_and_an_older_revision_is_reissued_too(site):
    # Undecided (the banner shows again), but the id must leave script reach now; the
    # next choice still links to it ("replaces").
    legacy = _legacy("test-key-older-0123456789", ALL, revision=2)
    r = site.get("/_consent/", headers={"Cookie": f"consent={legacy}"})
    assert r.json["decided"] is False
    page = site.get("/", headers={"Cookie": f"consent={legacy}"})
    assert "id" not in _readable(page.consent_cookie()) and _readable(page.consent_cookie())["r"] == 2
    again = site.post("/_consent/", data={"action": "reject_all"}, headers={"Cookie": page.consent_cookies()})
    receipts = site.get("/_consent/receipts", headers={"Cookie": again.consent_cookies()}).json
    assert receipts["consent_id"] == CID and len(receipts["receipts"]) == 1


@pytest.mark.parametrize(
    "id_cookie",
    [
        pytest.param(None, id="missing"),
        pytest.param("forged." + "A" * 43, id="forged"),
        pytest.param(_dump_id(ConsentCookie(["a-key-this-site-never-had-0"]), ALL), id="other-key"),
        pytest.param(_dump_id(ConsentCookie(["test-key-newest-0123456789"]), ("analytics",)),
                     id="other-decision"),
    ],
)
def test_gdpr_art7_choice_counts_without_a_provable_id_but_no_receipt_links_to_it(site, id_cookie):
    consent = _dump(ConsentCookie(["test-key-newest-0123456789"]), ALL)
    header = f"consent={consent}" + (f"; consent_id={id_cookie}" if id_cookie else "")
    assert site.get("/", headers={"Cookie": header}).json["granted"] == sorted(ALL)
    assert site.get("/_consent/receipts", headers={"Cookie": header}).json == {"consent_id": None, "receipts": []}
    r = site.post("/_consent/", data={"action": "reject_all"}, headers={"Cookie": header})
    (receipt,) = site.store.receipts()
    assert receipt["consent_id"] != CID and receipt["consent_id"] == site.get(
        "/_consent/receipts", headers={"Cookie": r.consent_cookies()}).json["consent_id"]


def test_consent_cookies_reach_the_app_and_are_never_expired_by_the_gate(tmp_path):
    # Strictly necessary (they are the choice): the app server may read both, even under
    # a policy whose glob would put them in a refused category.
    policy = Policy(revision=3, categories=POLICY.categories,
                    cookies=[*POLICY.cookies, Cookie("consent*", "marketing", purpose="a careless glob")])
    site = build_site("wsgi", tmp_path, policy=policy)
    header = site.cookie_header(NECESSARY)
    page = site.get("/", headers={"Cookie": header})
    assert page.json["cookie"] == header
    assert page.set_cookie("consent") == [] and page.set_cookie("consent_id") == []


@pytest.mark.parametrize("line", [
    pytest.param("consent=forged; Path=/", id="consent"),
    pytest.param("consent_id=forged; Path=/; HttpOnly", id="consent-id"),
    pytest.param(" consent =forged; Path=/", id="spaces-around-the-name"),
    pytest.param("consent=; Max-Age=0; Path=/", id="an-expiry"),
])
def test_the_app_can_never_write_the_consent_cookies_even_under_a_glob_that_covers_them(tmp_path, line):
    # RFC 6265 §5.2 reads " consent " as "consent": the browser would overwrite the
    # visitor's recorded choice (or forget it) with whatever the app wrote.
    policy = Policy(revision=3, categories=POLICY.categories,
                    cookies=[*POLICY.cookies, Cookie("consent*", "marketing", purpose="a careless glob")])

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", line), ("Set-Cookie", "sid=1")])
        return [b"ok"]

    middleware = ConsentMiddleware(app, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/consent.db")
    # Every category granted, the glob's too: still not the app's to write.
    response = Client(middleware, use_cookies=False).get("/", headers={"Cookie": consent_header(middleware, ALL)})
    assert response.headers.getlist("Set-Cookie") == ["sid=1"]


def test_consent_removed_key_means_undecided(site):
    gone = ConsentCookie(["a-key-nobody-has-anymore-012"])
    r = site.get("/_consent/", headers={"Cookie": f"consent={_dump(gone, ALL)}; consent_id={_dump_id(gone, ALL)}"})
    assert r.json["decided"] is False
    assert r.json["granted"] == ["necessary"]


def test_consent_ask_again_after_lifetime_through_middleware(site):
    expired = site.cookie_value(ALL, decided_at=int(time.time()) - DEFAULT_LIFETIME - 10)
    r = site.get("/_consent/", headers={"Cookie": f"consent={expired}"})
    assert r.json["decided"] is False
    page = site.get("/", headers={"Cookie": f"consent={expired}"})
    assert set(page.set_cookie_names) == {"sid"}


def test_consent_ask_again_after_revision_through_middleware(site):
    old = site.cookie_value(ALL, revision=2)
    r = site.get("/_consent/", headers={"Cookie": f"consent={old}"})
    assert r.json == {**r.json, "decided": False, "granted": sorted(NECESSARY), "revision": 3}


class _Clock:
    """A settable clock for the lifetime tests: 180 days cannot pass in a test run."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    import consentlib.consent
    import consentlib.gate.visits

    fake = _Clock(time.time())
    monkeypatch.setattr(consentlib.gate.visits, "time", fake)
    monkeypatch.setattr(consentlib.consent, "time", fake)
    return fake


def test_consent_ask_again_after_lifetime_for_a_header_seen_before(tmp_path, clock):
    # The middleware remembers verified Cookie headers; the lifetime must still apply
    # to a header it has already verified.
    site = build_site("wsgi", tmp_path, lifetime=3600)
    value = site.cookie_value(ALL, decided_at=int(clock.now))
    header = {"Cookie": f"consent={value}; _ga=1"}
    assert site.get("/_consent/", headers=header).json["decided"] is True
    assert site.get("/", headers=header).json["cookie"] == f"consent={value}; _ga=1"
    clock.now += 3600
    assert site.get("/_consent/", headers=header).json["decided"] is False
    page = site.get("/", headers=header)
    assert page.json["cookie"] == f"consent={value}"
    assert "_ga" not in page.set_cookie_names or page.set_cookie("_ga")[0].startswith("_ga=;")


def test_consent_cookie_from_a_host_with_a_fast_clock_counts_once_its_time_comes(tmp_path, clock):
    # A choice recorded on a host whose clock runs ahead is "from the future" here
    # (beyond the 5-minute skew allowance) and counts once this host's clock catches up.
    # The remembered verification must not keep it undecided after that.
    site = build_site("wsgi", tmp_path)
    value = site.cookie_value(ALL, decided_at=int(clock.now) + 600)
    header = {"Cookie": f"consent={value}"}
    assert site.get("/_consent/", headers=header).json["decided"] is False
    clock.now += 400
    assert site.get("/_consent/", headers=header).json["decided"] is True


def test_new_policy_revision_in_new_middleware_rejects_cached_choice(tmp_path):
    site = build_site("wsgi", tmp_path)
    value = site.cookie_value(ALL)
    assert site.get("/_consent/", headers={"Cookie": f"consent={value}"}).json["decided"]
    newer = Policy(revision=4, categories=POLICY.categories, cookies=POLICY.cookies)
    site4 = build_site("wsgi", tmp_path, policy=newer)
    assert site4.get("/_consent/", headers={"Cookie": f"consent={value}"}).json["decided"] is False


@pytest.mark.parametrize("name", ["consent", "consent_id"])
def test_consent_cookie_attributes(site, name):
    r = site.post("/_consent/", data={"action": "accept_all"})
    (line,) = r.set_cookie(name)
    attrs = _cookie_attributes(line)
    assert attrs["path"] == "Path=/"
    assert attrs["samesite"] == "SameSite=Lax"
    # The banner reads `consent`; scripts never read the id (ePrivacy Art 5(3)).
    assert ("httponly" in attrs) is (name == "consent_id")
    assert "secure" not in attrs  # plain http here
    # As long as the choice counts: from the start of the day it was made.
    since_midnight = int(time.time()) % 86400
    assert DEFAULT_LIFETIME - since_midnight - 5 <= int(attrs["max-age"].split("=")[1]) <= DEFAULT_LIFETIME
    https = site.post("/_consent/", data={"action": "accept_all"}, base_url="https://localhost")
    # Over https the name carries the __Host- prefix (RFC 6265bis §4.1.3).
    assert not https.set_cookie(name)
    (secure_line,) = https.set_cookie(f"__Host-{name}")
    assert "Secure" in secure_line and "Domain" not in secure_line


@pytest.mark.parametrize("action", ["reject_all", "accept_all"])
def test_eprivacy_no_script_readable_consent_id_after_a_choice(site, action):
    # ePrivacy Art 5(3): after "Reject all" (or any choice) no script on the page can read
    # a lasting identifier; the receipts still find the visitor through the HttpOnly id.
    r = site.post("/_consent/", data={"action": action})
    (readable,) = r.set_cookie("consent")
    assert "httponly" not in _cookie_attributes(readable)
    payload = _readable(r.consent_cookie())
    assert payload.keys() == {"r", "c", "t"}
    assert not re.search(r"[0-9a-f]{32}", json.dumps(payload))
    (id_line,) = r.set_cookie("consent_id")
    assert "httponly" in _cookie_attributes(id_line)
    receipts = site.get("/_consent/receipts", headers={"Cookie": r.consent_cookies()}).json
    assert re.fullmatch(r"[0-9a-f]{32}", receipts["consent_id"])
    assert receipts["consent_id"] not in r.consent_cookie()
    assert [x["consent_id"] for x in receipts["receipts"]] == [receipts["consent_id"]]
    assert receipts["receipts"][0]["granted"] == (sorted(ALL) if action == "accept_all" else ["necessary"])
