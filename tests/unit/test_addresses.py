"""The one e-mail address check (consentlib.mail.addresses): what a guardian's address, a
mail recipient and the example's sign-up form all accept."""
from __future__ import annotations

import pytest

from consentlib.mail.addresses import email_address


@pytest.mark.parametrize(("text", "address"), [
    pytest.param("ana@example.com", "ana@example.com", id="plain"),
    pytest.param("  Ana@Example.COM \n", "Ana@example.com", id="stripped-domain-lowered-local-kept"),
    pytest.param("a@b.c", "a@b.c", id="shortest"),
    pytest.param("o'brien+news@mail.example.co.uk", "o'brien+news@mail.example.co.uk", id="apostrophe-plus"),
    pytest.param("jürgen@bücher.example", "jürgen@bücher.example", id="rfc6531-and-idn"),
    pytest.param("x" * 64 + "@example.com", "x" * 64 + "@example.com", id="local-of-64"),
])
def test_an_address_is_kept(text, address):
    assert email_address(text) == address


@pytest.mark.parametrize("text", [
    pytest.param("not-an-address", id="no-at"),
    pytest.param("", id="empty"),
    pytest.param("@example.com", id="no-local"),
    pytest.param("ana@", id="no-domain"),
    pytest.param("ana@localhost", id="dotless-domain"),
    pytest.param("ana@192.0.2.1", id="ip-address"),
    pytest.param("ana@exa_mple.com", id="underscore-in-host"),
    pytest.param("ana@-example.com", id="label-starts-with-hyphen"),
    pytest.param("a@b.com\nBcc: x@evil.example", id="header-injection"),
    pytest.param("ana@exam\r\nple.com", id="crlf-in-the-domain"),
    pytest.param("ana maria@example.com", id="space"),
    pytest.param("ana,bo@example.com", id="comma-two-recipients"),
    pytest.param("Ana <ana@example.com>", id="display-name"),
    pytest.param('"ana"@example.com', id="quoted-local"),
    pytest.param("a@b@example.com", id="two-ats"),
    pytest.param(".ana@example.com", id="leading-dot"),
    pytest.param("a..na@example.com", id="double-dot"),
    pytest.param("x" * 65 + "@example.com", id="local-over-64"),
    pytest.param("x" * 64 + "@" + ".".join(["d" * 62] * 3) + ".com", id="over-254"),
    pytest.param(None, id="not-text"),
    pytest.param(["ana@example.com"], id="a-list"),
])
def test_what_is_not_an_address_is_none(text):
    assert email_address(text) is None
