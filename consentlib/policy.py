"""A site's consent policy: its categories, the regions whose law it follows, and what it
declares of each category (cookies, storage keys, beacon paths, third-party hosts: their
classes are in :mod:`consentlib.declarations` and importable from here too).

Everything here is frozen and validated when built, so a wrong declaration fails at
start-up with a sentence naming what to change, never while serving a request.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from consentlib.declarations import Beacon, Cookie, Host, Storage, storage_key_matches
from consentlib.errors import ConfigurationError
from consentlib.locale.texts import Text, text_of

__all__ = ["DEFAULT_AGES_OF_CONSENT", "REGIMES", "Beacon", "Category", "Cookie", "Host", "Policy", "Region", "Storage",
           "storage_key_matches"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Category:
    """A purpose the visitor can grant or refuse (GDPR: consent is per purpose).

    ``required=True`` marks strictly necessary processing, which needs no consent and
    cannot be refused. ``gpc=True`` marks sale/sharing purposes that a Global Privacy
    Control signal (``Sec-GPC: 1``) denies whatever the stored choice says.
    ``sale_or_share=True`` marks the sale or sharing of personal information (Cal. Civ.
    Code §1798.120, §1798.140(ad), (ah)): in an "opt-out" region a GPC signal denies it
    (11 CCR §7025), as it denies a ``gpc`` category everywhere. ``separate=True`` marks
    processing that needs its own, separate consent (PIPL Art 23 sharing with another
    handler, Art 29 sensitive data, Art 39 cross-border transfer): never granted by
    "Accept all", nor by default in an "opt-out" or "notice" region, only when the
    visitor ticks it on its own (see docs/regions.md).
    """

    name: str
    required: bool = False
    gpc: bool = False
    #: A text, ``{"en": ..., "de": ...}``, or a lazy translation string (consentlib.locale.texts).
    label: Text = ""
    description: Text = ""
    sale_or_share: bool = False
    separate: bool = False

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
        for flag in ("sale_or_share", "separate"):
            if self.required and getattr(self, flag):
                raise ConfigurationError(
                    f"Category {self.name!r} is required and {flag}=True at once: a required category is "
                    f"granted without asking, so it cannot need an opt-out or a separate consent. "
                    f"Drop {flag}=True or required=True."
                )
        object.__setattr__(self, "label", text_of(self.label, f"Category {self.name!r} label"))
        object.__setattr__(self, "description", text_of(self.description, f"Category {self.name!r} description"))
        if isinstance(self.label, str) and not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())




#: The regimes a region can follow, strictest first (see docs/regions.md).
REGIMES: tuple[str, ...] = ("opt-in", "opt-out", "notice")
# ISO 3166-1 alpha-2 ("DE"), or ISO 3166-2: the country, '-', 1-3 letters or digits ("US-CA").
_REGION_CODE = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


def _regime_error(regime: object, where: str) -> ConfigurationError:
    return ConfigurationError(
        f"{where} has regime {regime!r}: use one of {', '.join(map(repr, REGIMES))} "
        "(opt-in: ask first, as GDPR and ePrivacy Art 5(3) require; opt-out: allowed until the visitor "
        "opts out, as CCPA/CPRA; notice: allowed, with a notice).")


@dataclass(frozen=True)
class Region:
    """Where a visitor is, and the consent regime the law there asks for.

    ``countries`` holds ISO 3166-1 alpha-2 codes (``"DE"``) and ISO 3166-2 subdivision
    codes (``"US-CA"``); a subdivision wins over its country. ``regime`` is
    ``"opt-in"`` (ask before, GDPR Art 6(1)(a), 7 and ePrivacy Art 5(3)), ``"opt-out"``
    (allowed until the visitor opts out: Cal. Civ. Code §1798.120, §1798.135 and the
    state laws like it) or ``"notice"`` (allowed, with a dismissible notice).
    """

    name: str
    regime: str
    countries: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigurationError(f"A Region needs a name, like Region('California', 'opt-out', ['US-CA']), not {self.name!r}.")
        if self.regime not in REGIMES:
            raise _regime_error(self.regime, f"Region {self.name!r}")
        if isinstance(self.countries, str) or not isinstance(self.countries, Sequence):
            raise ConfigurationError(
                f"Region {self.name!r} has countries={self.countries!r}: give a list of codes, like ['US-CA'].")
        object.__setattr__(self, "countries", tuple(self.countries))
        for code in self.countries:
            if not isinstance(code, str) or not _REGION_CODE.match(code):
                raise ConfigurationError(
                    f"Region {self.name!r} lists {code!r}, which is not an ISO 3166 code: write a country as two "
                    "capital letters ('DE', ISO 3166-1 alpha-2) or a subdivision as country, '-', its code "
                    "('US-CA', ISO 3166-2).")
        if not self.countries:
            raise ConfigurationError(f"Region {self.name!r} lists no countries; name at least one, like ['DE'].")


# GDPR Art 8(1): 16 unless a member state chose 13-15. As the member states' laws set
# them (national GDPR implementation acts), plus the UK (13), China (PIPL Art 31: 14)
# and the US (COPPA: 13). A site overrides any of them with ``ages_of_consent``.
DEFAULT_AGES_OF_CONSENT: Mapping[str, int] = MappingProxyType({
    "AT": 14, "BE": 13, "BG": 14, "HR": 16, "CY": 14, "CZ": 15, "DK": 13, "EE": 13, "FI": 13,
    "FR": 15, "DE": 16, "GR": 15, "HU": 16, "IE": 16, "IT": 14, "LV": 13, "LT": 14, "LU": 16,
    "MT": 13, "NL": 16, "PL": 16, "PT": 13, "RO": 16, "SK": 16, "SI": 15, "ES": 14, "SE": 13,
    "IS": 13, "LI": 16, "NO": 13, "GB": 13, "CN": 14, "US": 13,
})


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A site's consent policy. Bump ``revision`` to ask every visitor again."""

    revision: int
    # Any sequence (a list, as in the examples) is accepted and kept as a tuple.
    categories: Sequence[Category]
    cookies: Sequence[Cookie] = ()
    #: Web Storage keys (localStorage, sessionStorage) the site's scripts write; kept with
    #: the exact keys first, since an exact declaration wins over a pattern.
    storage: Sequence[Storage] = ()
    beacons: Sequence[Beacon] = ()
    #: Other origins the site's pages reach (see docs/third-parties.md).
    hosts: Sequence[Host] = ()
    #: The category that per-visitor ETags need (ePrivacy Art 5(3): an ETag read back
    #: from the browser cache is an identifier). ``None``: ETags always pass through.
    etags: str | None = None
    #: Where the privacy notice lives; receipts cite it (ISO/IEC TS 27560 "notice").
    notice_url: str = "/privacy"
    #: Who is responsible for the processing; receipts cite it.
    controller: str = ""
    #: Below this age only a guardian's consent counts (GDPR Art 8(1) default: 16).
    age_of_consent: int = 16
    #: Per-jurisdiction ages (ISO 3166-1 alpha-2), merged over DEFAULT_AGES_OF_CONSENT.
    ages_of_consent: Mapping[str, int] = field(default_factory=dict, hash=False)
    #: Where the law asks for another regime than ``default_regime`` (docs/regions.md).
    regions: Sequence[Region] = ()
    #: The regime of a visitor in no region, or whose region is unknown: the strictest
    #: by default, since an unknown visitor may be where consent is asked first.
    default_regime: str = "opt-in"
    #: The language of a visitor whose browser asks for none consentlib has (BCP 47 tag,
    #: one of the shipped or ``locale_dirs`` catalogues; consentlib.web.language).
    default_language: str = "en"

    _by_name: dict[str, Category] = field(init=False, repr=False, compare=False)
    _exact: dict[str, Cookie] = field(init=False, repr=False, compare=False)
    _globs: tuple[Cookie, ...] = field(init=False, repr=False, compare=False)
    _regions: dict[str, Region] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "regions", tuple(self.regions))
        self._check_regions()
        object.__setattr__(self, "cookies", tuple(self.cookies))
        object.__setattr__(self, "beacons", tuple(self.beacons))
        object.__setattr__(self, "hosts", tuple(self.hosts))
        if isinstance(self.revision, bool) or not isinstance(self.revision, int) or self.revision < 1:
            raise ConfigurationError(f"Policy revision must be a positive integer, not {self.revision!r}.")
        if not isinstance(self.default_language, str) or not self.default_language:
            raise ConfigurationError(f"Policy default_language must be a language tag like 'en' or 'de', "
                                     f"not {self.default_language!r}.")
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
        object.__setattr__(self, "storage", self._checked_storage())
        patterns: dict[str, Host] = {}
        for host in self.hosts:
            if not isinstance(host, Host):
                raise ConfigurationError(f"Policy hosts must be Host objects, not {host!r}.")
            self._check_category(host.category, f"Host {host.pattern!r}")
            if host.pattern in patterns and patterns[host.pattern].category != host.category:
                raise ConfigurationError(
                    f"Host {host.pattern!r} is declared twice (categories {patterns[host.pattern].category!r} "
                    f"and {host.category!r}); a host serves one category, keep one declaration.")
            patterns[host.pattern] = host
        if self.etags is not None:
            self._check_category(self.etags, "etags")
        ages = {**DEFAULT_AGES_OF_CONSENT, **{k.upper(): v for k, v in dict(self.ages_of_consent).items()}}
        for where, age in [("age_of_consent", self.age_of_consent), *ages.items()]:
            if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= 21:
                raise ConfigurationError(f"The age of consent for {where} must be a whole number of years, not {age!r}.")
        object.__setattr__(self, "ages_of_consent", MappingProxyType(ages))

    def _checked_storage(self) -> tuple[Storage, ...]:
        """The storage declarations, exact keys first (an exact declaration wins over a pattern)."""
        seen: dict[tuple[str, str], Storage] = {}
        for item in self.storage:
            if not isinstance(item, Storage):
                raise ConfigurationError(f"Policy storage must be Storage objects, not {item!r}.")
            self._check_category(item.category, f"Storage {item.name!r}")
            for area in item.areas:
                if (item.name, area) in seen:
                    raise ConfigurationError(
                        f"Storage {item.name!r} is declared twice in {area} (categories "
                        f"{seen[item.name, area].category!r} and {item.category!r}); a key serves one "
                        "category, keep one declaration.")
                seen[item.name, area] = item
        return tuple(sorted(tuple(self.storage), key=lambda item: item.is_glob))

    def _check_regions(self) -> None:
        if self.default_regime not in REGIMES:
            raise _regime_error(self.default_regime, "Policy default_regime")
        by_code: dict[str, Region] = {}
        for region in self.regions:
            if not isinstance(region, Region):
                raise ConfigurationError(f"Policy regions must be Region objects, not {region!r}.")
            for code in region.countries:
                if code in by_code:
                    raise ConfigurationError(
                        f"{code!r} is in two regions, {by_code[code].name!r} and {region.name!r}: a place follows "
                        "one law here, so list it in one of them.")
                by_code[code] = region
        object.__setattr__(self, "_regions", by_code)

    def region(self, code: str | None) -> Region | None:
        """The region of ``code`` (``"US-CA"``, ``"DE"``): its subdivision's, else its country's."""
        if not code:
            return None
        return self._regions.get(code) or self._regions.get(code[:2])

    def regime_of(self, code: str | None) -> str:
        """The regime a visitor at ``code`` (None: unknown) is under."""
        region = self.region(code)
        return region.regime if region is not None else self.default_regime

    @property
    def sale_or_share_categories(self) -> frozenset[str]:
        return frozenset(c.name for c in self.categories if c.sale_or_share)

    @property
    def separate(self) -> frozenset[str]:
        """Categories only their own, explicit action grants (PIPL Art 23, 29, 39)."""
        return frozenset(c.name for c in self.categories if c.separate)

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

    def storage_key(self, key: str, area: str) -> Storage | None:
        """The declaration that covers ``key`` in ``area`` (``localStorage`` or
        ``sessionStorage``): exact first, then the first pattern, as the banner judges it."""
        return next((s for s in self.storage if area in s.areas and s.matches(key)), None)

    def host(self, scheme: str, host: str, port: int | None) -> Host | None:
        """The first declared :class:`Host` that allows ``scheme://host:port``, or None."""
        for declared in self.hosts:
            if declared.matches(scheme, host, port):
                return declared
        return None

    def age_of_consent_in(self, jurisdiction: str | None) -> int:
        """The age of digital consent in ``jurisdiction`` (e.g. "DE", "CN", or a resolved
        region such as "US-CA", whose country counts), else the default."""
        if jurisdiction:
            code = jurisdiction.upper()
            return self.ages_of_consent.get(code, self.ages_of_consent.get(code[:2], self.age_of_consent))
        return self.age_of_consent

    def is_minor(self, age: int | None, jurisdiction: str | None = None) -> bool:
        """True when a visitor of ``age`` years is below the age of digital consent there.

        An unknown age is not a minor: consentlib does not guess ages; the site decides.
        """
        return age is not None and age < self.age_of_consent_in(jurisdiction)
