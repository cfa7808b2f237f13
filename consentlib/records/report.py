"""What the banner does to a site's audience, in aggregates only: ``consentlib report``.

The figures are computed from the receipts' groups (:mod:`consentlib.store.report`):

- **shares** (accept all, reject all, customised; GPC; each category's grant rate; by
  revision, region and language) count *visitors*: each consent id once, by its
  latest receipt in the period;
- the **weekly trend** counts *receipts*: every choice made that week.

A receipt records no "action", so it is derived from what it records, without the
policy: *accept all* when it denies nothing; *reject all* when it grants only
categories that no receipt of the same revision in the period denies (the required
ones: every receipt grants them); *customised* otherwise. A withdrawal grants only the
required categories, so it is a *reject all* (and counted among ``withdrawals`` too). A
click on an embed's placeholder (method ``embed``) is counted the same way, by what it
grants: usually *customised*.

Small groups are hidden: any count under :data:`MIN_COUNT` reads ``"<10"``, and a
share or rate built on one is ``None``. No consent id, IP network, user agent or
address ever enters the figures: the queries return none.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from consentlib.store.clock import time_text
from consentlib.store.report import DayGroup, Decision, ReadableStore, campaigns, day_groups

SCHEMA = "consentlib.report/1"
MIN_COUNT = 10
HIDDEN = "<10"
ACTIONS = ("accept_all", "reject_all", "customised")
COUNTING = {
    "shares": "visitors: each consent id once, by its latest receipt in the period",
    "trend": "receipts: every choice made in the week",
}

Count = int | str  # a count, or HIDDEN


def shown(count: int) -> Count:
    """``count``, or ``"<10"`` when it is under :data:`MIN_COUNT` (a group that small
    could single someone out)."""
    return count if count >= MIN_COUNT else HIDDEN


def share(count: int, total: int) -> float | None:
    """``count / total`` to 4 places; None when either count is hidden."""
    return round(count / total, 4) if count >= MIN_COUNT and total >= MIN_COUNT else None


def optional_categories(decisions: Iterable[Decision]) -> dict[Any, frozenset[str]]:
    """Per revision, the categories some receipt denies: those a visitor could refuse."""
    found: dict[Any, set[str]] = defaultdict(set)
    for decision in decisions:
        found[decision.revision].update(decision.denied)
    return {revision: frozenset(names) for revision, names in found.items()}


def action(decision: Decision, optional: frozenset[str]) -> str:
    """accept_all, reject_all or customised (the rule in this module's docstring)."""
    if not decision.denied:
        return "accept_all"
    if not set(decision.granted) & optional:
        return "reject_all"
    return "customised"


Counted = tuple[Decision, int]  # a choice and how many visitors (or receipts) made it


def _action_counts(decisions: Iterable[Counted], optional: dict[Any, frozenset[str]]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for decision, number in decisions:
        counts[action(decision, optional.get(decision.revision, frozenset()))] += number
    return counts


def _shares(counts: dict[str, int], total: int) -> list[dict[str, Any]]:
    return [{"action": name, "visitors": shown(counts[name]), "share": share(counts[name], total)}
            for name in ACTIONS]


def _groups(decisions: list[Counted], optional: dict[Any, frozenset[str]], field: str) -> list[dict[str, Any]]:
    """Visitors' actions by ``field`` (revision, region, language); none when no receipt has it."""
    by: dict[Any, list[Counted]] = defaultdict(list)
    for decision, number in decisions:
        value = getattr(decision, field)
        if value is not None:
            by[value].append((decision, number))
    out = []
    for value in sorted(by, key=lambda v: (str(type(v)), v)):
        counts = _action_counts(by[value], optional)
        total = sum(counts.values())
        out.append({field: value, "visitors": shown(total), "actions": _shares(counts, total)})
    return out


def _categories(decisions: list[Counted], optional: dict[Any, frozenset[str]]) -> list[dict[str, Any]]:
    granted: dict[str, int] = defaultdict(int)
    recorded: dict[str, int] = defaultdict(int)
    for decision, number in decisions:
        for name in decision.granted:
            granted[name] += number
        for name in (*decision.granted, *decision.denied):
            recorded[name] += number
    refusable = frozenset().union(*optional.values()) if optional else frozenset()
    return [{"category": name, "granted": shown(granted[name]), "visitors": shown(recorded[name]),
             "rate": share(granted[name], recorded[name]), "required": name not in refusable}
            for name in sorted(recorded)]


def _week(day: str) -> tuple[str, str]:
    """The ISO 8601 week of a UTC date, and its Monday."""
    moment = date.fromisoformat(day)
    year, week, weekday = moment.isocalendar()
    return f"{year}-W{week:02d}", date.fromordinal(moment.toordinal() - weekday + 1).isoformat()


def _latest(groups: list[DayGroup]) -> list[Counted]:
    """Each choice and how many visitors it is the latest choice of, whatever the day."""
    by: dict[Decision, int] = defaultdict(int)
    for group in groups:
        if group.latest:
            by[group.decision] += group.latest
    return list(by.items())


def build_report(store: ReadableStore, *, since: datetime | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """The report's figures as JSON-ready data (see the module docstring)."""
    since_text = time_text(since) if since is not None else ""
    groups = day_groups(store, since_text)
    optional = optional_categories(group.decision for group in groups)
    latest = _latest(groups)
    counts = _action_counts(latest, optional)
    visitors = sum(counts.values())
    gpc = sum(number for decision, number in latest if decision.gpc)
    withdrawals = sum(number for decision, number in latest if decision.method == "withdraw")

    weeks: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(ACTIONS, 0))
    for group in groups:
        revision_optional = optional.get(group.decision.revision, frozenset())
        weeks[_week(group.day)][action(group.decision, revision_optional)] += group.receipts
    by_week = [{"week": week, "start": start, "receipts": shown(sum(figures.values())),
                **{name: shown(figures[name]) for name in ACTIONS}}
               for (week, start), figures in sorted(weeks.items())]

    return {
        "schema": SCHEMA,
        "generated": time_text(now),
        "since": since_text or None,
        "counting": COUNTING,
        "min_count": MIN_COUNT,
        "visitors": shown(visitors),
        "receipts": shown(sum(group.receipts for group in groups)),
        "actions": _shares(counts, visitors),
        "withdrawals": shown(withdrawals),
        "gpc": {"visitors": shown(gpc), "share": share(gpc, visitors)},
        "categories": _categories(latest, optional),
        "by_revision": _groups(latest, optional, "revision"),
        "by_region": _groups(latest, optional, "region"),
        "by_language": _groups(latest, optional, "language"),
        "by_week": by_week,
        "mail": [{key: value if key == "campaign" else shown(value) for key, value in asdict(c).items()}
                 for c in campaigns(store, since_text)],
    }
