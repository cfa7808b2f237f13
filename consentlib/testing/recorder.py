"""What one page held and sent in one state, read from Chromium.

Cookies of every domain with their flags (DevTools ``Storage.getCookies``: what every
frame stored, third parties' too), the keys of localStorage and sessionStorage and the
names of IndexedDB databases, each with a digest of its value (see
:mod:`consentlib.testing.identifiers`; values themselves are never kept), the requests
of every frame that report on the visitor (``sendBeacon``/``<a ping>`` and requests to
known trackers, from the performance log's ``Network`` events), the fingerprinting calls
the page made (:mod:`consentlib.testing.instrument`), and each ETag received with a
digest of its body and whether the browser sent it back in ``If-None-Match``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin, urlsplit
from xml.etree import ElementTree

from consentlib.data.trackers import tracker_of
from consentlib.testing import cmps, instrument
from consentlib.testing.identifiers import digest

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

_BEACON_TYPES = {"Ping": "sendBeacon or ping", "Beacon": "beacon"}
_BODIES_PER_SNAPSHOT = 60  # bodies are only read for ETag comparison; a page rarely has more
_NOT_PAGES = (".pdf", ".zip", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".mp4", ".css", ".js", ".xml")

# Storage keys with their values, and IndexedDB databases with the first records of each
# object store (enough to tell two visitors apart); IndexedDB is asynchronous throughout.
_STORAGE_JS = """
const done = arguments[arguments.length - 1];
const entries = area => { try { return Object.entries(window[area]); } catch (e) { return []; } };
const out = {localStorage: entries('localStorage'), sessionStorage: entries('sessionStorage'), indexedDB: []};
const read = name => new Promise(resolve => {
  setTimeout(() => resolve([name, '']), 2000);  // a database kept blocked by the page: read nothing
  let request;
  try { request = indexedDB.open(name); } catch (e) { resolve([name, '']); return; }
  request.onerror = () => resolve([name, '']);
  request.onupgradeneeded = () => request.transaction.abort();  // it was deleted meanwhile: create nothing
  request.onsuccess = () => {
    const db = request.result;
    const stores = Array.from(db.objectStoreNames);
    if (!stores.length) { db.close(); resolve([name, '']); return; }
    const tx = db.transaction(stores, 'readonly');
    const got = {};
    stores.forEach(s => { const r = tx.objectStore(s).getAll(null, 20); r.onsuccess = () => { got[s] = r.result; }; });
    const finish = () => { db.close(); let text = ''; try { text = JSON.stringify(got); } catch (e) {} resolve([name, text]); };
    tx.oncomplete = finish; tx.onerror = finish; tx.onabort = finish;
  };
});
const listing = (window.indexedDB && indexedDB.databases) ? indexedDB.databases() : Promise.resolve([]);
listing.then(dbs => Promise.all(dbs.map(d => read(d.name))))
       .then(found => { out.indexedDB = found; done(out); }, () => done(out));
