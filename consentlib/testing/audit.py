"""ConsentAudit: prove in a real browser that a site honours its visitors' choices.

Three states — before any choice (the first page loaded, then reloaded: a visitor who
keeps browsing without answering), after "Reject all" and a reload, after "Accept all"
and a reload — on the start page and, with ``pages``, on same-site pages it links to
(or its sitemap lists). Before a choice and after a rejection, these are violations
(ePrivacy Art 5(3), GDPR Art 6(1)(a) and 7(3)): a cookie or storage key that needs
consent, a ``sendBeacon``/ping or a request to a known tracker, a per-visitor ETag (see
:mod:`consentlib.testing.etags`), and a "Reject all" button that leaves the banner open.
A violation seen is reported even when a later state cannot be reached; what could
not be checked is listed as unverified.
"""
from __future__ import annotations

from dataclasses import asdict
from fnmatch import fnmatchcase
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from consentlib.testing import recorder
from consentlib.testing.banners import BUILT_IN, FIND_VISIBLE_JS, Banner, custom
from consentlib.testing.etags import per_visitor_etags
from consentlib.testing.judge import JUDGED, Judge, Unverified, Violation, fetch_declaration
from consentlib.testing.recorder import Snapshot

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

    from consentlib.policy import Policy

T = TypeVar("T")

STATES = ("before", "rejected", "accepted")

__all__ = ["ConsentAudit", "Unverified", "Violation"]


