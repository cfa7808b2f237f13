"""Which cookies and storage keys need consent, and on what evidence.

In order of authority: the policy given with ``--policy``, the site's own published
declaration (``GET /_consent/declaration.json`` on a consentlib site), then the Open
Cookie Database weighed with platform and domain (:mod:`consentlib.data.cookiedb`).
A name none of them knows is *unknown*, and judged by its value instead: one that differs
between two fresh browsers is an identifier (:mod:`consentlib.testing.identifiers`);
one that does not, or that only one browser got, is reported and not judged.

Besides what is stored, before a choice and after a rejection these are violations:
fingerprinting calls (:mod:`consentlib.testing.instrument`), and a consent manager's
cookie that grants every purpose (:mod:`consentlib.testing.cmps`).
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urljoin, urlsplit

from consentlib.consent import ALL_COOKIE_NAMES
from consentlib.data import cookiedb
from consentlib.declarations import storage_key_matches
from consentlib.testing.recorder import Snapshot

DECLARATION_PATH = "/_consent/declaration.json"
# consentlib's own cookies: the choice, and the HttpOnly id that links its receipts, under
# each name they take (plain over http, __Host- over https, __Secure- with a cookie_domain).
CONSENTLIB_COOKIES = ALL_COOKIE_NAMES
JUDGED = ("before", "rejected")  # the states with violations: after "Accept all" everything may run


@dataclass
class Violation:
    state: str
    kind: str  # "cookie", "storage", "beacon", "tracker", "etag", "banner", "fingerprint", "consent cookie"
    subject: str
    detail: str
    page: str = ""
    evidence: str = ""  # "--policy", "declaration", "database", "tracker list", "browser", "EDPB", "CJEU"


@dataclass
class Unverified:
    state: str
    page: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    category: str  # the declared category, the database's, or "unknown"
    needs_consent: bool | None  # None: unknown
    evidence: str  # "--policy", "declaration", "database" or "none"
    source: str  # what exactly it rests on, in words


class Judge:
    """Verdicts from a declaration (the JSON a consentlib site publishes), else the database.

    ``declared`` is that JSON (or ``consentlib.web.declaration.declaration(policy)`` for a
    policy given on the command line), ``evidence`` names where it came from.
    """

    def __init__(self, declared: dict[str, Any] | None = None, *, evidence: str = "declaration",
                 where: str = "") -> None:
        self.declared = declared
        self.evidence = evidence if declared is not None else "none"
        self.where = where
        cookies = _named(declared, "cookies", "category")
        self._exact = {c["name"]: c for c in cookies if not c.get("glob")}
        self._globs = [c for c in cookies if c.get("glob")]
        self.categories = frozenset(c["name"] for c in _named(declared, "categories"))
        self.required = frozenset(c["name"] for c in _named(declared, "categories") if c.get("required") is True)
        self.beacons = [b for b in _named(declared, "beacons", "category", key="path")]
        # In the declaration's order, exact keys first: the first that matches declares a key.
        self._storage = [s for s in _named(declared, "storage", "category") if isinstance(s.get("areas"), list)]

    def _declared_cookie(self, name: str) -> dict[str, Any] | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        return next((c for c in self._globs if fnmatchcase(name, c["name"])), None)

    def cookie(self, name: str, host: str | None) -> Verdict:
        if self.declared is not None:
            declared = self._declared_cookie(name)
            if declared is not None:
                category = declared["category"]
                pattern = f" as {declared['name']!r}" if declared["name"] != name else ""
                return Verdict(category, category not in self.required, self.evidence,
                               f"declared {category!r}{pattern} in {self.where}")
            if name in CONSENTLIB_COOKIES:
                return Verdict("necessary", False, self.evidence,
                               f"consentlib's consent cookie (it records the choice; {self.where} is a consentlib site)")
            return self._database(name, host, prefix=f"not in {self.where}; ")
        return self._database(name, host)

    def storage_key(self, name: str, host: str | None, area: str | None = None) -> Verdict:
        """The verdict on the key ``name`` in ``area`` (``localStorage``, ``sessionStorage``,
        ``indexedDB``; None: any): the declaration's ``storage``, else the database."""
        declared = next((s for s in self._storage if (area is None or area in s["areas"])
                         and storage_key_matches(s["name"], name)), None)
        if declared is None:
            return self._database(name, host)
        category = declared["category"]
        pattern = f" as {declared['name']!r}" if declared["name"] != name else ""
        return Verdict(category, category not in self.required, self.evidence,
                       f"declared {category!r}{pattern} in {self.where}")

    def beacon_category(self, path: str) -> str | None:
        for beacon in self.beacons:
            declared = beacon["path"]
            if path == declared or (declared.endswith("/") and path.startswith(declared)):
                category: str | None = beacon["category"]
                return category
        return None

    def violations_in(self, snapshot: Snapshot) -> list[Violation]:
        """What needs consent in ``snapshot`` (taken before a choice or after a rejection)."""
        found = []
        state, page = snapshot.state, snapshot.page
        stored = [("cookie", c["name"], f"cookie {c['name']} on {c['domain']}", c["verdict"]) for c in snapshot.cookies]
        stored += [("storage", s["key"], f"{s['area']} key {s['key']}", s["verdict"]) for s in snapshot.storage]
        for kind, subject, what, verdict in stored:
            if verdict["needs_consent"]:
                found.append(Violation(state, kind, subject, f"{what} ({verdict['category']}: {verdict['source']})",
                                       page, verdict["evidence"]))
        for call in snapshot.fingerprints:
            found.append(Violation(state, "fingerprint", call["api"],
                                   f"fingerprinting: {call['api']} by {call['url']} reads the device to tell "
                                   "visitors apart (ePrivacy Art 5(3))", page, "browser"))
        for cookie in snapshot.cookies:
            if cookie.get("grants_all"):
                when = ("before any choice: pre-ticked consent is no consent (CJEU C-673/17 Planet49)"
                        if state == "before" else "after 'Reject all'")
                found.append(Violation(state, "consent cookie", cookie["name"], f"{cookie['grants_all']} {when}",
                                       page, "CJEU" if state == "before" else "browser"))
        for request in snapshot.requests:
            path = urlsplit(request["url"]).path
            declared = self.beacon_category(path)
            if declared is not None and declared in self.required:
                continue
            document = request.get("document") or page
            frame = "" if urlsplit(document)[:2] == urlsplit(page)[:2] else f" (from a frame of {document})"
            if request["why"].startswith("a request to"):
                found.append(Violation(state, "tracker", request["url"],
                                       f"{request['why']}: {request['url']}{frame}", page, "tracker list"))
            elif request["type"] != "Image" or declared is not None:
                why = f"declared {declared!r} beacon" if declared else request["why"]
                found.append(Violation(state, "beacon", request["url"], f"{why} to {request['url']}{frame}",
                                       page, self.evidence if declared else "browser"))
        return found

    @staticmethod
    def _database(name: str, host: str | None, prefix: str = "") -> Verdict:
        known = cookiedb.known(name, host)
        if not known.is_known:
            return Verdict("unknown", None, "none", prefix + known.reason)
        return Verdict(known.category, known.category != "necessary", "database", prefix + known.reason)


