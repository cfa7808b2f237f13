"""``consentlib mail stats|export|prune``: email opens, clicks, unsubscribes and tracking
permissions, and their retention."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from consentlib.cli.common import STORE_DOWN, add_command, add_group, days, existing_store, retention_cutoff, \
    store, store_option

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    mail_commands = add_group(commands, "mail", help="email opens, clicks, unsubscribes and tracking permissions",
                              dest="mail_command")

    stats = add_command(mail_commands, "stats",
                        help="per campaign: opens and clicks (human / machine), unsubscribes",
                        codes={0: "the figures were written", 3: STORE_DOWN})
    store_option(stats)
    stats.add_argument("--campaign", help="only this campaign")
    stats.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    stats.set_defaults(handler=mail_stats)

    export = add_command(mail_commands, "export", help="tracking permissions and unsubscribes as JSON Lines",
                         codes={0: "the permissions were written (none is no error)", 3: STORE_DOWN})
    store_option(export)
    export.add_argument("--recipient", help="only this address")
    export.set_defaults(handler=mail_export)

    prune = add_command(mail_commands, "prune", help="delete opens, clicks and sends past their retention "
                                                     "(unsubscribes and permissions are proof and stay)",
                        codes={0: "pruned; the counts are printed, also when they are 0",
                               2: "usage error: a missing or malformed argument, or no retention given",
                               3: STORE_DOWN})
    store_option(prune, help="store URL; ?mail_days=N in it sets the retention")
    prune.add_argument("--older-than", type=days, metavar="DAYS", help="overrides the URL's mail_days")
    prune.set_defaults(handler=mail_prune)


def mail_stats(args: argparse.Namespace) -> int:
    rows = existing_store(args.store).mail_stats(campaign=args.campaign)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
        return 0
    print("campaign\tsent\thuman_opens\tmachine_opens\thuman_clicks\tscanner_clicks\tunsubscribes")
    for r in rows:
        print(f"{r['campaign']}\t{r['sent']}\t{r['human_opens']}\t{r['machine_opens']}\t"
              f"{r['human_clicks']}\t{r['scanner_clicks']}\t{r['unsubscribes']}")
    return 0


def mail_export(args: argparse.Namespace) -> int:
    for row in existing_store(args.store).mail_permissions(recipient=args.recipient):
        sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
    return 0


def mail_prune(args: argparse.Namespace) -> int:
    opened = store(args)
    kept, before = retention_cutoff(args, opened, "mail_days")
    counts = opened.prune_mail(before=before)
    print(f"removed {counts['events']} open/click event(s), {counts['sends']} send record(s) and "
          f"{counts['changes']} undelivered change(s) older than {kept} day(s)")
    return 0
