"""The built banner in consentlib/web/static/: present, named by content hash, within budget.

The byte-for-byte "committed build equals a fresh build" check runs in js/ (``npm test``),
where the locked esbuild is installed.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "consentlib" / "web" / "static"
# What a page loads on first paint: banner.js + banner.css at most 4 KB gzip together.
FIRST_LOAD = ("banner.js", "banner.css")
BUDGET = 4096
# The second layer, loaded only when a visitor opens "Customize".
SECOND_LAYER = ("banner-customize.js", "banner-customize.css")
SECOND_LAYER_BUDGET = 2048
# consentlib's own pages' stylesheet (preferences, receipts), cached for a year.
PAGES = ("pages.css",)
PAGES_BUDGET = 2048


@pytest.fixture(scope="module")
def manifest() -> dict[str, str]:
    return json.loads((STATIC / "manifest.json").read_text())


def test_manifest_names_every_asset_and_they_exist(manifest):
    assert set(manifest) == {*FIRST_LOAD, *SECOND_LAYER, *PAGES}
    for name, file in manifest.items():
        stem, ext = name.split(".")
        assert re.fullmatch(rf"{stem}\.[0-9a-f]{{10}}\.{ext}", file), file
        assert (STATIC / file).is_file(), f"{file} is in manifest.json but not in consentlib/web/static"


def test_hashed_names_match_content(manifest):
    for file in manifest.values():
        digest = hashlib.sha256((STATIC / file).read_bytes()).hexdigest()[:10]
        assert file.split(".")[1] == digest, f"{file}: run `npm run build` in js/ and commit consentlib/web/static"


def test_no_stale_hashed_files_left_behind(manifest):
    hashed = {p.name for pattern in ("banner*.*.*", "pages.*.*") for p in STATIC.glob(pattern)}
    assert hashed == set(manifest.values())


def _gzipped(manifest, names) -> int:
    return sum(len(gzip.compress((STATIC / manifest[n]).read_bytes(), compresslevel=9)) for n in names)


def test_size_budget_gzip_first_load(manifest):
    total = _gzipped(manifest, FIRST_LOAD)
    assert total <= BUDGET, f"banner.js + banner.css are {total} bytes gzip, over the {BUDGET}-byte budget"


def _shipped_languages() -> list[str]:
    from consentlib.locale import compile as locale, po

    return sorted(po.sources(locale.HERE))


@pytest.mark.parametrize("language", _shipped_languages())
def test_size_budget_gzip_first_paint_in_every_language(manifest, language):
    # The first paint is the two files and the tag that carries the texts of the visitor's
    # language (and only those): together within the budget, in every shipped language.
    from consentlib.web.tags import banner_html
    from consentlib.web.templates import Templates

    page = Templates().page(language)
    tag = banner_html(None, prefix="/_consent/", revision=1, notice_url="/privacy", page=page)
    assert f'data-consent-lang="{language}"' in tag
    total = _gzipped(manifest, FIRST_LOAD) + len(gzip.compress(tag.encode(), compresslevel=9))
    assert total <= BUDGET, (
        f"{language}: banner.js + banner.css + the tag's texts are {total} bytes gzip, over the {BUDGET}-byte "
        f"budget; shorten the banner_* texts of {language}.po")


def test_first_paint_holds_one_language(manifest):
    # No catalogue is built into the script: the texts are only in the tag.
    js = (STATIC / manifest["banner.js"]).read_text("utf-8")
    for text in ("Accept all", "Reject all", "全部接受", "Alle ablehnen", "قبول الكل"):
        assert text not in js


def test_size_budget_gzip_second_layer(manifest):
    total = _gzipped(manifest, SECOND_LAYER)
    assert total <= SECOND_LAYER_BUDGET, (
        f"banner-customize.js + .css are {total} bytes gzip, over the {SECOND_LAYER_BUDGET}-byte budget")


def test_size_budget_gzip_pages_stylesheet(manifest):
    total = _gzipped(manifest, PAGES)
    assert total <= PAGES_BUDGET, f"pages.css is {total} bytes gzip, over the {PAGES_BUDGET}-byte budget"


def test_first_load_names_the_second_layer_by_hash(manifest):
    # The banner loads its second layer from next to its own file, by the chunk's hashed
    # name; a stale name would be a 404 on "Customize".
    assert f'"{manifest["banner-customize.js"]}"' in (STATIC / manifest["banner.js"]).read_text()
    assert f'"{manifest["banner-customize.css"]}"' in (STATIC / manifest["banner-customize.js"]).read_text()


@pytest.mark.parametrize("name", ["banner.js", "banner-customize.js"])
def test_csp_safe_script(manifest, name):
    # CSP script-src 'self'; style-src 'self': no eval, no string-built code, no inline styles.
    js = (STATIC / manifest[name]).read_text()
    for pattern in (r"\beval\(", r"new Function\b", r"innerHTML", r"insertAdjacentHTML", r"\.style\b",
                    r"""["']style["']""", r"document\.write"):
        assert not re.search(pattern, js), pattern


@pytest.mark.parametrize("name", [*FIRST_LOAD, *SECOND_LAYER])
def test_every_asset_is_served_with_a_year_long_cache_under_its_hashed_name(manifest, name):
    # RFC 9111 §5.2.2.1, RFC 8246: a hashed name never changes content. The second layer is
    # served like the first, from the same folder, so one CSP 'self' admits both.
    from consentlib.web import assets as static

    asset = static.lookup(manifest[name])
    assert asset is not None and asset.immutable
    assert asset.content_type.startswith("text/javascript" if name.endswith(".js") else "text/css")
    assert asset.data == (STATIC / manifest[name]).read_bytes()
