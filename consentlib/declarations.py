"""What a site declares beside its categories: the cookies it sets, the Web Storage keys
its scripts write, its beacon paths and the other origins its pages reach, each with the
category it serves (:class:`consentlib.policy.Policy` holds them).

Each is frozen and validated when built, so a wrong declaration fails at start-up with a
sentence naming what to change, never while serving a request.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from consentlib.errors import ConfigurationError
from consentlib.locale.texts import Text, text_of

__all__ = ["Beacon", "Cookie", "Host", "Storage", "storage_key_matches"]

# RFC 6265 §4.1.1: a cookie-name is an RFC 2616 token; glob characters are ours.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")
_GLOB_CHARS = frozenset("*?[")
# CSP3 §2.3.1 host-source, without a path: [ scheme "://" ] host [ ":" port ], where the
# host is "*." followed by labels, or labels (letters, digits and '-' joined by '.').
_HOST_SOURCE = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?"
    r"(?P<host>(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?)"
    r"(?::(?P<port>[0-9]{1,5}|\*))?$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _check_purpose_and_provider(item: Cookie | Storage, what: str, example: str, own: str) -> None:
    """Keep ``item``'s purpose as a text (:func:`text_of`), and refuse a provider that is not one."""
    object.__setattr__(item, "purpose", text_of(item.purpose, f"{what} {item.name!r} purpose"))
    if not isinstance(item.third_party, str):
        raise ConfigurationError(
            f"{what} {item.name!r} has third_party={item.third_party!r}: name the provider as text "
            f"(e.g. third_party={example!r}), or leave it '' when the site itself {own}."
        )


@dataclass(frozen=True)
class Cookie:
    """A cookie the site (or a library it uses) sets, and the category it serves.

    ``name`` is an exact name or a glob (``_ga*``); an exact declaration wins over a
    glob. ``path`` and ``domain`` are the ones the cookie is set with: the middleware
    needs them to expire it on withdrawal, because a browser only replaces a cookie
    with the same name, path and domain (RFC 6265 §5.3 step 11). ``third_party`` names
    the provider other than the site that sets or reads the cookie (``"Google"`` for
    ``_ga*``); empty means the site itself. The banner's second layer and the
    preferences page show it, since visitors must be told who receives their data
    (GDPR Art 13(1)(e); EDPB Guidelines 05/2020 on informed consent).
    """

    name: str
    category: str
    purpose: Text = ""  # a text, {"en": ..., "de": ...}, or a lazy translation string
    lifetime: str = ""
    path: str = "/"
    domain: str | None = None
    third_party: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _COOKIE_NAME.match(self.name):
            raise ConfigurationError(
                f"Cookie name {self.name!r} is not a valid cookie name (RFC 6265 token) or glob."
            )
        _check_purpose_and_provider(self, "Cookie", "Google", "sets the cookie")

    @property
    def is_glob(self) -> bool:
        return any(c in _GLOB_CHARS for c in self.name)


#: Where a :class:`Storage` key lives: ``localStorage``, ``sessionStorage``, or both.
STORAGE_KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "local": ("localStorage",), "session": ("sessionStorage",), "both": ("localStorage", "sessionStorage")})


@dataclass(frozen=True)
class Storage:
    """A Web Storage key the site's scripts (or a library's) write, and the category it serves.

    ePrivacy Art 5(3) covers any information stored on the visitor's device, not only
    cookies: a ``localStorage`` or ``sessionStorage`` key needs the same consent. ``name``
    is a key as the browser stores it (case and all) or a pattern where ``*`` stands for
    any run of characters (``_hj*``); every other character, ``?`` and ``[`` too, is
    itself. An exact declaration wins over a pattern. ``kind`` says where the key lives:
    ``"local"``, ``"session"`` or ``"both"``. The banner removes the keys of every category
    the visitor has not granted, on a refusal and on each page load (docs/http.md);
    ``third_party`` names the provider other than the site, as for a :class:`Cookie`.
    """

    name: str
    category: str
    purpose: Text = ""  # a text, {"en": ..., "de": ...}, or a lazy translation string
    kind: str = "both"
    third_party: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name.strip("*") == "" or any(
                ord(c) < 32 or ord(c) == 127 for c in self.name):
            raise ConfigurationError(
                f"Storage key {self.name!r} is not usable: write the key as the site's scripts store it "
                "('_hjSession'), or a pattern with '*' for any characters ('_hj*'); not empty, not only '*' "
                "(that would match every key of the site), and no control characters."
            )
        if self.kind not in STORAGE_KINDS:
            raise ConfigurationError(
                f"Storage {self.name!r} has kind={self.kind!r}: use 'local' (localStorage), 'session' "
                "(sessionStorage) or 'both'."
            )
        _check_purpose_and_provider(self, "Storage", "Hotjar", "stores the key")

    @property
    def is_glob(self) -> bool:
        return "*" in self.name

    @property
    def areas(self) -> tuple[str, ...]:
        """The Web Storage areas the key lives in (``localStorage``, ``sessionStorage``)."""
        return STORAGE_KINDS[self.kind]

    def matches(self, key: str) -> bool:
        """Whether ``key`` is this declaration's: equal, or fitting its ``*`` pattern (case-sensitive)."""
        return storage_key_matches(self.name, key)


