"""``consentlib cookies``: the policy's cookie declaration table (its Web Storage keys too),
the cookies the app set without a declaration, and ``--check`` against the Open Cookie Database."""
from __future__ import annotations

import argparse
import json
from html import escape
from typing import TYPE_CHECKING, Any

from consentlib.locale.texts import localized
from consentlib.checks import cookie_domain as checked_domain
from consentlib.cli.common import STORE_DOWN, UsageError, add_command, existing_store, load_policy, \
    store_option
from consentlib.consent import DEFAULT_LIFETIME
from consentlib.errors import ConfigurationError
from consentlib.web.own_cookies import own_cookies

if TYPE_CHECKING:
    from consentlib.cli.common import Commands


def register(commands: Commands) -> None:
    cookies = add_command(commands, "cookies", help="the cookie declaration table, or undeclared cookies seen",
                          codes={0: "the table or list was written; with --check, no cookie is misdeclared",
                                 1: "--check: a cookie declared necessary is a known analytics or marketing "
                                    "cookie (each is named)",
                                 2: "usage error: a missing or malformed argument, a --policy that cannot be "
                                    "loaded",
                                 3: f"with --undeclared: {STORE_DOWN}"})
    cookies.add_argument("--policy", metavar="MOD:ATTR", help="the site's Policy, e.g. mysite.consent:POLICY")
    cookies.add_argument("--format", choices=("md", "html", "json"), default="md",
                         help="table format (default md)")
    cookies.add_argument("--undeclared", action="store_true", help="list cookies the app set without a declaration")
    store_option(cookies, help="store URL, with --undeclared", required=False)
    cookies.add_argument("--lifetime", type=int, metavar="SECONDS", default=DEFAULT_LIFETIME,
                         help="the site's consent lifetime, for consentlib's own cookies (default 180 days)")
    cookies.add_argument("--cookie-domain", metavar="DOMAIN",
                         help="the site's cookie_domain option, which names consentlib's own cookies")
    cookies.add_argument("--check", action="store_true",
                         help="exit 1 naming each cookie declared necessary that the Open Cookie Database "
                              "knows as analytics or marketing")
    cookies.set_defaults(handler=cookies_command)


def cookies_command(args: argparse.Namespace) -> int:
    if args.undeclared:
        return _undeclared(args)
    if not args.policy:
        raise UsageError("consentlib cookies needs --policy MOD:ATTR (or --undeclared --store URL).")
    policy = load_policy(args.policy)
    if args.check:
        from consentlib.data.cookiedb import misdeclared_necessary

        problems = misdeclared_necessary(policy)
        for problem in problems:
            print(f"MISDECLARED {problem}")
        print(f"{len(problems)} known analytics or marketing cookie(s) declared as necessary" if problems
              else "ok: no cookie declared as necessary is a known analytics or marketing cookie")
        return 1 if problems else 0
    if args.lifetime <= 0:
        raise UsageError(f"--lifetime must be a positive number of seconds, not {args.lifetime}.")
    try:
        args.cookie_domain = checked_domain("--cookie-domain", args.cookie_domain)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    # consentlib's own two cookies first, under their https names (what a site in
    # production sets), with the name they have over plain http beside it.
    secure = own_cookies(policy, lifetime=args.lifetime, secure=True, cookie_domain=args.cookie_domain)
    plain = own_cookies(policy, lifetime=args.lifetime, secure=False, cookie_domain=args.cookie_domain)
    rows: list[dict[str, Any]] = [
        {"name": c.name, "category": c.category, "lifetime": c.lifetime,
         # A translated purpose in the policy's default language (consentlib.locale.texts).
         "purpose": localized(c.purpose, policy.default_language, policy.default_language),
         "third_party": c.third_party, **({"http_name": http.name} if http else {})}
        for c, http in [*zip(secure, plain), *((c, None) for c in policy.cookies)]
    ]
    # Storage keys after the cookies: where they live stands in the lifetime column, since
    # the area decides it (sessionStorage ends with the tab, localStorage stays until removed).
    rows += [
        {"name": s.name, "category": s.category, "lifetime": ", ".join(s.areas),
         "purpose": localized(s.purpose, policy.default_language, policy.default_language),
         "third_party": s.third_party, "storage": list(s.areas)}
        for s in policy.storage
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    # "Set by": the third party, else the site itself, as the banner's second layer says.
    set_by = [r["third_party"] or "this site" for r in rows]
    if args.format == "html":
        cells = "".join(
            f"<tr><td>{escape(_named(r))}</td><td>{escape(r['category'])}</td>"
            f"<td>{escape(r['purpose'])}</td><td>{escape(r['lifetime'])}</td><td>{escape(by)}</td></tr>\n"
            for r, by in zip(rows, set_by)
        )
        print("<table>\n<tr><th>Name</th><th>Category</th><th>Purpose</th><th>Lifetime</th><th>Set by</th></tr>\n"
              f"{cells}</table>")
    else:
        print("| Name | Category | Purpose | Lifetime | Set by |\n|---|---|---|---|---|")
        for r, by in zip(rows, set_by):
            name = f"`{r['name']}` (`{r['http_name']}` over http)" if "http_name" in r else f"`{r['name']}`"
            print(f"| {name} | {r['category']} | {r['purpose']} | {r['lifetime']} | {by} |")
    return 0


def _named(row: dict[str, Any]) -> str:
    return f"{row['name']} ({row['http_name']} over http)" if "http_name" in row else row["name"]


def _undeclared(args: argparse.Namespace) -> int:
    if not args.store:
        raise UsageError("--undeclared needs --store URL or the CONSENTLIB_STORE environment variable "
                         "(the store the middleware writes to).")
    rows = existing_store(args.store).undeclared_cookies()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']}\tseen {row['count']} time(s), first {row['first_seen']}, last {row['last_seen']}")
    return 0
