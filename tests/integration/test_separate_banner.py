"""A separate category (PIPL Art 23, 29, 39) asked apart on the banner's second layer.

A banner post grants a separate category only when it names it in ``separate`` (the
visitor ticked it on its own); "Accept all" sends no ``separate`` and keeps it as it
stands; "Reject all" and a second-layer save that leaves it unticked withdraw it
(docs/http.md, docs/regions.md). Over every door: the rule is the endpoint's.
"""
from __future__ import annotations

import pytest

from consentlib import Category, Policy

from tests.support.apps import KINDS, LINT_STRICT, POLICY, build_site

pytestmark = LINT_STRICT

SEPARATE = Policy(revision=POLICY.revision, categories=[*POLICY.categories, Category("transfer", separate=True)],
                  cookies=POLICY.cookies)


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path, policy=SEPARATE)


def banner(site, body, cookies=None):
    headers = {"Cookie": cookies} if cookies else {}
    return site.post("/_consent/", json={**body, "method": "banner"}, headers=headers)


@pytest.mark.parametrize(("before", "body", "granted"), [
    pytest.param(None, {"categories": ["analytics", "transfer"], "separate": ["transfer"]},
                 ["analytics", "necessary", "transfer"], id="ticked-on-the-second-layer-grants-it"),
    pytest.param(None, {"categories": ["analytics", "marketing", "preferences", "transfer"]},
                 ["analytics", "marketing", "necessary", "preferences"], id="accept-all-never-grants-it"),
    pytest.param(["transfer"], {"categories": ["analytics", "marketing", "preferences", "transfer"]},
                 ["analytics", "marketing", "necessary", "preferences", "transfer"],
                 id="accept-all-keeps-it-as-it-stands"),
    pytest.param(["transfer"], {"categories": ["analytics"], "separate": []}, ["analytics", "necessary"],
                 id="second-layer-save-without-it-withdraws-it"),
    pytest.param(["transfer"], {"categories": ["transfer"], "separate": ["transfer"]}, ["necessary", "transfer"],
                 id="second-layer-save-with-it-keeps-it"),
    pytest.param(["transfer"], {"categories": []}, ["necessary"], id="reject-all-withdraws-it"),
    pytest.param(["transfer"], {"categories": [], "separate": []}, ["necessary"],
                 id="reject-all-with-an-empty-separate-withdraws-it"),
])
def test_a_banner_post_grants_a_separate_category_only_when_named_apart(site, before, body, granted):
    cookies = None
    if before is not None:
        # An earlier grant by the preferences page's own act (the form's tick).
        first = site.post("/_consent/", data={"action": "save", "category": before},
                          headers={"Origin": "http://localhost"})
        assert first.status_code == 303
        cookies = first.consent_cookies()
    r = banner(site, body, cookies)
    assert r.status_code == 200, r.data
    assert r.json["granted"] == granted
    receipt = site.store.receipts()[-1]
    assert receipt["method"] == "banner" and receipt["granted"] == granted
    assert receipt["categories"]["transfer"] == ("given" if "transfer" in granted else
                                                 "withdrawn" if before else "refused")


@pytest.mark.parametrize(("body", "says"), [
    pytest.param({"categories": ["transfer"], "separate": "transfer"}, '"separate" must be a list', id="not-a-list"),
    pytest.param({"categories": ["transfer"], "separate": [1]}, "must be strings", id="not-a-name"),
    pytest.param({"categories": ["transfer"], "separate": ["abroad"]}, "Unknown category 'abroad'", id="unknown"),
    pytest.param({"categories": ["analytics"], "separate": ["analytics"]}, "does not need a separate consent",
                 id="not-a-separate-category"),
    pytest.param({"categories": ["analytics"], "separate": ["transfer"]}, 'not in "categories"',
                 id="not-in-categories"),
])
def test_a_bad_separate_is_a_400_saying_what_to_send(site, body, says):
    r = banner(site, body)
    assert r.status_code == 400
    message = r.json["error"]
    assert says in message and message.endswith("."), message
    assert site.store.receipts() == []


def test_an_api_choice_names_a_separate_category_in_categories_and_separate_is_checked_too(site):
    # The site's own code (method "api") grants what it names, as before; "separate" is optional.
    assert site.post("/_consent/", json={"categories": ["transfer"], "separate": ["transfer"]}).json["granted"] == [
        "necessary", "transfer"]
    assert site.post("/_consent/", json={"categories": [], "separate": ["transfer"]}).status_code == 400


def test_declaration_json_gives_the_second_layer_the_separate_sentence(site):
    texts = site.get("/_consent/declaration.json").json["texts"]
    assert texts["separate"] == ("{label} needs your separate consent: it is on only when you tick it here and save "
                                 "your choices. “Accept all” leaves it off.")
    assert site.get("/_consent/declaration.json?lang=de").json["texts"]["separate"].startswith("{label}")
