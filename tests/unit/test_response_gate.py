"""The reused gate of a consent answers every response exactly as the full gate does.

consentlib.gate.responses gives each consent a gate that judges the usual response in a
short loop (headers that pass by name, ``Set-Cookie`` lines whose names it has judged
before) and hands any other response whole to the full gate. Whatever a response holds
(an app's own ``Vary``, validators, names seen for the first time, a line break inside a
value, names that are no RFC 9110 token), both gates must let the same lines leave, in
the same order, with the same ``Vary``: otherwise a cookie the visitor refused could leave
on the short path (ePrivacy Art 5(3)), or a header splitting a response could
(RFC 9110 §5.5).
"""
from __future__ import annotations

import logging
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentlib import ConsentMiddleware
from consentlib.gate.responses import ResponseGate
from tests.support.apps import KEYS, POLICY

_STORE_DIR = tempfile.mkdtemp(prefix="consentlib-gate-")


def _responses(**options: object) -> ResponseGate:
    middleware = ConsentMiddleware(lambda environ, start_response: [], POLICY, secret_key=KEYS,
                                   store=f"sqlite:///{_STORE_DIR}/consent.db", **options)  # type: ignore[arg-type]
    return middleware.core.responses


NAMES = st.sampled_from(["Set-Cookie", "set-cookie", "SET-COOKIE", "Content-Type", "Content-Length", "Vary", "ETag",
                         "Last-Modified", "Cache-Control", "X-Custom", "Set-Cookie ", "Bad Name", "Set-Cookie\n"])
COOKIES = st.sampled_from(["sid", "theme", "_ga", "_ga_X1Y2Z3", "_fbp", "tracker", "consent", "__Host-consent",
                           " sid", "sid ", ""])
VALUES = st.sampled_from(["1", "text/html; charset=utf-8", "Cookie", "Accept-Encoding", "W/\"1\"",
                          "a\r\nSet-Cookie: _fbp=1", "x\ny", "nul\0", ""])
COOKIE_VALUES = st.sampled_from(["1", "v; Path=/", "", "x\r\ny"])
GRANTED = st.frozensets(st.sampled_from(["preferences", "analytics", "marketing"])).map(
    lambda chosen: chosen | {"necessary"})


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[str, str]]:
    lines = []
    for name in draw(st.lists(NAMES, max_size=8)):
        if name.lower().strip() == "set-cookie":
            value = f"{draw(COOKIES)}={draw(COOKIE_VALUES)}"
            if draw(st.integers(0, 9)) == 0:
                value = draw(COOKIES)  # no '=' at all
        else:
            value = draw(VALUES)
        lines.append((name, value))
    return lines


def _raw(lines: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in lines]


SHARED = _responses()


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.lists(headers(), min_size=1, max_size=4), GRANTED, st.booleans(), st.booleans(), st.booleans())
def test_the_reused_gate_answers_as_the_full_gate(responses, granted, gpc_refused, stripped, raw):
    # One gate object per key, as the doors reuse it, over several responses: the short
    # loop then meets names the full gate judged and remembered on an earlier response.
    key = (granted, gpc_refused, stripped)
    gate = SHARED.gates[raw].get(key) or SHARED.new_gate(key, raw=raw)
    full = SHARED.headers_gate(granted, (), gpc_refused, stripped, raw=raw)
    for lines in responses + responses:
        sent = _raw(lines) if raw else lines
        assert gate(list(sent)) == full(list(sent))
        # ASGI lets an app's start message carry any iterable of headers, read once.
        assert gate(iter(sent)) == full(list(sent))


def test_the_usual_response_is_judged_without_the_full_gate(monkeypatch):
    """The short loop is what serves a site's usual page, once its names are known."""
    responses = _responses()
    calls = []
    build = ResponseGate.headers_gate

    def counted(self, *args, **kwargs):
        judge = build(self, *args, **kwargs)

        def full(lines):
            calls.append(lines)
            return judge(lines)

        return full

    monkeypatch.setattr(ResponseGate, "headers_gate", counted)
    granted = frozenset({"necessary", "analytics"})
    page = [("Content-Type", "text/html"), ("Set-Cookie", "sid=1; HttpOnly"), ("Set-Cookie", "_ga=GA1.1.2.3"),
            ("Set-Cookie", "_fbp=fb.1")]
    gate = responses.new_gate((granted, False, False), raw=False)
    first = gate(list(page))  # the first sight of the three names: the full gate judges them
    assert len(calls) == 1
    assert gate(list(page)) == first == [page[0], page[1], page[2], ("Vary", "Cookie, Sec-GPC")]
    assert len(calls) == 1  # the second response never reached it


def test_a_refused_line_is_logged_on_the_reused_gate_too(caplog):
    """DEBUG says why a line was refused, whichever loop judged the response."""
    responses = _responses()
    gate = responses.new_gate((frozenset({"necessary"}), False, False), raw=False)
    page = [("Set-Cookie", "_fbp=fb.1"), ("Content-Length", "2")]
    gate(list(page))  # names judged
    with caplog.at_level(logging.DEBUG, logger="consentlib"):
        assert gate(list(page)) == [("Content-Length", "2"), ("Vary", "Cookie, Sec-GPC")]
    assert any("refused Set-Cookie '_fbp'" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("mode", ["report"])
def test_report_mode_keeps_its_own_loop(mode):
    """In report mode a line enforce would drop leaves (and is noted): no short loop."""
    responses = _responses(mode=mode)
    granted = frozenset({"necessary"})
    gate = responses.new_gate((granted, False, False), raw=False)
    page = [("Set-Cookie", "_fbp=fb.1")]
    gate(list(page))
    assert gate(list(page))[0] == ("Set-Cookie", "_fbp=fb.1")
