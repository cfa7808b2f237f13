"""Declared Web Storage keys in the cookie tables: ``consentlib cookies`` and the
preferences page list them under their category, where they are kept in the lifetime's place."""
from __future__ import annotations

import json
import re

import pytest

from consentlib import Category, Cookie, Policy, Storage
from consentlib.cli import main

from tests.support.apps import build_site

POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("preferences"), Category("analytics")],
    cookies=[Cookie("_ga*", "analytics", purpose="Counts visits", lifetime="2 years", third_party="Google")],
    storage=[Storage("_hj*", "analytics", purpose="Heatmaps", third_party="Hotjar"),
             Storage("theme", "preferences", kind="local", purpose={"en": "Your colour scheme", "fr": "Vos couleurs"})],
)


@pytest.fixture
def policy_module(monkeypatch):
    import types

    module = types.ModuleType("storage_tables_policy")
    module.POLICY = POLICY
    monkeypatch.setitem(__import__("sys").modules, "storage_tables_policy", module)
    return "storage_tables_policy:POLICY"


def test_cli_cookies_lists_storage_keys_after_the_cookies(capsys, policy_module):
    assert main(["cookies", "--policy", policy_module]) == 0
    out = capsys.readouterr().out.splitlines()
    # In the policy's order of storage: exact keys first, as they win over a pattern.
    assert out[-2:] == ["| `theme` | preferences | Your colour scheme | localStorage | this site |",
                        "| `_hj*` | analytics | Heatmaps | localStorage, sessionStorage | Hotjar |"]
    assert main(["cookies", "--policy", policy_module, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-2] == {"name": "theme", "category": "preferences", "lifetime": "localStorage",
                        "purpose": "Your colour scheme", "third_party": "", "storage": ["localStorage"]}
    assert "storage" not in rows[0], "a cookie row says nothing of storage"
    assert main(["cookies", "--policy", policy_module, "--format", "html"]) == 0
    assert "<tr><td>_hj*</td><td>analytics</td><td>Heatmaps</td><td>localStorage, sessionStorage</td>" \
           "<td>Hotjar</td></tr>" in capsys.readouterr().out


def _rows(html: str, category: str) -> list[list[str]]:
    table = re.search(rf'<table id="consent-cookies-{category}">(.*?)</table>', html, re.S)
    assert table, f"no table for {category}"
    return [re.findall(r"<td>(?:<code>)?(.*?)(?:</code>)?</td>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S) if "<td>" in row]


@pytest.mark.parametrize(("lang", "purpose"), [pytest.param("en", "Your colour scheme", id="en"),
                                               pytest.param("fr", "Vos couleurs", id="fr")])
def test_the_preferences_page_lists_storage_keys_under_their_category(tmp_path, lang, purpose):
    site = build_site("wsgi", tmp_path, policy=POLICY)
    html = site.get("/_consent/preferences", headers={"Accept-Language": lang}).text
    assert _rows(html, "analytics")[-1] == ["_hj*", "Heatmaps", "localStorage, sessionStorage", "Hotjar"]
    # A category with storage keys and no cookie gets a table, not "no cookies".
    (theme,) = _rows(html, "preferences")
    assert theme[:3] == ["theme", purpose, "localStorage"]
