"""The ``consentlib`` command (also ``python -m consentlib``): one module per command,
each registering its parser and holding its handler.

Exit codes never collide, so scripts and CI can tell them apart: 0 success, 1 the
finding the command exists for (a violation, a broken receipt chain), 2 a usage error
(argparse's, and arguments that name something unusable), 3 could not verify or a
runtime error (a store that is down or missing). Each command's ``--help`` lists the
ones it gives.
"""
from __future__ import annotations

import argparse

from consentlib.cli import audit, changes, cookies, forget, hosts, mail, receipts, report
from consentlib.cli.common import ENVIRONMENT, EXIT_CODES, UsageError, error
from consentlib.errors import ConsentError

__all__ = ["build_parser", "main"]

# In the order `consentlib --help` lists them.
COMMANDS = (receipts, report, cookies, hosts, audit, mail, forget, changes)


def build_parser() -> argparse.ArgumentParser:
    from consentlib.version import __version__

    parser = argparse.ArgumentParser(prog="consentlib", description="Keep visitors' privacy choices at the HTTP layer.",
                                     epilog=f"{EXIT_CODES}\n\n{ENVIRONMENT}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"consentlib {__version__}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        parser.error(str(exc))  # exits 2 with the usage, like argparse's own errors
    except ConsentError as exc:
        error(str(exc))
        return 3
