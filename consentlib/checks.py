"""Checks of option values: each takes the option's name and the value given.

Python takes a string where a list of strings is expected (it iterates the characters)
and any object where a bool is expected (``"no"`` is true), so either mistake would
make a setting silently mean something else. Both are refused when the object is
built, with a :class:`~consentlib.errors.ConfigurationError` that names the option and
says what to write. :data:`consentlib.options.OPTIONS` says which check each option has.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from consentlib.consent import ConsentCookie
from consentlib.errors import ConfigurationError
from consentlib.policy import Policy
from consentlib.store import Store
from consentlib.web.http import normalise_origin


@overload
def flag(name: str, value: Any, *, optional: Literal[False] = False) -> bool: ...


@overload
def flag(name: str, value: Any, *, optional: bool) -> bool | None: ...


def flag(name: str, value: Any, *, optional: bool = False) -> bool | None:
    """``value`` when it is True or False (or None, when ``optional``)."""
    if isinstance(value, bool) or (optional and value is None):
        return value
    allowed = "True, False or None" if optional else "True or False"
    raise ConfigurationError(f"{name} must be {allowed}, not {value!r}.")


def optional_flag(name: str, value: Any) -> bool | None:
    """``value`` when it is True, False or None."""
    return flag(name, value, optional=True)


def whole_number(name: str, value: Any, *, minimum: int, unit: str) -> int:
    """``value`` when it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number of {unit}, at least {minimum}, not {value!r}.")
    return value


def strings(name: str, value: Any, example: str) -> list[str]:
    """The strings of a list, tuple or set; never the characters of one string."""
    if isinstance(value, (str, bytes)) or isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{name} must be a list of strings, like [{example!r}], not {value!r}.")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(f"{name} must hold only strings, like {example!r}, not {item!r}.")
    return items


def origins(name: str, value: Any) -> frozenset[str]:
    """Web origins (``https://www.example.com``), normalised as the endpoints compare them."""
    found = set()
    for origin in strings(name, value, "https://www.example.com"):
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname \
                or parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigurationError(
                f"Each of {name} must be an origin, a scheme and a host like 'https://www.example.com' "
                f"(no path), not {origin!r}."
            )
        found.add(normalise_origin(origin))
    return frozenset(found)


def iso_date(name: str, value: Any) -> str | None:
    """None, or a date written YYYY-MM-DD (the GPC support resource's ``lastUpdate``)."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) == 10:
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise ConfigurationError(f"{name} must be a date written like '2026-11-27', or None, not {value!r}.")


def function(name: str, value: Any, *, optional: bool = True, shape: str) -> Any:
    """``value`` when it is callable (or None, when ``optional``)."""
    if callable(value) or (optional and value is None):
        return value
    raise ConfigurationError(f"{name} must be a function {shape}, not {value!r}.")


def one_of(name: str, value: Any, *, choices: tuple[str | None, ...], meaning: str) -> Any:
    """``value`` when it is one of ``choices`` (compared exactly: "Report" is a typo)."""
    if any(value is choice or (isinstance(value, str) and value == choice) for choice in choices):
        return value
    written = " or ".join(repr(choice) for choice in choices)
    raise ConfigurationError(f"{name} must be {written} ({meaning}), not {value!r}.")


MODE_MEANING = "'report' lets everything through and lists what 'enforce' would block"
CSP_MEANING = "None sends no third-party Content-Security-Policy"


def prefix_path(name: str, value: Any) -> str:
    """A URL path that starts and ends with ``/``: the consent endpoints live below it."""
    if not (isinstance(value, str) and value.startswith("/") and value.endswith("/") and len(value) > 2):
        raise ConfigurationError(f"{name} must start and end with '/', like '/_consent/', not {value!r}.")
    return value


def site_origin(name: str, value: Any) -> str | None:
    """None, or the site's origin (``https://example.com``), without a trailing slash."""
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
            or parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be the site's origin, like 'https://example.com', not {value!r}.")
    return str(value).rstrip("/")


# A DNS name (RFC 1035 §2.3.1, in ASCII: an IDN in its xn-- form) of two labels or more.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


