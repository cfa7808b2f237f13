"""``consentlib forget``: erasure on request (GDPR Art 17), of a mail recipient or of a
visitor's receipts beyond what proof of consent requires."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from consentlib.cli.common import STORE_DOWN, UsageError, add_command, key_options, store, store_option

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    forget = add_command(commands, "forget", help="erasure on request: a mail recipient, or a visitor's receipts "
                                                  "beyond what proof requires (exit 0, also when nothing was found)",
                         codes={0: "erased, or nothing to erase (stdout says which)",
                                2: "usage error: a missing or malformed argument, a malformed address, or no "
                                   "secret key",
                                3: STORE_DOWN})
    store_option(forget)
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--recipient", metavar="ADDRESS", help="erase this address; its unsubscribes stay as a keyed hash")
    who.add_argument("--consent-id", metavar="ID", help="minimise this visitor's receipts to the proof; the id "
                                                        "is then never used again (needs the secret key)")
    key_options(forget)
    forget.set_defaults(handler=forget_subject)


def forget_subject(args: argparse.Namespace) -> int:
    if args.recipient is not None:
        return _forget_recipient(args)
    count = store(args, keys_required="forget --consent-id").minimise_receipts(args.consent_id)
    if not count:
        print(f"nothing to forget: the store has no receipt of consent id {args.consent_id}")
        return 0
    print(f"minimised {count} receipt(s) of {args.consent_id}: IP network and user agent erased; the proof of "
          "each choice (time, notice revision, categories, method, signals) is kept for the retention period "
          "(GDPR Art 17(3)(b),(e)); the id is kept only as a keyed fingerprint, so the visitor's next choice "
          "gets a new id and the erased one links nothing again")
    return 0


def _forget_recipient(args: argparse.Namespace) -> int:
    from consentlib.mail.tracker import normalise_address

    try:
        address = normalise_address(args.recipient)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    done = store(args, keys_required="forget --recipient").forget_mail_recipient(address)
    if not done["found"]:
        print(f"nothing to forget: the store has no record of {address}")
        return 0
    print(f"forgot {address}: {done['events']} open/click event(s), {done['tracking']} tracking "
          f"permission(s), {done['sends']} send record(s) anonymised; {done['unsubscribes']} unsubscribe(s) "
          "kept as a keyed hash")
    return 0
