"""The ``consentlib`` command (also ``python -m consentlib``).

Exit codes never collide, so scripts and CI can tell them apart: 0 success, 1 the
finding the command exists for (a violation, a broken receipt chain), 2 a usage error
(argparse's, and arguments that name something unusable), 3 could not verify or a
runtime error (a store that is down or missing).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

from consentlib.errors import ConsentError, StoreUnavailable
from consentlib.policy import Policy

if TYPE_CHECKING:
    from consentlib.store.postgres import PostgresStore
    from consentlib.store.sqlite import SQLiteStore

EXIT_CODES = """exit codes:
  0  success
  1  the finding the command exists for (a violation, a broken receipt chain)
  2  usage error: a missing or malformed argument, a --policy that cannot be loaded
  3  could not verify, or a runtime error (a store that is down or does not exist)"""


class UsageError(Exception):
    """An argument argparse accepted but that names nothing usable: exit 2 with the usage."""


def _load_policy(spec: str) -> Policy:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"--policy must look like 'package.module:POLICY', not {spec!r}.")
    # Like gunicorn and flask, look in the current directory first: the site's own code.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        policy = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"Cannot load policy {spec!r}: {exc}") from exc
    if not isinstance(policy, Policy):
        raise UsageError(f"{spec!r} is a {type(policy).__name__}, not a consentlib.Policy.")
    return policy


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        # Receipts are the proof of consent (GDPR Art 7(1)): 0 or less would delete every one.
        raise argparse.ArgumentTypeError(f"must be at least 1 day, not {days}: 0 or less would delete everything")
    return days


def _existing_store(url: str, keys: list[str] | None = None) -> SQLiteStore | PostgresStore:
    """Open a store for a command that only reads or deletes: never create one from a
    typo. ``keys`` (the site's) let it check seals and keep forgotten addresses hashed."""
    from consentlib.store import open_store

    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].partition("?")[0]  # without the retention options
        if path and not os.path.exists(path):
            raise StoreUnavailable(f"There is no store at {path!r}: check --store. A command that only reads "
                                   "or deletes never creates one.")
    return open_store(url, secret_key=keys)


KEYS_HELP = "the site's secret key; repeat for older keys, newest first (visible to other users: prefer a file)"