class ConsentAudit:
    """Record the states of ``url`` in ``driver`` (a Selenium Chromium driver) and judge them.

    ``policy`` (a :class:`consentlib.Policy`) overrides the site's published declaration;
    without either, cookies and storage keys are judged by the Open Cookie Database.
    ``accept``/``reject``/``reopen`` are CSS selectors for a banner the audit does not
    know (or to override a known one's); ``pages`` is how many same-site pages to
    audit; ``timeout`` bounds each wait; ``fresh_driver`` starts the second, fresh
    browser profile that tells per-visitor ETags from content ETags (by default
    :func:`consentlib.testing.browser.chrome_driver`, started only when ETags were replayed).
    """

    def __init__(self, driver: ChromiumDriver, url: str, *, policy: Policy | None = None, accept: str | None = None,
                 reject: str | None = None, reopen: str | None = None, pages: int = 1, timeout: float = 10.0,
                 fresh_driver: Callable[[], ChromiumDriver] | None = None, policy_name: str = "--policy") -> None:
        if pages < 1:
            raise ValueError(f"pages must be at least 1, not {pages}.")
        self.driver = driver
        self.url = url
        self.policy = policy
        self.policy_name = policy_name
        self.selectors = {"accept": accept, "reject": reject, "reopen": reopen}
        self.pages_wanted = pages
        self.timeout = timeout
        self.fresh_driver = fresh_driver
        self.judge = Judge()
        self.banner: Banner | None = None
        self.pages: list[str] = [url]
        self.snapshots: list[Snapshot] = []
        self.violations: list[Violation] = []
        self.unverified: list[Unverified] = []
        self.notes: list[str] = []

    @property
    def states(self) -> dict[str, Snapshot]:
        """The start page's snapshot of each state that was reached."""
        return {s.state: s for s in reversed(self.snapshots) if s.page == self.url}

    # -- running -----------------------------------------------------------------------

    def run(self) -> ConsentAudit:
        """Record and judge every state it can reach; raises only when the site does not answer."""
        self._choose_judge()
        recorder.drain(self.driver)
        self.driver.get(self.url)
        self._wait_ready()
        self.banner = banner = self._find_banner()
        if self.pages_wanted > 1:
            self.pages += self._more_pages()
        self._visit_all("before", reload_first=True)
        if banner is None:
            for state in ("rejected", "accepted"):
                self.unverified.append(Unverified(state, self.url, self._no_banner_reason()))
        else:
            for state, button in (("rejected", "reject"), ("accepted", "accept")):
                try:
                    self._after_choice(state, button, banner)
                except Exception as exc:  # a crashed tab or a page that broke the driver: keep what was seen
                    self.unverified.append(Unverified(state, self.url, f"the browser failed: {exc}"))
        self._judge_all()
        self.violations += per_visitor_etags(self)
        return self

    def _choose_judge(self) -> None:
        if self.policy is not None:
            from consentlib.web.declaration import declaration

            self.judge = Judge(declaration(self.policy), evidence="--policy", where=self.policy_name)
            return
        declared, where = fetch_declaration(self.url, self.timeout)
        if declared is not None:
            self.judge = Judge(declared, evidence="declaration", where=where)
        else:
            self.notes.append(f"Judged by the Open Cookie Database: {where}.")

    def _visit_all(self, state: str, *, reload_first: bool, events: list[dict[str, Any]] | None = None) -> None:
        for index, page in enumerate(self.pages):
            snapshot = Snapshot(state, page)
            if index == 0 and reload_first:
                pending = list(events or [])
                if self.driver.current_url.rstrip("/") != page.rstrip("/"):
                    self.driver.get(page)
                    self._wait_ready()
                recorder.record(self.driver, snapshot, pending + recorder.drain(self.driver))
                self.driver.refresh()
            else:
                self.driver.get(page)
            self._wait_ready()
            recorder.record(self.driver, snapshot, recorder.drain(self.driver))
            snapshot.screenshot = self.driver.get_screenshot_as_base64()
            self.snapshots.append(snapshot)

    def _after_choice(self, state: str, button: str, banner: Banner) -> None:
        """Answer ``banner`` on the start page with ``button``, then record ``state``."""
        if not self._banner_on_start_page(state, banner):
            return
        selector: str = getattr(banner, button)
        label = {"reject": "'Reject all'", "accept": "'Accept all'"}[button]
        element = self._wait_for(selector)
        if element is None:
            self.unverified.append(Unverified(state, self.url, f"no visible {label} button ({selector}) "
                                                                  f"in the {banner.name} banner"))
            return
        recorder.drain(self.driver)  # what came before the click was recorded before any choice
        self._click(element)
        if not self._wait_for_condition(lambda: self._find(banner.banner) is None):
            if button == "reject":
                self.violations.append(Violation(
                    state, "banner", selector, f"clicking {label} ({selector}) left the {banner.name} banner "
                    f"open for {self.timeout:g}s: a visitor cannot refuse", self.url, "browser"))
            self.unverified.append(Unverified(state, self.url, f"the banner stayed open after clicking {label} "
                                                                  f"({selector})"))
            return
        if not self._wait_for_condition(lambda: self._choice_saved(banner)):
            self.notes.append(f"After {label} the {banner.name} banner closed but its saved-choice "
                              f"cookie never appeared; the {state} state is recorded anyway.")
        self._visit_all(state, reload_first=True, events=recorder.drain(self.driver))

    def _banner_on_start_page(self, state: str, known: Banner) -> bool:
        """The start page with its banner open: as loaded, reopened, or as a new visitor."""
        if self.driver.current_url.rstrip("/") != self.url.rstrip("/"):
            self.driver.get(self.url)
            self._wait_ready()
        banner, reopen = known.banner, known.reopen
        shown = self._wait_for_condition(lambda: ("banner", None) if self._find(banner) else
                                         ("reopen", self._find(reopen)) if reopen and self._find(reopen) else None)
        if shown and shown[0] == "banner":
            return True
        reopener = shown[1] if shown else None  # found visible just now
        if reopener is not None:
            self._click(reopener)
            if self._wait_for(banner) is not None:
                return True
        # No way back to the banner: forget the first choice, as a new visitor would have none.
        self.driver.delete_all_cookies()
        self.driver.execute_script("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}")
        self.driver.refresh()
        self._wait_ready()
        if self._wait_for(known.banner) is not None:
            self.notes.append(f"No control reopened the banner ({known.reopen or 'none known'}); the "
                              f"{state} state starts from a new visitor's first page instead.")
            return True
        self.unverified.append(Unverified(state, self.url, "the banner could not be opened again"))
        return False

    # -- finding the banner ----------------------------------------------------------------

    def _find_banner(self) -> Banner | None:
        override = {k: v for k, v in self.selectors.items() if v}
        if override.get("accept") and override.get("reject"):
            found = custom(accept=override["accept"], reject=override["reject"], reopen=override.get("reopen"))
            return found if self._wait_for(found.banner) is not None else None
        known = self._wait_for_condition(lambda: next((b for b in BUILT_IN if self._find(b.banner)), None))
        if not known:
            return None
        return custom(**self.selectors, base=known) if override else known

    def _no_banner_reason(self) -> str:
        given = ", ".join(f"--{k} {v}" for k, v in self.selectors.items() if v)
        known = ", ".join(b.name for b in BUILT_IN)
        return (f"no consent banner appeared within {self.timeout:g}s ({given or 'looked for ' + known}); "
                "give its buttons with --accept and --reject")

    def _more_pages(self) -> list[str]:
        limit = self.pages_wanted - 1
        listed = recorder.sitemap(self.url, self.timeout)
        links = [u for u in listed if u.rstrip("/") != self.url.rstrip("/")][:limit]
        return links or recorder.same_site_links(self.driver, self.url, limit)

    # -- waiting on conditions -------------------------------------------------------------

    def _find(self, selector: str) -> WebElement | None:
        found: WebElement | None = self.driver.execute_script(FIND_VISIBLE_JS, selector)
        return found

    def _wait_for(self, selector: str, timeout: float | None = None) -> WebElement | None:
        return self._wait_for_condition(lambda: self._find(selector), timeout)

    def _wait_for_condition(self, condition: Callable[[], T | None], timeout: float | None = None) -> T | None:
        from selenium.common.exceptions import TimeoutException, WebDriverException

        from consentlib.testing.browser import wait_until

        def check(_driver: WebDriver) -> T | None:
            try:
                return condition()
            except WebDriverException:  # the page is navigating: not yet
                return None

        try:
            return wait_until(self.driver, check, self.timeout if timeout is None else timeout, poll=0.1)
        except TimeoutException:
            return None

    def _wait_ready(self) -> None:
        self._wait_for_condition(lambda: self.driver.execute_script("return document.readyState") == "complete")

    def _click(self, element: WebElement) -> None:
        from selenium.common.exceptions import WebDriverException

        try:
            element.click()
        except WebDriverException:  # covered by another layer, or inside a shadow root
            self.driver.execute_script("arguments[0].click();", element)

    def _choice_saved(self, banner: Banner) -> bool:
        names = {c["name"] for c in self.driver.get_cookies()}
        if any(n in names for n in banner.saved_cookies):
            return True
        keys = self.driver.execute_script("try { return Object.keys(localStorage); } catch (e) { return []; }")
        if any(k in (keys or []) for k in banner.saved_storage):
            return True
        return not (banner.saved_cookies or banner.saved_storage)

    # -- judging ---------------------------------------------------------------------------

    def _judge_all(self) -> None:
        for snapshot in self.snapshots:
            for cookie in snapshot.cookies:
                cookie["verdict"] = asdict(self.judge.cookie(cookie["name"], cookie["domain"] or snapshot.host))
            for item in snapshot.storage:
                item["verdict"] = asdict(self.judge.storage_key(item["key"], snapshot.host))
            if snapshot.state in JUDGED:
                self.violations += self.judge.violations_in(snapshot)

    # -- assertions that read like the rules -------------------------------------------------

    def _violations_of(self, state: str) -> list[Violation]:
        return [v for v in self.violations if v.state == state]

    def assert_no_tracking_before_choice(self) -> None:
        """Nothing non-necessary before the visitor chose (GDPR Art 6(1)(a), ePrivacy Art 5(3))."""
        found = self._violations_of("before")
        assert not found, "Tracking before any choice: " + "; ".join(v.detail for v in found)

    def assert_reject_is_honoured(self) -> None:
        """After "Reject all" and a reload, nothing non-necessary is set or sent."""
        found = self._violations_of("rejected")
        assert not found, "Tracking after 'Reject all': " + "; ".join(v.detail for v in found)
        assert "rejected" in self.states, "The 'Reject all' state was never reached: " + "; ".join(
            u.reason for u in self.unverified)

    def assert_accept_enables(self, *cookie_names: str) -> None:
        """After "Accept all", the named cookies are present (the site still works)."""
        accepted = self.states.get("accepted")
        assert accepted is not None, "The 'Accept all' state was never reached."
        present = {c["name"] for c in accepted.cookies}
        missing = [name for name in cookie_names if not any(fnmatchcase(p, name) for p in present)]
        assert not missing, f"After 'Accept all' these cookies are missing: {', '.join(missing)}"

    @property
    def exit_code(self) -> int:
        """0 clean, 1 a violation was seen, 3 nothing was seen but something could not be verified."""
        return 1 if self.violations else 3 if self.unverified else 0

    def report(self, *, screenshots: bool = False) -> dict[str, Any]:
        verdict = {0: "clean", 1: "violation", 3: "could not verify"}[self.exit_code]
        snapshots = []
        for snapshot in self.snapshots:
            data = asdict(snapshot)
            if not screenshots:
                data.pop("screenshot")
            snapshots.append(data)
        return {
            "url": self.url,
            "verdict": verdict,
            "clean": self.exit_code == 0,
            "exit_code": self.exit_code,
            "banner": self.banner.name if self.banner else None,
            "judged_by": {"evidence": self.judge.evidence, "where": self.judge.where or "Open Cookie Database"},
            "pages": self.pages,
            "violations": [asdict(v) for v in self.violations],
            "unverified": [asdict(u) for u in self.unverified],
            "notes": self.notes,
            "snapshots": snapshots,
        }
