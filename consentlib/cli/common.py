"""What several commands share: exit codes in each --help, the --store and key options
(with their defaults from the environment), usage errors, and how errors are printed."""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from consentlib.errors import ConfigurationError, StoreUnavailable
from consentlib.options import load_policy as load_policy_path
from consentlib.policy import Policy

if TYPE_CHECKING:
    from consentlib.store.postgres import PostgresStore
    from consentlib.store.sqlite import SQLiteStore

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

# Exit codes never collide, so scripts and CI can tell them apart.
EXIT_CODES = """exit codes:
  0  success
  1  the finding the command exists for (a violation, a broken receipt chain)
  2  usage error: a missing or malformed argument, a --policy that cannot be loaded
  3  could not verify, or a runtime error (a store that is down or does not exist)"""
USAGE = "usage error: a missing or malformed argument"
STORE_DOWN = "the store is down or does not exist (a command that only reads or deletes never creates one)"
STORE_HELP = "store URL, e.g. sqlite:///consent.db"
WIDTH = 79  # of the exit codes and description in a --help
# The environment gives the defaults, so that a deployment sets them once (twelve-factor
# style) and a cron line or a shell session need not repeat them; a flag always wins.
STORE_ENV = "CONSENTLIB_STORE"
KEYS_ENV = "CONSENTLIB_SECRET_KEYS"
KEYS_HELP = ("the site's secret key; repeat for older keys, newest first (visible to other users: prefer a file). "
             f"Default: ${KEYS_ENV}, one key per line; either flag wins over it")
KEYS_OPTIONS = f"--secret-key-file FILE, --secret-key KEY or the {KEYS_ENV} environment variable (one key per line)"
ENVIRONMENT = f"""environment:
  {STORE_ENV}        the default of --store (a --store flag wins)
  {KEYS_ENV}  the default of the site's keys, one key per line, newest
                          first (--secret-key and --secret-key-file win)"""


class UsageError(Exception):
    """An argument argparse accepted but that names nothing usable: exit 2 with the usage."""


def add_command(commands: Commands, name: str, *, help: str, codes: Mapping[int, str],
                description: str | None = None) -> argparse.ArgumentParser:
    """A command whose --help ends with the exit codes it can give, each with its meaning
    for this command (2 is argparse's own, so every command has it)."""
    # RawDescriptionHelpFormatter keeps one line per code, so the text is wrapped here.
    lines = "\n".join(textwrap.fill(meaning, WIDTH, initial_indent=f"  {code}  ", subsequent_indent=" " * 5)
                      for code, meaning in sorted({2: USAGE, **codes}.items()))
    return commands.add_parser(name, help=help, description=description and textwrap.fill(description, WIDTH),
                               epilog=f"exit codes:\n{lines}", formatter_class=argparse.RawDescriptionHelpFormatter)


def add_group(commands: Commands, name: str, *, help: str, dest: str) -> Commands:
    """A command with commands of its own (``receipts export``): each names its exit codes."""
    group = commands.add_parser(name, help=help, epilog=EXIT_CODES + f"\n\nEach 'consentlib {name} COMMAND --help' "
                                "says which of them the command gives.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    return group.add_subparsers(dest=dest, required=True, metavar="COMMAND")


def error(message: str) -> None:
    """Say on stderr, under the command's name, what went wrong (stdout stays the data)."""
    print(f"consentlib: {message}", file=sys.stderr)


def load_policy(spec: str) -> Policy:
    """``--policy``: the Policy a path names, in the form every door reads
    (``package.module:POLICY`` or ``package.module.POLICY``, consentlib.options.load_policy)."""
    # Like gunicorn and flask, look in the current directory first: the site's own code.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return load_policy_path(spec, "--policy")
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


def since_date(text: str) -> datetime:
    """``--since``: an ISO date or date and time; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01 or 2026-11-01T12:00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def days(text: str) -> int:
    """``--older-than``: a whole number of days, at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if number < 1:
        # Receipts are the proof of consent (GDPR Art 7(1)): 0 or less would delete every one.
        raise argparse.ArgumentTypeError(f"must be at least 1 day, not {number}: 0 or less would delete everything")
    return number


def existing_store(url: str, keys: list[str] | None = None) -> SQLiteStore | PostgresStore:
    """Open a store for a command that only reads or deletes: never create one from a
    typo. ``keys`` (the site's) let it check seals and keep forgotten addresses hashed."""
    from consentlib.store import open_store

    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].partition("?")[0]  # without the retention options
        if path and not os.path.exists(path):
            raise StoreUnavailable(f"There is no store at {path!r}: check --store. A command that only reads "
                                   "or deletes never creates one.")
    return open_store(url, secret_key=keys)


def store_option(parser: argparse.ArgumentParser, *, help: str = STORE_HELP, required: bool = True) -> None:
    """``--store URL``, by default the ``CONSENTLIB_STORE`` environment variable's; a
    command that needs a store and has neither is argparse's usage error (exit 2)."""
    default = os.environ.get(STORE_ENV) or None  # set but empty is unset, as in a shell's ${VAR:-...}
    parser.add_argument("--store", metavar="URL", default=default, required=required and default is None,
                        help=f"{help}. Default: ${STORE_ENV}; this flag wins over it")


def key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret-key", action="append", metavar="KEY", help=KEYS_HELP)
    parser.add_argument("--secret-key-file", metavar="FILE",
                        help=f"the site's keys, one per line, newest first; wins over ${KEYS_ENV}")


def keys(args: argparse.Namespace) -> list[str] | None:
    """The site's keys, newest first: --secret-key, else --secret-key-file, else
    CONSENTLIB_SECRET_KEYS. The variable holds one key per line, like the file, so
    ``CONSENTLIB_SECRET_KEYS="$(cat keys)"`` works and no character a key may hold
    (a comma included) needs escaping."""
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
        text = os.environ.get(KEYS_ENV, "")
    return [line.strip() for line in text.splitlines() if line.strip()] or None


def store(args: argparse.Namespace, *, keys_required: str | None = None) -> SQLiteStore | PostgresStore:
    """The existing store of ``--store``, opened with the site's keys if given."""
    site_keys = keys(args)
    if site_keys is None and keys_required:
        raise UsageError(f"{keys_required} needs the site's secret key: give it with {KEYS_OPTIONS}.")
    return existing_store(args.store, site_keys)


def retention_cutoff(args: argparse.Namespace, opened: SQLiteStore | PostgresStore, option: str) -> tuple[int, datetime]:
    """The retention in days (``--older-than``, else the store URL's ``option``) and the
    moment before which records go."""
    kept: int | None = args.older_than if args.older_than is not None else getattr(opened.retention, option, None)
    if kept is None:
        raise UsageError(f"say how long to keep: --older-than DAYS, or {option}=DAYS in the store URL "
                         f"(e.g. sqlite:///consent.db?{option}=400).")
    return kept, datetime.now(timezone.utc) - timedelta(days=kept)
