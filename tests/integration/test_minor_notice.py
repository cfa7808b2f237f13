"""A minor's notice (GDPR Art 8) comes with the consent state that says the visitor is one,
in the request's language, rather than in every page's banner tag (docs/http.md)."""
from __future__ import annotations

import pytest

from consentlib.web.tags import banner_html
from consentlib.web.templates import Templates

from tests.support.apps import KINDS, build_site


def _child(where) -> bool:
    """The site's own rule: a cookie it set says so (a WSGI environ, or an ASGI scope)."""
    cookie = where.get("HTTP_COOKIE") or dict(where.get("headers") or ()).get(b"cookie", b"").decode()
    return "age_group=child" in cookie


@pytest.fixture(params=KINDS)
def site(request, tmp_path):
    return build_site(request.param, tmp_path, is_minor=_child)


@pytest.mark.parametrize(("lang", "notice"), [
    pytest.param("en", "You may be under the age of digital consent: ask a parent or guardian before you allow "
                       "anything optional.", id="en"),
    pytest.param("zh-CN", "父母或监护人", id="zh"),
])
def test_the_state_tells_a_minor_what_to_do_in_their_language(site, lang, notice):
    state = site.get("/_consent/", headers={"Cookie": "age_group=child", "Accept-Language": lang}).json
    assert state["minor"] is True
    assert notice in state["minor_notice"]


def test_an_adult_s_state_has_no_minor_notice(site):
    state = site.get("/_consent/").json
    assert state["minor"] is False and "minor_notice" not in state


def test_the_banner_tag_does_not_carry_it():
    tag = banner_html(None, prefix="/_consent/", revision=1, page=Templates().page("en"))
    assert "digital consent" not in tag and '"minor"' not in tag
