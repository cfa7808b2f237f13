"""Checks of keyword options, shared by ConsentMiddleware, MailTracker and FlaskConsent.

Python takes a string where a list of strings is expected (it iterates the characters)
and any object where a bool is expected (``"no"`` is true), so either mistake would
make a setting silently mean something else. Both are refused when the object is
built, with a :class:`~consentlib.errors.ConfigurationError` that says what to write.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from consentlib.errors import ConfigurationError
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


def endpoint_options(*, prefix: Any, is_minor: Any, guardian_mailer: Any, site_url: Any, max_body: Any) -> None:
    """ConsentMiddleware's options about its endpoints: refused, with a sentence, unless
    usable as they are."""
    if not (isinstance(prefix, str) and prefix.startswith("/") and prefix.endswith("/") and len(prefix) > 2):
        raise ConfigurationError(f"prefix must start and end with '/', like '/_consent/', not {prefix!r}.")
    if is_minor is not None and not callable(is_minor):
        raise ConfigurationError("is_minor must be a function taking the request (the WSGI environ, or the ASGI "
                                 "scope under consentlib.asgi) and returning True or False.")
    if guardian_mailer is not None and not callable(guardian_mailer):
        raise ConfigurationError("guardian_mailer must be a function (address, confirm_url, category_labels).")
    if site_url is not None:
        parts = urlsplit(site_url) if isinstance(site_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
                or parts.path.strip("/") or parts.query or parts.fragment:
            raise ConfigurationError(f"site_url must be the site's origin, like 'https://example.com', not {site_url!r}.")
    if guardian_mailer is not None and site_url is None:
        raise ConfigurationError(
            "guardian_mailer needs site_url='https://your.site': the links mailed to guardians must not be "
            "built from a request's Host header, which any client can forge."
        )
    if not isinstance(max_body, int) or max_body < 1024:
        raise ConfigurationError(f"max_body must be an integer of at least 1024 bytes, not {max_body!r}.")
