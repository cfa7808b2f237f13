"""Response header fields as a browser will read them off the wire.

A WSGI server writes each header as ``name + ": " + value + CRLF`` (PEP 3333), and most
check neither part. A browser then trims the blanks around a name, compares it without
regard to case, ends it at the first ':' and starts a new field at every line break.
So ``("Set-Cookie ", ...)``, ``("Set-Cookie:_fbp=1;", "")`` or a value holding
``"\\r\\nSet-Cookie: ..."`` all set a cookie that an exact name lookup never saw.

The rule here: a name that is not an RFC 9110 token (§5.1: ``field-name = token``), or
a value holding CR, LF or NUL (§5.5), never leaves. Every other name is judged by its
ASCII lower case, which is what browsers and servers compare (never ``str.lower()``'s
Unicode case mapping, under which the Kelvin sign U+212A becomes 'k').

Imports nothing else from consentlib, so the ETag firewall can use it on its own.
"""
from __future__ import annotations

import logging
import re

__all__ = ["canonical_name", "unsafe_value", "warn_dropped"]

log = logging.getLogger("consentlib")

# RFC 9110 §5.6.2: tchar. Written out, ASCII only, and matched without IGNORECASE (under
# which a Unicode pattern lets 'K' U+212A match 'k').
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
NOT_A_TOKEN = ""

# Names come from the app (which may echo a visitor's input into one): remembered up to
# a bounded number of short names, never a long one.
_NAMES_LIMIT = 512
_NAME_MAX = 128
_names: dict[str, str] = {}


def canonical_name(name: object) -> str:
    """The ASCII lower case of header ``name``, or :data:`NOT_A_TOKEN` (empty) for a
    name that is not an RFC 9110 token (blanks, ':', control or non-ASCII characters)."""
    try:
        return _names[name]  # type: ignore[index]  # any object: a name that is not a str is a TypeError below
    except (KeyError, TypeError):
        pass
    if isinstance(name, str) and _TOKEN.fullmatch(name):
        canonical = name.translate(_ASCII_LOWER)
    else:
        canonical = NOT_A_TOKEN
    if isinstance(name, str) and len(name) <= _NAME_MAX:
        if len(_names) >= _NAMES_LIMIT:
            _names.clear()  # a new generation: O(1), no scan of a dict with holes
        _names[name] = canonical
    return canonical


def unsafe_value(value: object) -> bool:
    """True when ``value`` could end its line early or is no header value at all."""
    return not isinstance(value, str) or "\n" in value or "\r" in value or "\0" in value


def warn_dropped(name: object, warned: set[str]) -> None:
    """Log that a header was dropped and how to fix it, once per name in ``warned``
    (the caller's; at most a bounded number of names)."""
    key = repr(name)[:_NAME_MAX]
    if key in warned or len(warned) >= _NAMES_LIMIT:
        return
    warned.add(key)
    if canonical_name(name) == NOT_A_TOKEN:
        fixed = name.strip(" \t\r\n\x0b\x0c\x00").partition(":")[0] if isinstance(name, str) else ""
        fix = f"Send it as {fixed!r}" if _TOKEN.fullmatch(fixed) and fixed.isascii() else \
            "Use only letters, digits and !#$%&'*+-.^_`|~ in a header name"
        log.warning(
            "consentlib dropped the response header %s: its name is not an HTTP token (RFC 9110 §5.1), "
            "and browsers read such a name differently from the gate (they trim blanks, stop at ':'), "
            "so it could set a cookie or a validator nobody allowed. %s.", key, fix,
        )
    else:
        log.warning(
            "consentlib dropped the response header %s: its value holds a line break or NUL, which "
            "would start a header of its own on the wire (RFC 9110 §5.5). Remove CR, LF and NUL "
            "from the value.", key,
        )
