"""``consentlib changes deliver``: pass queued consent and mail changes to the site's
handler, at least once, with retries."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from consentlib.cli.common import STORE_DOWN, UsageError, add_command, add_group, store, store_option

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    change_commands = add_group(commands, "changes", help="the queue of consent and mail changes",
                                dest="changes_command")
    deliver = add_command(change_commands, "deliver",
                          help="deliver queued changes to a handler, at least once, with retries",
                          codes={0: "--once: what was due was handed over; failures are counted and retried later",
                                 2: "usage error: a missing or malformed argument, a --handler that cannot be "
                                    "loaded",
                                 3: STORE_DOWN})
    store_option(deliver)
    deliver.add_argument("--handler", dest="handler_spec", required=True, metavar="MOD:FUNC",
                         help="called with each change (a dict); raise to have it retried")
    deliver.add_argument("--topic", action="append", choices=("consent", "mail"), help="only these (repeat)")
    deliver.add_argument("--once", action="store_true", help="deliver what is due, then exit (cron)")
    deliver.add_argument("--poll", type=float, default=5.0, help="seconds between rounds (default 5)")
    deliver.add_argument("--lease", type=float, default=60.0,
                         help="seconds a change is held before another worker may retry it (default 60)")
    deliver.set_defaults(handler=deliver_changes)


def deliver_changes(args: argparse.Namespace) -> int:
    from consentlib.records.changes import ChangeDelivery

    handler = _load_handler(args.handler_spec)
    delivery = ChangeDelivery(store(args), handler, topics=args.topic or None, lease=args.lease)
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
    # Like gunicorn and flask, look in the current directory first: the site's own code.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        handler: Callable[[dict[str, Any]], object] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"Cannot load --handler {spec!r}: {exc}") from None
    if not callable(handler):
        raise UsageError(f"--handler {spec!r} is not a function.")
    return handler
