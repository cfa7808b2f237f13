"""The banner's view of the declared Web Storage keys (:class:`~consentlib.policy.Storage`).

The banner removes the keys of every category the visitor has not granted. It learns them
from its tag's ``data-consent-storage``: a list of ``[area, category, expression]``, one per
storage area and category, the expression (in the syntax JavaScript and Python share)
matching exactly the keys that category declares there. A key is the first declaration's that matches it,
exact keys first (:meth:`~consentlib.policy.Policy.storage_key`): that order is written into
each expression here, so the banner only tests a key against the refused categories'.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from consentlib.declarations import Storage

# The characters with a meaning in a JavaScript or Python regular expression (ECMA-262
# SyntaxCharacter, and '/' and '-'): a backslash makes each itself. Every other character,
# letters of any script too, is itself unescaped.
_SYNTAX = re.compile(r"[\\^$.*+?()[\]{}|/-]")


def key_pattern(name: str) -> str:
    """The expression (without anchors) of a declared key: ``*`` for any run of characters
    (``[\\s\\S]``: line breaks too), every other character itself, case and all."""
    return r"[\s\S]*".join(_SYNTAX.sub(r"\\\g<0>", part) for part in name.split("*"))


def keys_by_category(storage: Sequence[Storage]) -> list[tuple[str, str, str]]:
    """``(area, category, expression)``: per area (``localStorage``, ``sessionStorage``) and
    category, the anchored expression of the keys it declares there; ``storage`` in the
    policy's order (exact keys first). Each declaration's alternative first rules out the keys
    an earlier one of another category declares: a lookahead that the whole key is none of
    them. (A required category's keys are listed too: the banner never removes them, since
    every granted set holds the category.)"""
    alternatives: dict[tuple[str, str], list[str]] = {}
    earlier: dict[str, list[Storage]] = {}
    for item in storage:
        for area in item.areas:
            before = [key_pattern(other.name) for other in earlier.get(area, ()) if other.category != item.category]
            earlier.setdefault(area, []).append(item)
            guard = f"(?!(?:{'|'.join(before)})$)" if before else ""
            alternatives.setdefault((area, item.category), []).append(guard + key_pattern(item.name))
    return [(area, category, f"^(?:{'|'.join(patterns)})$") for (area, category), patterns in alternatives.items()]
