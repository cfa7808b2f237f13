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
from consentlib.testing.banners import Banner
from consentlib.testing.choices import Choices
from consentlib.testing.etags import per_visitor_etags, replayed_etags
from consentlib.testing.fresh import second_visitor
from consentlib.testing.judge import JUDGED, Judge, Unverified, Violation, fetch_declaration
from consentlib.testing.recorder import Snapshot

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

    from consentlib.policy import Policy

STATES = ("before", "rejected", "accepted")

__all__ = ["ConsentAudit", "Unverified", "Violation"]


class ConsentAudit(Choices):
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
        declared, where = fetch_declaration(self.url, self.timeout, self.headers)
        if declared is not None:
            self.judge = Judge(declared, evidence="declaration", where=where)
        else:
            self.notes.append(f"Judged by the Open Cookie Database: {where}.")

    def _more_pages(self) -> list[str]:
        limit = self.pages_wanted - 1
        listed = recorder.sitemap(self.url, self.timeout, self.headers)
        links = [u for u in listed if u.rstrip("/") != self.url.rstrip("/")][:limit]
        return links or recorder.same_site_links(self.driver, self.url, limit)

    # -- judging ---------------------------------------------------------------------------

    def _judge_all(self) -> None:
        for snapshot in self.snapshots:
            for cookie in snapshot.cookies:
                cookie["verdict"] = asdict(self.judge.cookie(cookie["name"], cookie["domain"] or snapshot.host))
            for item in snapshot.storage:
                item["verdict"] = asdict(self.judge.storage_key(item["key"], snapshot.host, item["area"]))
        judged = [s for s in self.snapshots if s.state in JUDGED]

        def unknown(state: str) -> bool:
            return any(e["verdict"]["needs_consent"] is None for s in judged if s.state == state
                       for e in (*s.cookies, *s.storage))

        if unknown("before") or unknown("rejected") or replayed_etags(self.snapshots):
            # Names first seen after "Reject all" are compared with a second visitor who rejected too.
            answer = self.banner if unknown("rejected") and "rejected" in self.states else None
            try:
                self.fresh = second_visitor(self.pages, fresh_driver=self.fresh_driver, headers=self.headers,
                                            lang=self.lang, banner=answer, timeout=self.timeout)
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
