"""Which language a visitor reads, from ``Accept-Language`` (RFC 9110 §12.5.4).

The visitor's language ranges are taken in their order of preference (q-values, highest
first; equal q-values keep the header's order; ``q=0`` means "not this one"), and the
first one a message catalogue accepts wins; without one, the default language. The
banner chooses the same way (``pickLang``): Simplified Chinese for ``zh``, ``zh-CN``,
``zh-SG`` and ``zh-Hans``..., so ``zh-TW`` and ``zh-Hant`` get the default.
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
    """Whether a catalogue's ``patterns`` take ``language_range`` (both lower-case).

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


def choose(header: str | None, catalogues: Sequence[tuple[str, Sequence[str]]], default: str) -> str:
    """The tag of the first catalogue, by the visitor's preference, that accepts one of
    their ranges; ``default`` when none does (``*`` means "any", so the default too).

    ``catalogues`` are (tag, lower-case patterns) pairs.
    """
    for language_range in preferred_ranges(header):
        if language_range == "*":
            return default
        for tag, patterns in catalogues:
            if accepts(patterns, language_range):
                return tag
    return default
