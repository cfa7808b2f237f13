"""The third-party CSP's text per granted set, Host declarations, and what they refuse."""
from __future__ import annotations

import pytest

from consentlib import Category, ConfigurationError, Host, Policy
from consentlib.gate.csp import DIRECTIVES, ThirdPartyCsp, is_html
from consentlib.web.declaration import declaration

POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics"), Category("marketing", gpc=True)],
    hosts=[
        Host("https://cdn.example.net", "necessary"),
        Host("*.google-analytics.com", "analytics", provider="Google"),
        Host("www.googletagmanager.com", "analytics", provider="Google"),
        Host("ads.example:8443", "marketing"),
    ],
)
NECESSARY = frozenset({"necessary"})


def directives(text: str) -> dict[str, list[str]]:
    """The policy as a browser parses it (CSP3 §2.2.1): directive name -> sources."""
    parsed: dict[str, list[str]] = {}
    for directive in text.split(";"):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} appears twice: a browser would ignore the second"
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize(("granted", "allowed"), [
    pytest.param(NECESSARY, ["https://cdn.example.net"], id="before-a-choice-or-reject"),
    pytest.param(NECESSARY | {"analytics"},
                 ["https://cdn.example.net", "*.google-analytics.com", "www.googletagmanager.com"], id="analytics"),
    pytest.param(NECESSARY | {"marketing"}, ["https://cdn.example.net", "ads.example:8443"], id="marketing"),
    pytest.param(NECESSARY | {"analytics", "marketing"},
                 ["https://cdn.example.net", "*.google-analytics.com", "www.googletagmanager.com", "ads.example:8443"],
                 id="accept-all"),
    pytest.param(frozenset({"analytics"}),
                 ["https://cdn.example.net", "*.google-analytics.com", "www.googletagmanager.com"],
                 id="required-hosts-even-if-absent-from-granted"),
])
def test_each_fetch_directive_allows_self_and_the_granted_hosts_only(granted, allowed):
    parsed = directives(ThirdPartyCsp(POLICY, "/_consent/", "enforce").value(granted))
    assert list(parsed) == [*DIRECTIVES, "report-uri"]
    assert parsed["report-uri"] == ["/_consent/csp-report"]
    for name in DIRECTIVES:
        other_origins = [s for s in parsed[name] if s not in ("'self'", "data:", "blob:", "'unsafe-inline'",
                                                              "'unsafe-eval'")]
        assert other_origins == allowed, name
        assert {"'self'", "data:", "blob:"} <= set(parsed[name])
    # Only where the page reaches: the site's inline scripts keep running under this policy.
    assert {"'unsafe-inline'", "'unsafe-eval'"} <= set(parsed["script-src"])
    assert not any(s.startswith(("'nonce-", "'sha")) for sources in parsed.values() for s in sources)


def test_no_report_to_and_no_default_src_or_prefetch_src():
    text = ThirdPartyCsp(POLICY, "/c/", "enforce").value(NECESSARY)
    # report-to would make Chromium ignore report-uri; default-src would restrict style-src
    # and more than the trackers' directives; prefetch-src is unknown to Chromium.
    assert "report-to" not in text and "default-src" not in text and "prefetch-src" not in text


@pytest.mark.parametrize(("mode", "header"), [
    pytest.param("enforce", "Content-Security-Policy", id="enforce"),
    pytest.param("report", "Content-Security-Policy-Report-Only", id="report"),
])
def test_the_mode_names_the_header(mode, header):
    assert ThirdPartyCsp(POLICY, "/_consent/", mode).line(NECESSARY)[0] == header


@pytest.mark.parametrize(("hosts", "vary"), [
    pytest.param([], 0, id="no-hosts-same-for-everyone"),
    pytest.param([Host("cdn.example.net", "necessary")], 0, id="required-only"),
    pytest.param([Host("stats.example", "analytics")], 1, id="refusable-varies-on-cookie"),
    pytest.param([Host("ads.example", "marketing")], 2, id="gpc-varies-on-sec-gpc-too"),
])
def test_the_header_varies_only_when_consent_can_change_it(hosts, vary):
    policy = Policy(revision=1, categories=POLICY.categories, hosts=hosts)
    assert ThirdPartyCsp(policy, "/_consent/", "enforce").vary == vary


