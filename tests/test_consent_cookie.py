"""The signed consent cookie: roundtrip, key rotation, lifetime, revision, the cache."""
from __future__ import annotations

import base64
import json
import time

import pytest

from consentlib import Policy
from consentlib.bounded import ENTRY_OVERHEAD
from consentlib.consent import DEFAULT_LIFETIME, MAX_COOKIE_LENGTH, ConsentCookie, new_consent_id

from tests.apps import KINDS, ALL, LINT_STRICT, NECESSARY, POLICY, build_site

pytestmark = LINT_STRICT

NEW, OLD, OLDER = "key-newest-0123456789abc", "key-older-0123456789abc", "key-oldest-0123456789abc"
CID = "0123456789abcdef0123456789abcdef"


def _dump(cookie: ConsentCookie, categories=("analytics",), revision=3, decided_at=None, consent_id=CID):
    return cookie.dumps(revision=revision, categories=set(categories), consent_id=consent_id,
                        decided_at=int(time.time()) if decided_at is None else decided_at)


def test_consent_cookie_roundtrip():
    cookie = ConsentCookie([NEW])
    now = int(time.time())
    value = _dump(cookie, ("analytics", "necessary"), decided_at=now)
    payload = cookie.verify(value)
    assert payload.revision == 3
    assert payload.categories == {"analytics", "necessary"}
    assert payload.consent_id == CID
    assert payload.decided_at == now
    assert payload.key_index == 0
    assert cookie.is_current(payload, POLICY)


def test_consent_cookie_payload_is_readable_json_without_secret():
    # DESIGN: the banner reads the payload; it holds no secret, only the signature protects it.
    value = _dump(ConsentCookie([NEW]), ("analytics",))
    body = value.rsplit(".", 1)[0]
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert data["c"] == ["analytics"] and data["r"] == 3 and data["id"] == CID


def test_consent_id_is_128_random_bits():
    ids = {new_consent_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_consent_cookie_key_rotation_accepts_older_key():
    old = _dump(ConsentCookie([OLD]))
    rotated = ConsentCookie([NEW, OLD])
    payload = rotated.verify(old)
    assert payload is not None and payload.key_index == 1
    resigned = rotated.resign(payload)
    assert ConsentCookie([NEW]).verify(resigned) is not None
    assert rotated.verify(resigned).key_index == 0


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
    # Bounded by what it holds (keys' characters plus a per-entry overhead), not a count.
    assert 0 < cookie._cache.used <= cookie._cache.budget
    assert sum(len(key) + ENTRY_OVERHEAD for key in cookie._cache) <= cookie._cache.budget


def test_consent_cookie_cache_does_not_keep_oversized_values():
    cookie = ConsentCookie([NEW])
    for i in range(20):
        assert cookie.verify(f"{i}" + "x" * 100_000) is None
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
        pytest.param(_signed('{"r":3,"c":[],"id":"short","t":1}'), id="short-id"),
        pytest.param(_signed('{"r":3,"c":[],"id":"%s","t":1.5}' % CID), id="time-float"),
        pytest.param(_signed('{"r":3,"c":[],"id":"%s"}' % CID), id="missing-time"),
        pytest.param("é" * 40, id="non-ascii"),
        pytest.param("x" * (MAX_COOKIE_LENGTH + 1), id="oversized"),
    ],
)
def test_consent_cookie_rejects_bad_values(value):
    assert ConsentCookie([NEW]).verify(value) is None


def test_consent_cookie_truncated_is_rejected():
    value = _dump(ConsentCookie([NEW]))
    for cut in (1, 5, len(value) // 2, len(value) - 1):
        assert ConsentCookie([NEW]).verify(value[:cut]) is None


# -- through the middleware ------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path)


def test_consent_key_rotation_resigns_with_newest_key(site, tmp_path):
    old_only = ConsentCookie(["test-key-older-0123456789"])
    value = old_only.dumps(revision=3, categories=ALL, consent_id=CID, decided_at=int(time.time()))
    r = site.get("/", headers={"Cookie": f"consent={value}"})
    assert r.status_code == 200
    assert r.json["granted"] == sorted(ALL)
    resigned = r.consent_cookie()
    assert resigned and resigned != value
    newest = ConsentCookie(["test-key-newest-0123456789"]).verify(resigned)
    assert newest is not None and newest.categories == ALL and newest.consent_id == CID
    # Signed with the newest key already: nothing to re-sign.
    again = site.get("/", headers={"Cookie": f"consent={resigned}"})
    assert again.consent_cookie() is None


def test_consent_removed_key_means_undecided(site):
    value = ConsentCookie(["a-key-nobody-has-anymore-012"]).dumps(
        revision=3, categories=ALL, consent_id=CID, decided_at=int(time.time()))
    r = site.get("/_consent/", headers={"Cookie": f"consent={value}"})
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
    import consentlib.middleware

    fake = _Clock(time.time())
    monkeypatch.setattr(consentlib.middleware, "time", fake)
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


def test_consent_cookie_attributes(site):
    r = site.post("/_consent/", data={"action": "accept_all"})
    (line,) = r.set_cookie("consent")
    attrs = {a.strip().split("=")[0].lower(): a for a in line.split(";")[1:]}
    assert "path" in attrs and attrs["path"].strip() == "Path=/"
    assert attrs["samesite"].strip() == "SameSite=Lax"
    assert "httponly" not in attrs  # the banner reads it
    assert "secure" not in attrs  # plain http here
    assert attrs["max-age"].strip() == f"Max-Age={DEFAULT_LIFETIME}"
    https = site.post("/_consent/", data={"action": "accept_all"}, base_url="https://localhost")
    assert "Secure" in https.set_cookie("consent")[0]
