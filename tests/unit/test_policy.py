"""Policy declarations: validated when built, with a sentence naming what to change."""
from __future__ import annotations

import pytest

from consentlib import Beacon, Category, ConfigurationError, ConsentMiddleware, Cookie, Policy
from consentlib.consent import ConsentCookie
from consentlib.gate.beacons import BeaconPaths

from tests.support.apps import POLICY

CATS = [Category("necessary", required=True), Category("analytics"), Category("marketing", gpc=True)]


def _app(environ, start_response):  # pragma: no cover - never called
    raise AssertionError


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: Policy(revision=1, categories=CATS, cookies=[Cookie("x", "ads")]),
                     ["'x'", "'ads'", "Category('ads')"], id="cookie-unknown-category"),
        pytest.param(lambda: Policy(revision=1, categories=CATS + [Category("analytics")]),
                     ["'analytics'", "twice"], id="duplicate-category"),
        pytest.param(lambda: Policy(revision=1, categories=CATS,
                                    cookies=[Cookie("uid", "analytics"), Cookie("uid", "marketing")]),
                     ["'uid'", "twice", "'analytics'", "'marketing'"], id="cookie-declared-twice"),
        pytest.param(lambda: Policy(revision=1, categories=CATS,
                                    cookies=[Cookie("_ga*", "analytics"), Cookie("_ga*", "marketing")]),
                     ["'_ga*'", "twice"], id="glob-declared-twice"),
        pytest.param(lambda: Category("necessary", required=True, gpc=True),
                     ["'necessary'", "gpc=True", "required"], id="required-and-gpc"),
        pytest.param(lambda: Policy(revision=0, categories=CATS), ["revision", "0"], id="revision-zero"),
        pytest.param(lambda: Policy(revision=-2, categories=CATS), ["revision"], id="revision-negative"),
        pytest.param(lambda: Policy(revision="3", categories=CATS), ["revision", "'3'"], id="revision-string"),
        pytest.param(lambda: Policy(revision=True, categories=CATS), ["revision", "True"], id="revision-bool"),
        pytest.param(lambda: Policy(revision=1.5, categories=CATS), ["revision"], id="revision-float"),
        pytest.param(lambda: Policy(revision=1, categories=[]), ["at least one Category"], id="no-categories"),
        pytest.param(lambda: Policy(revision=1, categories=["analytics"]), ["Category objects"],
                     id="category-not-object"),
        pytest.param(lambda: Beacon("collect", "analytics"), ["'collect'", "'/'"], id="beacon-path-without-slash"),
        pytest.param(lambda: Policy(revision=1, categories=CATS, beacons=[Beacon("/b", "ads")]),
                     ["Beacon '/b'", "'ads'"], id="beacon-unknown-category"),
        pytest.param(lambda: Policy(revision=1, categories=CATS, etags="personalisation"),
                     ["etags", "'personalisation'"], id="etags-unknown-category"),
        pytest.param(lambda: Category("Analytics"), ["'Analytics'", "lower-case"], id="category-name-upper"),
        pytest.param(lambda: Cookie("bad name", "analytics"), ["'bad name'"], id="cookie-name-space"),
        pytest.param(lambda: Cookie("a;b", "analytics"), ["'a;b'"], id="cookie-name-semicolon"),
        pytest.param(lambda: Cookie("_ga", "analytics", third_party=True), ["'_ga'", "third_party='Google'"],
                     id="cookie-third-party-not-text"),
    ],
)
def test_policy_rejects_bad_declaration_naming_what_to_change(build, names):
    with pytest.raises(ConfigurationError) as info:
        build()
    message = str(info.value)
    assert message.endswith("."), message  # a sentence
    for name in names:
        assert name in message


def test_configuration_error_is_a_value_error_and_a_consent_error():
    from consentlib import ConsentError

    with pytest.raises(ValueError):
        Policy(revision=0, categories=CATS)
    assert issubclass(ConfigurationError, ConsentError)


