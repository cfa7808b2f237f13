"""A reader of the gettext ``.po`` files consentlib ships and a site adds (``locale_dirs``).

Only what the catalogues use is read: ``msgctxt`` (the stable key), ``msgid`` (the
English) and ``msgstr`` (the translation), each possibly continued on further quoted
lines, with the C escapes gettext writes (``\\n``, ``\\t``, ``\\"``, ``\\\\``). Comments and
plural forms are not needed: a text with a number has one key per form
(``lifetime_day``, ``lifetime_days``). Anything else is refused with the file's line, so
a translator learns what to fix rather than seeing a text silently missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from consentlib.errors import ConfigurationError

DOMAIN = "consentlib"
_LINE = re.compile(r'(msgctxt|msgid|msgstr)\s+(".*")\s*')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


@dataclass
class Catalogue:
    """One ``.po`` file: its ``Language`` header and its texts by key (``msgctxt``)."""

    language: str
    english: dict[str, str] = field(default_factory=dict)  # key -> msgid
    texts: dict[str, str] = field(default_factory=dict)  # key -> msgstr


def _unquote(quoted: str, where: str) -> str:
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ConfigurationError(f"{where}: a text must be written in double quotes.")
    body = quoted[1:-1]
    try:
        return re.sub(r'\\(.)', lambda m: _ESCAPES[m.group(1)], body)
    except KeyError as exc:
        raise ConfigurationError(f"{where}: unknown escape \\{exc.args[0]}; use \\n, \\t, \\\" or \\\\.") from None


def parse(text: str, name: str) -> Catalogue:
    """The catalogue of a ``.po`` file's ``text``; ``name`` is used in errors."""
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{name}, line {number}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(stripped)
        if match:
            keyword, quoted = match.groups()
            if keyword in current or (keyword == "msgctxt" and current):
                entries.append(current)
                current = {}
            current[keyword] = _unquote(quoted, where)
            last = keyword
        elif stripped.startswith('"') and last:
            current[last] += _unquote(stripped, where)
        else:
            raise ConfigurationError(f"{where}: expected msgctxt, msgid, msgstr or a quoted continuation, "
                                     f"not {stripped[:40]!r}.")
    if current:
        entries.append(current)
    catalogue = Catalogue(language="")
    for entry in entries:
        if "msgid" not in entry or "msgstr" not in entry:
            raise ConfigurationError(f"{name}: every entry needs a msgid and a msgstr ({entry}).")
        if entry["msgid"] == "" and "msgctxt" not in entry:
            for header in entry["msgstr"].splitlines():
                key, _, value = header.partition(":")
                if key.strip().lower() == "language":
                    catalogue.language = value.strip().replace("_", "-")
            continue
        key = entry.get("msgctxt")
        if not key:
            raise ConfigurationError(f"{name}: the entry {entry['msgid'][:40]!r} has no msgctxt, its key.")
        catalogue.english[key] = entry["msgid"]
        catalogue.texts[key] = entry["msgstr"]
    return catalogue


def read(path: Path) -> Catalogue:
    try:
        return parse(path.read_text("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8: {exc}; save it as UTF-8.") from None


def sources(directory: Path) -> dict[str, Path]:
    """The ``<tag>/LC_MESSAGES/consentlib.po`` files under ``directory``, by tag."""
    return {path.parents[1].name: path for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}
