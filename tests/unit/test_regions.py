"""Regions: what a Region accepts, which values of the trusted header name a place, and
what each regime grants an undecided visitor (docs/regions.md)."""
from __future__ import annotations

import pytest

from consentlib import Category, ConfigurationError, Policy, Region
from consentlib.consent import ConsentCookie
from consentlib.gate.cookies import CookieGate
from consentlib.gate.regions import Regions, country_code, region_code
from consentlib.gate.visits import Visits

CATEGORIES = [Category("necessary", required=True), Category("analytics"),
              Category("marketing", sale_or_share=True), Category("ads", gpc=True),
              Category("transfer", separate=True)]
REGIONS = [Region("EEA", "opt-in", ["DE", "FR"]), Region("California", "opt-out", ["US-CA"]),
           Region("United States", "notice", ["US"])]
POLICY = Policy(revision=1, categories=CATEGORIES, regions=REGIONS)


@pytest.mark.parametrize(("build", "says"), [
    pytest.param(lambda: Region("EU", "gdpr", ["DE"]), "use one of 'opt-in', 'opt-out', 'notice'", id="unknown-regime"),
    pytest.param(lambda: Region("EU", "opt-in", ["de"]), "not an ISO 3166 code", id="lower-case-code"),
    pytest.param(lambda: Region("EU", "opt-in", ["DEU"]), "not an ISO 3166 code", id="alpha-3"),
    pytest.param(lambda: Region("CA", "opt-out", ["US-"]), "not an ISO 3166 code", id="empty-subdivision"),
    pytest.param(lambda: Region("EU", "opt-in", "DE"), "give a list of codes", id="a-string-not-a-list"),
    pytest.param(lambda: Region("EU", "opt-in", []), "lists no countries", id="no-countries"),
    pytest.param(lambda: Policy(revision=1, categories=CATEGORIES, default_regime="none"),
                 "default_regime has regime 'none'", id="unknown-default"),
    pytest.param(lambda: Policy(revision=1, categories=CATEGORIES,
                                regions=[Region("A", "opt-in", ["DE"]), Region("B", "notice", ["AT", "DE"])]),
                 "'DE' is in two regions, 'A' and 'B'", id="country-in-two-regions"),
    pytest.param(lambda: Category("necessary", required=True, separate=True), "Drop separate=True",
                 id="required-and-separate"),
])
def test_a_wrong_region_is_refused_with_what_to_change(build, says):
    with pytest.raises(ConfigurationError, match=says) as refused:
        build()
    assert str(refused.value).endswith(".")


@pytest.mark.parametrize(("code", "region", "regime"), [
    pytest.param("DE", "EEA", "opt-in", id="country"),
    pytest.param("US-CA", "California", "opt-out", id="subdivision-wins"),
    pytest.param("US-NY", "United States", "notice", id="subdivision-falls-back-to-country"),
    pytest.param("JP", None, "opt-in", id="no-region-default"),
    pytest.param(None, None, "opt-in", id="unknown-default"),
])
def test_a_code_finds_its_region_and_regime(code, region, regime):
    found = POLICY.region(code)
    assert (found.name if found else None, POLICY.regime_of(code)) == (region, regime)


def test_the_default_regime_is_the_sites_to_choose():
    policy = Policy(revision=1, categories=CATEGORIES, default_regime="notice")
    assert policy.regime_of(None) == "notice"


@pytest.mark.parametrize(("value", "code"), [
    pytest.param("DE", "DE", id="plain"),
    pytest.param("XX", None, id="cloudflare-no-country"),
    pytest.param("T1", None, id="cloudflare-tor"),
    pytest.param("", None, id="empty"),
    pytest.param("de", None, id="lower-case"),
    pytest.param(" DE", None, id="padded"),
    pytest.param("US, DE", None, id="two-lines-joined"),
    pytest.param("US,US", None, id="two-lines-the-same"),
    pytest.param("USA", None, id="alpha-3"),
    pytest.param("D\u0395", None, id="greek-epsilon"),
    pytest.param(None, None, id="absent"),
])
def test_only_one_plain_iso_code_names_a_country(value, code):
    assert country_code(value) == code


