"""MailTracker and mail tokens: RFC 2369 / RFC 8058 headers, tracking only with consent,
suppression, signed opaque tokens, classification of machine fetches, stats and CLI."""
from __future__ import annotations

import base64
import json
import re
import zlib
from email.message import EmailMessage

import pytest

from consentlib import ConfigurationError, ConsentError, MailStats, MailTracker, Suppressed, UnusableMessage
from consentlib.mail.agents import classify_mail_click, classify_mail_open
from consentlib.cli import main as cli_main
from consentlib.mail.tokens import TRACKING_TOKEN_MAX_AGE, MailTokens, secret_keys
from tests.support.mailkit import BASE, BROWSER, HTML, KEYS, make_site, newsletter, part, prepared, reparse, unsubscribe_path, urls

TOKEN = r"[A-Za-z0-9_\-.]+"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path)


# -- RFC 2369 / RFC 8058 headers ---------------------------------------------------------------


def test_rfc8058_headers_exactly(site):
    msg = prepared(site)
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    (header,) = msg.get_all("List-Unsubscribe")
    assert re.fullmatch(rf"<{re.escape(BASE)}/_consent/m/u/{TOKEN}>", str(header))


def test_rfc2369_mailto_follows_the_https_url(tmp_path):
    site = make_site(tmp_path, unsubscribe_mailto="unsubscribe@example.com")
    header = str(prepared(site)["List-Unsubscribe"])
    assert re.fullmatch(rf"<{re.escape(BASE)}/_consent/m/u/{TOKEN}>, <mailto:unsubscribe@example\.com>", header)


def test_rfc2369_url_is_never_an_encoded_word_on_the_wire(tmp_path):
    # email.policy.default folds long unbroken values into =?utf-8?q?...?=, which no mail
    # client reads as a URL; the raw bytes must hold the URL whole.
    site = make_site(tmp_path, unsubscribe_mailto="unsubscribe@example.com")
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    raw = site.tracker.prepare(newsletter(HTML), recipient="ana@example.com", campaign="2026-11",
                               list_id="news").as_bytes()
    headers = raw.split(b"\n\n", 1)[0].decode("ascii")
    assert "=?" not in headers
    assert re.search(rf"^List-Unsubscribe: <{re.escape(BASE)}/_consent/m/u/{TOKEN}>,\r?\n <mailto:", headers, re.M)
    assert re.search(r"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$", headers, re.M)


def test_prepare_replaces_existing_headers_and_leaves_the_template_alone(site):
    template = newsletter(HTML)
    template["List-Unsubscribe"] = "<https://old.example/u>"
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    first = site.tracker.prepare(template, recipient="ana@example.com", campaign="c", list_id="news")
    assert len(first.get_all("List-Unsubscribe")) == 1 and "old.example" not in str(first["List-Unsubscribe"])
    assert str(template["List-Unsubscribe"]) == "<https://old.example/u>"
    assert "_consent" not in part(template, "html")
    second = site.tracker.prepare(template, recipient="bo@example.com", campaign="c", list_id="news")
    assert str(second["List-Unsubscribe"]) != str(first["List-Unsubscribe"])


# -- the body: visible unsubscribe always, tracking only with consent ----------------------------


def test_visible_unsubscribe_link_in_html_and_text(site):
    msg = prepared(site, tracked=False)
    path = unsubscribe_path(msg)
    assert f'<a href="{BASE}{path}">Unsubscribe</a>' in part(msg, "html")
    assert f"Unsubscribe: {BASE}{path}" in part(msg, "plain")


def test_untracked_recipient_gets_no_pixel_no_click_urls_no_untrack_link(site):
    msg = prepared(site, tracked=False)
    html = part(msg, "html")
    assert set(urls(msg)) == {"u", "d"}  # unsubscribe and "your data": neither tracks
    assert "<img" not in html
    assert 'href="https://shop.example/a?x=1&amp;y=2"' in html and 'href="https://blog.example/b"' in html


