"""Per-visitor ETags: an identifier stored in the browser's cache instead of a cookie.

A content ETag is the same for everyone who gets the same body. A server that gives
each new visitor its own validator for the same URL and body, which the browser then
sends back in ``If-None-Match`` (RFC 9110 §13.1.2), recognises the visitor on every
revalidation: the cache is storage on the visitor's device (ePrivacy Art 5(3)). The
audit's browser was a fresh profile; a second fresh profile loads the same pages, and
a validator that differs for an identical body, and that the first browser replayed,
is such an identifier.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from consentlib.testing import recorder
from consentlib.testing.judge import JUDGED, Unverified, Violation
from consentlib.testing.recorder import Snapshot


class AuditRun(Protocol):
    """What this check reads of a finished audit (a ``ConsentAudit``), and adds to."""

    snapshots: list[Snapshot]
    unverified: list[Unverified]
    fresh_driver: Callable[[], Any] | None


def per_visitor_etags(audit: AuditRun) -> list[Violation]:
    judged = [s for s in audit.snapshots if s.state in JUDGED]
    replayed = {(t["url"], t["etag"]) for s in judged for t in s.etags if t["replayed"]}
    if not replayed:
        return []
    bodies: dict[tuple[str, str], str] = {}  # (url, etag) -> the body digest this browser got with it
    for snapshot in audit.snapshots:
        for tag in snapshot.etags:
            if tag["body"]:
                bodies.setdefault((tag["url"], tag["etag"]), tag["body"])
    pages = [s.page for s in judged if any((t["url"], t["etag"]) in replayed for t in s.etags)]
    fresh = _second_profile(audit, list(dict.fromkeys(pages)))
    found: list[Violation] = []
    flagged = set()
    for snapshot in judged:
        for tag in snapshot.etags:
            key = (tag["url"], tag["etag"])
            if key not in replayed or (snapshot.state, key) in flagged:
                continue
            others = fresh.get(tag["url"], [])
            mine = bodies.get(key)
            same_body = [etag for etag, body in others if mine and body == mine]
            if same_body and tag["etag"] not in same_body:
                flagged.add((snapshot.state, key))
                found.append(Violation(
                    snapshot.state, "etag", tag["url"],
                    f"per-visitor ETag {tag['etag']} on {tag['url']}: a second fresh visitor got {same_body[0]} "
                    f"for the same body, and this browser sent it back in If-None-Match", snapshot.page, "browser"))
            elif others and not same_body and any(etag != tag["etag"] for etag, _ in others) and not mine:
                audit.unverified.append(Unverified(snapshot.state, snapshot.page,
                                                   f"the ETag of {tag['url']} differs between two fresh visitors, "
                                                   "but its body could not be read to compare"))
    return found


def _second_profile(audit: AuditRun, pages: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """URL -> (ETag, body digest) pairs a brand-new browser profile got on ``pages``."""
    from consentlib.testing.browser import chrome_driver

    driver = (audit.fresh_driver or chrome_driver)()
    seen: dict[str, list[tuple[str, str | None]]] = {}
    try:
        recorder.drain(driver)
        for page in pages:
            driver.get(page)
            snapshot = Snapshot("fresh", page)
            recorder.record(driver, snapshot, recorder.drain(driver))
            for tag in snapshot.etags:
                seen.setdefault(tag["url"], []).append((tag["etag"], tag["body"]))
    finally:
        driver.quit()
    return seen
