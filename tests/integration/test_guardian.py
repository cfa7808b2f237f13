"""docs/rules.md, "Children" (GDPR Art 8, PIPL Art 28/31): below the age of digital consent,
only a guardian's consent counts; until there is one, only strictly necessary
processing happens."""
from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import Client

from consentlib import Category, ConfigurationError, ConsentMiddleware, Cookie, Policy
from consentlib.records.receipts import build_receipt
from urllib.parse import urlsplit

from tests.support.apps import KEYS, KINDS, LINT_STRICT, NEXT_BODIES, build_site

pytestmark = LINT_STRICT

POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics"), Category("marketing", gpc=True)],
    cookies=[Cookie("sid", "necessary"), Cookie("age_group", "necessary"), Cookie("_ga*", "analytics"),
             Cookie("_fbp", "marketing")],
)


def page(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "sid=1; Path=/"),
                              ("Set-Cookie", "_ga=GA1; Path=/"), ("Set-Cookie", "_fbp=fb; Path=/")])
    return [b"ok"]


class Site:
    def __init__(self, tmp_path, *, mailer=True, is_minor=None, policy=POLICY, **options):
        self.mail: list[tuple[str, str, list[str]]] = []
        self.middleware = ConsentMiddleware(
            page, policy, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
            is_minor=is_minor or (lambda environ: "age_group=child" in (environ.get("HTTP_COOKIE") or "")),
            guardian_mailer=mailer if callable(mailer) else (lambda *args: self.mail.append(args)) if mailer else None,
            site_url="http://localhost", **options,
        )

    def child(self) -> Client:
        client = Client(self.middleware)
        client.set_cookie("age_group", "child")
        return client

    def adult(self) -> Client:
        return Client(self.middleware)

    def receipts(self):
        return self.middleware.store.receipts()

    def ask(self, client, categories=("analytics",), address="parent@example.com"):
        return client.post("/_consent/guardian", data={"guardian": address, "category": list(categories), "next": "/kids"})

    def link(self) -> str:
        return self.mail[-1][1].split("localhost", 1)[1]


def leaving(response) -> list[str]:
    return [line.split("=", 1)[0] for line in response.headers.getlist("Set-Cookie") if "Max-Age=0" not in line]


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def test_children_minor_gets_only_necessary_cookies(site):
    assert leaving(site.child().get("/")) == ["sid"]
    assert leaving(site.adult().get("/")) == ["sid"]  # undecided adult: same, until they choose


def test_children_a_valid_accept_all_cookie_does_not_count_for_a_minor(site):
    decision = {"revision": 1, "categories": {"necessary", "analytics", "marketing"}, "decided_at": int(time.time())}
    client = site.child()
    client.set_cookie("consent", site.middleware.cookie.dumps(**decision))
    client.set_cookie("consent_id", site.middleware.cookie.dumps_id(consent_id="cd" * 16, **decision))
    assert leaving(client.get("/")) == ["sid"]
    state = client.get("/_consent/").json
    assert state["minor"] is True and state["granted"] == ["necessary"]


@pytest.mark.parametrize("post", [
    pytest.param({"data": {"action": "accept_all"}}, id="form-accept-all"),
    pytest.param({"data": {"action": "save", "category": ["analytics"]}}, id="form-save-analytics"),
    pytest.param({"json": {"categories": ["necessary", "analytics", "marketing"]}}, id="json-accept-all"),
    pytest.param({"json": {"categories": ["analytics"], "method": "banner"}}, id="json-banner"),
])
def test_children_minor_own_opt_in_refused_and_nothing_recorded(site, post):
    response = site.child().post("/_consent/", **post)
    assert response.status_code == 403
    assert "parent or guardian" in response.json["error"]
    assert "Set-Cookie" not in response.headers
    assert site.receipts() == []


def test_children_minor_may_reject(site):
    response = site.child().post("/_consent/", data={"action": "reject_all"})
    assert response.status_code == 303
    assert [r["granted"] for r in site.receipts()] == [["necessary"]]