def test_never_asked_counts_as_untracked(site):
    msg = reparse(site.tracker.prepare(newsletter(HTML), recipient="new@example.com", campaign="c", list_id="news"))
    assert set(urls(msg)) == {"u", "d"}  # unsubscribe and "your data": neither tracks


def test_tracked_recipient_gets_pixel_click_urls_and_a_way_to_withdraw(site):
    msg = prepared(site)
    html = part(msg, "html")
    found = urls(msg)
    assert len(found["c"]) == 2 and len(found["o"]) == 1 and len(found["t"]) == 1
    assert re.search(rf'<img src="{re.escape(BASE)}/_consent/m/o/{TOKEN}\.gif" width="1" height="1" alt="">', html)
    assert "shop.example" not in html and "blog.example" not in html
    assert ">Stop tracking my opens</a>" in html
    assert "Stop tracking my opens: https://example.com/_consent/m/t/" in part(msg, "plain")
    # The footer's own links are not click-tracked.
    assert f'<a href="{BASE}{unsubscribe_path(msg)}">Unsubscribe</a>' in html


@pytest.mark.parametrize("html, kept", [
    pytest.param('<a href="mailto:help@example.com">mail us</a>', 'href="mailto:help@example.com"', id="mailto"),
    pytest.param('<a href="#top">top</a>', 'href="#top"', id="anchor"),
    pytest.param('<a href="/relative">r</a>', 'href="/relative"', id="relative"),
    pytest.param('<!-- <a href="https://x.example/c">c</a> -->', 'href="https://x.example/c"', id="comment"),
    pytest.param('<a data-href="https://x.example/d" name=a>n</a>', 'data-href="https://x.example/d"', id="no-href"),
])
def test_only_real_http_links_are_rewritten(site, html, kept):
    msg = prepared(site, html=f"<html><body>{html}</body></html>")
    assert kept in part(msg, "html")
    assert "c" not in urls(msg)


def test_unquoted_and_uppercase_href_is_rewritten(site):
    msg = prepared(site, html="<html><BODY><A class=x HREF=https://x.example/u>u</A></BODY></html>")
    assert len(urls(msg)["c"]) == 1 and "x.example" not in part(msg, "html")


def test_text_only_and_html_only_messages(site):
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    text_only = reparse(site.tracker.prepare(newsletter(None), recipient="ana@example.com", campaign="c", list_id="news"))
    assert "Unsubscribe: https://example.com/_consent/m/u/" in text_only.get_content()
    html_only = reparse(site.tracker.prepare(newsletter(HTML, text=None), recipient="ana@example.com",
                                             campaign="c", list_id="news"))
    assert html_only.get_content_type() == "text/html" and "/_consent/m/o/" in html_only.get_content()


def test_attachments_are_left_alone(site):
    msg = newsletter(HTML)
    msg.add_attachment(b"<a href='https://x.example'>", maintype="text", subtype="html", filename="a.html")
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)
    out = reparse(site.tracker.prepare(msg, recipient="ana@example.com", campaign="c", list_id="news"))
    attachment = next(out.iter_attachments())
    assert attachment.get_content() == "<a href='https://x.example'>"


def test_non_ascii_content_survives(site):
    msg = prepared(site, html="<html><body><p>Grüße, <a href='https://x.example/ü'>Straße</a></p></body></html>")
    assert "Grüße" in part(msg, "html") and "Straße</a>" in part(msg, "html")


# -- suppression -------------------------------------------------------------------------------------


def test_suppressed_recipient_is_never_mailed_again(site):
    prepared(site)
    assert not site.tracker.is_suppressed("ana@example.com", list_id="news")
    assert site.tracker.unsubscribe("ana@example.com", list_id="news") is True
    assert site.tracker.unsubscribe("ana@example.com", list_id="news") is False  # idempotent
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True)  # not a resubscription
    with pytest.raises(Suppressed) as caught:
        site.tracker.prepare(newsletter(HTML), recipient="ANA@EXAMPLE.COM".replace("ANA", "ana"), campaign="c",
                             list_id="news")
    assert isinstance(caught.value, ConsentError) and caught.value.list_id == "news"
    assert "ana@example.com" not in str(caught.value)  # no address in logs
    # Another list is another choice.
    prepared(site, list_id="offers")