def _keys(args: argparse.Namespace) -> list[str] | None:
    """The site's keys, newest first: --secret-key, else --secret-key-file, else
    CONSENTLIB_SECRET_KEYS (one per line)."""
    given: list[str] | None = getattr(args, "secret_key", None)
    if given:
        return given
    if getattr(args, "secret_key_file", None):
        try:
            with open(args.secret_key_file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise UsageError(f"Cannot read --secret-key-file: {exc}") from None
    else:
        text = os.environ.get("CONSENTLIB_SECRET_KEYS", "")
    return [line.strip() for line in text.splitlines() if line.strip()] or None


def _store(args: argparse.Namespace, *, keys_required: str | None = None) -> SQLiteStore | PostgresStore:
    keys = _keys(args)
    if keys is None and keys_required:
        raise UsageError(f"{keys_required} needs the site's secret key: --secret-key-file FILE, --secret-key KEY "
                         "or CONSENTLIB_SECRET_KEYS.")
    return _existing_store(args.store, keys)


def _retention_days(args: argparse.Namespace, store: SQLiteStore | PostgresStore, option: str) -> int:
    days: int | None = args.older_than if args.older_than is not None else getattr(store.retention, option, None)
    if days is None:
        raise UsageError(f"say how long to keep: --older-than DAYS, or {option}=DAYS in the store URL "
                         f"(e.g. sqlite:///consent.db?{option}=400).")
    return days


def _date(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01 or 2026-11-01T12:00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _receipts_export(args: argparse.Namespace) -> int:
    from consentlib.records.receipts import presented

    for receipt in presented(_existing_store(args.store).receipts(consent_id=args.id, since=args.since)):
        sys.stdout.write(json.dumps(receipt, sort_keys=True) + "\n")
    return 0


def _receipts_prune(args: argparse.Namespace) -> int:
    store = _store(args)
    days = _retention_days(args, store, "receipts_days")
    removed = store.prune_receipts(before=datetime.now(timezone.utc) - timedelta(days=days))
    print(f"removed {removed} receipt(s) older than {days} day(s)")
    if store.seal is None and removed:
        print("consentlib: the pruning checkpoint is not sealed; pass the secret key so that "
              "'receipts verify' can trust where the chain now starts.", file=sys.stderr)
    return 0


def _receipts_verify(args: argparse.Namespace) -> int:
    from consentlib.store.chain import verify

    store = _store(args)
    report = verify(store.receipt_chain(), store.seal)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.ok:
        print(f"ok: {report.checked} receipt(s) verified ({report.sealed} sealed); chain head {report.head}")
        return 0
    print(f"consentlib: {report.problem}", file=sys.stderr)
    return 3 if report.unverifiable else 1


def _mail_prune(args: argparse.Namespace) -> int:
    store = _store(args)
    days = _retention_days(args, store, "mail_days")
    counts = store.prune_mail(before=datetime.now(timezone.utc) - timedelta(days=days))
    print(f"removed {counts['events']} open/click event(s), {counts['sends']} send record(s) and "
          f"{counts['changes']} undelivered change(s) older than {days} day(s)")
    return 0


def _forget(args: argparse.Namespace) -> int:
    if args.recipient is not None:
        from consentlib.mail.tracker import normalise_address

        try:
            address = normalise_address(args.recipient)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        done = _store(args, keys_required="forget --recipient").forget_mail_recipient(address)
        if not done["found"]:
            print(f"nothing to forget: the store has no record of {address}")
            return 0
        print(f"forgot {address}: {done['events']} open/click event(s), {done['tracking']} tracking "
              f"permission(s), {done['sends']} send record(s) anonymised; {done['unsubscribes']} unsubscribe(s) "
              "kept as a keyed hash")
        return 0
    count = _store(args, keys_required="forget --consent-id").minimise_receipts(args.consent_id)
    if not count:
        print(f"nothing to forget: the store has no receipt of consent id {args.consent_id}")
        return 0
    print(f"minimised {count} receipt(s) of {args.consent_id}: IP network and user agent erased; the proof of "
          "each choice (time, notice revision, categories, method, signals) is kept for the retention period "
          "(GDPR Art 17(3)(b),(e)); the id is kept only as a keyed fingerprint, so the visitor's next choice "
          "gets a new id and the erased one links nothing again")
    return 0


def _changes_deliver(args: argparse.Namespace) -> int:
    import time

    from consentlib.records.changes import ChangeDelivery

    handler = _load_handler(args.handler_spec)
    delivery = ChangeDelivery(_store(args), handler, topics=args.topic or None, lease=args.lease)
    total_delivered = total_failed = 0
    while True:
        delivered, failed = delivery.deliver_due()
        total_delivered, total_failed = total_delivered + delivered, total_failed + failed
        if args.once:
            print(f"delivered {total_delivered} change(s); {total_failed} failed and will be retried")
            return 0
        time.sleep(args.poll)


def _load_handler(spec: str) -> Callable[[dict[str, Any]], object]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"--handler must look like 'package.module:function', not {spec!r}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        handler: Callable[[dict[str, Any]], object] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"Cannot load --handler {spec!r}: {exc}") from None
    if not callable(handler):
        raise UsageError(f"--handler {spec!r} is not a function.")
    return handler


def _cookies(args: argparse.Namespace) -> int:
    if args.undeclared:
        if not args.store:
            raise UsageError("--undeclared needs --store URL (the store the middleware writes to).")
        rows = _existing_store(args.store).undeclared_cookies()
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['name']}\tseen {row['count']} time(s), first {row['first_seen']}, last {row['last_seen']}")
        return 0
    if not args.policy:
        raise UsageError("consentlib cookies needs --policy MOD:ATTR (or --undeclared --store URL).")
    policy = _load_policy(args.policy)
    if args.check:
        from consentlib.data.cookiedb import misdeclared_necessary

        problems = misdeclared_necessary(policy)
        for problem in problems:
            print(f"MISDECLARED {problem}")
        print(f"{len(problems)} known analytics or marketing cookie(s) declared as necessary" if problems
              else "ok: no cookie declared as necessary is a known analytics or marketing cookie")
        return 1 if problems else 0
    rows = [
        {"name": c.name, "category": c.category, "purpose": c.purpose, "lifetime": c.lifetime,
         "third_party": c.third_party}
        for c in policy.cookies
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    # "Set by": the third party, else the site itself, as the banner's second layer says.
    set_by = [r["third_party"] or "this site" for r in rows]
    if args.format == "html":
        cells = "".join(
            f"<tr><td>{escape(r['name'])}</td><td>{escape(r['category'])}</td>"
            f"<td>{escape(r['purpose'])}</td><td>{escape(r['lifetime'])}</td><td>{escape(by)}</td></tr>\n"
            for r, by in zip(rows, set_by)
        )
        print("<table>\n<tr><th>Name</th><th>Category</th><th>Purpose</th><th>Lifetime</th><th>Set by</th></tr>\n"
              f"{cells}</table>")
    else:
        print("| Name | Category | Purpose | Lifetime | Set by |\n|---|---|---|---|---|")
        for r, by in zip(rows, set_by):
            print(f"| `{r['name']}` | {r['category']} | {r['purpose']} | {r['lifetime']} | {by} |")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from consentlib.testing.command import run_audit_command

    policy = _load_policy(args.policy) if args.policy else None
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


def _mail_stats(args: argparse.Namespace) -> int:
    rows = _existing_store(args.store).mail_stats(campaign=args.campaign)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
        return 0
    print("campaign\tsent\thuman_opens\tmachine_opens\thuman_clicks\tscanner_clicks\tunsubscribes")
    for r in rows:
        print(f"{r['campaign']}\t{r['sent']}\t{r['human_opens']}\t{r['machine_opens']}\t"
              f"{r['human_clicks']}\t{r['scanner_clicks']}\t{r['unsubscribes']}")
    return 0


def _mail_export(args: argparse.Namespace) -> int:
    for row in _existing_store(args.store).mail_permissions(recipient=args.recipient):
        sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from consentlib.version import __version__

    parser = argparse.ArgumentParser(prog="consentlib", description="Keep visitors' privacy choices at the HTTP layer.",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"consentlib {__version__}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    receipts = commands.add_parser("receipts", help="export or prune consent receipts")
    receipt_commands = receipts.add_subparsers(dest="receipts_command", required=True)
    export = receipt_commands.add_parser("export", help="receipts as JSON Lines on stdout")
    export.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    export.add_argument("--id", help="only this consent id")
    export.add_argument("--since", type=_date, help="only receipts from this date on (UTC)")
    export.set_defaults(handler=_receipts_export)
    prune = receipt_commands.add_parser(
        "prune", help="delete receipts past their retention, leaving a sealed checkpoint (exit 0 with counts)")
    prune.add_argument("--store", required=True, metavar="URL",
                       help="store URL; ?receipts_days=N in it sets the retention")
    prune.add_argument("--older-than", type=_days, metavar="DAYS",
                       help="delete receipts older than this many days (at least 1); overrides receipts_days")
    _key_options(prune)
    prune.set_defaults(handler=_receipts_prune)
    verify = receipt_commands.add_parser(
        "verify", help="check the receipt chain: exit 0 intact, 1 naming the first receipt altered or removed, "
                       "3 could not verify (store down, a seal by a key not given)")
    verify.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    _key_options(verify)
    verify.set_defaults(handler=_receipts_verify)

    cookies = commands.add_parser("cookies", help="the cookie declaration table, or undeclared cookies seen")
    cookies.add_argument("--policy", metavar="MOD:ATTR", help="the site's Policy, e.g. mysite.consent:POLICY")
    cookies.add_argument("--format", choices=("md", "html", "json"), default="md",
                         help="table format (default md)")
    cookies.add_argument("--undeclared", action="store_true", help="list cookies the app set without a declaration")
    cookies.add_argument("--store", metavar="URL", help="store URL, with --undeclared")
    cookies.add_argument("--check", action="store_true",
                         help="exit 1 naming each cookie declared necessary that the Open Cookie Database "
                              "knows as analytics or marketing")
    cookies.set_defaults(handler=_cookies)

    audit = commands.add_parser(
        "audit", help="browser audit of a site's consent: exit 0 clean, 1 violation, 3 could not verify",
        description="Drive headless Chromium through three states (before any choice, after 'Reject all' "
                    "and a reload, after 'Accept all' and a reload) and report cookies, storage keys, beacons, "
                    "tracker requests and per-visitor ETags that need consent.",
        epilog="Exit codes: 0 clean; 1 a violation was seen (even if a later state could not be reached); "
               "2 usage error; 3 could not verify (no banner, a state not reached) or the audit could not run.")
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
    audit.set_defaults(handler=_audit)
    mail = commands.add_parser("mail", help="email opens, clicks, unsubscribes and tracking permissions")
    mail_commands = mail.add_subparsers(dest="mail_command", required=True)
    stats = mail_commands.add_parser("stats", help="per campaign: opens and clicks (human / machine), unsubscribes")
    stats.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    stats.add_argument("--campaign", help="only this campaign")
    stats.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    stats.set_defaults(handler=_mail_stats)
    mail_export = mail_commands.add_parser("export", help="tracking permissions and unsubscribes as JSON Lines")
    mail_export.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    mail_export.add_argument("--recipient", help="only this address")
    mail_export.set_defaults(handler=_mail_export)
    mail_prune = mail_commands.add_parser("prune", help="delete opens, clicks and sends past their retention "
                                                        "(unsubscribes and permissions are proof and stay)")
    mail_prune.add_argument("--store", required=True, metavar="URL", help="store URL; ?mail_days=N sets the retention")
    mail_prune.add_argument("--older-than", type=_days, metavar="DAYS", help="overrides the URL's mail_days")
    mail_prune.set_defaults(handler=_mail_prune)

    forget = commands.add_parser("forget", help="erasure on request: a mail recipient, or a visitor's receipts "
                                                "beyond what proof requires (exit 0, also when nothing was found)")
    forget.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--recipient", metavar="ADDRESS", help="erase this address; its unsubscribes stay as a keyed hash")
    who.add_argument("--consent-id", metavar="ID", help="minimise this visitor's receipts to the proof; the id "
                                                        "is then never used again (needs the secret key)")
    _key_options(forget)
    forget.set_defaults(handler=_forget)

    changes = commands.add_parser("changes", help="the queue of consent and mail changes")
    change_commands = changes.add_subparsers(dest="changes_command", required=True)
    deliver = change_commands.add_parser("deliver", help="deliver queued changes to a handler, at least once, "
                                                         "with retries")
    deliver.add_argument("--store", required=True, metavar="URL", help="store URL, e.g. sqlite:///consent.db")
    deliver.add_argument("--handler", dest="handler_spec", required=True, metavar="MOD:FUNC",
                         help="called with each change (a dict); raise to have it retried")
    deliver.add_argument("--topic", action="append", choices=("consent", "mail"), help="only these (repeat)")
    deliver.add_argument("--once", action="store_true", help="deliver what is due, then exit (cron)")
    deliver.add_argument("--poll", type=float, default=5.0, help="seconds between rounds (default 5)")
    deliver.add_argument("--lease", type=float, default=60.0,
                         help="seconds a change is held before another worker may retry it (default 60)")
    deliver.set_defaults(handler=_changes_deliver)
    return parser


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret-key", action="append", metavar="KEY", help=KEYS_HELP)
    parser.add_argument("--secret-key-file", metavar="FILE", help="the site's keys, one per line, newest first "
                                                                  "(or CONSENTLIB_SECRET_KEYS)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        parser.error(str(exc))  # exits 2 with the usage, like argparse's own errors
    except ConsentError as exc:
        print(f"consentlib: {exc}", file=sys.stderr)
        return 3