def cookie_domain(name: str, value: Any) -> str | None:
    """None, or a bare domain (``example.com``) for the consent cookies' ``Domain``.

    A scheme, port or path would make a Domain attribute the browser ignores (RFC 6265bis
    §5.7.3), and a single label or an IP address shares nothing across subdomains:
    refused rather than silently giving host-only cookies under other names.
    """
    if value is None:
        return None
    domain = value.lower() if isinstance(value, str) else None
    if domain is None or len(domain) > 253 or not _DOMAIN.fullmatch(domain) or domain.rpartition(".")[2].isdigit():
        raise ConfigurationError(
            f"{name} must be a bare domain the site's hosts share, like 'example.com' (no scheme, port, path or "
            f"leading dot; an international name in its xn-- form), or None for cookies of this host alone, "
            f"not {value!r}.")
    return domain


def policy(name: str, value: Any) -> Policy:
    """A :class:`~consentlib.Policy` (a path naming one is loaded by ``options.load_policy``)."""
    if not isinstance(value, Policy):
        raise ConfigurationError(f"{name} must be a consentlib.Policy, not {value!r}.")
    return value


def secret_keys(name: str, value: Any) -> Any:
    """A key or a list of keys, each at least 16 characters; the sentence never shows a key."""
    try:
        ConsentCookie(value)
    except ConfigurationError as exc:
        # ConsentCookie's own sentence says what a key must be, and speaks of secret_key.
        raise ConfigurationError(str(exc).replace("secret_key", name, 1)) from None
    return value


def store(name: str, value: Any) -> Any:
    """A store URL or a :class:`~consentlib.store.Store`; the URL itself is judged when opened."""
    if not isinstance(value, (str, Store)):
        raise ConfigurationError(f"{name} must be a store URL like 'sqlite:///consent.db' or "
                                 f"'postgresql://user@host/db', or a consentlib Store, not {value!r}.")
    return value


def directory(name: str, value: Any) -> Any:
    """None, or a directory's path; what the directory holds is judged where it is read."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ConfigurationError(f"{name} must be the path of a directory, like 'mysite/consent_templates', "
                                 f"or None, not {value!r}.")
    return value


def directories(name: str, value: Any) -> tuple[str | os.PathLike[str], ...]:
    """Directories' paths (a list or tuple; one string is refused, not read letter by letter)."""
    if isinstance(value, (str, os.PathLike)) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (str, os.PathLike)) for v in value):
        raise ConfigurationError(f"{name} must be a list of directories, like ['mysite/locale'], not {value!r}.")
    for path in value:
        if not os.path.isdir(path):
            raise ConfigurationError(f"{name}: {path!s} is not a directory; give directories laid out like "
                                     f"consentlib/locale (<language>/LC_MESSAGES/consentlib.po).")
    return tuple(value)


def consent_mode(name: str, value: Any) -> dict[str, list[str]] | None:
    """``{"analytics": ["analytics_storage"]}``: Google Consent Mode types per category."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(
            f"{name} must map category names to lists of Consent Mode types, like "
            f"{{'analytics': ['analytics_storage']}}, not {value!r}.")
    return {category: strings(f"{name}[{category!r}]", types, "analytics_storage")
            for category, types in value.items()}


def mailer_needs_site_url(guardian_mailer: Any, site_url: Any) -> None:
    """A rule across two options: links mailed to guardians are built from ``site_url``."""
    if guardian_mailer is not None and site_url is None:
        raise ConfigurationError(
            "guardian_mailer needs site_url='https://your.site': the links mailed to guardians must not be "
            "built from a request's Host header, which any client can forge."
        )


IS_MINOR_SHAPE = ("taking the request (the WSGI environ, or the ASGI scope under consentlib.asgi) "
                  "and returning True or False")
GUARDIAN_MAILER_SHAPE = "(address, confirm_url, category_labels)"


def endpoint_options(*, prefix: Any, is_minor: Any, guardian_mailer: Any, site_url: Any, max_body: Any) -> None:
    """ConsentMiddleware's options about its endpoints: refused, with a sentence, unless
    usable as they are."""
    prefix_path("prefix", prefix)
    function("is_minor", is_minor, shape=IS_MINOR_SHAPE)
    function("guardian_mailer", guardian_mailer, shape=GUARDIAN_MAILER_SHAPE)
    site_origin("site_url", site_url)
    mailer_needs_site_url(guardian_mailer, site_url)
    whole_number("max_body", max_body, minimum=1024, unit="bytes")
