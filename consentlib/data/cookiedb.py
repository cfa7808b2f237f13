"""What the web's cookies are: the Open Cookie Database, weighed with platform and domain.

The shipped copy (``open-cookie-database/``, Apache-2.0, see its README for the source)
lists 2,264 cookie and storage-key names with a platform, a category and often a
domain. A name is evidence, not a verdict: ``sessionid`` is listed as Instagram's
marketing cookie on instagram.com and is also Django's session cookie, and ``c`` or a
two-letter prefix says almost nothing. :func:`known` weighs each entry:

- an entry without a domain describes a tag that sets the name on any site (``_ga``);
  an entry with one (``instagram.com``) applies to a cookie on that site, and elsewhere
  only when it is marked "(3rd party)" and its name is distinctive (``_fbp``, not
  ``token``);
- exact names of one or two characters and prefixes shorter than three are too
  common to mean anything;
- a name that web frameworks give their session or CSRF cookie is necessary by
  platform when no applicable entry says otherwise;
- entries that still disagree about whether consent is needed leave the name unknown.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentlib.policy import Policy

#: Database category -> the category name a consentlib policy usually has for it.
#: Security and "Functional" (load balancing, consent state, sessions) are what
#: ePrivacy Art 5(3) exempts as strictly necessary for the service asked for.
CATEGORY_OF = {
    "Necessary": "necessary",
    "Security": "necessary",
    "Functional": "necessary",
    "Personalization": "preferences",
    "Analytics": "analytics",
    "Marketing": "marketing",
}

#: Session and CSRF cookie names of web frameworks (their own documentation's defaults).
FRAMEWORK_COOKIES = {
    "sessionid": "Django's session cookie",
    "csrftoken": "Django's CSRF cookie",
    "session": "Flask's session cookie",
    "_session_id": "Rails' session cookie",
    "connect.sid": "Express' session cookie",
    "laravel_session": "Laravel's session cookie",
    "XSRF-TOKEN": "the CSRF cookie of Laravel and Angular",
    "PHPSESSID": "PHP's session cookie",
    "JSESSIONID": "the Java servlet session cookie",
    "ASP.NET_SessionId": "ASP.NET's session cookie",
}

_SHORTEST_NAME = 3
_THIRD_PARTY = "(3rd party)"
_PLAIN_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Entry:
    """One row of the database."""

    id: str
    name: str
    platform: str
    category: str  # the database's: Analytics, Marketing, Functional, ...
    domain: str
    description: str
    retention: str
    controller: str
    wildcard: bool

    @property
    def hosts(self) -> tuple[str, ...]:
        """The sites the database says this cookie lives on; empty when it names none."""
        parts = self.domain.lower().replace(_THIRD_PARTY, "").split(" or ")
        return tuple(part.strip().lstrip(".") for part in parts if part.strip())

    @property
    def third_party(self) -> bool:
        return _THIRD_PARTY in self.domain.lower()

    def describe(self) -> str:
        where = f" on {self.domain}" if self.domain else ""
        return f"{self.platform or 'unnamed platform'} ({self.category}){where}, Open Cookie Database entry {self.id}"


@dataclass(frozen=True)
class Known:
    """What the database says about one name on one site."""

    name: str
    category: str  # a consentlib-style name: necessary, preferences, analytics, marketing; or "unknown"
    reason: str  # the entries it rests on and how they were weighed, in a sentence
    entries: tuple[Entry, ...] = ()

    @property
    def is_known(self) -> bool:
        return self.category != "unknown"


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """Every row of the shipped CSV, in file order."""
    text = resources.files("consentlib.data").joinpath("open-cookie-database", "open-cookie-database.csv")
    # newline="" as the csv module asks: quoted fields may hold line breaks.
    with io.StringIO(text.read_text(encoding="utf-8"), newline="") as handle:
        return tuple(
            Entry(id=row["ID"], name=row["Cookie / Data Key name"].strip(), platform=row["Platform"].strip(),
                  category=row["Category"].strip(), domain=row["Domain"].strip(), description=row["Description"],
                  retention=row["Retention period"], controller=row["Data Controller"],
                  wildcard=row["Wildcard match"].strip() == "1")
            for row in csv.DictReader(handle)
            if row["Cookie / Data Key name"].strip()
        )


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, list[Entry]], list[Entry]]:
    exact: dict[str, list[Entry]] = {}
    prefixes: list[Entry] = []
    for entry in entries():
        (prefixes.append(entry) if entry.wildcard else exact.setdefault(entry.name, []).append(entry))
    prefixes.sort(key=lambda e: len(e.name), reverse=True)  # the longest prefix is the most specific
    return exact, prefixes


def matches(name: str) -> list[Entry]:
    """Entries for ``name``: exact names first, then prefixes, longest first (case-sensitive,
    as cookie names are: RFC 6265 §5.3 compares them octet by octet)."""
    exact, prefixes = _index()
    found = list(exact.get(name, ()))
    found.extend(e for e in prefixes if name.startswith(e.name))
    return found


def _on_host(host: str, entry_host: str) -> bool:
    host = host.lstrip(".").lower()
    return host == entry_host or host.endswith("." + entry_host)


def _too_short(entry: Entry) -> bool:
    return len(entry.name) < _SHORTEST_NAME


def known(name: str, host: str | None = None) -> Known:
    """The database's verdict on cookie or storage key ``name`` found on ``host``."""
    found = matches(name)
    applicable = []
    set_aside = []
    for entry in found:
        if _too_short(entry):
            set_aside.append((entry, f"{entry.name!r} is too short a name to identify anything"))
        elif entry.hosts and not (host and any(_on_host(host, h) for h in entry.hosts)):
            # A tag's cookie listed as "(3rd party)" is often set on the site's own domain
            # too (Facebook's _fbp, Bing's _uetsid); a plain word (token, sessionid) is not
            # distinctive enough to follow it there.
            if entry.third_party and not _PLAIN_WORD.fullmatch(entry.name):
                applicable.append(entry)
                continue
            set_aside.append((entry, f"it is a cookie of {entry.domain}, and this one is on {host or 'another site'}"))
        else:
            applicable.append(entry)
    if applicable:
        best_kind = applicable[0].wildcard
        same_match = [e for e in applicable if e.wildcard == best_kind and len(e.name) == len(applicable[0].name)]
        categories = {CATEGORY_OF.get(e.category, "unknown") for e in same_match}
        needs_consent = {c != "necessary" for c in categories}
        if len(needs_consent) == 1 and "unknown" not in categories:
            category = _strictest(categories)
            return Known(name, category, "; ".join(e.describe() for e in same_match), tuple(same_match))
        return Known(name, "unknown", "the entries disagree: " + "; ".join(e.describe() for e in same_match),
                     tuple(same_match))
    aside = "; ".join(f"{e.describe()} does not apply: {why}" for e, why in set_aside)
    if name in FRAMEWORK_COOKIES:
        reason = f"{name} is {FRAMEWORK_COOKIES[name]}"
        return Known(name, "necessary", f"{reason}; {aside}" if aside else reason)
    return Known(name, "unknown", aside or "not in the Open Cookie Database")