"""


@dataclass
class Snapshot:
    """One state on one page."""

    state: str  # "before", "rejected", "accepted"
    page: str
    cookies: list[dict[str, Any]] = field(default_factory=list)
    storage: list[dict[str, Any]] = field(default_factory=list)  # {"area", "key", "digest"}
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"type", "url", "document", "why"}
    etags: list[dict[str, Any]] = field(default_factory=list)  # {"url", "etag", "body", "replayed"}
    fingerprints: list[dict[str, Any]] = field(default_factory=list)  # {"api", "url"}
    screenshot: str | None = None  # PNG, base64

    @property
    def host(self) -> str:
        return urlsplit(self.page).hostname or ""


def drain(driver: ChromiumDriver) -> list[dict[str, Any]]:
    """The DevTools events logged since the last call."""
    return [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]


def record(driver: ChromiumDriver, snapshot: Snapshot, events: list[dict[str, Any]],
           categories: Collection[str] = ()) -> Snapshot:
    """Add what ``events``, the page and the browser's current storage show to ``snapshot``.

    ``categories`` are the site's declared categories, to read consentlib's own consent cookie.
    """
    _network(driver, snapshot, events)
    for call in instrument.fingerprint_calls(driver):
        if not any(f["api"] == call.get("api") for f in snapshot.fingerprints):
            snapshot.fingerprints.append({"api": str(call.get("api")), "url": str(call.get("url"))})
    try:
        cookies = driver.execute_cdp_cmd("Storage.getCookies", {}).get("cookies", [])
    except Exception:  # older Chromium: the Network domain has the same call
        cookies = driver.execute_cdp_cmd("Network.getAllCookies", {}).get("cookies", [])
    seen = {(c["name"], c["domain"], c["path"]) for c in snapshot.cookies}
    for c in cookies:
        key = (c.get("name", ""), c.get("domain", ""), c.get("path", ""))
        if key not in seen:
            seen.add(key)
            entry = {k: c.get(k) for k in ("name", "domain", "path", "httpOnly", "secure", "sameSite", "expires")}
            value = str(c.get("value", ""))
            entry["digest"] = digest(value)
            entry["grants_all"] = cmps.grants_all(key[0], value, categories)
            snapshot.cookies.append(entry)
    stored = driver.execute_async_script(_STORAGE_JS) or {}
    have = {(s["area"], s["key"]) for s in snapshot.storage}
    for area in ("localStorage", "sessionStorage", "indexedDB"):
        for pair in stored.get(area) or []:
            name, value = (str(pair[0]), str(pair[1])) if isinstance(pair, list) and len(pair) == 2 else (str(pair), "")
            if (area, name) not in have:
                have.add((area, name))
                snapshot.storage.append({"area": area, "key": name, "digest": digest(value) if value else None})
    return snapshot


def _network(driver: ChromiumDriver, snapshot: Snapshot, events: list[dict[str, Any]]) -> None:
    # requestId -> URL. The extra-info event that carries the headers really sent can
    # arrive before the request's own event, so the URLs are collected first.
    urls = {e["params"].get("requestId"): e["params"].get("request", {}).get("url", "")
            for e in events if e.get("method") == "Network.requestWillBeSent"}
    sent: set[tuple[str, str]] = set()
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            # Only the site's traffic: Chromium's own chrome:// and data: fetches are not the site's.
            if not url.startswith(("http:", "https:")):
                continue
            kind = params.get("type", "Other")
            tracker = tracker_of(url)
            # The document that made the request: the page's, or a frame's (of this or another site).
            document = params.get("documentURL", "")
            if kind in _BEACON_TYPES or tracker:
                snapshot.requests.append({"type": kind, "url": url, "document": document,
                                          "why": f"a request to {tracker}" if tracker else _BEACON_TYPES[kind]})
            elif kind == "Image":
                snapshot.requests.append({"type": kind, "url": url, "document": document, "why": "image"})
        elif method == "Network.requestWillBeSentExtraInfo":
            headers = {k.lower(): v for k, v in params.get("headers", {}).items()}
            url = urls.get(params.get("requestId"))
            if url and headers.get("if-none-match"):
                sent.add((url, headers["if-none-match"]))
    bodies = 0
    for event in events:
        if event.get("method") != "Network.responseReceived":
            continue
        response = event["params"].get("response", {})
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        url = response.get("url", "")
        if "etag" not in headers or not url.startswith(("http:", "https:")):
            continue
        body = None
        if bodies < _BODIES_PER_SNAPSHOT:
            bodies += 1
            body = _body_digest(driver, event["params"].get("requestId"))
        snapshot.etags.append({"url": url, "etag": headers["etag"], "body": body,
                               "status": response.get("status"), "replayed": False})
    for tag in snapshot.etags:
        if (tag["url"], tag["etag"]) in sent:
            tag["replayed"] = True


def _body_digest(driver: ChromiumDriver, request_id: str | None) -> str | None:
    if not request_id:
        return None
    try:
        answer = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
    except Exception:  # evicted from the inspector's buffer, or a redirect: no body to compare
        return None
    body = answer.get("body", "")
    raw = base64.b64decode(body) if answer.get("base64Encoded") else body.encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def same_site_links(driver: ChromiumDriver, start: str, limit: int) -> list[str]:
    """Up to ``limit`` pages of the start page's origin that it links to, in page order."""
    origin = urlsplit(start)[:2]
    found: list[str] = []
    for href in driver.execute_script("return Array.from(document.links, a => a.href);") or []:
        url = urldefrag(href)[0]
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != origin or parts.path.startswith("/_consent/"):
            continue
        if parts.path.lower().endswith(_NOT_PAGES) or url in found or url == urldefrag(start)[0]:
            continue
        found.append(url)
        if len(found) >= limit:
            break
    return found


def sitemap(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> list[str]:
    """Same-origin page URLs of the site's /sitemap.xml (asked for with ``headers``), or []."""
    origin = urlsplit(url)[:2]
    request = urllib.request.Request(urljoin(url, "/sitemap.xml"), headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            tree = ElementTree.fromstring(response.read(5_000_000))
    except (urllib.error.URLError, OSError, ValueError, ElementTree.ParseError):
        return []
    locs = [el.text.strip() for el in tree.iter() if el.tag.endswith("loc") and el.text]
    return [loc for loc in locs if urlsplit(loc)[:2] == origin]
