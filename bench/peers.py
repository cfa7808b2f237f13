"""What other middleware adds per request on the same page, beside consentlib, in one run.

    python -m bench.peers

In process, as bench/middleware.py and bench/asgi.py measure: the page of those
benches (it sets four cookies), called directly, the contenders taking turns with this
thread's CPU time as the clock. Each row is the microseconds a middleware adds to the
bare page's request, measured in the same ``compare`` as the bare page.

The peers each do what they are for on a returning visitor's request: Starlette's
``SessionMiddleware`` and Flask's session verify a signed session cookie the visitor
sends (and Starlette's re-signs it on the way out); starlette-csrf and asgi-csrf check
and set their CSRF cookie; flask-talisman adds its security headers. A peer whose package
is not installed is listed as not measured (they are in pyproject's dev group).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable

from werkzeug.test import EnvironBuilder

from bench.asgi import ScopeStream, called, page_app as starlette_page, scope, wrapped_app as asgi_wrapped
from bench.common import CookieStream, compare
from bench.many_visitors import REQUESTS, VISITORS, _middleware as wsgi_wrapped, cookie_headers
from bench.middleware import page_app as flask_page

_SECRET = "peer-secret-" + "x" * 20


def _starlette_session() -> tuple[Callable, str]:
    import itsdangerous
    from starlette.middleware.sessions import SessionMiddleware

    data = base64.b64encode(json.dumps({"user": "u1"}).encode())
    value = itsdangerous.TimestampSigner(_SECRET).sign(data).decode()
    return SessionMiddleware(starlette_page(), secret_key=_SECRET), f"session={value}"


def _starlette_csrf() -> tuple[Callable, str]:
    from starlette_csrf import CSRFMiddleware  # type: ignore[import-not-found]

    return CSRFMiddleware(starlette_page(), secret=_SECRET), ""


def _asgi_csrf() -> tuple[Callable, str]:
    from asgi_csrf import asgi_csrf  # type: ignore[import-not-found]

    return asgi_csrf(starlette_page(), signing_secret=_SECRET), ""


def _flask_session() -> tuple[Callable, str]:
    app = flask_page()
    app.secret_key = _SECRET
    value = app.session_interface.get_signing_serializer(app).dumps({"user": "u1"})
    return app.wsgi_app, f"session={value}"


def _flask_talisman() -> tuple[Callable, str]:
    from flask_talisman import Talisman  # type: ignore[import-not-found]

    app = flask_page()
    Talisman(app, force_https=False)
    return app.wsgi_app, ""


ASGI_PEERS = {"Starlette SessionMiddleware": _starlette_session, "starlette-csrf": _starlette_csrf,
              "asgi-csrf": _asgi_csrf}
WSGI_PEERS = {"Flask's session": _flask_session, "flask-talisman": _flask_talisman}


def _added(rates: dict[str, float]) -> dict[str, float]:
    """Microseconds each contender adds to the bare page's request."""
    return {name: 1e6 / rate - 1e6 / rates["bare"] for name, rate in rates.items() if name != "bare"}


def _peers(peers: dict[str, Callable[[], tuple[Callable, str]]]) -> tuple[dict, dict[str, str]]:
    built, missing = {}, {}
    for name, make in peers.items():
        try:
            built[name] = make()
        except ImportError as exc:
            missing[name] = f"not installed ({exc.name})"
    return built, missing


def measure(seconds: float = 0.3, rounds: int = 5) -> dict[str, dict[str, float | str]]:
    """Per door: µs added per request by consentlib (repeated visitor, many visitors) and each peer."""
    headers = cookie_headers(wsgi_wrapped(), REQUESTS)
    table: dict[str, dict[str, float | str]] = {}

    asgi, missing = _peers(ASGI_PEERS)
    base = headers[0]
    contenders = {"bare": (called(starlette_page()), scope(base)),
                  "consentlib (repeated visitor)": (called(asgi_wrapped()), scope(base))}
    for name, (app, cookie) in asgi.items():
        contenders[name] = (called(app), scope(f"{base}; {cookie}" if cookie else base))
    apps = {"bare": called(starlette_page()), "consentlib (many visitors)": called(asgi_wrapped())}
    streams = {name: ScopeStream(headers) for name in apps}
    for _ in range(VISITORS):  # each visitor's first view, as for WSGI below
        for name, app in apps.items():
            app(streams[name](), None)
    many = compare({name: (apps[name], streams[name]) for name in apps}, seconds=seconds, rounds=rounds)
    table["ASGI, Starlette page"] = {**_added(compare(contenders, seconds=seconds, rounds=rounds)), **_added(many),
                                     **missing}

    wsgi, missing = _peers(WSGI_PEERS)
    environ = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0", "Cookie": base}).get_environ()
    contenders = {"bare": (flask_page().wsgi_app, environ), "consentlib (repeated visitor)": (wsgi_wrapped(), environ)}
    for name, (app, cookie) in wsgi.items():
        own = {**environ, "HTTP_COOKIE": f"{base}; {cookie}"} if cookie else environ
        contenders[name] = (app, own)
    plain = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    apps = {"bare": flask_page().wsgi_app, "consentlib (many visitors)": wsgi_wrapped()}
    streams = {name: CookieStream(plain, headers) for name in apps}
    for _ in range(VISITORS):  # each visitor's first view, as bench/many_visitors.py does
        for name, app in apps.items():
            for _block in app(streams[name](), lambda *args: None):
                pass
    many = compare({name: (apps[name], streams[name]) for name in apps}, seconds=seconds, rounds=rounds)
    table["WSGI, Flask page"] = {**_added(compare(contenders, seconds=seconds, rounds=rounds)), **_added(many),
                                 **missing}
    return table


def format_table(table: dict[str, dict[str, float | str]]) -> str:
    lines = []
    for door, rows in table.items():
        lines.append(f"{door}: microseconds added per request, in process")
        for name, added in sorted(rows.items(), key=lambda row: (isinstance(row[1], str), row[1])):
            lines.append(f"  {name:<34} {added if isinstance(added, str) else f'{added:6.1f} µs'}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(measure()))
