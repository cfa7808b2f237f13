"""Driving a site through its states: recording pages, finding and answering its banner.

The banner's first layer is checked before any choice: "Accept all" without "Reject all"
beside it is a violation (GDPR Art 7(3): refusing as easy as accepting; the EDPB's Cookie
Banner Taskforce report, 17 January 2023, "no reject button on the first layer", found
such a banner not in line with valid consent). The refusal is then looked for
where such banners hide it, behind the settings button. A choice counts as recorded
when the page's cookies or localStorage change, whichever consent manager wrote them.
"""
from __future__ import annotations

from typing import Any

from consentlib.testing import recorder
from consentlib.testing.banners import BUILT_IN, Banner, custom
from consentlib.testing.judge import Judge, Unverified, Violation
from consentlib.testing.recorder import Snapshot
from consentlib.testing.steps import Steps

# EDPB, Report of the work undertaken by the Cookie Banner Taskforce (17 January 2023).
NO_REJECT_ON_FIRST_LAYER = ("the first layer offers 'Accept all' but no 'Reject all' (only a way to more "
                            "settings): refusing must be as easy as accepting (GDPR Art 7(3); EDPB Cookie "
                            "Banner Taskforce report, 2023: 'no reject button on the first layer')")


class Choices(Steps):
    """The steps of :class:`consentlib.testing.audit.ConsentAudit` that drive the browser."""

    url: str
    pages: list[str]
    selectors: dict[str, str | None]
    judge: Judge
    unknown_banner: bool
    snapshots: list[Snapshot]
    violations: list[Violation]
    unverified: list[Unverified]
    notes: list[str]

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
        # Waiting until the page is quiet: a "Reject all" drawn a moment after "Accept all" is there.
        if self._wait_for(banner.accept) is not None and self._wait_for(banner.reject) is None:
            self.violations.append(Violation("before", "banner", "Reject all", NO_REJECT_ON_FIRST_LAYER,
                                             self.url, "EDPB"))

    def _after_choice(self, state: str, button: str, banner: Banner) -> None:
        """Answer ``banner`` on the start page with ``button``, then record ``state``."""
        if not self._banner_on_start_page(state, banner):
            return
        selector: str = getattr(banner, button)
        label = {"reject": "'Reject all'", "accept": "'Accept all'"}[button]
        element = self._button(banner, selector)
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
