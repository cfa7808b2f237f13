"""Which catalogue serves a language range (RFC 4647 §3.4 lookup, and Chinese by script).

Below the web layer, so that a Policy's translated texts (consentlib.locale.texts) are
matched exactly as a request's language is chosen (consentlib.web.language).
"""
from __future__ import annotations

from collections.abc import Sequence

# Regions whose Chinese is written in Traditional characters (CLDR likely subtags).
_TRADITIONAL = {"tw", "hk", "mo"}


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