def test_policy_is_frozen():
    with pytest.raises(AttributeError):
        POLICY.revision = 4  # type: ignore[misc]
    assert isinstance(POLICY.categories, tuple)
    assert isinstance(POLICY.cookies, tuple)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        pytest.param("_ga", "analytics", id="glob-matches-prefix-itself"),
        pytest.param("_ga_XYZ", "analytics", id="glob"),
        pytest.param("_gads", "marketing", id="exact-beats-glob"),
        pytest.param("_gat", "necessary", id="exact-beats-glob-declared-later"),
        pytest.param("sid", "necessary", id="exact"),
        pytest.param("SID", None, id="names-are-case-sensitive"),
        pytest.param("x_ga", None, id="glob-anchored"),
        pytest.param("unknown", None, id="undeclared"),
    ],
)
def test_cookie_match_exact_declaration_beats_glob(name, category):
    policy = Policy(
        revision=1,
        categories=CATS,
        cookies=[
            Cookie("_gads", "marketing"),
            Cookie("_ga*", "analytics"),
            Cookie("sid", "necessary"),
            Cookie("_gat", "necessary"),
        ],
    )
    found = policy.cookie(name)
    assert (found.category if found else None) == category


def test_policy_lookups():
    assert POLICY.required == {"necessary"}
    assert POLICY.gpc_categories == {"marketing"}
    assert POLICY.category_names == ("necessary", "preferences", "analytics", "marketing")
    assert POLICY.category("analytics").label == "Analytics"
    assert POLICY.category("nope") is None


@pytest.mark.parametrize(
    ("path", "beacon"),
    [
        pytest.param("/collect", "/collect", id="exact"),
        pytest.param("/collect/", "/collect", id="exact-with-trailing-slash-as-routers-may-route-it"),
        pytest.param("/collect/x", None, id="exact-is-not-prefix"),
        pytest.param("/collector", None, id="exact-not-startswith"),
        pytest.param("/track/", "/track/", id="prefix-itself"),
        pytest.param("/track/a/b.gif", "/track/", id="prefix"),
        pytest.param("/track", None, id="prefix-needs-slash"),
        # RFC 9112 §3.2.2: an absolute-form target some servers pass on whole (uvicorn's h11).
        pytest.param("http://example.com/collect", "/collect", id="absolute-form"),
        pytest.param("HTTPS://example.com:8443//collect/", "/collect", id="absolute-form-https-port-slashes"),
        pytest.param("http://example.com/track/a.gif", "/track/", id="absolute-form-prefix"),
        pytest.param("http://example.com", None, id="absolute-form-without-path"),
        pytest.param("/http://example.com/collect", None, id="a-path-segment-is-not-a-scheme"),
    ],
)
def test_beacon_paths_exact_or_prefix(path, beacon):
    found = BeaconPaths(POLICY.beacons).find(path)
    assert (found.path if found else None) == beacon


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param("short", id="short"),
        pytest.param([], id="empty-list"),
        pytest.param(["long-enough-key-0123456789", "short"], id="one-short-in-list"),
        pytest.param("", id="empty-string"),
        pytest.param(None, id="none"),
        pytest.param([None], id="list-of-none"),
        pytest.param(12345678901234567890, id="number"),
    ],
)
def test_missing_or_short_secret_key_is_configuration_error(secret_key, tmp_path):
    with pytest.raises(ConfigurationError) as info:
        ConsentMiddleware(_app, POLICY, secret_key=secret_key, store=f"sqlite:///{tmp_path}/c.db")
    assert "secret_key" in str(info.value)
    with pytest.raises(ConfigurationError):
        ConsentCookie(secret_key)


@pytest.mark.parametrize(
    ("options", "word"),
    [
        pytest.param({"prefix": "_consent/"}, "prefix", id="prefix-no-leading-slash"),
        pytest.param({"prefix": "/_consent"}, "prefix", id="prefix-no-trailing-slash"),
        pytest.param({"store": "mysql://x"}, "store URL", id="unknown-store-url"),
        pytest.param({"store": "sqlite:///"}, "SQLite", id="sqlite-url-without-file"),
        pytest.param({"store": 42}, "store", id="store-not-url"),
        pytest.param({"lifetime": 0}, "lifetime", id="lifetime-zero"),
        pytest.param({"max_body": 10}, "max_body", id="max-body-tiny"),
    ],
)
def test_middleware_bad_options_are_configuration_errors(options, word, tmp_path):
    options = {"secret_key": "long-enough-key-0123456789", "store": f"sqlite:///{tmp_path}/c.db", **options}
    with pytest.raises(ConfigurationError) as info:
        ConsentMiddleware(_app, POLICY, **options)
    assert word in str(info.value)


def test_middleware_needs_a_policy(tmp_path):
    with pytest.raises(ConfigurationError, match="Policy"):
        ConsentMiddleware(_app, {"revision": 1}, secret_key="long-enough-key-0123456789",
                          store=f"sqlite:///{tmp_path}/c.db")
