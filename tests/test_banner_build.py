"""The built banner in consentlib/static/: present, named by content hash, within budget.

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

STATIC = Path(__file__).resolve().parent.parent / "consentlib" / "static"
# DESIGN.md, Performance budgets: banner JS + CSS at most 5 KB gzip together.
BUDGET = 5120


@pytest.fixture(scope="module")
def manifest() -> dict[str, str]:
    return json.loads((STATIC / "manifest.json").read_text())


def test_manifest_names_both_assets_and_they_exist(manifest):
    assert set(manifest) == {"banner.js", "banner.css"}
    for name, file in manifest.items():
        stem, ext = name.split(".")
        assert re.fullmatch(rf"{stem}\.[0-9a-f]{{10}}\.{ext}", file), file
        assert (STATIC / file).is_file(), f"{file} is in manifest.json but not in consentlib/static"


def test_hashed_names_match_content(manifest):
    for file in manifest.values():
        digest = hashlib.sha256((STATIC / file).read_bytes()).hexdigest()[:10]
        assert file.split(".")[1] == digest, f"{file}: run `npm run build` in js/ and commit consentlib/static"


def test_no_stale_hashed_files_left_behind(manifest):
    hashed = {p.name for p in STATIC.glob("banner.*.*")}
    assert hashed == set(manifest.values())


def test_size_budget_gzip(manifest):
    total = sum(len(gzip.compress((STATIC / f).read_bytes(), compresslevel=9)) for f in manifest.values())
    assert total <= BUDGET, f"banner.js + banner.css are {total} bytes gzip, over the {BUDGET}-byte budget"


def test_csp_safe_script(manifest):
    # CSP script-src 'self'; style-src 'self': no eval, no string-built code, no inline styles.
    js = (STATIC / manifest["banner.js"]).read_text()
    for pattern in (r"\beval\(", r"new Function\b", r"innerHTML", r"insertAdjacentHTML", r"\.style\b",
                    r"""["']style["']""", r"document\.write"):
        assert not re.search(pattern, js), pattern
