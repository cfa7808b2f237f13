"""``consentlib audit``: drive headless Chromium through a site's three consent states
(consentlib.testing.command runs it and decides the exit code)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from consentlib.cli.common import add_command, error, load_policy

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    audit = add_command(
        commands, "audit", help="browser audit of a site's consent: exit 0 clean, 1 violation, 3 could not verify",
        description="Drive headless Chromium through three states (before any choice, after 'Reject all' "
                    "and a reload, after 'Accept all' and a reload) and report cookies, storage keys, beacons, "
                    "tracker requests and per-visitor ETags that need consent.",
        codes={0: "clean",
               1: "a violation was seen (even if a later state could not be reached)",
               2: "usage error: a missing or malformed argument, a --policy that cannot be loaded",
               3: "could not verify (no banner, a state not reached) or the audit could not run (no "
                  'Chromium, or selenium missing: pip install "consentlib[testing]")'})
    audit.add_argument("url", type=_http_url, help="the page to audit, e.g. https://staging.example.com/")
    audit.add_argument("--policy", metavar="MOD:ATTR",
                       help="judge by this policy instead of the site's /_consent/declaration.json")
    audit.add_argument("--json", metavar="FILE", help="write the report as JSON")
    audit.add_argument("--html", metavar="FILE", help="write the report as HTML, with a screenshot of each state")
    audit.add_argument("--junit", metavar="FILE", help="write JUnit XML: one test case per state and page")
    audit.add_argument("--accept", metavar="CSS", help="the banner's 'Accept all' button, for a banner not built in")
    audit.add_argument("--reject", metavar="CSS", help="the banner's 'Reject all' button")
    audit.add_argument("--open", metavar="CSS", help="the control that reopens the banner after a choice")
    audit.add_argument("--pages", type=_positive, default=1, metavar="N",
                       help="audit N pages: the URL and same-site pages from its sitemap or links (default 1)")
    audit.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for each step (default 15)")
    audit.set_defaults(handler=audit_command)


def audit_command(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("selenium") is None:
        # An optional extra: say the one command that installs it, not an ImportError.
        error('the audit drives Chromium through selenium, which is not installed: pip install "consentlib[testing]" '
              "(and Debian's chromium and chromium-driver; nothing is downloaded).")
        return 3
    from consentlib.testing.command import run_audit_command

    policy = load_policy(args.policy) if args.policy else None
    return run_audit_command(args.url, policy=policy, policy_name=f"--policy {args.policy}", json_path=args.json,
                             html_path=args.html, junit_path=args.junit, timeout=args.timeout, accept=args.accept,
                             reject=args.reject, reopen=args.open, pages=args.pages)


def _http_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value