@pytest.mark.parametrize(("country", "subdivision", "code"), [
    pytest.param("US", "CA", "US-CA", id="cloudflare-region-code"),
    pytest.param("US", "US-CA", "US-CA", id="whole-code"),
    pytest.param("US", "ca", "US", id="lower-case-subdivision-dropped"),
    pytest.param("US", "CA, NY", "US", id="two-subdivisions-dropped"),
    pytest.param("XX", "CA", None, id="no-country-no-subdivision"),
])
def test_a_subdivision_counts_only_with_its_country(country, subdivision, code):
    assert region_code(country, subdivision) == code


def test_ages_of_consent_follow_the_resolved_regions_country():
    assert POLICY.age_of_consent_in("US-CA") == 13
    assert POLICY.age_of_consent_in("DE") == 16
    assert POLICY.age_of_consent_in("FR") == 15


def _visits(policy=POLICY) -> Visits:
    cookie = ConsentCookie(["test-key-newest-0123456789"])
    return Visits(policy, cookie, CookieGate(policy, ()), honour_dnt=False)


@pytest.mark.parametrize(("region", "gpc", "granted"), [
    pytest.param("DE", False, {"necessary"}, id="opt-in-asks-first"),
    pytest.param(None, False, {"necessary"}, id="unknown-is-opt-in"),
    pytest.param("US-CA", False, {"necessary", "analytics", "marketing", "ads"}, id="opt-out-until-opted-out"),
    pytest.param("US-CA", True, {"necessary", "analytics"}, id="opt-out-gpc-denies-sale-and-gpc"),
    pytest.param("US-TX", False, {"necessary", "analytics", "marketing", "ads"}, id="notice"),
    pytest.param("US-TX", True, {"necessary", "analytics", "marketing"}, id="notice-gpc-denies-gpc-only"),
])
def test_what_each_regime_grants_an_undecided_visitor(region, gpc, granted):
    consent = _visits().of("", gpc, False, False, region).consent
    assert not consent.decided
    assert consent.granted == granted  # never "transfer": separate, only by its own action
    assert (consent.region, consent.regime) == (region, POLICY.regime_of(region))


def test_a_stored_grant_of_sale_gives_way_to_gpc_in_an_opt_out_region():
    visits = _visits()
    payload = visits.cookie.decide(revision=1, categories={"necessary", "analytics", "marketing"},
                                   consent_id="a" * 32)
    value = visits.cookie.dumps(revision=1, categories=payload.categories, decided_at=payload.decided_at)
    header = f"consent={value}; ad_id=1"
    assert "marketing" not in visits.of(header, True, False, False, "US-CA").consent.granted
    # In an opt-in region a sale_or_share category that is not gpc=True stays as chosen.
    assert "marketing" in visits.of(header, True, False, False, "DE").consent.granted


def test_regions_read_nothing_but_the_named_header():
    regions = Regions("CF-IPCountry", "CF-Region-Code")
    assert regions.vary == ("CF-IPCountry", "CF-Region-Code")
    assert regions.of("US", "CA", "8.8.8.8") == "US-CA"
    assert regions.of(None, None, "8.8.8.8") is None  # no geoip: the address says nothing


def _mmdb(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "CA"}]})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "DE"}})
    path = tmp_path / "test-city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.mark.parametrize(("address", "code"), [
    pytest.param("203.0.113.9", "US-CA", id="country-and-subdivision"),
    pytest.param("198.51.100.7", "DE", id="country"),
    # A dual-stack server (listening on ::) gives an IPv4 client's address IPv4-mapped.
    pytest.param("::ffff:203.0.113.9", "US-CA", id="ipv4-mapped"),
    pytest.param("192.0.2.1", None, id="not-in-the-database"),
    pytest.param("not-an-address", None, id="junk"),
    pytest.param(None, None, id="no-peer"),
])
def test_a_maxmind_database_gives_the_region_of_an_address(tmp_path, address, code):
    assert Regions(None, geoip=_mmdb(tmp_path)).of(None, None, address) == code


def test_the_header_wins_over_the_database_and_the_database_fills_in(tmp_path):
    regions = Regions("CF-IPCountry", geoip=_mmdb(tmp_path))
    assert regions.of("FR", None, "203.0.113.9") == "FR"
    assert regions.of("XX", None, "203.0.113.9") == "US-CA"


def test_a_file_that_is_no_database_is_refused(tmp_path):
    path = tmp_path / "not.mmdb"
    path.write_text("nothing")
    with pytest.raises(ConfigurationError, match="could not be opened as a MaxMind database"):
        Regions(None, geoip=str(path))