def _named(declared: dict[str, Any] | None, section: str, *fields: str, key: str = "name") -> list[dict[str, Any]]:
    """The entries of ``section`` that have the string fields the audit reads; a site's JSON
    is not trusted to be well formed, and a malformed entry declares nothing."""
    entries = (declared or {}).get(section)
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and all(isinstance(e.get(f), str) for f in (key, *fields))]


def fetch_declaration(page_url: str, timeout: float,
                      headers: Mapping[str, str] | None = None) -> tuple[dict[str, Any] | None, str]:
    """The site's declaration and its URL, or ``(None, why not)``; raises ``ConnectionError``
    when nothing listens at the site's address or its name does not resolve.

    ``headers`` (the audit's ``--header`` lines) go with the request. Only a JSON object
    with categories and cookies counts: a site that answers every
    path with its home page has not declared anything.
    """
    url = urljoin(page_url, DECLARATION_PATH)
    request = urllib.request.Request(url, headers={**(headers or {}), "Accept": "application/json",
                                                   "User-Agent": "consentlib-audit"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read(2_000_000))
    except urllib.error.HTTPError as exc:
        return None, f"no declaration at {url} ({exc})"
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
            raise ConnectionError(f"{urljoin(page_url, '/')} did not answer: {exc.reason}") from None
        return None, f"no declaration at {url} ({exc.reason})"
    except (OSError, ValueError) as exc:
        return None, f"no declaration at {url} ({exc})"
    if not (isinstance(data, dict) and isinstance(data.get("categories"), list)
            and isinstance(data.get("cookies"), list)):
        return None, f"{url} is not a consentlib declaration"
    return data, url