def test_domain_is_case_blind(site):
    site.tracker.unsubscribe("ana@Example.COM", list_id="news")
    assert site.tracker.is_suppressed("ana@example.com", list_id="news")


# -- tokens ------------------------------------------------------------------------------------------


def _payload(token: str) -> bytes:
    body = token.split(".")[1] if token.startswith(".") else token.split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return zlib.decompress(raw) if token.startswith(".") else raw


def test_urls_carry_no_address_and_stay_short(site):
    msg = prepared(site, "ana.long-name@example.com")
    for paths in urls(msg).values():
        for path in paths:
            token = path.rsplit("/", 1)[1].removesuffix(".gif")
            assert b"ana" not in _payload(token) and "ana" not in path
            assert len(token) < 200


def test_each_kind_is_useless_as_another(site):
    tokens = MailTokens(secret_keys(KEYS))
    signed = {kind: tokens.dumps(kind, [1, "c", "news"]) for kind in ("open", "unsubscribe", "untrack")}
    for kind, token in signed.items():
        assert tokens.loads(kind, token) is not None
        for other in ("open", "click", "unsubscribe", "untrack"):
            if other != kind:
                assert tokens.loads(other, token) is None


@pytest.mark.parametrize("token", [
    pytest.param("", id="empty"),
    pytest.param("WzEsImMiLCJuZXdzIl0", id="unsigned"),
    pytest.param("WzEsImMiLCJuZXdzIl0.abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id="forged"),
    pytest.param("Wz€sImMiLCJuZXdzIl0.abc.def", id="non-ascii"),
    pytest.param("a" * 5000, id="huge"),
    pytest.param("../../etc/passwd", id="path"),
])
def test_bad_tokens_are_none(token):
    assert MailTokens(secret_keys(KEYS)).loads("unsubscribe", token) is None


def test_tampered_and_truncated_tokens_are_none():
    tokens = MailTokens(secret_keys(KEYS))
    token = tokens.dumps("click", [1, "c", "news", "https://shop.example/", 0, 1])
    assert tokens.loads("click", token).target == "https://shop.example/"
    assert tokens.loads("click", token[:-1]) is None
    # Flip a character well inside the signature: the last base64 character of a 32-byte
    # HMAC carries two unused bits, so changing only it may leave the signature intact.
    middle = len(token) - 10
    assert tokens.loads("click", token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]) is None
    evil = tokens.dumps("click", [1, "c", "news", "javascript:alert(1)", 0, 1])
    assert tokens.loads("click", evil) is None  # even signed, only http(s) targets


def test_badly_shaped_payloads_are_none():
    tokens = MailTokens(secret_keys(KEYS))
    for payload in ([], [0, "c", "n"], ["1", "c", "n"], [True, "c", "n"], [1, "", "n"], [1, "c", "n", 4], {"r": 1}):
        assert tokens.loads("open", tokens.dumps("open", payload)) is None
    assert tokens.loads("click", tokens.dumps("click", [1, "c", "n", "https://x.example", 2, 2])) is None


def test_tracking_tokens_expire_unsubscribe_tokens_do_not():
    tokens = MailTokens(secret_keys(KEYS))
    opened = tokens.loads("open", tokens.dumps("open", [1, "c", "n"]))
    later = opened.signed_at + TRACKING_TOKEN_MAX_AGE + 1
    assert tokens.loads("open", tokens.dumps("open", [1, "c", "n"]), now=later) is None
    two_years = opened.signed_at + 2 * 365 * 24 * 3600
    assert tokens.loads("unsubscribe", tokens.dumps("unsubscribe", [1, "c", "n"]), now=two_years) is not None
    assert tokens.loads("untrack", tokens.dumps("untrack", [1, "c", "n"]), now=two_years) is not None


