"""The least a consent gate can cost: a reference for the middleware budgets, not a budget.

Two stand-ins do only what any gate that honours the HTTP contract must do on every
request, and nothing else: find the ``Cookie`` header and split it into its pairs, and
judge every response header once (a dict lookup by name, the CR/LF/NUL searches, the
cookie name of each ``Set-Cookie``). They decide nothing, remember nothing, and add no
``Vary``. Measured on the same pages and streams as bench/middleware.py,
bench/many_visitors.py and bench/asgi.py, the µs they add to the bare app are the
least any pure-Python middleware can add here: issue #26 budgets consentlib's µs added
at most twice theirs, on each stream (:func:`measure_added`, a row of bench/run.py).

Two more stand-ins (``least_deciding_*``) also do the least any gate that *decides* must:
read the consent cookie's two values, look the visitor's verified choice up by them (each
visitor's signature checked once, as consentlib does; checking it on every request costs
more), and keep or drop each ``Set-Cookie`` line by its name's category under that choice,
adding ``Vary: Cookie`` when one depends on it. No expiry, no request filtering, no
beacons, no endpoints, no GPC: what they add is a floor under any consent gate's cost,
and shows how much of the budget a decision alone spends.

The last two (``least_keeping_*``) keep consentlib's whole contract on the usual request (a
returning visitor's page: see _keeping for what that takes beyond a decision) with the
least work, and hand every other request to consentlib itself. What they add is the cost
of the contract without consentlib's own structure, on the streams the budget is set on.

    python -m bench.floor
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.common import CookieStream, compare
from consentlib.consent import cookie_names
from consentlib.core import ConsentCore
from consentlib.gate.beacons import GPC_WELL_KNOWN
from consentlib.gate.cookies import set_cookie_name

_KINDS = {"Set-Cookie": 1, "Content-Type": 0, "Content-Length": 0, b"set-cookie": 1, b"content-type": 0,
          b"content-length": 0}


def _judged(headers: list[tuple[Any, Any]], lf: Any, cr: Any, nul: Any, equals: Any) -> list[tuple[Any, Any]]:
    kept = []
    for item in headers:
        kind = _KINDS.get(item[0])
        value = item[1]
        if lf in value or cr in value or nul in value:
            continue
        if kind == 1:
            value.partition(equals)
        kept.append(item)
    return kept


def least_wsgi_gate(app: Callable) -> Callable:
    """A WSGI middleware that splits the Cookie header and judges each response header."""

    def middleware(environ, start_response):
        for part in (environ.get("HTTP_COOKIE") or "").split(";"):
            part.strip().partition("=")
        environ["consentlib.consent"] = None

        def gated(status, headers, exc_info=None):
            return start_response(status, _judged(headers, "\n", "\r", "\0", "="))

        return app(environ, gated)

    return middleware


def least_asgi_gate(app: Callable) -> Callable:
    """The same for ASGI: one scan of the request headers, the start message's judged."""

    async def middleware(scope, receive, send):
        cookie = b""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value
        for part in cookie.split(b";"):
            part.strip().partition(b"=")
        # Copied, then filled, as consentlib does: the least idiom ({**scope, key: value}
        # builds and frees a dict of its own first).
        scope = {**scope}
        scope["consentlib.consent"] = None

        def gated(message):
            if message["type"] == "http.response.start":
                message = {**message}
                message["headers"] = _judged(message.get("headers", []), 10, 13, 0, b"=")
            return send(message)

        await app(scope, receive, gated)

    return middleware


def _deciding(core: ConsentCore, text: bool) -> tuple[Callable, Callable]:
    """(decide(consent value, id value) -> granted, judge(headers, granted) -> headers) for
    a least deciding gate, on text (WSGI) or bytes (ASGI): it borrows ``core``'s consent
    cookie checker (the same keys), its cookie categories and the required categories."""
    cookie, gate, required = core.cookie, core.gate, core.policy.required
    decisions: dict[tuple[Any, Any], frozenset[str]] = {}
    verdicts: dict[frozenset[str], dict[Any, bool]] = {}
    # One object per granted set, as consentlib keeps them: a table lookup then compares
    # by identity, not element by element.
    shared: dict[frozenset[str], frozenset[str]] = {}
    set_cookie, equals, vary = ("Set-Cookie", "=", ("Vary", "Cookie")) if text else (b"set-cookie", b"=", (b"vary", b"Cookie"))
    lf, cr, nul = ("\n", "\r", "\0") if text else (10, 13, 0)

    def verified(value: Any, id_value: Any) -> frozenset[str]:
        payload = cookie.verify(value if text else value.decode("latin-1")) if value is not None else None
        granted = required | payload.categories if payload is not None else required
        granted = decisions[value, id_value] = shared.setdefault(granted, granted)
        return granted

    def decide(value: Any, id_value: Any) -> frozenset[str]:
        return decisions.get((value, id_value)) or verified(value, id_value)

    def judge(headers: list[tuple[Any, Any]], granted: frozenset[str]) -> list[tuple[Any, Any]]:
        table = verdicts.get(granted)
        if table is None:
            table = verdicts[granted] = {}
        kept, gated = [], False
        for item in headers:
            value = item[1]
            if lf in value or cr in value or nul in value:
                continue
            if item[0] == set_cookie:
                name = value.partition(equals)[0]
                keep = table.get(name)
                if keep is None:
                    category = gate.category_of(name if text else name.decode("latin-1"))
                    keep = table[name] = category in granted
                gated = True
                if not keep:
                    continue
            kept.append(item)
        if gated:
            kept.append(vary)
        return kept

    return decide, judge


