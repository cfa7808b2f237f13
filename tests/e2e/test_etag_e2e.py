"""The ETag firewall against a real Chromium HTTP cache (docs/http.md, "Gating rules")."""
from __future__ import annotations

import json
import secrets
import threading

import pytest

from consentlib.wsgi.etag import ETagFirewall

pytestmark = pytest.mark.e2e

PAGE = b"<!doctype html><html><head><title>evercookie</title></head><body><p>Hello.</p></body></html>"


def evercookie(environ, start_response):
    """Hands every new visitor a unique ETag and recognises the ones who replay it."""
    if environ["PATH_INFO"] != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return []
    replayed = environ.get("HTTP_IF_NONE_MATCH", "")
    if replayed.startswith('"uid-'):
        start_response("304 Not Modified", [("ETag", replayed)])
        return []
    start_response("200 OK", [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(PAGE))),
        # Makes the browser revalidate on every navigation, as trackers prefer.
        ("Cache-Control", "no-cache"),
        ("ETag", f'"uid-{secrets.token_hex(8)}"'),
    ])
    return [PAGE]


class Wire:
    """What crossed the wire for "/": the client's If-None-Match, the status and ETag sent."""

    def __init__(self, app) -> None:
        self.app = app
        self.exchanges: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] != "/":
            return self.app(environ, start_response)
        record = {"if_none_match": environ.get("HTTP_IF_NONE_MATCH")}

        def recording_start_response(status, headers, exc_info=None):
            record["status"] = int(status[:3])
            record["etags"] = [v for k, v in headers if k.lower() == "etag"]
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        with self.lock:
            self.exchanges.append(record)
        return body


class NetworkLog:
    """Chromium's performance log, read as it grows (each read drains it).

    The ``...ExtraInfo`` events carry what the network stack really sent and received;
    ``Network.responseReceived`` reports a revalidated page as the cached 200.
    """

    def __init__(self, driver) -> None:
        self.driver = driver
        self.events: list[dict] = []

    def poll(self) -> list[dict]:
        for entry in self.driver.get_log("performance"):
            self.events.append(json.loads(entry["message"])["message"])
        return self.events

    def _ids(self, url: str) -> list[str]:
        ids = []
        for e in self.events:
            if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] == url:
                if e["params"]["requestId"] not in ids:
                    ids.append(e["params"]["requestId"])
        return ids

    def _extra(self, method: str, url: str) -> list[dict]:
        self.poll()
        by_id = {e["params"]["requestId"]: e["params"] for e in self.events if e.get("method") == method}
        return [by_id[i] for i in self._ids(url) if i in by_id]

    def sent(self, url: str) -> list[dict]:
        """Each request for ``url``: the headers it went out with, names lower-cased."""
        return [{k.lower(): v for k, v in p["headers"].items()}
                for p in self._extra("Network.requestWillBeSentExtraInfo", url)]

    def received(self, url: str) -> list[tuple[int, dict]]:
        """Each response for ``url`` off the wire: status and headers, names lower-cased."""
        return [(p["statusCode"], {k.lower(): v for k, v in p["headers"].items()})
                for p in self._extra("Network.responseReceivedExtraInfo", url)]


def test_eprivacy_browser_revalidates_with_the_content_etag_and_never_sees_the_uid(live_server):
    from selenium.webdriver.support.ui import WebDriverWait

    from consentlib.testing.browser import chrome_driver

    wire = Wire(ETagFirewall(evercookie, applies=lambda environ: True))
    url = live_server(wire) + "/"
    driver = chrome_driver()
    try:
        log = NetworkLog(driver)
        wait = WebDriverWait(driver, 20, poll_frequency=0.1)
        driver.get(url)
        wait.until(lambda d: len(log.received(url)) >= 1)
        driver.refresh()
        wait.until(lambda d: len(log.received(url)) >= 2 and len(wire.exchanges) >= 2)

        (first_status, first), (second_status, second) = log.received(url)[:2]
        content_etag = first.get("etag")
        assert first_status == 200
        assert content_etag and content_etag.startswith('W/"')

        # The reload revalidated with the content ETag and the firewall answered 304.
        assert log.sent(url)[1].get("if-none-match") == content_etag
        assert (second_status, second.get("etag")) == (304, content_etag)
        assert [x["status"] for x in wire.exchanges[:2]] == [200, 304]
        assert wire.exchanges[1]["if_none_match"] == content_etag

        # No identity tag ever reached the browser, nor was one ever replayed.
        everything = json.dumps(log.poll())
        assert "uid-" not in everything
        assert all("uid-" not in tag for x in wire.exchanges for tag in x["etags"])
        assert all("uid-" not in (x["if_none_match"] or "") for x in wire.exchanges)
        assert driver.find_element("tag name", "p").text == "Hello."
    finally:
        driver.quit()