def test_keys_rotate_newest_first():
    old = MailTokens(secret_keys([KEYS[1]]))
    rotated = MailTokens(secret_keys(KEYS))
    assert rotated.loads("unsubscribe", old.dumps("unsubscribe", [1, "c", "n"])) is not None
    assert old.loads("unsubscribe", rotated.dumps("unsubscribe", [1, "c", "n"])) is None


# -- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    pytest.param({"base_url": "example.com"}, id="no-scheme"),
    pytest.param({"base_url": "ftp://example.com"}, id="ftp"),
    pytest.param({"base_url": "https://example.com/news"}, id="path"),
    pytest.param({"secret_key": "short"}, id="short-key"),
    pytest.param({"secret_key": []}, id="no-key"),
    pytest.param({"unsubscribe_mailto": "nobody"}, id="bad-mailto"),
    pytest.param({"unsubscribe_mailto": 5}, id="mailto-not-text"),
    pytest.param({"unsubscribe_mailto": "a@b.c>\r\nBcc: x@y"}, id="header-injection"),
    pytest.param({"prefix": "_consent"}, id="prefix"),
    pytest.param({"store": "mysql://x"}, id="store"),
])
def test_bad_configuration_fails_at_construction(tmp_path, options):
    kwargs = {"base_url": BASE, "secret_key": KEYS, "store": f"sqlite:///{tmp_path / 'c.db'}", **options}
    with pytest.raises(ConfigurationError):
        MailTracker(**kwargs)


@pytest.mark.parametrize("call", [
    pytest.param(lambda t: t.set_tracking("not-an-address", list_id="news", allowed=True), id="address"),
    pytest.param(lambda t: t.set_tracking("a@b.c\r\nBcc: x@y", list_id="news", allowed=True), id="crlf"),
    pytest.param(lambda t: t.set_tracking("a@b.c", list_id="", allowed=True), id="list"),
    pytest.param(lambda t: t.set_tracking("a@b.c", list_id="news", allowed="yes"), id="allowed"),
    pytest.param(lambda t: t.prepare(newsletter(), recipient="a@b.c", campaign="", list_id="news"), id="campaign"),
])
def test_bad_arguments_raise(site, call):
    with pytest.raises((TypeError, ValueError)):
        call(site.tracker)


def _message(build) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "News"
    build(msg)
    return msg


@pytest.mark.parametrize(("message", "says"), [
    pytest.param(EmailMessage(), "no body", id="empty"),
    pytest.param(_message(lambda m: None), "no body", id="headers-only"),
    pytest.param(_message(lambda m: (m.set_content("Hi"), m.replace_header("Content-Type", "text/plain; charset=x-klingon"))),
                 "cannot be read", id="unknown-charset"),
    pytest.param(_message(lambda m: m.set_content(b"%PDF", maintype="application", subtype="pdf")),
                 "no text or HTML body", id="a-pdf-not-a-mail"),
    pytest.param(_message(lambda m: m.add_attachment(b"%PDF", maintype="application", subtype="pdf")),
                 "no text or HTML body", id="only-an-attachment"),
    pytest.param(_message(lambda m: m.make_mixed()), "no text or HTML body", id="empty-multipart"),
])
def test_prepare_says_what_the_message_lacks(site, message, says):
    with pytest.raises(UnusableMessage, match=says) as caught:
        site.tracker.prepare(message, recipient="ana@example.com", campaign="2026-11", list_id="news")
    assert isinstance(caught.value, ConsentError) and str(caught.value).endswith(".")
    assert site.stats().sent == 0  # not recorded as sent


def test_prepare_refuses_a_compat32_message(site):
    from email.message import Message

    with pytest.raises(TypeError):
        site.tracker.prepare(Message(), recipient="a@b.c", campaign="c", list_id="news")


# -- machine or human --------------------------------------------------------------------------------