def least_deciding_wsgi_gate(app: Callable, core: ConsentCore) -> Callable:
    """A WSGI middleware that decides as little as a consent gate can (see the module),
    with what it borrows from ``core`` (see _deciding)."""
    decide, judge = _deciding(core, text=True)

    def middleware(environ, start_response):
        value = id_value = None
        for part in (environ.get("HTTP_COOKIE") or "").split(";"):
            name, _, cookie_value = part.strip().partition("=")
            if name == "consent":
                value = cookie_value
            elif name == "consent_id":
                id_value = cookie_value
        granted = environ["consentlib.consent"] = decide(value, id_value)

        def gated(status, headers, exc_info=None):
            return start_response(status, judge(headers, granted))

        return app(environ, gated)

    return middleware


def least_deciding_asgi_gate(app: Callable, core: ConsentCore) -> Callable:
    """The same for ASGI."""
    decide, judge = _deciding(core, text=False)

    async def middleware(scope, receive, send):
        header = b""
        for name, header_value in scope["headers"]:
            if name == b"cookie":
                header = header_value
        value = id_value = None
        for part in header.split(b";"):
            name, _, cookie_value = part.strip().partition(b"=")
            if name == b"consent":
                value = cookie_value
            elif name == b"consent_id":
                id_value = cookie_value
        granted = decide(value, id_value)
        scope = {**scope}
        scope["consentlib.consent"] = granted

        def gated(message):
            if message["type"] == "http.response.start":
                message = {**message}
                message["headers"] = judge(message.get("headers", []), granted)
            return send(message)

        await app(scope, receive, gated)

    return middleware


