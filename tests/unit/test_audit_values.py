"""What the audit reads from values, without a browser: consent managers' cookies that grant
everything, and when two values are "the same" for two visitors (times masked)."""
from __future__ import annotations

import pytest

from consentlib.consent import ConsentCookie
from consentlib.testing.cmps import grants_all
from consentlib.testing.identifiers import compare, digest
from consentlib.testing.recorder import Snapshot

ONETRUST_ALL = "isGpcEnabled=0&datestamp=Sat+Dec+05+2026&groups=C0001%3A1%2CC0002%3A1%2CC0003%3A1%2CC0004%3A1"
COOKIEBOT = ("{{stamp:%27abc%27%2Cnecessary:true%2Cpreferences:{p}%2Cstatistics:true%2Cmarketing:true"
             "%2Cmethod:%27implied%27%2Cver:1}}")


def _consentlib_cookie(categories: set[str]) -> str:
    codec = ConsentCookie(["audit-values-key-0123456789abcdef"])
    return codec.dumps(revision=1, categories=categories, decided_at=1_790_000_000)


@pytest.mark.parametrize(
    ("name", "value", "declared", "grants"),
    [
        pytest.param("OptanonConsent", ONETRUST_ALL, (), True, id="onetrust-all-groups"),
        pytest.param("OptanonConsent", ONETRUST_ALL.replace("C0003%3A1", "C0003%3A0"), (), False,
                     id="onetrust-one-group-off"),
        pytest.param("OptanonConsent", "isGpcEnabled=0&groups=C0001%3A1", (), False, id="onetrust-necessary-only"),
        pytest.param("CookieConsent", COOKIEBOT.format(p="true"), (), True, id="cookiebot-all"),
        pytest.param("CookieConsent", COOKIEBOT.format(p="false"), (), False, id="cookiebot-no-preferences"),
        pytest.param("CookieConsent", "-2", (), False, id="cookiebot-not-asked"),
        pytest.param("consent", _consentlib_cookie({"necessary", "analytics", "marketing"}),
                     ("necessary", "analytics", "marketing"), True, id="consentlib-all-declared"),
        pytest.param("consent", _consentlib_cookie({"necessary"}), ("necessary", "analytics"), False,
                     id="consentlib-necessary-only"),
        pytest.param("consent", "all", ("necessary", "analytics"), False, id="not-a-consentlib-cookie"),
        pytest.param("_ga", "GA1.1.42.1700000000", (), False, id="not-a-consent-cookie"),
    ],
)
def test_consent_cookie_that_grants_everything(name, value, declared, grants):
    assert (grants_all(name, value, declared) is not None) is grants


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param("2026-12-05T10:11:12.345Z", "2026-12-05T10:11:13.001Z", True, id="iso-times"),
        pytest.param("seen=1790000000123", "seen=1790000004567", True, id="unix-milliseconds"),
        pytest.param("Sat+Dec+05+2026+10%3A11%3A12", "Sat+Dec+05+2026+10%3A11%3A14", True, id="date-string"),
        pytest.param("dark", "dark", True, id="same-value"),
        pytest.param("3f2a9c0e-5b1d-4e7a-9c2f-1a2b3c4d5e6f", "9d8c7b6a-5f4e-4d3c-8b2a-0f1e2d3c4b5a", False,
                     id="uuids"),
        pytest.param("GA1.1.12345678.1790000000", "GA1.1.87654321.1790000003", False, id="random-part-and-time"),
    ],
)
def test_times_are_masked_ids_are_not(first, second, same):
    assert (digest(first) == digest(second)) is same


def _snapshot(**values: str) -> Snapshot:
    snapshot = Snapshot("before", "http://127.0.0.1/")
    snapshot.cookies = [{"name": name, "digest": digest(value)} for name, value in values.items()]
    return snapshot


def test_compare_leaves_out_what_the_other_browser_never_got():
    mine = [_snapshot(vid="a1", theme="dark", only_mine="x")]
    other = [_snapshot(vid="b2", theme="dark")]
    assert compare(mine, other) == {("cookie", "vid"): True, ("cookie", "theme"): False}


@pytest.mark.parametrize("name", ["consent", "__Host-consent", "__Secure-consent"])
def test_consentlibs_own_choice_cookie_is_read_under_each_name_it_takes(name):
    """Over https consentlib names its cookie __Host-consent (__Secure- with a
    cookie_domain): a pre-ticked one is a finding whatever the prefix."""
    from consentlib.testing.judge import CONSENTLIB_COOKIES

    assert name in CONSENTLIB_COOKIES
    value = _consentlib_cookie({"necessary", "analytics", "marketing"})
    assert grants_all(name, value, ["necessary", "analytics", "marketing"])
