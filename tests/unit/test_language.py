"""The one rule for a request's language (consentlib.web.language): the site's choice, then
Accept-Language with subtag fallback, then the default; junk never breaks it."""
from __future__ import annotations

import pytest

from consentlib.web.language import choose

SHIPPED = [(tag, ()) for tag in ("en", "de", "fr", "ar", "zh-Hans", "zh-Hant", "pt", "pt-BR")]


@pytest.mark.parametrize("header, expected", [
    pytest.param("de-AT", "de", id="region-falls-back-to-language"),
    pytest.param("de-DE, en;q=0.5", "de", id="de-DE"),
    pytest.param("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr", id="chrome-fr-FR"),
    pytest.param("ar", "ar", id="ar"),
    pytest.param("zh-TW", "zh-Hant", id="zh-TW-traditional"),
    pytest.param("zh-HK", "zh-Hant", id="zh-HK-traditional"),
    pytest.param("zh-CN", "zh-Hans", id="zh-CN-simplified"),
    pytest.param("zh", "zh-Hans", id="zh-simplified"),
    pytest.param("zh-Hant-CN", "zh-Hant", id="script-beats-region"),
    pytest.param("pt", "pt", id="pt-european"),
    pytest.param("pt-PT", "pt", id="pt-PT"),
    pytest.param("pt-BR", "pt-BR", id="pt-BR"),
    pytest.param("PT-br", "pt-BR", id="case-insensitive"),
    pytest.param("en;q=0.9, de;q=0.95", "de", id="q-values-order"),
    pytest.param("de;q=0.5, fr;q=0.5", "de", id="equal-q-header-order"),
    pytest.param("de;q=0, fr", "fr", id="q0-not-acceptable"),
    pytest.param("sv, fr;q=0.3", "fr", id="first-served-wins"),
    pytest.param("sv", "en", id="unserved-is-default"),
    pytest.param("*", "en", id="any-is-default"),
    pytest.param("sv, *;q=0.5, de;q=0.1", "en", id="any-before-de"),
    pytest.param("", "en", id="empty"),
    pytest.param(None, "en", id="absent"),
    pytest.param("\x7f;;q=abc, de;q=2, fr;q=0.5x, ,;q=1", "en", id="junk"),
    pytest.param("de;q=1.0001, ar;q=0.001", "ar", id="unreadable-weight-skipped"),
    pytest.param("ü-ö, 💥, de-", "en", id="non-ascii"),
    pytest.param("sv;q=0.9, " * 20_000 + "de", "en", id="huge-header-read-only-its-start"),
])
def test_accept_language(header, expected):
    assert choose(header, SHIPPED, "en") == expected


@pytest.mark.parametrize("site, header, expected", [
    pytest.param("de", "fr", "de", id="site-choice-first"),
    pytest.param("de-at", "fr", "de", id="django-style-code"),
    pytest.param("zh-hans", None, "zh-Hans", id="django-zh-hans"),
    pytest.param("pt_BR", None, "pt-BR", id="gettext-underscore"),
    pytest.param("sv", "fr", "fr", id="unserved-site-choice-falls-to-header"),
    pytest.param("*", "fr", "fr", id="site-star-ignored"),
    pytest.param("de;q=1", "fr", "fr", id="site-junk-ignored"),
])
def test_site_choice(site, header, expected):
    assert choose(header, SHIPPED, "en", site) == expected


def test_policy_default_language():
    assert choose("sv", SHIPPED, "de") == "de"


def test_site_json_accepts_patterns():
    # A site's messages/<tag>.json may name further ranges it serves ("@accepts").
    assert choose("x-klingon", [("en", ()), ("tlh", ("x-klingon*",))], "en") == "tlh"