@pytest.mark.parametrize("agent, kind", [
    pytest.param("Mozilla/5.0", "machine", id="apple-mpp"),
    pytest.param(GMAIL_PROXY, "machine", id="gmail-proxy"),
    pytest.param(YAHOO_PROXY, "machine", id="yahoo-proxy"),
    pytest.param("Googlebot/2.1 (+http://www.google.com/bot.html)", "machine", id="bot"),
    pytest.param("python-requests/2.31", "machine", id="library"),
    pytest.param(None, "machine", id="no-agent"),
    pytest.param(BROWSER, "human", id="apple-mail"),
    pytest.param("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0", "human", id="firefox"),
])
def test_open_classification(agent, kind):
    assert classify_mail_open(agent) == kind


@pytest.mark.parametrize("agent, seconds, kind", [
    pytest.param(BROWSER, 3600, "human", id="person"),
    pytest.param(BROWSER, 3, "scanner", id="seconds-after-sending"),
    pytest.param("curl/8.4.0", 3600, "scanner", id="curl"),
    pytest.param("Mozilla/5.0 (compatible; bingbot/2.0)", 3600, "scanner", id="bot"),
    pytest.param("Mozilla/5.0", 3600, "scanner", id="bare-mozilla"),
    pytest.param("", 3600, "scanner", id="empty"),
])
def test_click_classification(agent, seconds, kind):
    assert classify_mail_click(agent, sent_at=1000.0, now=1000.0 + seconds) == kind


# -- stats and export ----------------------------------------------------------------------------------


def test_stats_of_an_unknown_campaign_are_zero(site):
    assert site.tracker.stats("nope") == MailStats("nope")


def test_export_lists_permissions_and_unsubscribes(site):
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=True, source="signup-form")
    site.tracker.set_tracking("ana@example.com", list_id="news", allowed=False)
    site.tracker.unsubscribe("ana@example.com", list_id="news", source="complaint")
    site.tracker.set_tracking("bo@example.com", list_id="news", allowed=True)
    rows = site.tracker.export(recipient="ana@example.com")
    assert [(r["type"], r.get("allowed"), r["source"]) for r in rows] == [
        ("tracking", True, "signup-form"), ("tracking", False, "api"), ("unsubscribe", None, "complaint")]
    assert len(site.tracker.export()) == 4


def test_cli_mail_stats(site, capsys):
    prepared(site)
    prepared(site, "bo@example.com", campaign="2026-12")
    assert cli_main(["mail", "stats", "--store", site.store_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["campaign", "sent", "human_opens"]
    assert [line.split("\t")[:2] for line in lines[1:]] == [["2026-11", "1"], ["2026-12", "1"]]
    assert cli_main(["mail", "stats", "--store", site.store_url, "--campaign", "2026-12", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["campaign"] == "2026-12" and row["sent"] == 1 and row["human_opens"] == 0


def test_cli_mail_export(site, capsys):
    prepared(site)
    assert cli_main(["mail", "export", "--store", site.store_url]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row == {**row, "type": "tracking", "recipient": "ana@example.com", "allowed": True}


@pytest.mark.parametrize(("html", "expected_targets"), [
    pytest.param('<a title="see href=x" href="https://a.example/">A</a>', ["https://a.example/"],
                 id="href-inside-another-attribute"),
    pytest.param('<a HREF=https://b.example/?q=1&amp;r=2 class=x>B</a>', ["https://b.example/?q=1&r=2"],
                 id="unquoted-uppercase-entity"),
    pytest.param('<a href="mailto:x@example.com">m</a><a href="https://c.example">c</a>', ["https://c.example"],
                 id="mailto-left-alone"),
])
def test_email_tracked_links_rewritten_from_the_parsed_attribute(html, expected_targets):
    from consentlib.mail.compose import rewrite_links

    targets = []
    out, count = rewrite_links(html, lambda target, i, n: targets.append(target) or f"https://t.example/{i}")
    assert targets == expected_targets and count == len(expected_targets)
    assert out.count("https://t.example/") == count
    assert 'title="see href=x"' in out or "title" not in html  # the other attribute is intact