def test_children_no_js_form_has_no_accept_all_and_asks_a_guardian(site):
    html = site.child().get("/_consent/preferences").get_data(as_text=True)
    assert "ask a parent or guardian" in html
    assert 'value="accept_all"' not in html
    assert 'id="guardian-form"' in html
    adult_html = site.adult().get("/_consent/preferences").get_data(as_text=True)
    assert 'value="accept_all"' in adult_html and "guardian" not in adult_html


def test_children_guardian_confirmation_unlocks_only_what_was_asked(site):
    child = site.child()
    asked = site.ask(child)
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/kids")
    address, url, labels = site.mail[-1]
    assert address == "parent@example.com" and labels == ["Analytics"]
    assert leaving(child.get("/")) == ["sid"]  # nothing yet

    guardian = Client(site.middleware)
    question = guardian.get(site.link())
    assert question.status_code == 200 and "Analytics" in question.get_data(as_text=True)
    assert [r["method"] for r in site.receipts()] == ["form"]  # GET changed nothing (link scanners)

    confirmed = guardian.post(site.link(), data={"action": "allow"})
    assert confirmed.status_code == 200
    assert sorted(leaving(child.get("/"))) == ["_ga", "sid"]  # marketing was not asked for
    receipt = site.receipts()[-1]
    assert receipt["method"] == "guardian"
    assert receipt["categories"] == {"necessary": "given", "analytics": "given", "marketing": "refused"}
    assert receipt["guardian"]["verified_by"] == "signed e-mail link"
    assert "parent@example.com" not in str(receipt)  # who confirmed, by keyed hash only
    assert receipt["replaces"] == site.receipts()[0]["record_id"]


def test_children_replayed_guardian_link_refused(site):
    site.ask(site.child())
    guardian = Client(site.middleware)
    assert guardian.post(site.link(), data={"action": "allow"}).status_code == 200
    count = len(site.receipts())
    assert guardian.post(site.link(), data={"action": "allow"}).status_code == 409
    assert guardian.post(site.link(), data={"action": "decline"}).status_code == 409
    assert len(site.receipts()) == count


def test_children_expired_guardian_link_refused(site, monkeypatch):
    site.ask(site.child())
    serializer = site.middleware.core.guardians.serializer
    issued = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(serializer, "make_signer", _signer_at(serializer, issued))
    token = serializer.dumps({"id": "ab" * 16, "c": ["analytics"], "g": "x", "n": "n1", "k": "confirm"})
    monkeypatch.undo()
    response = Client(site.middleware).post(f"/_consent/guardian/{token}", data={"action": "allow"})
    assert response.status_code == 410
    assert [r["method"] for r in site.receipts()] == ["form"]


def _signer_at(serializer, moment):
    original = serializer.make_signer

    def make_signer(salt=None):
        signer = original(salt)
        signer.get_timestamp = lambda: int(moment)
        return signer

    return make_signer


