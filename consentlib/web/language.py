"""Which language a visitor reads: one rule, applied once per request.

1. The site's own choice: ``environ["consentlib.language"]`` / ``scope["consentlib.language"]``,
   set by the application or an outer middleware (the Django door sets Django's active
   language there), when a catalogue serves it.
2. ``Accept-Language`` (RFC 9110 §12.5.4): the visitor's ranges by q-value, highest first
   (equal q-values keep the header's order; ``q=0`` means "not this one"); the first range a
   catalogue serves wins; ``*`` means "any", so the default.
3. The default language (the policy's ``default_language``, "en" unless it says otherwise).

A catalogue serves a range (RFC 4647 §3.4 lookup, case-insensitive) when its tag equals the
range, or the range with subtags taken off its end: ``de-AT`` -> ``de``, ``pt-BR`` -> ``pt-BR``
before ``pt`` (European Portuguese). Chinese is matched by script first, as browsers send
regions: ``zh``, ``zh-CN``, ``zh-SG`` -> ``zh-Hans``; ``zh-TW``, ``zh-HK``, ``zh-MO`` -> ``zh-Hant``.
A site's JSON catalogue may list further ranges under ``"@accepts"`` (a trailing ``*`` takes
further subtags: ``"fr*"`` takes ``fr`` and ``fr-CA``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# Only so many ranges are read: a visitor lists a handful, and a huge header must cost
# no more than a small one.
MAX_RANGES = 32
# RFC 9110 §12.4.2 weight: "q=" then 0, 0.xxx, 1 or 1.000; RFC 4647 §2.1 language-range.
_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_WEIGHT = re.compile(r"[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
# Regions whose Chinese is written in Traditional characters (CLDR likely subtags).
_TRADITIONAL = {"tw", "hk", "mo"}


def preferred_ranges(header: str | None) -> list[str]:
    """The header's language ranges, lower-cased, most preferred first; junk is skipped."""
    if not header:
        return []
    weighted = []
    for position, item in enumerate(header.split(",", MAX_RANGES)[:MAX_RANGES]):
        language, *params = (part.strip() for part in item.split(";"))
        if not _RANGE.fullmatch(language):
            continue
        weight = 1.0
        for param in params:
            match = _WEIGHT.fullmatch(param)
            if match is None:
                weight = -1.0  # a weight that cannot be read: the range is not understood
                break
            weight = float(match.group(1))
        if weight > 0:
            weighted.append((-weight, position, language.lower()))
    return [language for _, _, language in sorted(weighted)]


def accepts(patterns: Sequence[str], language_range: str) -> bool:
    """Whether a catalogue's ``"@accepts"`` ``patterns`` take ``language_range`` (both lower-case).

    ``"zh"`` takes exactly ``zh``; ``"zh-cn*"`` takes ``zh-cn`` and ``zh-cn-...``
    (a trailing ``*`` stands for further subtags, never for more letters).
    """
    for pattern in patterns:
        if pattern.endswith("*"):
            stem = pattern[:-1]
            if language_range == stem or language_range.startswith(stem + "-"):
                return True
        elif language_range == pattern:
            return True
    return False


def _candidates(language_range: str) -> list[str]:
    """The tags that may serve ``language_range`` (lower-case), best first."""
    subtags = language_range.split("-")
    found = []
    if subtags[0] == "zh" and "hans" not in subtags[1:] and "hant" not in subtags[1:]:
        script = "hant" if any(s in _TRADITIONAL for s in subtags[1:]) else "hans"
        found.append(f"zh-{script}")
    found += ["-".join(subtags[:n]) for n in range(len(subtags), 0, -1)]
    return found


def serving(language_range: str, catalogues: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The tag of the catalogue that serves ``language_range``, or None.

    ``catalogues`` are (tag, lower-case ``"@accepts"`` patterns) pairs.
    """
    language_range = language_range.lower()
    for tag, patterns in catalogues:
        if patterns and accepts(patterns, language_range):
            return tag
    by_tag = {tag.lower(): tag for tag, _ in catalogues}
    for candidate in _candidates(language_range):
        if candidate in by_tag:
            return by_tag[candidate]
    return None


def choose(header: str | None, catalogues: Sequence[tuple[str, Sequence[str]]], default: str,
           site: str | None = None) -> str:
    """The language of a request: the ``site``'s own choice when a catalogue serves it, else
    the first of the visitor's ``Accept-Language`` ranges one serves, else ``default``."""
    site = site.replace("_", "-") if site else None  # Python's and gettext's de_AT is BCP 47's de-AT
    if site and _RANGE.fullmatch(site) and site != "*":
        chosen = serving(site, catalogues)
        if chosen is not None:
            return chosen
    for language_range in preferred_ranges(header):
        if language_range == "*":
            return default
        chosen = serving(language_range, catalogues)
        if chosen is not None:
            return chosen
    return default
