"""Web Storage declarations (``Storage``): validated when built, matched as the browser
stores keys, and told to the banner (its tag's ``data-consent-storage``) and the audit."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest

from consentlib import Category, ConfigurationError, Cookie, Policy, Storage
from consentlib.testing.judge import Judge
from consentlib.web.declaration import declaration
from consentlib.web.storage import keys_by_category
from consentlib.web.tags import banner_html

CATS = [Category("necessary", required=True), Category("preferences"), Category("analytics"),
        Category("marketing", gpc=True)]
STORAGE = [
    Storage("_hj*", "analytics", purpose="Heatmaps", third_party="Hotjar"),
    Storage("_hjLocalStorageTest", "necessary", kind="local"),
    Storage("theme", "preferences", kind="local", purpose={"en": "Your colour scheme", "de": "Ihr Farbschema"}),
    Storage("a.b[1]?+(x)", "marketing", kind="session"),
    Storage("ad*", "marketing"),
    Storage("*_sess", "preferences", kind="session"),
]
POLICY = Policy(revision=1, categories=CATS, storage=STORAGE)


@pytest.mark.parametrize(("build", "names"), [
    pytest.param(lambda: Policy(revision=1, categories=CATS, storage=[Storage("_hj*", "heatmaps")]),
                 ["Storage '_hj*'", "'heatmaps'", "Category('heatmaps')"], id="unknown-category"),
    pytest.param(lambda: Storage("", "analytics"), ["''", "'_hj*'"], id="empty"),
    pytest.param(lambda: Storage("*", "analytics"), ["'*'", "every key"], id="matches-every-key"),
    pytest.param(lambda: Storage("**", "analytics"), ["'**'", "every key"], id="only-stars"),
    pytest.param(lambda: Storage("a\nb", "analytics"), ["control characters"], id="control-character"),
    pytest.param(lambda: Storage(42, "analytics"), ["42"], id="not-text"),
    pytest.param(lambda: Storage("_hj*", "analytics", kind="indexedDB"), ["kind='indexedDB'", "'local'", "'both'"],
                 id="unknown-kind"),
    pytest.param(lambda: Storage("_hj*", "analytics", third_party=True), ["third_party='Hotjar'"],
                 id="third-party-not-text"),
    pytest.param(lambda: Policy(revision=1, categories=CATS, storage=[Storage("k", "analytics"),
                                                                      Storage("k", "marketing", kind="local")]),
                 ["'k'", "twice", "localStorage", "'analytics'", "'marketing'"], id="declared-twice-in-one-area"),
    pytest.param(lambda: Policy(revision=1, categories=CATS, storage=[Cookie("k", "analytics")]),
                 ["Storage objects"], id="a-cookie-is-not-storage"),
])
def test_a_bad_storage_declaration_says_what_to_change(build, names):
    with pytest.raises(ConfigurationError) as info:
        build()
    message = str(info.value)
    assert message.endswith("."), message
    for name in names:
        assert name in message, message


def test_one_key_may_serve_two_categories_in_two_areas():
    policy = Policy(revision=1, categories=CATS, storage=[Storage("k", "analytics", kind="local"),
                                                          Storage("k", "preferences", kind="session")])
    assert [policy.storage_key("k", area).category for area in ("localStorage", "sessionStorage")] == [
        "analytics", "preferences"]


# (key, area, the category that declares it, or None)
KEYS = [
    pytest.param("_hjSessionUser_1", "localStorage", "analytics", id="glob"),
    pytest.param("_hj", "sessionStorage", "analytics", id="glob-matches-its-prefix-itself"),
    pytest.param("_hjLocalStorageTest", "localStorage", "necessary", id="exact-beats-a-glob-declared-before-it"),
    pytest.param("_hjLocalStorageTest", "sessionStorage", "analytics", id="exact-only-in-its-area"),
    pytest.param("_HJSESSION", "localStorage", None, id="case-sensitive"),
    pytest.param("x_hj", "localStorage", None, id="anchored"),
    pytest.param("theme", "localStorage", "preferences", id="exact"),
    pytest.param("theme", "sessionStorage", None, id="not-in-that-area"),
    pytest.param("a.b[1]?+(x)", "sessionStorage", "marketing", id="metacharacters-are-themselves"),
    pytest.param("aXb[1]?+(x)", "sessionStorage", None, id="a-dot-is-not-any-character"),
    pytest.param("a.b1+(x)", "sessionStorage", None, id="brackets-are-not-a-class"),
    pytest.param("ad_\nline", "localStorage", "marketing", id="star-spans-a-line-break"),
    pytest.param("ad_sess", "sessionStorage", "marketing", id="first-glob-wins"),
    pytest.param("cart_sess", "sessionStorage", "preferences", id="suffix-glob"),
    pytest.param("mine", "localStorage", None, id="undeclared"),
]


@pytest.mark.parametrize(("key", "area", "category"), KEYS)
def test_a_key_is_the_first_declarations_that_matches_exact_first(key, area, category):
    found = POLICY.storage_key(key, area)
    assert (found.category if found else None) == category


@pytest.mark.parametrize(("key", "area", "category"), KEYS)
def test_the_banners_expressions_match_exactly_the_keys_each_category_declares(key, area, category):
    # The expressions are in the syntax JavaScript and Python share; the banner tests a key
    # against each refused category's (js/test/storage.test.js runs them in the browser's engine).
    owners = [c for a, c, expression in keys_by_category(POLICY.storage) if a == area and re.search(expression, key)]
    assert owners == ([category] if category else [])


def _tag_storage(policy: Policy) -> list[list[str]] | None:
    tag = banner_html(None, prefix="/_consent/", revision=1, storage=policy.storage)
    found = re.search(r"data-consent-storage='([^']*)'", tag)
    return json.loads(unescape(found.group(1))) if found else None


def test_the_banner_tag_carries_the_expressions_only_when_the_policy_declares_storage():
    assert _tag_storage(Policy(revision=1, categories=CATS)) is None
    carried = _tag_storage(POLICY)
    assert carried == [list(entry) for entry in keys_by_category(POLICY.storage)]
    assert {(area, category) for area, category, _ in carried} >= {("localStorage", "analytics"),
                                                                   ("sessionStorage", "marketing")}


def test_a_key_with_a_quote_or_markup_cannot_leave_the_attribute():
    policy = Policy(revision=1, categories=CATS, storage=[Storage("it's<b>&*", "analytics")])
    tag = banner_html(None, prefix="/_consent/", revision=1, storage=policy.storage)
    attribute = tag.split("data-consent-storage='", 1)[1].split("'", 1)[0]
    assert "<" not in attribute and "&#39;" in attribute
    ((_, _, expression), *_) = json.loads(unescape(attribute))
    assert re.search(expression, "it's<b>&anything") and not re.search(expression, "its<b>&")


def test_declaration_json_lists_the_storage_keys_in_the_requests_language():
    from consentlib.web.templates import Templates

    body = declaration(POLICY, page=Templates().page("de"))
    listed = {s["name"]: s for s in body["storage"]}
    assert list(listed) == [s.name for s in POLICY.storage]
    assert [s["name"] for s in body["storage"][:3]] == ["_hjLocalStorageTest", "theme", "a.b[1]?+(x)"]
    assert listed["theme"] == {"name": "theme", "glob": False, "category": "preferences",
                               "purpose": "Ihr Farbschema", "areas": ["localStorage"], "third_party": ""}
    assert listed["_hj*"]["glob"] is True and listed["_hj*"]["areas"] == ["localStorage", "sessionStorage"]
    assert listed["_hj*"]["third_party"] == "Hotjar"
    assert declaration(Policy(revision=1, categories=CATS))["storage"] == []


@pytest.mark.parametrize(("key", "area", "verdict"), [
    pytest.param("_hjSessionUser_1", "localStorage", ("analytics", True), id="declared-optional"),
    pytest.param("_hjLocalStorageTest", "localStorage", ("necessary", False), id="declared-necessary"),
    pytest.param("theme", "sessionStorage", None, id="declared-in-the-other-area-only"),
    pytest.param("theme", "indexedDB", None, id="an-indexeddb-database-is-no-storage-key"),
])
def test_the_audit_counts_a_declared_storage_key_as_declared(key, area, verdict):
    judge = Judge(declaration(POLICY), evidence="declaration", where="https://shop.example/_consent/declaration.json")
    found = judge.storage_key(key, "shop.example", area)
    if verdict is None:
        assert found.evidence != "declaration"
    else:
        assert (found.category, found.needs_consent, found.evidence) == (*verdict, "declaration")
        assert "declaration.json" in found.source


def test_the_audit_reads_no_storage_from_a_malformed_declaration():
    body = declaration(POLICY)
    body["storage"] = [{"name": "_hj*", "category": "analytics"}, "x",
                       {"name": 1, "category": "analytics", "areas": []}]
    assert Judge(body).storage_key("_hjX", None, "localStorage").evidence != "declaration"