def test_texts_are_kept_per_granted_set_and_bounded():
    csp = ThirdPartyCsp(POLICY, "/_consent/", "enforce")
    assert csp.value(NECESSARY) is csp.value(frozenset({"necessary"}))
    for n in range(200):
        csp.value(frozenset({f"x{n}"}))
    assert len(csp._texts) <= 64


@pytest.mark.parametrize("pattern", [
    pytest.param("example.com; script-src *", id="semicolon-adds-a-directive"),
    pytest.param("example.com 'unsafe-hashes'", id="space-adds-a-source"),
    pytest.param("'self'", id="quoted-keyword"),
    pytest.param("example.com\nX-Evil: 1", id="line-break"),
    pytest.param("example.com,evil.com", id="comma-starts-another-policy"),
    pytest.param("*", id="every-origin"),
    pytest.param("https:", id="a-whole-scheme"),
    pytest.param("https://cdn.example.net/path", id="a-path"),
    pytest.param("example.com:70000", id="port-out-of-range"),
    pytest.param(" example.com", id="leading-space"),
    pytest.param("", id="empty"),
])
def test_a_pattern_that_is_not_a_host_source_is_refused_with_a_sentence(pattern):
    with pytest.raises(ConfigurationError, match="Host pattern .* (is not a CSP host source: write|has port)"):
        Host(pattern, "analytics")


@pytest.mark.parametrize("pattern", ["example.com", "*.example.com", "example.com:8443", "https://cdn.example.net",
                                     "127.0.0.1:8001", "wss://live.example.com:*", "EXAMPLE.com"])
def test_host_sources_are_accepted_and_kept_lower_case(pattern):
    assert Host(pattern, "analytics").pattern == pattern.lower()


def test_a_host_of_an_undeclared_category_or_declared_twice_is_refused():
    with pytest.raises(ConfigurationError, match="names category 'ads', which the policy does not declare"):
        Policy(revision=1, categories=POLICY.categories, hosts=[Host("a.example", "ads")])
    with pytest.raises(ConfigurationError, match="declared twice"):
        Policy(revision=1, categories=POLICY.categories,
               hosts=[Host("a.example", "analytics"), Host("a.example", "marketing")])


@pytest.mark.parametrize(("scheme", "host", "port", "found"), [
    pytest.param("https", "cdn.example.net", None, "https://cdn.example.net", id="exact-with-scheme"),
    pytest.param("http", "cdn.example.net", None, None, id="no-downgrade"),
    pytest.param("https", "www.google-analytics.com", None, "*.google-analytics.com", id="wildcard-subdomain"),
    pytest.param("https", "google-analytics.com", None, None, id="wildcard-not-the-apex"),
    pytest.param("https", "evilgoogle-analytics.com", None, None, id="wildcard-not-a-suffix-of-a-label"),
    pytest.param("https", "ads.example", 8443, "ads.example:8443", id="port"),
    pytest.param("https", "ads.example", None, None, id="other-port"),
])
def test_a_reported_origin_is_matched_as_csp_matches_it(scheme, host, port, found):
    declared = POLICY.host(scheme, host, port)
    assert (declared.pattern if declared else None) == found


@pytest.mark.parametrize(("value", "html"), [
    pytest.param("text/html; charset=utf-8", True, id="html"),
    pytest.param("TEXT/HTML", True, id="case"),
    pytest.param("application/xhtml+xml", True, id="xhtml"),
    pytest.param("application/json", False, id="json"),
    pytest.param("text/htmlx", False, id="not-a-prefix-match"),
    pytest.param("image/svg+xml", False, id="svg"),
])
def test_html_is_told_by_its_media_type(value, html):
    assert is_html(value) is html


def test_the_declaration_lists_the_hosts():
    assert declaration(POLICY)["hosts"][1] == {"pattern": "*.google-analytics.com", "category": "analytics",
                                               "provider": "Google"}
