"""The one check of an e-mail address, for every place that takes one: a guardian's
address (:mod:`consentlib.web.guardian`), a mail recipient (:class:`consentlib.MailTracker`)
and a site's own forms (the Flask example's newsletter sign-up). A leaf: it imports nothing
of consentlib.

Not every address RFC 5322 allows: an address here goes into a ``To`` header and a
keyed hash, so nothing that could add a recipient or a header passes (no line break,
space, comment, quoted string, ``<>``, ``,`` or ``;``); nor does a domain that is not a
dotted host name. Non-ASCII local parts (RFC 6531) and IDN domains are kept.
"""
from __future__ import annotations

import re

# RFC 5321 §4.5.3.1.1 (local part: 64 octets), §4.5.3.1.3 (a path of 256 with its "<>").
MAX_LOCAL = 64
MAX_ADDRESS = 254
# RFC 1035 §2.3.1 labels, at least two; the last starts with a letter (not an IP address).
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}")
_NOT_IN_LOCAL = frozenset('@<>",;\\()[]')


def email_address(text: object) -> str | None:
    """``text`` as an address to mail (stripped, its domain lower-cased: only the domain
    is case-blind, RFC 5321 §2.4), or None if it is not one."""
    if not isinstance(text, str):
        return None
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not 0 < len(local) <= MAX_LOCAL or len(address) > MAX_ADDRESS:
        return None
    if not local.isprintable() or any(ch.isspace() or ch in _NOT_IN_LOCAL for ch in local):
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:  # RFC 5322 §3.4.1 dot-atom
        return None
    try:
        host = domain.encode("idna").decode("ascii")  # IDNA 2003 (RFC 3490), as the stdlib has it
    except UnicodeError:
        return None
    if not _DOMAIN.fullmatch(host):
        return None
    return f"{local}@{domain.lower()}"