def _keeping(core: ConsentCore, text: bool) -> tuple[Callable, Callable]:
    """(visit(header, gpc, dnt) -> granted or None, judge) for a least keeping gate, on text
    (WSGI) or bytes (ASGI): the least work that keeps consentlib's contract on the usual
    request, None for any request that is not one (the caller hands it to consentlib).

    Beyond the least deciding gate it keeps: exactly one consent cookie and one id cookie
    by their exact names (several of one name count as none), bound to each other; the
    policy's revision and the consent's lifetime, checked on every request; Sec-GPC (and
    DNT, when honoured) in the decision; every pair of the Cookie header judged by its
    name's category. The usual request needs none of consentlib's own answers: the app sees
    the whole header (no pair withheld), nothing is re-issued, and its validators pass.
    """
    cookie, policy, gate = core.cookie, core.policy, core.gate
    required, deny_on_signal = policy.required, policy.gpc_categories
    honour_dnt = core.visits.honour_dnt
    names = cookie_names(False)  # the streams are plain http
    sep, equals, quote = (";", "=", '"') if text else (b";", b"=", b'"')
    consent_name, id_name = (names.consent, names.consent_id) if text else (
        names.consent.encode(), names.consent_id.encode())
    several = object()  # a second cookie of one name: none of them counts
    own = gate.own_cookies if text else frozenset(name.encode() for name in gate.own_cookies)
    categories: dict[Any, str] = {}  # by the name as the request spells it
    decisions: dict[tuple[Any, Any, bool], tuple[frozenset[str], float, bool]] = {}
    shared: dict[frozenset[str], frozenset[str]] = {}

    def decide(value: Any, id_value: Any, signal: bool) -> tuple[frozenset[str], float, bool]:
        payload = None
        if value is not None and value is not several:
            payload = cookie.verify(value.strip(quote) if text else value.strip(quote).decode("latin-1"))
        if payload is not None and id_value is not None and id_value is not several:
            payload = cookie.bind(payload, [id_value.strip(quote) if text else id_value.strip(quote).decode("latin-1")])
        current = payload is not None and cookie.is_current(payload, policy)
        granted = required | payload.categories if current else required
        if signal:
            granted = granted - deny_on_signal
        until = payload.decided_at + cookie.lifetime if current else float("inf")
        reissue = current and payload.needs_reissue
        decided = decisions[value, id_value, signal] = (shared.setdefault(granted, granted), until, reissue)
        return decided

    def visit(header: Any, gpc: bool, dnt: bool) -> frozenset[str] | None:
        value = id_value = None
        others = []
        for part in header.split(sep):
            name, has_value, cookie_value = part.strip().partition(equals)
            if has_value and name == consent_name:  # without '=' no consent cookie, as consentlib reads it
                value = cookie_value if value is None else several
            elif has_value and name == id_name:
                id_value = cookie_value if id_value is None else several
            else:
                others.append(name)
        signal = gpc or (dnt and honour_dnt)
        decided = decisions.get((value, id_value, signal))
        if decided is None or time.time() >= decided[1]:
            decided = decide(value, id_value, signal)
        granted, _, reissue = decided
        if reissue:
            return None
        for name in others:
            category = categories.get(name)
            if category is None:
                category = categories[name] = gate.category_of(name if text else name.decode("latin-1"))
            if category not in granted and name not in own:
                return None  # a pair to withhold, and its cookie to expire
        return granted

    # The response: each Set-Cookie line kept or dropped by its name's category, as a
    # browser reads the name (RFC 6265 §5.2), whatever the spelling of the field name; a
    # line break in any value drops it (RFC 9110 §5.5); Vary: Cookie, and Sec-GPC when a
    # gated line's category is one a signal denies (RFC 9110 §12.5.5).
    lf, cr, nul = ("\n", "\r", "\0") if text else (10, 13, 0)
    vary_lines = (("Vary", "Cookie"), ("Vary", "Cookie, Sec-GPC")) if text else (
        (b"vary", b"Cookie"), (b"vary", b"Cookie, Sec-GPC"))
    is_set_cookie: dict[Any, bool] = {}
    verdicts: dict[frozenset[str], dict[Any, tuple[bool, int]]] = {}

    def verdict(raw_name: Any, value: Any, granted: frozenset[str]) -> tuple[bool, int]:
        name = set_cookie_name(value if text else value.decode("latin-1"))
        category = gate.category_of(name)
        if name in gate.own_cookies:
            found = (False, 0)  # only consentlib writes the visitor's choice
        elif category in required:
            found = (True, 0)
        else:
            found = (category in granted, 2 if category in deny_on_signal else 1)
        verdicts[granted][raw_name] = found
        return found

    def judge(headers: list[tuple[Any, Any]], granted: frozenset[str]) -> list[tuple[Any, Any]]:
        table = verdicts.get(granted)
        if table is None:
            table = verdicts[granted] = {}
        kept, vary = [], 0
        for item in headers:
            name, value = item
            if lf in value or cr in value or nul in value:
                continue
            cookie_line = is_set_cookie.get(name)
            if cookie_line is None:
                cookie_line = is_set_cookie[name] = (name if text else name.decode("latin-1")).lower() == "set-cookie"
            if cookie_line:
                raw_name = value.partition(equals)[0]
                keep, depends = table.get(raw_name) or verdict(raw_name, value, granted)
                if depends > vary:
                    vary = depends
                if not keep:
                    continue
            kept.append(item)
        if vary:
            kept.append(vary_lines[vary - 1])
        return kept

    return visit, judge


def least_keeping_wsgi_gate(app: Callable, core: ConsentCore, consentlib: Callable) -> Callable:
    """A WSGI middleware that answers the usual request with the least work that keeps
    consentlib's contract (see _keeping) and hands every other to ``consentlib`` (the
    middleware of ``core``, over the same app): a consent endpoint, a beacon's path in any
    spelling, a header to withhold from, a choice to re-issue, validators to firewall."""
    visit, judge = _keeping(core, text=True)
    prefix, marks, etags = core.routes.prefix, core.routes.beacons.marks, core.policy.etags

    def middleware(environ, start_response):
        get = environ.get
        path, mount = get("PATH_INFO", ""), get("SCRIPT_NAME", "")
        if path.startswith(prefix) or path == GPC_WELL_KNOWN or any(mark in path or mark in mount for mark in marks):
            return consentlib(environ, start_response)
        granted = visit(get("HTTP_COOKIE") or "", get("HTTP_SEC_GPC") == "1", get("HTTP_DNT") == "1")
        if granted is None or (etags is not None and etags not in granted):
            return consentlib(environ, start_response)
        environ["consentlib.consent"] = granted

        def gated(status, headers, exc_info=None):
            return start_response(status, judge(headers, granted), exc_info)

        return app(environ, gated)

    return middleware