def storage_key_matches(pattern: str, key: str) -> bool:
    """Whether the Web Storage ``key`` fits ``pattern``, as the banner judges it: case and all,
    ``*`` for any run of characters, every other character itself."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), key, re.DOTALL) is not None


@dataclass(frozen=True)
class Beacon:
    """A request path that only exists to track (pixel, ``sendBeacon`` endpoint).

    ``path`` is exact, or a prefix when it ends in ``/``. Without the category the
    middleware answers the request itself and the app never sees it, in every spelling
    a router could route to the same view (``//collect``, ``/%2Fcollect``,
    ``/collect/``, ``/./collect``, ``/collect;x``; see :mod:`consentlib.gate.beacons`). Declare it
    as the browser requests it (``SCRIPT_NAME`` + ``PATH_INFO``) or relative to where
    the middleware is mounted (``PATH_INFO``): both are matched.
    """

    path: str
    category: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigurationError(f"Beacon path {self.path!r} must start with '/'.")


@dataclass(frozen=True)
class Host:
    """Another origin the site's pages load from or send to (a tag manager, an analytics
    script, an ad pixel, a video iframe, a font), and the category it serves.

    ``pattern`` is a CSP host source (CSP3 §2.3.1) without a path: ``example.com``,
    ``*.example.com`` (every subdomain, not ``example.com`` itself), ``example.com:8443``,
    ``https://cdn.example.net``. With ``third_party_csp`` on, a page may reach the host
    only when its category is granted (see docs/third-parties.md). ``provider`` names who
    runs it (``"Google"``), for the declaration.
    """

    pattern: str
    category: str
    provider: str | None = None

    def __post_init__(self) -> None:
        found = _HOST_SOURCE.match(self.pattern.strip().lower()) if isinstance(self.pattern, str) else None
        if found is None or self.pattern != self.pattern.strip():
            raise ConfigurationError(
                f"Host pattern {self.pattern!r} is not a CSP host source: write a host name such as "
                "'example.com' or '*.example.com', optionally with a scheme ('https://cdn.example.net') "
                "or a port ('example.com:8443'); no path, no spaces, no quotes, no ';' or ','."
            )
        port = found.group("port")
        if port not in (None, "*") and not 0 < int(port) < 65536:
            raise ConfigurationError(f"Host pattern {self.pattern!r} has port {port}: use a port from 1 to 65535.")
        # Kept lower-case: host names are case-insensitive (RFC 4343), and the pattern is
        # written into the Content-Security-Policy header as it stands.
        object.__setattr__(self, "pattern", self.pattern.lower())
        if self.provider is not None and not isinstance(self.provider, str):
            raise ConfigurationError(
                f"Host {self.pattern!r} has provider={self.provider!r}: name the provider as text "
                "(e.g. provider='Google'), or leave it out."
            )

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        """Whether a request to ``scheme://host:port`` (lower-case; ``port`` None for the
        scheme's default) is one this pattern allows, as CSP3 §6.7.2.8 matches it."""
        found = _HOST_SOURCE.match(self.pattern)
        assert found is not None  # checked when built
        want_scheme, want_host, want_port = found.group("scheme"), found.group("host").rstrip("."), found.group("port")
        if want_scheme is not None and want_scheme != scheme and not (
                (want_scheme, scheme) in (("http", "https"), ("ws", "wss"))):
            return False  # CSP3 allows the secure upgrade of the scheme written, nothing else
        host = host.rstrip(".")
        if want_host.startswith("*."):
            if not host.endswith(want_host[1:]):
                return False
        elif host != want_host:
            return False
        if want_port == "*":
            return True
        actual = port if port is not None else _DEFAULT_PORTS.get(scheme)
        if want_port is None:
            # No port written: the default port of the scheme written, or of the request's.
            return actual == _DEFAULT_PORTS.get(want_scheme or scheme) or (
                want_scheme == "http" and actual == 443)
        return actual == int(want_port)
