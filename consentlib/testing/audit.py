"""ConsentAudit: prove in a real browser that a site honours its visitors' choices.

Three states — before any choice (the first page loaded, then reloaded: a visitor who
keeps browsing without answering), after "Reject all" and a reload, after "Accept all"
and a reload — on the start page and on same-site pages it links to (or its sitemap
lists; three pages by default). Before a choice and after a rejection, these are
violations (ePrivacy Art 5(3), GDPR Art 6(1)(a) and 7(3)): a cookie or storage key that
needs consent, or an identifier under a name no evidence knows (a value that differs
between two fresh browsers); a ``sendBeacon``/ping or a request to a known tracker, from
any frame; fingerprinting calls; a per-visitor ETag (see :mod:`consentlib.testing.etags`);
a consent manager's cookie that grants everything; a "Reject all" button that leaves the
banner open, and a first layer with no "Reject all" at all. A violation seen is reported
even when a later state cannot be reached; what could not be checked is listed as
unverified. A site with no banner that stores and sends nothing needing consent is clean.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from consentlib.testing import identifiers, instrument, recorder
from consentlib.testing.banners import BUILT_IN, Banner, custom
from consentlib.testing.etags import per_visitor_etags, replayed_etags
from consentlib.testing.fresh import second_visitor
from consentlib.testing.judge import JUDGED, Judge, Unverified, Violation, fetch_declaration
from consentlib.testing.recorder import Snapshot
from consentlib.testing.steps import Steps

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

    from consentlib.policy import Policy

STATES = ("before", "rejected", "accepted")
# EDPB, Report of the work undertaken by the Cookie Banner Taskforce (17 January 2023), §§ 3-4.
NO_REJECT_ON_FIRST_LAYER = ("the first layer offers 'Accept all' but no 'Reject all' (only a way to more "
                            "settings): refusing must be as easy as accepting (GDPR Art 7(3); EDPB Cookie "
                            "Banner Taskforce report, 2023, type A practice)")

__all__ = ["ConsentAudit", "Unverified", "Violation"]


class ConsentAudit(Steps):
    """Record the states of ``url`` in ``driver`` (a Selenium Chromium driver) and judge them.

    ``policy`` (a :class:`consentlib.Policy`) overrides the site's published declaration;
    without either, cookies and storage keys are judged by the Open Cookie Database,
    and names it does not know by their values. ``accept``/``reject``/``reopen`` are CSS
    selectors for a banner the audit does not know (or to override a known one's);
    ``pages`` is how many same-site pages to audit; ``headers`` are sent with every request
    and ``lang`` is the language the browser asks for; ``timeout`` bounds each wait;
    ``fresh_driver`` starts the second, fresh browser profile that tells identifiers and
    per-visitor ETags from content (by default :func:`consentlib.testing.browser.audit_driver`,
    started only when a name is unknown or an ETag was replayed). ``driver`` should accept
    third-party cookies and keep other sites' frames in process, as ``audit_driver`` does.
    """

    def __init__(self, driver: ChromiumDriver, url: str, *, policy: Policy | None = None, accept: str | None = None,
                 reject: str | None = None, reopen: str | None = None, pages: int = 3, timeout: float = 10.0,
                 fresh_driver: Callable[[], ChromiumDriver] | None = None, policy_name: str = "--policy",
                 headers: Mapping[str, str] | None = None, lang: str | None = None) -> None:
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
        self.headers = dict(headers or {})
        self.lang = lang
        self.judge = Judge()
        self.banner: Banner | None = None
        self.unknown_banner = False  # something like a banner, which no known selector matched
        self.pages: list[str] = [url]
        self.snapshots: list[Snapshot] = []
        self.fresh: list[Snapshot] = []  # the second visitor's, when one was needed
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
        instrument.prepare(self.driver, headers=self.headers, lang=self.lang)
        recorder.drain(self.driver)
        self.driver.get(self.url)
        self._wait_ready()
        self.banner = banner = self._find_banner()
        if banner is None:
            self.unknown_banner = self._looks_like_banner()
        else:
            self._check_first_layer(banner)
        if self.pages_wanted > 1:
            self.pages += self._more_pages()
        self._visit_all("before", reload_first=True)
        if banner is not None:
            for state, button in (("rejected", "reject"), ("accepted", "accept")):
                try:
                    self._after_choice(state, button, banner)
                except Exception as exc:  # a crashed tab or a page that broke the driver: keep what was seen
                    self.unverified.append(Unverified(state, self.url, f"the browser failed: {exc}"))
        self._judge_all()
        if banner is None:
            self._without_banner()
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

    def _record(self, snapshot: Snapshot, events: list[dict[str, Any]]) -> None:
        recorder.record(self.driver, snapshot, events, self.judge.categories)

    def _visit_all(self, state: str, *, reload_first: bool, events: list[dict[str, Any]] | None = None) -> None:
        for index, page in enumerate(self.pages):
            snapshot = Snapshot(state, page)
            if index == 0 and reload_first:
                pending = list(events or [])
                if self.driver.current_url.rstrip("/") != page.rstrip("/"):
                    self.driver.get(page)
                    self._wait_ready()
                self._record(snapshot, pending + recorder.drain(self.driver))
                self.driver.refresh()
            else:
                self.driver.get(page)
            self._wait_ready()
            self._record(snapshot, recorder.drain(self.driver))
            snapshot.screenshot = self.driver.get_screenshot_as_base64()
            self.snapshots.append(snapshot)

    def _check_first_layer(self, banner: Banner) -> None:
        """Before any choice: a first layer with "Accept all" must have "Reject all" beside it."""
        if self._wait_for(banner.accept) is not None and self._find(banner.reject) is None:
            self.violations.append(Violation("before", "banner", "Reject all", NO_REJECT_ON_FIRST_LAYER,
                                             self.url, "EDPB"))

    def _after_choice(self, state: str, button: str, banner: Banner) -> None:
        """Answer ``banner`` on the start page with ``button``, then record ``state``."""
        if not self._banner_on_start_page(state, banner):
            return
        selector: str = getattr(banner, button)
        label = {"reject": "'Reject all'", "accept": "'Accept all'"}[button]
        element = self._wait_for(selector)
        if element is None and banner.settings and (more := self._find(banner.settings)) is not None:
            self._click(more)  # no such button on the first layer: look in the settings layer
            element = self._wait_for(selector)
        if element is None:
            self.unverified.append(Unverified(state, self.url, f"no visible {label} button ({selector}) "
                                                                  f"in the {banner.name} banner"))
            return
        stored = self._stored()
        recorder.drain(self.driver)  # what came before the click was recorded before any choice
        self._click(element)
        if not self._settle(lambda: self._find(banner.banner) is None):
            if button == "reject":
                self.violations.append(Violation(
                    state, "banner", selector, f"clicking {label} ({selector}) left the {banner.name} banner "
                    "open: a visitor cannot refuse", self.url, "browser"))
            self.unverified.append(Unverified(state, self.url, f"the banner stayed open after clicking {label} "
                                                                  f"({selector})"))
            return
        # A consent manager records the choice in a cookie or localStorage, whichever it is.
        if not self._settle(lambda: self._stored() != stored):
            self.notes.append(f"After {label} the {banner.name} banner closed but no cookie or localStorage "
                              f"entry changed; the {state} state is recorded anyway.")
        self._visit_all(state, reload_first=True, events=recorder.drain(self.driver))

    def _banner_on_start_page(self, state: str, known: Banner) -> bool:
        """The start page with its banner open: as loaded, reopened, or as a new visitor."""
        if self.driver.current_url.rstrip("/") != self.url.rstrip("/"):
            self.driver.get(self.url)
            self._wait_ready()
        banner, reopen = known.banner, known.reopen
        shown = self._settle(lambda: ("banner", None) if self._find(banner) else
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
        known = self._settle(lambda: next((b for b in BUILT_IN if self._find(b.banner)), None))
        if not known:
            return None
        return custom(**self.selectors, base=known) if override else known

    def _without_banner(self) -> None:
        """No banner: clean when nothing before a choice needed one, else say what to give."""
        if not self.unknown_banner and not any(v.state == "before" for v in self.violations):
            self.notes.append("No consent banner, and nothing before a choice needed consent: a site "
                              "that stores and sends nothing of the kind needs no banner.")
            return
        given = ", ".join(f"--{k} {v}" for k, v in self.selectors.items() if v)
        known = ", ".join(b.name for b in BUILT_IN)
        what = "a banner the audit does not know" if self.unknown_banner else "no consent banner"
        for state in ("rejected", "accepted"):
            self.unverified.append(Unverified(state, self.url, f"{what} ({given or 'looked for ' + known}); "
                                                                "give its buttons with --accept and --reject"))

    def _more_pages(self) -> list[str]:
        limit = self.pages_wanted - 1
        listed = recorder.sitemap(self.url, self.timeout)
        links = [u for u in listed if u.rstrip("/") != self.url.rstrip("/")][:limit]
        return links or recorder.same_site_links(self.driver, self.url, limit)

    # -- judging ---------------------------------------------------------------------------

    def _judge_all(self) -> None:
        for snapshot in self.snapshots:
            for cookie in snapshot.cookies:
                cookie["verdict"] = asdict(self.judge.cookie(cookie["name"], cookie["domain"] or snapshot.host))
            for item in snapshot.storage:
                item["verdict"] = asdict(self.judge.storage_key(item["key"], snapshot.host))
        judged = [s for s in self.snapshots if s.state in JUDGED]
        unknown = any(e["verdict"]["needs_consent"] is None for s in judged for e in (*s.cookies, *s.storage))
        if unknown or replayed_etags(self.snapshots):
            try:
                self.fresh = second_visitor(self.pages, fresh_driver=self.fresh_driver, headers=self.headers,
                                            lang=self.lang)
            except Exception as exc:  # no second browser: names stay unknown, ETags unchecked
                self.notes.append(f"The second, fresh browser failed ({exc}); unknown names were not judged.")
        self._judge_unknown(judged)
        for snapshot in judged:
            self.violations += self.judge.violations_in(snapshot)
        self.violations += per_visitor_etags(self.snapshots, self.fresh, self.unverified)

    def _judge_unknown(self, judged: list[Snapshot]) -> None:
        """Unknown names get the verdict of their values: identifier or not (two fresh browsers)."""
        if not self.fresh:
            return
        found = identifiers.compare(judged, self.fresh)
        for snapshot in self.snapshots:
            entries = [("cookie", c["name"], c, f"cookie {c['name']}") for c in snapshot.cookies]
            entries += [(s["area"], s["key"], s, f"{s['area']} {s['key']}") for s in snapshot.storage]
            for where, name, entry, what in entries:
                if entry["verdict"]["needs_consent"] is None and (where, name) in found:
                    entry["verdict"] = identifiers.verdict(found[(where, name)], what)

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
