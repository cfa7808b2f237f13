"""ConsentAudit: prove in a real browser that a site honours its visitors' choices.

Three states are recorded — before any choice, after "Reject all" and a reload, after
"Accept all" and a reload — each with the cookies of every domain and their flags
(through the DevTools protocol), localStorage keys, the beacon, ping and image
requests made, the ETags received and the ``If-None-Match`` values sent.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from consentlib.policy import Policy

BANNER = "#consent-banner"
ACCEPT_ALL = "#consent-accept-all"
REJECT_ALL = "#consent-reject-all"
REOPEN = "#consent-open"
CONSENT_COOKIE = "consent"
_TRACKING_TYPES = {"Ping", "Image", "Beacon"}


class CouldNotVerify(Exception):
    """The page did not offer what the audit needs (the banner or its buttons)."""


@dataclass
class State:
    """What the browser held and sent in one state of the audit."""

    name: str
    cookies: list[dict[str, Any]] = field(default_factory=list)
    local_storage: list[str] = field(default_factory=list)
    tracking_requests: list[dict[str, str]] = field(default_factory=list)
    etags_received: dict[str, list[str]] = field(default_factory=dict)
    if_none_match_sent: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Violation:
    state: str
    kind: str  # "cookie", "beacon", "etag"
    subject: str
    detail: str


class ConsentAudit:
    """Record the three states of ``url`` in ``driver`` (a Selenium Chromium driver).

    ``policy`` names each cookie's declared category; without one, every cookie but
    the consent cookie counts as non-necessary. ``timeout`` bounds each wait.
    """

    def __init__(self, driver, url: str, *, policy: Policy | None = None, timeout: float = 10.0) -> None:
        self.driver = driver
        self.url = url
        self.policy = policy
        self.timeout = timeout
        self.states: dict[str, State] = {}
        self.violations: list[Violation] = []

    # -- running -----------------------------------------------------------------------

    def run(self) -> ConsentAudit:
        """Record the three states and judge them; raises :class:`CouldNotVerify`."""
        self._drain_log()
        self.driver.get(self.url)
        banner = self._wait_visible(BANNER, "the consent banner")
        del banner
        self.states["before"] = self._record("before")
        self._click(REJECT_ALL, "the 'Reject all' button")
        self._wait_hidden(BANNER)
        self._drain_log()
        self.driver.refresh()
        self._wait_ready()
        self.states["rejected"] = self._record("rejected")
        self._reopen()
        self._click(ACCEPT_ALL, "the 'Accept all' button")
        self._wait_hidden(BANNER)
        self._drain_log()
        self.driver.refresh()
        self._wait_ready()
        self.states["accepted"] = self._record("accepted")
        self._judge()
        return self

    def _reopen(self) -> None:
        from selenium.common.exceptions import NoSuchElementException

        try:
            self.driver.find_element("css selector", REOPEN).click()
        except NoSuchElementException:
            raise CouldNotVerify(f"No {REOPEN} control to reopen the banner after rejecting.") from None
        self._wait_visible(ACCEPT_ALL, "the 'Accept all' button after reopening")

    # -- waiting on conditions -----------------------------------------------------------------

    def _wait(self, condition, what: str):
        from selenium.common.exceptions import TimeoutException

        from consentlib.testing.browser import wait_until

        try:
            return wait_until(self.driver, condition, self.timeout)
        except TimeoutException:
            raise CouldNotVerify(f"Waited {self.timeout:g}s for {what} on {self.url}; it never came.") from None

    def _wait_visible(self, selector: str, what: str):
        from selenium.webdriver.support import expected_conditions as ec

        return self._wait(ec.visibility_of_element_located(("css selector", selector)), what)

    def _wait_hidden(self, selector: str) -> None:
        from selenium.webdriver.support import expected_conditions as ec

        self._wait(ec.invisibility_of_element_located(("css selector", selector)), f"{selector} to close")

    def _wait_ready(self) -> None:
        self._wait(lambda d: d.execute_script("return document.readyState") == "complete", "the page to load")

    def _click(self, selector: str, what: str) -> None:
        from selenium.webdriver.support import expected_conditions as ec

        self._wait(ec.element_to_be_clickable(("css selector", selector)), what).click()

    # -- recording ---------------------------------------------------------------------------

    def _drain_log(self) -> list[dict]:
        return [json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance")]

    def _record(self, name: str) -> State:
        state = State(name)
        self._wait_ready()
        events = self._drain_log()
        urls = {}  # requestId -> URL: the extra-info events carry only the id
        for event in events:
            if event.get("method") == "Network.requestWillBeSent":
                params = event["params"]
                url = params.get("request", {}).get("url", "")
                urls[params.get("requestId")] = url
                # Only the site's traffic: Chromium's own chrome:// and data: fetches are not the site's.
                if params.get("type") in _TRACKING_TYPES and url.startswith(("http:", "https:")):
                    state.tracking_requests.append({"type": params["type"], "url": url})
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSentExtraInfo":
                headers = {k.lower(): v for k, v in params.get("headers", {}).items()}
                inm = headers.get("if-none-match")
                url = urls.get(params.get("requestId"))
                if inm and url:
                    state.if_none_match_sent.setdefault(url, []).append(inm)
            elif method == "Network.responseReceived":
                response = params.get("response", {})
                headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
                if "etag" in headers:
                    state.etags_received.setdefault(response.get("url", ""), []).append(headers["etag"])
        try:
            cookies = self.driver.execute_cdp_cmd("Storage.getCookies", {}).get("cookies", [])
        except Exception:  # older Chromium: the Network domain has the same call
            cookies = self.driver.execute_cdp_cmd("Network.getAllCookies", {}).get("cookies", [])
        state.cookies = [
            {**{k: c.get(k) for k in ("name", "domain", "path", "httpOnly", "secure", "sameSite", "expires")},
             "category": self.category_of(c.get("name", ""))}
            for c in cookies
        ]
        state.local_storage = self.driver.execute_script(
            "try { return Object.keys(window.localStorage); } catch (e) { return []; }"
        ) or []
        return state

    # -- judging ---------------------------------------------------------------------------------

    def category_of(self, cookie_name: str) -> str | None:
        if self.policy is None:
            return None
        declared = self.policy.cookie(cookie_name)
        return declared.category if declared else None

    def _allowed_before_choice(self, cookie_name: str) -> bool:
        if cookie_name == CONSENT_COOKIE:
            return True
        category = self.category_of(cookie_name)
        return self.policy is not None and category is not None and category in self.policy.required

    def _is_beacon(self, request: dict[str, str]) -> bool:
        if request["type"] in ("Ping", "Beacon"):
            return True
        if self.policy is not None:
            path = urlsplit(request["url"]).path
            return self.policy.beacon(path) is not None
        return False

    def _judge(self) -> None:
        for name in ("before", "rejected"):
            state = self.states[name]
            for cookie in state.cookies:
                if not self._allowed_before_choice(cookie["name"]):
                    category = self.category_of(cookie["name"])
                    declared = f"declared {category}" if category else "not declared as necessary"
                    self.violations.append(Violation(name, "cookie", cookie["name"],
                                                     f"cookie {cookie['name']} ({declared}) on {cookie['domain']}"))
            for request in state.tracking_requests:
                if self._is_beacon(request):
                    self.violations.append(Violation(name, "beacon", request["url"], f"{request['type']} request"))
            for url, tags in state.etags_received.items():
                if self._is_per_visitor(url, tags, state.if_none_match_sent):
                    self.violations.append(Violation(name, "etag", url, f"per-visitor ETag {tags[-1]}"))

    def _is_per_visitor(self, url: str, tags: list[str], sent: dict[str, list[str]]) -> bool:
        """An ETag that stays with this browser but that a fresh visitor does not get.

        The identity trick needs the tag to come back unchanged after the browser
        revalidates; content-derived tags are the same for a fresh visitor.
        """
        if len(tags) < 1:
            return False
        replayed = sent.get(url, [])
        stable = len(set(tags)) == 1 and (len(tags) > 1 or tags[-1] in replayed)
        if not stable:
            return False
        fresh = _fresh_etag(url)
        return fresh is not None and fresh != tags[-1]

    # -- assertions that read like the rules ---------------------------------------------------

    def _violations_in(self, state: str) -> list[Violation]:
        return [v for v in self.violations if v.state == state]

    def assert_no_tracking_before_choice(self) -> None:
        """Nothing non-necessary before the visitor chose (GDPR Art 6(1)(a), ePrivacy Art 5(3))."""
        found = self._violations_in("before")
        assert not found, "Tracking before any choice: " + "; ".join(v.detail for v in found)

    def assert_reject_is_honoured(self) -> None:
        """After "Reject all" and a reload, nothing non-necessary is set or sent."""
        found = self._violations_in("rejected")
        assert not found, "Tracking after 'Reject all': " + "; ".join(v.detail for v in found)

    def assert_accept_enables(self, *cookie_names: str) -> None:
        """After "Accept all", the named cookies are present (the site still works)."""
        present = {c["name"] for c in self.states["accepted"].cookies}
        missing = [name for name in cookie_names if not any(fnmatchcase(p, name) for p in present)]
        assert not missing, f"After 'Accept all' these cookies are missing: {', '.join(missing)}"

    def report(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "clean": not self.violations,
            "violations": [asdict(v) for v in self.violations],
            "states": {name: asdict(state) for name, state in self.states.items()},
        }


def _fresh_etag(url: str) -> str | None:
    """The ETag a brand-new visitor (no cookies, no cache) gets for ``url``."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "consentlib-audit"}),
                                    timeout=10) as response:
            return response.headers.get("ETag")
    except (urllib.error.URLError, OSError, ValueError):
        return None