@pytest.mark.parametrize("mangle", [
    # Well inside the signature: its last base64 character carries two unused bits.
    pytest.param(lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:], id="tampered-signature"),
    pytest.param(lambda t: t[: len(t) // 2], id="truncated"),
    pytest.param(lambda t: "not-a-token", id="junk"),
    pytest.param(lambda t: t + "é", id="non-ascii"),
])
def test_children_forged_guardian_link_refused(site, mangle):
    site.ask(site.child())
    bad = mangle(site.link().rsplit("/", 1)[1])
    for method in ("get", "post"):
        response = getattr(Client(site.middleware), method)(f"/_consent/guardian/{bad}", data={"action": "allow"})
        assert response.status_code == 404
    assert [r["method"] for r in site.receipts()] == ["form"]


def test_children_guardian_link_for_another_visitor_does_not_unlock_this_one(site):
    ana, ben = site.child(), site.child()
    site.ask(ana)
    ana_link = site.link()
    ben.get("/")
    # Ben (another minor) opens and confirms Ana's link himself: it is Ana's consent id.
    assert ben.post(ana_link, data={"action": "allow"}).status_code == 200
    assert leaving(ben.get("/")) == ["sid"]
    assert ben.post("/_consent/", data={"action": "accept_all"}).status_code == 403


def test_children_guardian_can_withdraw(site):
    child = site.child()
    site.ask(child, categories=("analytics", "marketing"))
    guardian = Client(site.middleware)
    confirmed = guardian.post(site.link(), data={"action": "allow"}).get_data(as_text=True)
    assert sorted(leaving(child.get("/"))) == ["_fbp", "_ga", "sid"]
    withdraw = re.search(r'id="guardian-withdraw" href="http://localhost([^"]+)"', confirmed).group(1)
    assert guardian.get(withdraw).status_code == 200
    assert guardian.post(withdraw, data={"action": "withdraw"}).status_code == 200
    response = child.get("/")
    assert leaving(response) == ["sid"]
    expired = [line.split("=")[0] for line in response.headers.getlist("Set-Cookie") if "Max-Age=0" in line]
    assert sorted(expired) == ["_fbp", "_ga"]
    assert site.receipts()[-1]["categories"]["analytics"] == "withdrawn"
    # Idempotent: withdrawing again is fine.
    assert guardian.post(withdraw, data={"action": "withdraw"}).status_code == 200


# -- every grant has a revision and a lifetime ---------------------------------------------------


def granted_by_guardian(site, child, categories=("analytics", "marketing")) -> str:
    """The guardian allows ``categories`` for ``child``; returns their withdrawal link."""
    site.ask(child, categories=categories)
    confirmed = Client(site.middleware).post(site.link(), data={"action": "allow"})
    cookies = {"analytics": "_ga", "marketing": "_fbp"}
    assert sorted(leaving(child.get("/"))) == sorted(["sid", *(cookies[c] for c in categories)])
    return re.search(r'id="guardian-withdraw" href="http://localhost([^"]+)"', confirmed.get_data(as_text=True))[1]


def next_revision(site, tmp_path, **options) -> Site:
    """The same site after a deploy of the policy's next revision (same store, same keys)."""
    return Site(tmp_path, policy=replace(POLICY, revision=POLICY.revision + 1), **options)


def test_children_guardian_grant_does_not_outlive_the_revision(site, tmp_path):
    child = site.child()
    granted_by_guardian(site, child)
    revised = next_revision(site, tmp_path)
    child.application = revised.middleware
    response = child.get("/")
    assert leaving(response) == ["sid"]
    assert sorted(line.split("=")[0] for line in response.headers.getlist("Set-Cookie")
                  if "Max-Age=0" in line) == ["_fbp", "_ga"]  # what the browser held is expired
    state = child.get("/_consent/").json
    assert state["granted"] == ["necessary"] and state["revision"] == 2
    # Under the new notice the minor cannot opt in on the old grant's strength either.
    assert child.post("/_consent/", json={"categories": ["analytics"]}).status_code == 403
    assert child.post("/_consent/", data={"action": "save", "category": "analytics"}).status_code == 403


def test_children_guardian_asked_again_under_the_new_revision(site, tmp_path):
    child = site.child()
    granted_by_guardian(site, child)
    revised = next_revision(site, tmp_path)
    child.application = revised.middleware
    revised.ask(child, categories=("analytics",))
    assert Client(revised.middleware).post(revised.link(), data={"action": "allow"}).status_code == 200
    assert sorted(leaving(child.get("/"))) == ["_ga", "sid"]
    assert revised.receipts()[-1]["revision"] == 2


def _guardian_receipt(site, consent_id, *, age: float, lifetime: int | None = None):
    """A guardian's "allow all" for ``consent_id``, given ``age`` seconds ago."""
    return build_receipt(policy=site.middleware.policy, consent_id=consent_id, granted=frozenset(POLICY.category_names),
                         previously_granted=frozenset(), method="guardian", gpc=False, dnt=False,
                         lifetime=lifetime or site.middleware.cookie.lifetime, ip=None, user_agent=None,
                         when=datetime.now(timezone.utc) - timedelta(seconds=age))


@pytest.mark.parametrize(("age", "receipt_lifetime", "honoured"), [
    pytest.param(600, None, True, id="given-ten-minutes-ago"),
    pytest.param(3600 + 60, None, False, id="past-its-expiry"),
    pytest.param(3600 - 60, 10 * 3600, True, id="within-both-lifetimes"),
    pytest.param(3600 + 60, 10 * 3600, False, id="older-than-the-sites-lifetime"),
    pytest.param(600, 300, False, id="past-the-expiry-it-was-given-with"),
])
def test_children_guardian_grant_counts_only_for_its_lifetime(tmp_path, age, receipt_lifetime, honoured):
    site = Site(tmp_path, lifetime=3600)
    child = site.child()
    site.ask(child)  # the child's consent id, a first receipt
    consent_id = site.receipts()[-1]["consent_id"]
    site.middleware.store.add_receipt(_guardian_receipt(site, consent_id, age=age, lifetime=receipt_lifetime))
    expected = ["_fbp", "_ga", "sid"] if honoured else ["sid"]
    assert sorted(leaving(child.get("/"))) == expected


def test_children_minor_own_narrowing_after_the_guardian_keeps_narrowing(site):
    child = site.child()
    granted_by_guardian(site, child)
    assert child.post("/_consent/", data={"action": "reject_all"}).status_code == 303
    assert leaving(child.get("/")) == ["sid"]
    # A newer guardian answer supersedes the child's earlier narrowing.
    site.ask(child, categories=("analytics",))
    Client(site.middleware).post(site.link(), data={"action": "allow"})
    assert sorted(leaving(child.get("/"))) == ["_ga", "sid"]


def test_children_withdrawal_link_from_an_old_revision_still_withdraws(site, tmp_path):
    child = site.child()
    old_withdraw = granted_by_guardian(site, child)
    revised = next_revision(site, tmp_path)
    child.application = revised.middleware
    revised.ask(child, categories=("analytics", "marketing"))
    Client(revised.middleware).post(revised.link(), data={"action": "allow"})
    assert sorted(leaving(child.get("/"))) == ["_fbp", "_ga", "sid"]
    guardian = Client(revised.middleware)
    assert guardian.get(old_withdraw).status_code == 200
    assert guardian.post(old_withdraw, data={"action": "withdraw"}).status_code == 200
    assert leaving(child.get("/")) == ["sid"]
    assert revised.receipts()[-1]["categories"]["analytics"] == "withdrawn"


def test_children_minor_may_narrow_but_not_widen_guardian_consent(site):
    child = site.child()
    site.ask(child, categories=("analytics", "marketing"))
    Client(site.middleware).post(site.link(), data={"action": "allow"})
    assert child.post("/_consent/", json={"categories": ["analytics"]}).status_code == 200
    assert sorted(leaving(child.get("/"))) == ["_ga", "sid"]


@pytest.mark.parametrize("address", ["not-an-address", "a@b.com\nBcc: x@evil.com", "", "x" * 300 + "@example.com"])
def test_children_bad_guardian_address_refused(site, address):
    response = site.ask(site.child(), address=address)
    assert response.status_code == 400 and site.mail == []


def test_children_guardian_request_needs_a_minor_and_a_mailer(tmp_path, site):
    assert site.ask(site.adult()).status_code == 400
    assert site.ask(Site(tmp_path / "x", mailer=False).child()).status_code == 404
    assert site.mail == []


def test_children_guardian_request_cross_site_refused(site):
    response = site.child().post("/_consent/guardian", data={"guardian": "p@example.com", "category": "analytics"},
                                 headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and site.mail == []


def test_children_guardian_request_sets_both_cookies_and_no_script_readable_id(site):
    # ePrivacy Art 5(3): the id the guardian's answer is filed under travels HttpOnly;
    # what the minor's page scripts can read holds no id.
    asked = site.ask(site.child())
    lines = {line.split("=", 1)[0]: line for line in asked.headers.getlist("Set-Cookie")}
    assert set(lines) == {"consent", "consent_id"}
    assert "HttpOnly" in lines["consent_id"] and "HttpOnly" not in lines["consent"]
    (receipt,) = site.receipts()
    assert receipt["consent_id"] not in lines["consent"]
    value = lines["consent"].split(";", 1)[0].split("=", 1)[1]
    assert site.middleware.cookie.verify(value).consent_id is None


def test_children_failing_is_minor_hook_fails_closed(tmp_path):
    def broken(environ):
        raise RuntimeError("account service down")

    site = Site(tmp_path, is_minor=broken)
    client = site.adult()
    client.set_cookie("consent", site.middleware.cookie.dumps(revision=1, categories={"analytics"},
                                                              decided_at=int(time.time())))
    assert leaving(client.get("/")) == ["sid"]


@pytest.mark.parametrize(("age", "where", "minor"), [
    pytest.param(15, "DE", True, id="de-15"), pytest.param(16, "DE", False, id="de-16"),
    pytest.param(13, "CN", True, id="cn-13-pipl"), pytest.param(14, "CN", False, id="cn-14"),
    pytest.param(12, "US", True, id="us-12-coppa"), pytest.param(13, "US", False, id="us-13"),
    pytest.param(14, "FR", True, id="fr-14"), pytest.param(15, None, True, id="default-16"),
    pytest.param(None, "DE", False, id="unknown-age-is-not-guessed"),
])
def test_children_age_of_digital_consent_by_jurisdiction(age, where, minor):
    assert POLICY.is_minor(age, where) is minor


@pytest.fixture(params=KINDS)
def linted(request, tmp_path):
    """The shared test site under werkzeug's Lint, every visitor a minor, guardians mailed."""
    mail: list = []
    site = build_site(request.param, tmp_path, is_minor=lambda environ: True, site_url="http://localhost",
                      guardian_mailer=lambda *args: mail.append(args))
    site.mail = mail
    return site


@pytest.mark.parametrize(("raw_next", "location"), NEXT_BODIES)
def test_children_guardian_request_location_is_an_ascii_uri_on_this_site(linted, raw_next, location):
    r = linted.post("/_consent/guardian", data=f"guardian=parent%40example.com&category=analytics&next={raw_next}",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 303
    assert r.headers["Location"].isascii() and urlsplit(r.headers["Location"]).netloc == "localhost"
    assert r.headers["Location"] == "http://localhost" + location
    # The browser's new consent id: one receipt, its cookie, one mail.
    assert r.consent_cookie() and len(linted.store.receipts()) == 1 and len(linted.mail) == 1


def test_children_failed_guardian_mail_keeps_the_recorded_consent_id(tmp_path):
    failing = Site(tmp_path, mailer=lambda *args: (_ for _ in ()).throw(OSError("SMTP down")))
    child = failing.child()
    first = failing.ask(child)
    assert first.status_code == 503 and "could not be sent" in first.json["error"]
    # The receipt of the new consent id was stored: the browser holds that id, so the
    # retry reuses it and the store has no receipt that no browser matches.
    assert [r["method"] for r in failing.receipts()] == ["form"]
    assert "consent=" in first.headers["Set-Cookie"]
    assert failing.ask(child).status_code == 503
    assert len({r["consent_id"] for r in failing.receipts()}) == 1 and len(failing.receipts()) == 1


def test_children_guardian_links_never_built_from_the_host_header(site):
    site.ask(site.child(), address="parent@example.com")
    attacker = Client(site.middleware, use_cookies=False)
    forged = attacker.post("/_consent/guardian", data={"guardian": "victim@example.com", "category": "analytics"},
                           headers={"Host": "evil.example", "Cookie": "age_group=child"})
    assert forged.status_code == 303
    assert all(url.startswith("http://localhost/_consent/guardian/") for _, url, _ in site.mail)


def test_children_guardian_mailer_needs_site_url(tmp_path):
    with pytest.raises(ConfigurationError, match="site_url"):
        ConsentMiddleware(page, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                          guardian_mailer=lambda *args: None)
    with pytest.raises(ConfigurationError, match="origin"):
        ConsentMiddleware(page, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                          site_url="https://example.com/path")


def test_children_site_overrides_age_table():
    policy = Policy(revision=1, categories=[Category("necessary", required=True)], ages_of_consent={"de": 14},
                    age_of_consent=15)
    assert policy.age_of_consent_in("DE") == 14 and policy.age_of_consent_in("XX") == 15
    with pytest.raises(ConfigurationError, match="age of consent"):
        Policy(revision=1, categories=[Category("necessary", required=True)], ages_of_consent={"DE": "16"})
