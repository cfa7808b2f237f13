"""Regions through the ASGI door: the same header rules as the WSGI door's
(tests/integration/test_regions_http.py), read from the scope's raw header lines."""
from __future__ import annotations

import json

import pytest

from consentlib.asgi import ConsentMiddleware
from tests.integration.test_asgi import body_of, run, scope_of, start_of
from tests.integration.test_regions_http import KEYS, POLICY


async def shop(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain"), (b"set-cookie", b"sid=1; Path=/"), (b"set-cookie", b"_ga=1; Path=/"),
        (b"set-cookie", b"ad_id=1; Path=/"), (b"set-cookie", b"xb=1; Path=/")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def door(tmp_path):
    return ConsentMiddleware(shop, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/c.db",
                             region_header="CF-IPCountry", subdivision_header="CF-Region-Code")


def cookies_set(headers) -> set[str]:
    return {value.partition("=")[0] for name, value in headers if name.lower() == "set-cookie"}


@pytest.mark.parametrize(("headers", "cookies"), [
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], {"sid", "_ga", "ad_id"}, id="US-CA-opt-out"),
    pytest.param([("CF-IPCountry", "US"), ("CF-Region-Code", "CA"), ("Sec-GPC", "1")], {"sid", "_ga"},
                 id="US-CA-gpc-opts-out-of-sale"),
    pytest.param([("CF-IPCountry", "DE")], {"sid"}, id="DE-opt-in"),
    pytest.param([("CF-IPCountry", "US"), ("CF-IPCountry", "US"), ("CF-Region-Code", "CA")], {"sid"},
                 id="two-lines-unknown"),
    pytest.param([("X-Vercel-IP-Country", "US"), ("CF-Region-Code", "CA")], {"sid"}, id="unnamed-header"),
])
def test_the_asgi_door_reads_only_the_named_header(door, headers, cookies):
    status, sent = start_of(run(door, scope_of("/", headers=headers)))
    assert status == 200
    assert cookies_set(sent) == cookies
    varies = {t.strip().lower() for n, v in sent if n.lower() == "vary" for t in v.split(",")}
    assert {"cf-ipcountry", "cf-region-code"} <= varies


def test_the_asgi_state_says_region_and_regime(door):
    sent = run(door, scope_of("/_consent/", headers=[("CF-IPCountry", "US"), ("CF-Region-Code", "CA")]))
    status, headers = start_of(sent)
    assert status == 200 and any(n.lower() == "vary" and "CF-IPCountry" in v for n, v in headers)
    body = json.loads(body_of(sent))
    assert (body["region"], body["regime"]) == ("US-CA", "opt-out")


def test_geoip_reads_the_peer_address_through_both_doors(tmp_path):
    from werkzeug.test import Client

    from consentlib import ConsentMiddleware as WsgiMiddleware
    from tests.integration.test_regions_http import app as wsgi_shop
    from tests.unit.test_regions import _mmdb

    database = _mmdb(tmp_path)
    wsgi = WsgiMiddleware(wsgi_shop, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/w.db", geoip=database)
    # 203.0.113.0/24 is US-CA in the test database, 198.51.100.0/24 DE; a new browser each.
    ca = Client(wsgi).get("/", environ_base={"REMOTE_ADDR": "203.0.113.9", "HTTP_CF_IPCOUNTRY": "DE"})
    assert {"_ga", "ad_id"} <= cookies_set(ca.headers.items())  # no region_header: CF-IPCountry ignored
    de = Client(wsgi).get("/", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert cookies_set(de.headers.items()) == {"sid"}

    asgi = ConsentMiddleware(shop, POLICY, secret_key=KEYS, store=f"sqlite:///{tmp_path}/a.db", geoip=database)
    scope = scope_of("/")
    scope["client"] = ("203.0.113.9", 50000)
    _, sent = start_of(run(asgi, scope))
    assert {"_ga", "ad_id"} <= cookies_set(sent)