def least_keeping_asgi_gate(app: Callable, core: ConsentCore, consentlib: Callable) -> Callable:
    """The same for ASGI."""
    visit, judge = _keeping(core, text=False)
    prefix, marks, etags = core.routes.prefix, core.routes.beacons.marks, core.policy.etags

    async def middleware(scope, receive, send):
        path, mount = scope["path"], scope.get("root_path", "")
        if path.startswith(prefix) or path == GPC_WELL_KNOWN or any(mark in path or mark in mount for mark in marks):
            return await consentlib(scope, receive, send)
        header, gpc, dnt = b"", False, False
        for name, value in scope["headers"]:
            if name == b"cookie":
                header = value if not header else header + b"; " + value
            elif name == b"sec-gpc":
                gpc = value == b"1"
            elif name == b"dnt":
                dnt = value == b"1"
        granted = visit(header, gpc, dnt)
        if granted is None or (etags is not None and etags not in granted):
            return await consentlib(scope, receive, send)
        # The rest as the least deciding gate's, inline in each: a shared coroutine would
        # add a call to both stand-ins.
        scope = {**scope}
        scope["consentlib.consent"] = granted

        def gated(message):
            if message["type"] == "http.response.start":
                message = {**message}
                message["headers"] = judge(message.get("headers", []), granted)
            return send(message)

        await app(scope, receive, gated)

    return middleware


def _streams() -> dict[str, dict[str, tuple[Callable, Any]]]:
    """Each stream's contenders (bare, wrapped, least), ready: many visitors' seen once."""
    from bench.asgi import ScopeStream, called, page_app as starlette_page, scope, wrapped_app
    from bench.many_visitors import REQUESTS, VISITORS, _middleware, cookie_headers
    from bench.middleware import page_app as flask_page

    wrapped = _middleware()
    headers = cookie_headers(wrapped, REQUESTS)
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    one = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0", "Cookie": headers[0]}).get_environ()
    wsgi_apps = {"bare": flask_page().wsgi_app, "wrapped": _middleware(),
                 "least": least_wsgi_gate(flask_page().wsgi_app),
                 "deciding": least_deciding_wsgi_gate(flask_page().wsgi_app, wrapped.core)}
    kept = _middleware()  # what the least keeping gate hands the unusual requests
    wsgi_apps["keeping"] = least_keeping_wsgi_gate(kept.app, kept.core, kept)
    streams = {name: CookieStream(base, headers) for name in wsgi_apps}
    for _ in range(VISITORS):  # each visitor's first view, as bench/many_visitors.py does
        for name, app in wsgi_apps.items():
            for _block in app(streams[name](), lambda *args: None):
                pass
    single = scope(headers[0])
    asgi_apps = {"bare": called(starlette_page()), "wrapped": called(wrapped_app()),
                 "least": called(least_asgi_gate(starlette_page())),
                 "deciding": called(least_deciding_asgi_gate(starlette_page(), wrapped.core))}
    kept_asgi = wrapped_app()
    asgi_apps["keeping"] = called(least_keeping_asgi_gate(kept_asgi.app, kept_asgi.core, kept_asgi))
    return {
        "WSGI repeated visitor": {name: (app, one) for name, app in wsgi_apps.items()},
        "WSGI many visitors": {name: (app, streams[name]) for name, app in wsgi_apps.items()},
        "ASGI repeated visitor": {name: (app, single) for name, app in asgi_apps.items()},
        "ASGI many visitors": {name: (app, ScopeStream(headers)) for name, app in asgi_apps.items()},
    }


def measure_added(seconds_per_round: float = 0.5, rounds: int = 5) -> dict[str, dict[str, float]]:
    """µs per request each gate adds to the bare app, on each of the four streams.

    The bare app, consentlib and the least possible gate take turns in one run
    (bench/common.py), so a stream's three figures share the machine's moment; the
    budget is on ``ratio``, consentlib's µs added over the least gate's.
    """
    figures = {}
    for label, contenders in _streams().items():
        rates = compare(contenders, seconds=seconds_per_round, rounds=rounds)
        micros = {name: 1e6 / rate for name, rate in rates.items()}
        added, least = micros["wrapped"] - micros["bare"], micros["least"] - micros["bare"]
        figures[label] = {**micros, "added": added, "least added": least, "deciding added": micros["deciding"] - micros["bare"],
                          "keeping added": micros["keeping"] - micros["bare"],
                          "ratio": added / least if least > 0 else float("inf")}
    return figures


if __name__ == "__main__":
    for label, row in measure_added().items():
        print(f"{label}: µs per request bare {row['bare']:.1f}, consentlib +{row['added']:.1f}, "
              f"least gate +{row['least added']:.1f}, least deciding gate +{row['deciding added']:.1f}, "
              f"least keeping gate +{row['keeping added']:.1f} ({row['keeping added'] / row['least added']:.2f}): "
              f"ratio {row['ratio']:.2f}")
