"""Cookie gating: which ``Set-Cookie`` lines leave, which ``Cookie`` pairs arrive.

Cookies are matched by name against the policy (exact declaration first, then globs).
A cookie the policy does not declare belongs to no category a visitor could grant, so
it is treated as non-necessary and never passes (fail closed).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.http import dump_cookie

from consentlib.gate.bounded import BoundedCache
from consentlib.data.cookiedb import declaration_hint
from consentlib.errors import StoreUnavailable
from consentlib.policy import Policy

if TYPE_CHECKING:
    from consentlib.store import Store

UNDECLARED = ""  # the "category" of a cookie the policy does not declare
# Category per cookie name: names up to 256 characters, 256 KiB in all. A longer name
# (no real cookie has one) is looked up in the policy each time instead of kept.
_NAME_MAX = 256
_CATEGORIES_BUDGET = 256 * 1024
_BROWSER_COOKIE_MAX = 4096
_UNDECLARED_NAMES_LIMIT = 1000

log = logging.getLogger("consentlib")


class CookieGate:
    """Answers "which category is cookie X?" fast, and rewrites cookie headers."""

    def __init__(self, policy: Policy, own_cookies: str | tuple[str, ...]) -> None:
        self.policy = policy
        # consentlib's own cookies (the choice itself) always reach the app: they are
        # strictly necessary, and the app server may read them (scripts cannot read the id).
        self.own_cookies = frozenset((own_cookies,) if isinstance(own_cookies, str) else own_cookies)
        self._required = policy.required
        # Cookie names come from the app and from visitors' Cookie headers; the cache is
        # bounded by bytes so a visitor sending long random names cannot grow it.
        self.categories: BoundedCache[str, str] = BoundedCache(budget=_CATEGORIES_BUDGET, max_size=_NAME_MAX)

    def category_of(self, name: str) -> str:
        """The declared category of cookie ``name``, or :data:`UNDECLARED`."""
        try:
            return self.categories[name]
        except KeyError:
            pass
        declared = self.policy.cookie(name)
        category = declared.category if declared is not None else UNDECLARED
        self.categories.remember(name, category)
        return category

    def is_passed(self, name: str, granted: frozenset[str]) -> bool:
        return name in self.own_cookies or self.category_of(name) in granted

    def filter_request_cookies(self, header: str, granted: frozenset[str]) -> tuple[str, list[str]]:
        """The ``Cookie`` header without pairs the visitor did not consent to.

        Returns the new header and the names of declared cookies that were removed
        (the browser still holds them, so the response should expire them).
        """
        return self.filter_parts(header.split(";"), header, granted)

    def filter_parts(self, parts: list[str], header: str, granted: frozenset[str]) -> tuple[str, list[str]]:
        """:meth:`filter_request_cookies` of ``header`` already split at ``;`` into ``parts``."""
        kept: list[str] = []
        refused: list[str] = []
        changed = False
        # On every request of every visitor: lookups inlined rather than method calls.
        known = self.categories
        own = self.own_cookies
        for part in parts:
            pair = part.strip()
            if not pair:
                changed = True
                continue
            name = pair.partition("=")[0].rstrip()
            category = known.get(name)
            if category is None:
                category = self.category_of(name)
            if category in granted or name in own:
                kept.append(pair)
            else:
                changed = True
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("consentlib withheld cookie %r from the app: %s", name[:_BROWSER_COOKIE_MAX],
                              "the policy does not declare it" if category == UNDECLARED
                              else f"its category {category!r} is not granted on this request")
                # RFC 6265bis §5.6: browsers store no cookie whose name and value pass
                # 4096 bytes, so a longer name was forged: there is nothing to expire.
                if len(name) <= _BROWSER_COOKIE_MAX and category != UNDECLARED and name not in refused:
                    refused.append(name)
        return ("; ".join(kept) if changed else header), refused

    def expiry_header(self, name: str, *, secure: bool) -> str:
        """A ``Set-Cookie`` that deletes ``name`` where the policy says it was set.

        RFC 6265 §5.3: a cookie is only replaced by one with the same name, domain and
        path, so the declared path and domain are used; Max-Age=0 expires it at once.
        """
        declared = self.policy.cookie(name)
        path = declared.path if declared else "/"
        domain = declared.domain if declared else None
        # RFC 6265bis §4.1.3: __Secure-/__Host- cookies are only accepted with Secure.
        secure = secure or name.startswith(("__Secure-", "__Host-"))
        # max_size=0: werkzeug's too-large warning would keep each distinct long name in
        # the warnings registry for the life of the process.
        return dump_cookie(name, "", max_age=0, path=path, domain=domain, secure=secure, max_size=0)

    def expiry_headers(self, names: Iterable[str], *, secure: bool) -> list[tuple[str, str]]:
        """``Set-Cookie`` header lines that expire each of ``names``."""
        return [("Set-Cookie", self.expiry_header(name, secure=secure)) for name in names]


def set_cookie_name(value: str) -> str:
    """The cookie name of a ``Set-Cookie`` value (RFC 6265 §5.2: up to the first '=')."""
    name, sep, _ = value.partition(";")[0].partition("=")
    # Without '=', the name is empty (RFC 6265 §5.2 step 5); such a line is undeclared.
    # Browsers trim spaces and tabs only (RFC 6265 §5.2 step 4, WSP), never str.strip()'s
    # Unicode blanks: "\xa0sid" is another cookie than the necessary "sid".
    return name.strip(" \t") if sep else ""


def set_cookie_parts(value: str) -> tuple[str, str, dict[str, str | bool]]:
    """A ``Set-Cookie`` value read leniently, as a browser reads it (RFC 6265 §5.2): the
    name (see :func:`set_cookie_name`), the value, and each attribute by its lower-case
    name (``True`` for a flag such as ``HttpOnly``). Nothing is refused: a door that
    shows a framework the lines the gate let through must never fail on one."""
    pair, *attributes = value.split(";")
    name, sep, cookie_value = pair.partition("=")
    found: dict[str, str | bool] = {}
    for attribute in attributes:
        attr, has_value, attr_value = attribute.strip(" \t").partition("=")
        found[attr.strip(" \t").lower()] = attr_value.strip(" \t") if has_value else True
    if not sep:  # RFC 6265 §5.2 step 5: no '=', an empty name and the whole pair as value
        return "", name.strip(" \t"), found
    return name.strip(" \t"), cookie_value.strip(" \t"), found


class UndeclaredCookies:
    """Cookies the app set that the policy does not declare: warned once, recorded.

    ``consentlib cookies --undeclared`` lists what was recorded. Bounded: an app that
    invents cookie names (``tracker_<id>``) is reported once as such instead of
    growing memory and the store without end.
    """

    def __init__(self, store: Store, category_names: Iterable[str] = ()) -> None:
        self.store = store
        self.category_names = tuple(category_names)  # for a declaration hint that fits the policy
        self._known: set[str] = set()
        self._overflow = False

    def note(self, name: str) -> bool:
        """Warn about and record ``name`` once; False while the store cannot record it."""
        if name in self._known:
            return True
        if len(self._known) >= _UNDECLARED_NAMES_LIMIT:
            if not self._overflow:
                self._overflow = True
                log.warning("consentlib has blocked %d different undeclared cookie names; it stops listing "
                            "new ones. Does the app put ids in cookie names?", _UNDECLARED_NAMES_LIMIT)
            return True
        try:
            self.store.note_undeclared_cookie(name)
        except StoreUnavailable:
            # Not remembered: the next response that sets it tries again.
            log.exception("consentlib could not record undeclared cookie %r", name)
            return False
        self._known.add(name)
        log.warning("consentlib blocked cookie %r: the policy does not declare it, so it counts as "
                    "non-necessary. %s", name, declaration_hint(name, self.category_names))
        return True
