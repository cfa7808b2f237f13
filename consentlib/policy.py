"""What a site declares: its consent categories, cookies and beacon paths.

Everything here is frozen and validated when built, so a wrong declaration fails at
start-up with a sentence naming what to change, never while serving a request.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from consentlib.errors import ConfigurationError

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
# RFC 6265 §4.1.1: a cookie-name is an RFC 2616 token; glob characters are ours.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Category:
    """A purpose the visitor can grant or refuse (GDPR: consent is per purpose).

    ``required=True`` marks strictly necessary processing, which needs no consent and
    cannot be refused. ``gpc=True`` marks sale/sharing purposes that a Global Privacy
    Control signal (``Sec-GPC: 1``) denies whatever the stored choice says.
    """

    name: str
    required: bool = False
    gpc: bool = False
    label: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigurationError(
                f"Category name {self.name!r} is not usable: use 1-40 lower-case letters, "
                "digits, '_' or '-', starting with a letter."
            )
        if self.required and self.gpc:
            raise ConfigurationError(
                f"Category {self.name!r} is required and gpc=True at once: a required "
                "category cannot be refused, so a GPC signal could not deny it. "
                "Drop gpc=True or required=True."
            )
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Cookie:
    """A cookie the site (or a library it uses) sets, and the category it serves.

    ``name`` is an exact name or a glob (``_ga*``); an exact declaration wins over a
    glob. ``path`` and ``domain`` are the ones the cookie is set with: the middleware
    needs them to expire it on withdrawal, because a browser only replaces a cookie
    with the same name, path and domain (RFC 6265 §5.3 step 11).
    """

    name: str
    category: str
    purpose: str = ""
    lifetime: str = ""
    path: str = "/"
    domain: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _COOKIE_NAME.match(self.name):
            raise ConfigurationError(
                f"Cookie name {self.name!r} is not a valid cookie name (RFC 6265 token) or glob."
            )

    @property
    def is_glob(self) -> bool:
        return any(c in _GLOB_CHARS for c in self.name)


@dataclass(frozen=True)
class Beacon:
    """A request path that only exists to track (pixel, ``sendBeacon`` endpoint).

    ``path`` is exact, or a prefix when it ends in ``/``. Without the category the
    middleware answers the request itself and the app never sees it.
    """

    path: str
    category: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigurationError(f"Beacon path {self.path!r} must start with '/'.")

    def matches(self, path: str) -> bool:
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A site's consent policy. Bump ``revision`` to ask every visitor again."""

    revision: int
    categories: tuple[Category, ...]
    cookies: tuple[Cookie, ...] = ()
    beacons: tuple[Beacon, ...] = ()
    #: The category that per-visitor ETags need (ePrivacy Art 5(3): an ETag read back
    #: from the browser cache is an identifier). ``None``: ETags always pass through.
    etags: str | None = None
    #: Where the privacy notice lives; receipts cite it (ISO/IEC TS 27560 "notice").
    notice_url: str = "/privacy"
    #: Who is responsible for the processing; receipts cite it.
    controller: str = ""

    _by_name: dict = field(init=False, repr=False, compare=False)
    _exact: dict = field(init=False, repr=False, compare=False)
    _globs: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "cookies", tuple(self.cookies))
        object.__setattr__(self, "beacons", tuple(self.beacons))
        if isinstance(self.revision, bool) or not isinstance(self.revision, int) or self.revision < 1:
            raise ConfigurationError(f"Policy revision must be a positive integer, not {self.revision!r}.")
        if not self.categories:
            raise ConfigurationError("A Policy needs at least one Category, e.g. Category('necessary', required=True).")
        by_name: dict[str, Category] = {}
        for category in self.categories:
            if not isinstance(category, Category):
                raise ConfigurationError(f"Policy categories must be Category objects, not {category!r}.")
            if category.name in by_name:
                raise ConfigurationError(f"Category {category.name!r} is declared twice; keep one.")
            by_name[category.name] = category
        object.__setattr__(self, "_by_name", by_name)

        exact: dict[str, Cookie] = {}
        globs: dict[str, Cookie] = {}
        for cookie in self.cookies:
            if not isinstance(cookie, Cookie):
                raise ConfigurationError(f"Policy cookies must be Cookie objects, not {cookie!r}.")
            self._check_category(cookie.category, f"Cookie {cookie.name!r}")
            table = globs if cookie.is_glob else exact
            if cookie.name in table:
                raise ConfigurationError(
                    f"Cookie {cookie.name!r} is declared twice (categories "
                    f"{table[cookie.name].category!r} and {cookie.category!r}); "
                    "a cookie serves one category, keep one declaration."
                )
            table[cookie.name] = cookie
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_globs", tuple(globs.values()))

        for beacon in self.beacons:
            if not isinstance(beacon, Beacon):
                raise ConfigurationError(f"Policy beacons must be Beacon objects, not {beacon!r}.")
            self._check_category(beacon.category, f"Beacon {beacon.path!r}")
        if self.etags is not None:
            self._check_category(self.etags, "etags")

    def _check_category(self, name: str, what: str) -> None:
        if name not in self._by_name:
            known = ", ".join(sorted(self._by_name))
            raise ConfigurationError(
                f"{what} names category {name!r}, which the policy does not declare; "
                f"use one of: {known}, or add Category({name!r})."
            )

    # -- lookups -----------------------------------------------------------------

    def category(self, name: str) -> Category | None:
        return self._by_name.get(name)

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @property
    def required(self) -> frozenset[str]:
        return frozenset(c.name for c in self.categories if c.required)

    @property
    def gpc_categories(self) -> frozenset[str]:
        return frozenset(c.name for c in self.categories if c.gpc)

    def cookie(self, name: str) -> Cookie | None:
        """The declaration that covers cookie ``name``: exact first, then the first glob."""
        found = self._exact.get(name)
        if found is not None:
            return found
        for declared in self._globs:
            if fnmatch.fnmatchcase(name, declared.name):
                return declared
        return None

    def beacon(self, path: str) -> Beacon | None:
        for beacon in self.beacons:
            if beacon.matches(path):
                return beacon
        return None
