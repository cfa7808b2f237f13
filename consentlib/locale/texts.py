"""A site's own texts in several languages: a category's label and description, a
cookie's purpose.

Each takes a plain string (one language for everyone), a mapping from language tags to
strings (``{"en": "Statistics", "de": "Statistik"}``), or a lazy translation string of
the site's framework (Django's ``gettext_lazy``, Flask-Babel's ``lazy_gettext``: anything
whose ``str()`` gives the text of the language active for the request), read each time
a page, the banner's state or ``declaration.json`` is answered.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Union

from consentlib.errors import ConfigurationError
from consentlib.locale.match import serving


class Translations(Mapping[str, str]):
    """A site's text by language tag; hashable, so a Policy stays a value."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = dict(texts)

    def __getitem__(self, tag: str) -> str:
        return self._texts[tag]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._texts.items())))

    def __repr__(self) -> str:
        return f"Translations({self._texts!r})"


#: What a Category's label and description and a Cookie's purpose hold once checked.
Text = Union[str, Translations, Any]


def text_of(value: Any, what: str) -> Text:
    """``value`` checked as a site's text; ``what`` names it in the error."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if not value or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
            raise ConfigurationError(
                f'{what} must map language tags to texts, like {{"en": "Statistics", "de": "Statistik"}}, '
                f"not {dict(value)!r}.")
        return Translations(value)
    if value is None or isinstance(value, (bool, int, float, bytes)):
        raise ConfigurationError(f"{what} must be a text, a mapping of language tags to texts, or a lazy "
                                 f"translation string (gettext_lazy), not {value!r}.")
    return value  # a lazy translation string: str() of it, per request


def localized(value: Text, language: str, default: str = "en") -> str:
    """``value`` in ``language``: from a mapping by the tag (with subtag fallback, as a
    request's language is chosen), else the default language's, else English, else the
    first given; a lazy string is made a string now."""
    if isinstance(value, str):
        return value
    if isinstance(value, Translations):
        tag = serving(language, [(t, ()) for t in value]) or serving(default, [(t, ()) for t in value])
        if tag is None:
            tag = "en" if "en" in value else next(iter(value))
        return value[tag]
    return str(value)
