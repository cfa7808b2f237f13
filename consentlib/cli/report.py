"""``consentlib report``: what the banner does to the site's audience, in aggregates only:
a text summary, one self-contained HTML page of charts, the same figures as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from consentlib.cli.common import STORE_DOWN, UsageError, add_command, existing_store, since_date, store_option
from consentlib.cli.hosts import would_block_command

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    report = add_command(
        commands, "report", help="consent figures: accept / reject / customised shares, categories, weeks, "
                                 "revisions, GPC, mail campaigns (text, --html, --json)",
        description="Shares count visitors (each consent id once, by its latest receipt in the period); the "
                    "weekly trend counts receipts. Any figure under 10 reads '<10'. No consent id, IP, user "
                    "agent or address is ever written.",
        codes={0: "the report was written", 2: "usage error: a missing or malformed argument, or a --html / "
                                               "--json file that cannot be written", 3: STORE_DOWN})
    store_option(report)
    report.add_argument("--since", type=since_date, metavar="DATE", help="only receipts and mail from this date on (UTC)")
    report.add_argument("--html", metavar="FILE", help="write the charts as one self-contained HTML page ('-': stdout)")
    report.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-': stdout)")
    report.add_argument("--would-block", action="store_true",
                        help="instead: what mode='report' let through that mode='enforce' would block "
                             "(cookies, beacons, validators, third-party hosts), each with a count")
    report.set_defaults(handler=make_report, kind=None, format="text")


def make_report(args: argparse.Namespace) -> int:
    from consentlib.records.report import build_report

    if args.would_block:
        if args.html or args.json or args.since:
            raise UsageError("--would-block lists what report mode let through; it takes no --html, --json or "
                             "--since (use 'consentlib would-block --format json' for JSON).")
        return would_block_command(args)

    figures = build_report(existing_store(args.store), since=args.since)
    written = False
    if args.json:
        _write(args.json, "--json", json.dumps(figures, indent=2, sort_keys=True) + "\n")
        written = True
    if args.html:
        from consentlib.records.report_page import render_html

        _write(args.html, "--html", render_html(figures))
        written = True
    if not written:
        sys.stdout.write(summary(figures))
    return 0


def _write(path: str, option: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"{option} {path!r} cannot be written ({exc.strerror}); name a file in a writable "
                         "directory, or '-' for stdout.") from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def summary(figures: dict[str, Any]) -> str:
    """The few lines printed without --html or --json."""
    since = figures["since"][:10] if figures["since"] else "all receipts kept"
    lines = [f"consent report ({since}); shares count visitors by their latest receipt, the trend counts receipts",
             f"visitors: {figures['visitors']}   receipts: {figures['receipts']}"]
    lines += [f"  {a['action']:<11} {a['visitors']!s:>8}  {_pct(a['share'])}" for a in figures["actions"]]
    gpc = figures["gpc"]
    lines.append(f"GPC sent: {gpc['visitors']} ({_pct(gpc['share'])}); withdrawals: {figures['withdrawals']}")
    lines.append("categories granted: " + ", ".join(
        f"{c['category']} {_pct(c['rate'])}{' (required)' if c['required'] else ''}" for c in figures["categories"]))
    lines.append("revisions: " + ", ".join(
        f"{r['revision']}: {r['visitors']} visitors" for r in figures["by_revision"]))
    lines.append(f"weeks: {len(figures['by_week'])}; mail campaigns: {len(figures['mail'])}")
    lines.append("(--html FILE for the charts, --json FILE for every figure; a figure under 10 reads <10)")
    return "\n".join(lines) + "\n"
