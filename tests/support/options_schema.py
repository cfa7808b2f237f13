"""Comparisons of each list of options with the schema, ``consentlib.options.OPTIONS``.

Each is a function of (schema, the thing checked) that returns the differences in
words, an empty list when there are none; tests/unit/test_options_schema.py runs them
on the real things, and on doctored ones to show that they can fail.
"""
from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Mapping, Sequence

from consentlib.options import REQUIRED, Option

# (name, kind, default, annotation) of one parameter.
Expected = tuple[str, str, object, str]


# -- what each door should declare, from the schema -----------------------------------------


def middleware_parameters(schema: Sequence[Option], door: str) -> list[Expected]:
    """The parameters after ``(self, app)`` of ``door``'s ConsentMiddleware."""
    return [(option.name, "POSITIONAL_OR_KEYWORD" if option.positional else "KEYWORD_ONLY",
             inspect.Parameter.empty if option.default is REQUIRED else option.default,
             option.asgi_type if door == "asgi" and option.asgi_type else option.type)
            for option in schema if door in option.doors]


def _optional(annotation: str) -> str:
    return annotation if "None" in annotation.split(" | ") else f"{annotation} | None"


def flask_parameters(schema: Sequence[Option]) -> list[Expected]:
    """FlaskConsent's: the same names and types, but None, "not given", by default, so
    that an option left out can come from ``app.config``."""
    return [(option.name, "POSITIONAL_OR_KEYWORD" if option.positional else "KEYWORD_ONLY", None,
             _optional(option.type)) for option in schema if "flask" in option.doors]


def signature_differences(expected: list[Expected], signature: inspect.Signature) -> list[str]:
    """How the parameters after ``(self, app)`` (and before ``**typos``) differ from ``expected``."""
    parameters = [p for p in list(signature.parameters.values())[2:] if p.kind is not p.VAR_KEYWORD]
    found: dict[str, Expected] = {p.name: (p.name, p.kind.name, p.default, p.annotation) for p in parameters}
    wanted = {entry[0]: entry for entry in expected}
    differences = [f"{name} is in the schema but not in the signature" for name in wanted if name not in found]
    differences += [f"{name} is in the signature but not in the schema" for name in found if name not in wanted]
    for name in wanted.keys() & found.keys():
        for what, want, have in zip(("kind", "default", "annotation"), wanted[name][1:], found[name][1:]):
            if want != have or type(want) is not type(have):
                differences.append(f"{name}: the schema's {what} is {want!r}, the signature's {have!r}")
    if not differences and list(found) != list(wanted):
        differences.append(f"the order differs: the schema's is {list(wanted)}, the signature's {list(found)}")
    return sorted(differences)


def key_differences(schema: Sequence[Option], keys: Mapping[str, str], *, door: str, prefix: str = "") -> list[str]:
    """How a settings-key -> option mapping differs from the schema's keys for ``door``."""
    wanted = {prefix + option.setting: option.name for option in schema if door in option.doors}
    differences = [f"{key} (for {name}) is missing" for key, name in wanted.items() if key not in keys]
    differences += [f"{key} is no key of the schema's" for key in keys if key not in wanted]
    differences += [f"{key} gives {keys[key]}, not {name}" for key, name in wanted.items()
                    if key in keys and keys[key] != name]
    return sorted(differences)


def docs_rows(markdown: str) -> dict[str, tuple[str, str]]:
    """The options table of docs/options.md: option -> (key, default cell)."""
    lines = markdown.splitlines()
    start = lines.index("| option | key | default | meaning and security consequence |")
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        # The first three cells hold no "|": option, key, default.
        option, key, default = (cell.strip() for cell in line.split("|")[1:4])
        rows[option.strip("`")] = (key.strip("`"), default)
    return rows


def documented_default(cell: str) -> object:
    """``required``, or the Python literal in the cell's first code span (``16384`` (16 KiB))."""
    if cell == "required":
        return REQUIRED
    match = re.match(r"`([^`]+)`", cell)
    if match is None:
        return f"no code span in {cell!r}"
    try:
        return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return f"no Python literal in {cell!r}"


def docs_differences(schema: Sequence[Option], markdown: str) -> list[str]:
    """How the table in docs/options.md differs from the schema: a row per option, in
    the schema's order, with its key and its default."""
    rows = docs_rows(markdown)
    wanted = {option.name: option for option in schema}
    differences = [f"{name} has no row" for name in wanted if name not in rows]
    differences += [f"{name} has a row but is no option" for name in rows if name not in wanted]
    for name in wanted.keys() & rows.keys():
        option, (key, cell) = wanted[name], rows[name]
        if key != option.setting:
            differences.append(f"{name}: the docs give the key {key}, the schema {option.setting}")
        default = documented_default(cell)
        if default != option.default or type(default) is not type(option.default):
            differences.append(f"{name}: the docs give the default {cell}, the schema {option.default!r}")
    if not differences and list(rows) != list(wanted):
        differences.append("the rows are not in the schema's order")
    return sorted(differences)
