"""Compile the ``.po`` catalogues into what the server and the banner load.

``python -m consentlib.locale`` writes ``compiled/<tag>.json`` next to this file
for every shipped ``<tag>/LC_MESSAGES/consentlib.po`` (``npm run build`` in js/ runs it
first); the test suite fails when a ``.po`` changed and its JSON was not rebuilt. A
site's ``locale_dirs`` are compiled the same way, in memory, when the middleware starts.

A compiled catalogue is ``{"language": tag, "dir": "ltr" | "rtl", "texts": {key: text}}``
with every key of the template; an empty ``msgstr`` is gettext's "not translated yet",
so the English stands in for it.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from consentlib.errors import ConfigurationError
from consentlib.locale import check, po

HERE = Path(__file__).parent
COMPILED = HERE / "compiled"
TEMPLATE = HERE / f"{po.DOMAIN}.pot"
# Languages written right to left (Unicode CLDR layout/characterOrder): by primary subtag,
# or by an Arabic or Hebrew script subtag (RFC 5646 §2.2.3).
_RTL = re.compile(r"(ar|arc|ckb|dv|fa|he|iw|ps|sd|ug|ur|yi)(-.*)?|.*-(arab|hebr|thaa|syrc|nkoo)(-.*)?", re.I)


def direction(tag: str) -> str:
    """``"rtl"`` for a language written right to left, else ``"ltr"`` (HTML ``dir``)."""
    return "rtl" if _RTL.fullmatch(tag) else "ltr"


def compiled(catalogue: po.Catalogue, tag: str, english: dict[str, str]) -> dict[str, Any]:
    """The compiled form of ``catalogue``: every key of ``english``, translated where it is."""
    texts = {key: catalogue.texts.get(key) or text for key, text in english.items()}
    return {"language": tag, "dir": direction(tag), "texts": texts}


def compile_directory(directory: Path, english: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The compiled catalogues of every ``.po`` under ``directory``, by tag.

    A text whose placeholders differ from the English's, or a key the template does not
    have, is refused: the page would lose a value or fail to render.
    """
    if not directory.is_dir():
        raise ConfigurationError(f"locale_dirs: {directory} is not a directory; give directories laid out like "
                                 f"consentlib/locale (<language>/LC_MESSAGES/{po.DOMAIN}.po).")
    found = {}
    for tag, path in po.sources(directory).items():
        catalogue = po.read(path)
        wrong = [f"{key}: not in consentlib's template" for key in sorted(set(catalogue.texts) - set(english))]
        wrong += check.wrong_placeholders(catalogue.texts, english)
        if wrong:
            raise ConfigurationError(f"{path}: " + "; ".join(wrong) + ".")
        found[tag] = compiled(catalogue, tag, english)
    return found


def shipped_english() -> dict[str, str]:
    """The English texts, by key: the template's msgids."""
    return po.read(TEMPLATE).english


def render(catalogue: dict[str, Any]) -> str:
    return json.dumps(catalogue, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> int:
    COMPILED.mkdir(exist_ok=True)
    catalogues = compile_directory(HERE, shipped_english())
    for stale in COMPILED.glob("*.json"):
        if stale.stem not in catalogues:
            stale.unlink()
    for tag, catalogue in catalogues.items():
        (COMPILED / f"{tag}.json").write_text(render(catalogue), "utf-8")
    print(f"compiled {', '.join(catalogues)} into {COMPILED.relative_to(HERE.parent.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
