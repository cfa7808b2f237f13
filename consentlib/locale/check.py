"""What is wrong with a catalogue, compared with the template (the English).

A translation is complete when it has every key of the template and no other, none
empty, and each keeps the English's ``{placeholders}``, the same ones, as many times:
a missing ``{list}`` would drop the list's name from a sentence, an added one would fail
to render. The tests run this over every shipped catalogue; a site's ``locale_dirs`` are
checked for placeholders when the middleware starts (an empty text there is gettext's
"not translated yet", and the English stands in).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def wrong_placeholders(texts: Mapping[str, str], english: Mapping[str, str]) -> list[str]:
    """A sentence for each text whose placeholders differ from the English's."""
    return [f"{key}: the placeholders must be {sorted(placeholders(english[key]).elements())}, "
            f"not {sorted(placeholders(text).elements())}"
            for key, text in sorted(texts.items())
            if key in english and text and placeholders(text) != placeholders(english[key])]


def problems(texts: Mapping[str, str], english: Mapping[str, str]) -> list[str]:
    """Every way ``texts`` is not a complete translation of ``english``, as sentences."""
    found = [f"{key}: missing; translate it" for key in sorted(set(english) - set(texts))]
    found += [f"{key}: not in the template; remove it" for key in sorted(set(texts) - set(english))]
    found += [f"{key}: empty; translate it" for key, text in sorted(texts.items())
              if key in english and not text.strip()]
    return found + wrong_placeholders(texts, english)