def _strictest(categories: set[str]) -> str:
    for category in ("marketing", "analytics", "preferences", "necessary"):
        if category in categories:
            return category
    return "unknown"


def suggest_category(name: str, category_names: Iterable[str]) -> tuple[str | None, Known]:
    """The category of ``category_names`` (a policy's) that the database suggests for ``name``.

    Returns ``(None, known)`` when the database does not know the name or the policy has
    no category of that kind; the caller then says which category to add.
    """
    verdict = known(name)
    if not verdict.is_known:
        return None, verdict
    names = list(category_names)
    if verdict.category in names:
        return verdict.category, verdict
    synonyms = {
        "necessary": ("essential", "required", "strictly_necessary", "functional"),
        "preferences": ("functional", "personalization", "personalisation"),
        "analytics": ("statistics", "performance", "measurement"),
        "marketing": ("advertising", "ads", "targeting"),
    }
    for candidate in synonyms.get(verdict.category, ()):
        if candidate in names:
            return candidate, verdict
    return None, verdict


def declaration_hint(name: str, category_names: Iterable[str]) -> str:
    """A sentence telling a developer how to declare cookie ``name`` in a policy with
    ``category_names``, with the category the database suggests, so that the pasted fix works."""
    names = list(category_names)
    category, verdict = suggest_category(name, names)
    if category is not None:
        return f"Declare it, e.g. Cookie({name!r}, {category!r}, purpose='...'), in your Policy ({verdict.reason})."
    if verdict.is_known:
        return (f"The Open Cookie Database lists it as {verdict.reason}, and the policy has no "
                f"{verdict.category!r} category: add Category({verdict.category!r}) and declare "
                f"Cookie({name!r}, {verdict.category!r}, purpose='...').")
    return (f"Declare it, e.g. Cookie({name!r}, '<category>', purpose='...'), with the category its purpose "
            f"fits, one of: {', '.join(repr(n) for n in names)}.")


def misdeclared_necessary(policy: Policy) -> list[str]:
    """Sentences naming each cookie ``policy`` declares in a required category that the
    database knows as analytics or marketing (consent needed: ePrivacy Art 5(3))."""
    found = []
    for cookie in policy.cookies:
        if cookie.category not in policy.required:
            continue
        # A glob is judged by its literal prefix (_ga* by _ga); other globs name nothing to look up.
        name = cookie.name[:-1] if cookie.name.endswith("*") else cookie.name
        if not name or any(ch in name for ch in "*?["):
            continue
        verdict = known(name)
        if verdict.category in ("analytics", "marketing"):
            suggested, _ = suggest_category(name, policy.category_names)
            fix = (f"declare it under {suggested!r}" if suggested else
                   f"add Category({verdict.category!r}) and declare it there")
            found.append(f"{cookie.name}: declared {cookie.category!r}, which needs no consent, but it is "
                         f"{verdict.reason}; {fix}.")
    return found
