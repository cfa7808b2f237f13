"""``consentlib receipts export|prune|verify``: the consent receipts, the proof of each
visitor's choice (GDPR Art 7(1))."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from consentlib.cli.common import KEYS_OPTIONS, since_date, STORE_DOWN, UsageError, add_command, add_group, days, error, \
    existing_store, key_options, retention_cutoff, store, store_option

if TYPE_CHECKING:
    from consentlib.cli.common import Commands
    from consentlib.store.chain import ChainState


def register(commands: Commands) -> None:
    receipt_commands = add_group(commands, "receipts", help="export, prune or verify consent receipts",
                                 dest="receipts_command")

    export = add_command(receipt_commands, "export", help="receipts as JSON Lines on stdout",
                         codes={0: "the receipts were written (none is no error)", 3: STORE_DOWN})
    store_option(export)
    export.add_argument("--id", help="only this consent id")
    export.add_argument("--since", type=since_date, help="only receipts from this date on (UTC)")
    export.set_defaults(handler=export_receipts)

    prune = add_command(receipt_commands, "prune",
                        help="delete receipts past their retention, leaving a sealed checkpoint (exit 0 with counts)",
                        codes={0: "pruned; the count is printed, also when it is 0",
                               2: "usage error: a missing or malformed argument, or no retention given",
                               3: STORE_DOWN})
    store_option(prune, help="store URL; ?receipts_days=N in it sets the retention")
    prune.add_argument("--older-than", type=days, metavar="DAYS",
                       help="delete receipts older than this many days (at least 1); overrides receipts_days")
    key_options(prune)
    prune.set_defaults(handler=prune_receipts)

    verify = add_command(receipt_commands, "verify",
                         help="check the receipt chain: exit 0 intact, 1 naming the first receipt altered or "
                              "removed, 2 sealed receipts and no key given, 3 could not verify (store down, "
                              "a seal by a key not given)",
                         codes={0: "the chain is intact",
                                1: "the chain is broken: the first receipt altered or removed is named",
                                2: "usage error: a missing or malformed argument, or the store holds sealed "
                                   "receipts and no key was given to check their seals",
                                3: "could not verify: the store is down or does not exist, or a seal was made "
                                   "by a key not given"})
    store_option(verify)
    key_options(verify)
    verify.set_defaults(handler=verify_receipts)


def export_receipts(args: argparse.Namespace) -> int:
    from consentlib.records.receipts import presented

    for receipt in presented(existing_store(args.store).receipts(consent_id=args.id, since=args.since)):
        sys.stdout.write(json.dumps(receipt, sort_keys=True) + "\n")
    return 0


def prune_receipts(args: argparse.Namespace) -> int:
    opened = store(args)
    kept, before = retention_cutoff(args, opened, "receipts_days")
    removed = opened.prune_receipts(before=before)
    print(f"removed {removed} receipt(s) older than {kept} day(s)")
    if opened.seal is None and removed:
        error("the pruning checkpoint is not sealed; pass the secret key so that "
              "'receipts verify' can trust where the chain now starts.")
    return 0


def verify_receipts(args: argparse.Namespace) -> int:
    from consentlib.store.chain import verify

    opened = store(args)
    state = opened.receipt_chain()
    report = verify(state, opened.seal)
    if not report.ok:  # a broken link is a finding with or without the key
        error(str(report.problem))
        return 3 if report.unverifiable else 1
    if opened.seal is None:
        if _any_sealed(state):
            # Without the key only the hash links were checked, and whoever can write the
            # database can recompute those: "ok" would vouch for what was not checked.
            raise UsageError(f"The store's receipts are sealed with the site's secret key, and checking the seals "
                             f"needs it: give it with {KEYS_OPTIONS}.")
        print(f"ok: {report.checked} receipt(s) verified by their hash links; none is sealed, so there was no seal "
              f"to check (a store the middleware opens with the site's keys seals each one); chain head {report.head}")
        return 0
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"ok: {report.checked} receipt(s) verified ({report.sealed} sealed); chain head {report.head}")
    return 0


def _any_sealed(state: ChainState) -> bool:
    """Whether a receipt, the chain head or the pruning checkpoint carries a seal."""
    return any(row.seal for row in state.rows) or bool(state.head[2]) \
        or bool(state.checkpoint and state.checkpoint[2])
