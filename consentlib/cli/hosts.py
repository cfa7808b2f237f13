"""``consentlib hosts --undeclared``: the other origins the site's pages reached that the
policy does not declare, from the browsers' CSP reports (``third_party_csp``); and
``consentlib would-block``: what report mode (``mode="report"``) let through."""
from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from consentlib.cli.common import STORE_DOWN, UsageError, add_command, existing_store, store_option
from consentlib.data.trackers import suggested_category

if TYPE_CHECKING:
    from consentlib.cli.common import Commands

KINDS = ("cookie", "beacon", "validator", "csp")


def register(commands: Commands) -> None:
    hosts = add_command(commands, "hosts", help="other origins the site's pages reached without a Host declaration",
                        description="Lists, from the CSP reports browsers sent to {prefix}csp-report, each origin "
                                    "the policy does not declare, with the category the tracker list suggests "
                                    "for it. Declare each with Host(pattern, category) in the Policy.",
                        codes={0: "no undeclared origin was reported",
                               1: "undeclared origins were reported (each is listed)",
                               3: STORE_DOWN})
    hosts.add_argument("--undeclared", action="store_true", help="list the origins the policy does not declare")
    store_option(hosts, required=False)
    hosts.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    hosts.set_defaults(handler=hosts_command)

    would = add_command(commands, "would-block", help="what report mode let through that enforce mode would block",
                        description="Lists what mode='report' let through and mode='enforce' would have blocked: "
                                    "cookies, beacons, validators and third-party requests, each with a count.",
                        codes={0: "the list was written (it may be empty)", 3: STORE_DOWN})
    store_option(would)
    would.add_argument("--kind", choices=KINDS, action="append", help="only this kind; repeat for more")
    would.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    would.set_defaults(handler=would_block_command)


def hosts_command(args: argparse.Namespace) -> int:
    if not args.undeclared:
        raise UsageError("consentlib hosts needs --undeclared (the declared hosts are the Policy's own).")
    if not args.store:
        raise UsageError("--undeclared needs --store URL or CONSENTLIB_STORE (the store the middleware writes to).")
    rows = undeclared_hosts(existing_store(args.store).csp_reports())
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            guess = f"suggested category {row['suggested_category']} ({row['service']})" if row["service"] \
                else "not a known tracker: declare it under the category it serves"
            print(f"{row['origin']}\t{', '.join(row['directives'])}\treported {row['count']} time(s), "
                  f"{row['first_day']} to {row['last_day']}\t{guess}")
    return 1 if rows else 0


def undeclared_hosts(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per undeclared origin of ``reports`` (the store's ``csp_reports()``), its
    directives and counts merged, most reported first."""
    merged: dict[str, dict[str, Any]] = {}
    for report in reports:
        if report["declared"]:
            continue
        row = merged.get(report["origin"])
        if row is None:
            found = suggested_category(report["origin"])
            row = merged[report["origin"]] = {
                "origin": report["origin"], "directives": [], "count": 0, "first_day": report["first_day"],
                "last_day": report["last_day"], "service": found[0] if found else None,
                "suggested_category": found[1] if found else None}
        row["directives"] = sorted({*row["directives"], report["directive"]})
        row["count"] += report["count"]
        row["first_day"] = min(row["first_day"], report["first_day"])
        row["last_day"] = max(row["last_day"], report["last_day"])
    return sorted(merged.values(), key=lambda row: (-row["count"], row["origin"]))


def would_block_command(args: argparse.Namespace) -> int:
    from consentlib.records.would_block import would_block

    if not args.store:
        raise UsageError("consentlib would-block needs --store URL (the store the middleware writes to).")
    rows = would_block(existing_store(args.store), tuple(args.kind or ()))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['kind']}\t{row['name']}\t{row['count']} time(s), first {row['first_seen']}, "
                  f"last {row['last_seen']}")
    return 0
