"""Per-visitor ETags: an identifier stored in the browser's cache instead of a cookie.

A content ETag is the same for everyone who gets the same body. A server that gives
each new visitor its own validator for the same URL and body, which the browser then
sends back in ``If-None-Match`` (RFC 9110 §13.1.2), recognises the visitor on every
revalidation: the cache is storage on the visitor's device (ePrivacy Art 5(3)). The
audit's browser was a fresh profile; a second fresh profile loads the same pages
(:mod:`consentlib.testing.fresh`), and
a validator that differs for an identical body, and that the first browser replayed,
is such an identifier.
"""
from __future__ import annotations

from consentlib.testing.judge import JUDGED, Unverified, Violation
from consentlib.testing.recorder import Snapshot


def per_visitor_etags(snapshots: list[Snapshot], fresh: list[Snapshot], unverified: list[Unverified]) -> list[Violation]:
    """The per-visitor ETags among ``snapshots`` (the audit's), given what a second, fresh
    visitor got (``fresh``); an ETag whose body could not be compared goes to ``unverified``."""
    judged = [s for s in snapshots if s.state in JUDGED]
    replayed = replayed_etags(snapshots)
    if not replayed:
        return []
    bodies: dict[tuple[str, str], str] = {}  # (url, etag) -> the body digest this browser got with it
    for snapshot in snapshots:
        for tag in snapshot.etags:
            if tag["body"]:
                bodies.setdefault((tag["url"], tag["etag"]), tag["body"])
    others_of: dict[str, list[tuple[str, str | None]]] = {}  # URL -> (ETag, body digest) the other got
    for snapshot in fresh:
        for tag in snapshot.etags:
            others_of.setdefault(tag["url"], []).append((tag["etag"], tag["body"]))
    found: list[Violation] = []
    flagged = set()
    for snapshot in judged:
        for tag in snapshot.etags:
            key = (tag["url"], tag["etag"])
            if key not in replayed or (snapshot.state, key) in flagged:
                continue
            others = others_of.get(tag["url"], [])
            mine = bodies.get(key)
            same_body = [etag for etag, body in others if mine and body == mine]
            if same_body and tag["etag"] not in same_body:
                flagged.add((snapshot.state, key))
                found.append(Violation(
                    snapshot.state, "etag", tag["url"],
                    f"per-visitor ETag {tag['etag']} on {tag['url']}: a second fresh visitor got {same_body[0]} "
                    f"for the same body, and this browser sent it back in If-None-Match", snapshot.page, "browser"))
            elif others and not same_body and any(etag != tag["etag"] for etag, _ in others) and not mine:
                unverified.append(Unverified(snapshot.state, snapshot.page,
                                             f"the ETag of {tag['url']} differs between two fresh visitors, "
                                             "but its body could not be read to compare"))
    return found


def replayed_etags(snapshots: list[Snapshot]) -> set[tuple[str, str]]:
    """(URL, ETag) pairs the audit's browser sent back before a choice or after a rejection."""
    return {(t["url"], t["etag"]) for s in snapshots if s.state in JUDGED for t in s.etags if t["replayed"]}
