"""The HTML templates and message catalogues of consentlib's own pages.

A template is an HTML file with four kinds of tag, and nothing else is special:

``{{ name }}``
    A value, HTML-escaped (unless it is ``markupsafe.Markup``, a fragment already rendered).
``{{ t.key }}``
    The text ``key`` of the visitor's language, escaped; ``{name}`` in the text is
    replaced by the value ``name``, escaped too.
``{% if name %}`` ... ``{% else %}`` ... ``{% endif %}`` (and ``{% if not name %}``)
    A part shown when the value is true (or false); they nest.

The texts come from the shipped catalogues (``consentlib/locale``, compiled from
gettext ``.po`` files), then a site's ``locale_dirs`` (``<tag>/LC_MESSAGES/consentlib.po``,
compiled when the middleware starts), then a site's ``templates/messages/<tag>.json``
(keys to plain texts, laid over the catalogue of that language: change one sentence by
giving one key). Texts are plain, not HTML: they are escaped. A key missing from a
catalogue falls back to English. Which language a request reads is
:mod:`consentlib.web.language`'s one rule.

A site's ``templates`` directory wins over the shipped files: a template there replaces
the shipped one of the same name.

``page.html`` is the layout every page is put in: the site's own layout replaces it,
with ``{{ lang }}``, ``{{ dir }}`` (``ltr`` or ``rtl``), ``{{ title }}``, ``{{ stylesheet }}`` (the URL of the pages'
stylesheet) and ``{{ body }}`` (the page itself) to place.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from consentlib.errors import ConfigurationError
from consentlib.locale import compile as locale
from consentlib.web.assets import manifest
from consentlib.web.language import choose

if TYPE_CHECKING:
    from consentlib.web.exchange import Request

SHIPPED = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = "en"
_TAG = re.compile(r"\{\{\s*(t\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|\{%\s*(if not|if|else|endif)\s*([A-Za-z_][A-Za-z0-9_]*)?\s*%\}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


def html_text(value: Any) -> str:
    # A rendered fragment is markupsafe's Markup, the type Jinja and Flask know too, so a
    # site that puts one into its own templates does not escape it twice. Other values
    # are escaped with html.escape (quote=True: &quot; and &#x27;), as they always were.
    return value if isinstance(value, Markup) else escape(str(value))


@dataclass(frozen=True)
class _Node:
    kind: str  # "text", "value", "message", "if"
    name: str = ""
    negate: bool = False
    then: tuple[_Node, ...] = ()
    otherwise: tuple[_Node, ...] = ()


def parse(source: str, name: str) -> tuple[_Node, ...]:
    """The template's tree; a ConfigurationError names the file and the problem."""
    stack: list[tuple[list[_Node], _Node | None, list[_Node] | None]] = []
    current: list[_Node] = []
    position = 0
    for match in _TAG.finditer(source):
        current.append(_Node("text", source[position:match.start()]))
        position = match.end()
        message, value, statement, subject = match.groups()
        if value:
            current.append(_Node("message" if message else "value", value))
        elif statement in ("if", "if not"):
            if not subject:
                raise ConfigurationError(f"Template {name}: write {{% if name %}}, naming a value.")
            stack.append((current, _Node("if", subject, statement == "if not"), None))
            current = []
        elif statement == "else":
            if not stack or stack[-1][2] is not None:
                raise ConfigurationError(f"Template {name}: {{% else %}} outside an {{% if %}}.")
            parent, node, _ = stack.pop()
            stack.append((parent, node, current))
            current = []
        else:  # endif
            if not stack:
                raise ConfigurationError(f"Template {name}: {{% endif %}} without an {{% if %}}.")
            parent, node, then = stack.pop()
            assert node is not None
            branches = (tuple(then), tuple(current)) if then is not None else (tuple(current), ())
            parent.append(_Node("if", node.name, node.negate, *branches))
            current = parent
    if stack:
        raise ConfigurationError(f"Template {name}: an {{% if %}} has no {{% endif %}}.")
    current.append(_Node("text", source[position:]))
    return tuple(n for n in current if n.kind != "text" or n.name)


def _names(nodes: tuple[_Node, ...]) -> set[tuple[str, str]]:
    found = set()
    for node in nodes:
        if node.kind != "text":
            found.add((node.kind, node.name))
        found |= _names(node.then) | _names(node.otherwise)
    return found


@dataclass(frozen=True)
class Catalogue:
    tag: str
    patterns: tuple[str, ...]
    texts: Mapping[str, str]
    direction: str = "ltr"


class Templates:
    """The shipped templates and catalogues, with a site's ``directory`` laid over them.

    Everything is read and checked here, once: a template that names a value its page
    does not have, or a catalogue that is not a JSON object of texts, is refused with a
    :class:`~consentlib.errors.ConfigurationError` when the middleware is built.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, prefix: str = "/_consent/",
                 locale_dirs: Sequence[str | os.PathLike[str]] = (), default_language: str = DEFAULT_LANGUAGE) -> None:
        #: Where the pages' stylesheet is served: under its hashed name, cached for a year.
        self.stylesheet = prefix + manifest().get("pages.css", "pages.css")
        if directory is not None:
            if not isinstance(directory, (str, os.PathLike)) or not Path(directory).is_dir():
                raise ConfigurationError(
                    f"templates must be the path of a directory of templates (page.html, messages/fr.json...), "
                    f"not {directory!r}.")
            directory = Path(directory)
        shipped = {path.name: parse(path.read_text("utf-8"), path.name) for path in SHIPPED.glob("*.html")}
        self.templates = dict(shipped)
        compiled = shipped_catalogues()
        english = dict(compiled[DEFAULT_LANGUAGE]["texts"])
        for locale_dir in locale_dirs:
            for tag, catalogue in locale.compile_directory(Path(locale_dir), english).items():
                if tag in compiled:  # the site's translation is laid over the shipped one
                    catalogue["texts"] = {**compiled[tag]["texts"], **{
                        k: v for k, v in catalogue["texts"].items() if v != english[k]}}
                compiled[tag] = catalogue
        catalogues: dict[str, dict[str, Any]] = {tag: dict(c["texts"]) for tag, c in compiled.items()}
        if directory is not None:
            for path in directory.glob("*.html"):
                if path.name not in shipped:
                    raise ConfigurationError(
                        f"Template {path} replaces no page template; the templates are: {', '.join(sorted(shipped))}.")
                self.templates[path.name] = parse(path.read_text("utf-8"), str(path))
            for path in (directory / "messages").glob("*.json"):
                catalogues[path.stem] = {**catalogues.get(path.stem, {}), **_read_catalogue(path)}
        english = {k: v for k, v in catalogues[DEFAULT_LANGUAGE].items() if not k.startswith("@")}
        self.catalogues: dict[str, Catalogue] = {}
        for tag, texts in sorted(catalogues.items(), key=lambda item: item[0] != DEFAULT_LANGUAGE):
            if not _LANGUAGE_TAG.fullmatch(tag):
                raise ConfigurationError(f"Catalogue {tag}.json: name it by its language tag, like fr.json or pt-BR.json.")
            patterns = texts.get("@accepts", [])
            if not (isinstance(patterns, list) and all(isinstance(p, str) for p in patterns)):
                raise ConfigurationError(f'Catalogue {tag}.json: "@accepts" must be a list like ["{tag}*"].')
            merged = {**english, **{k: v for k, v in texts.items() if not k.startswith("@")}}
            self.catalogues[tag] = Catalogue(tag, tuple(p.lower() for p in patterns), merged, locale.direction(tag))
        if default_language not in self.catalogues:
            raise ConfigurationError(
                f"default_language {default_language!r} has no catalogue; the languages are: "
                f"{', '.join(self.catalogues)} (add one with locale_dirs).")
        self.default_language = default_language
        self._choices = [(c.tag, c.patterns) for c in self.catalogues.values()]
        for name, nodes in self.templates.items():
            known = {key for kind, key in _names(shipped[name]) if kind != "message"}
            for kind, key in sorted(_names(nodes)):
                if kind == "message" and key not in english:
                    raise ConfigurationError(f"Template {name} uses the text t.{key}, which no catalogue has.")
                if kind != "message" and key not in known:
                    raise ConfigurationError(
                        f"Template {name} uses the value {key!r}, which that page does not have; it has: "
                        f"{', '.join(sorted(known))}.")

    @property
    def languages(self) -> list[str]:
        return list(self.catalogues)

    def choose(self, accept_language: str | None, site: str | None = None) -> str:
        """The language of a request (:mod:`consentlib.web.language`): the ``site``'s own
        choice, else ``Accept-Language``, else the default language."""
        return choose(accept_language, self._choices, self.default_language, site)

    def for_language(self, accept_language: str | None, site: str | None = None) -> Page:
        """The pages in the language an ``Accept-Language`` header (or the site) asks for."""
        return self.page(self.choose(accept_language, site))

    def for_request(self, request: Request) -> Page:
        """The pages in the request's language: chosen once, by the one rule."""
        return self.for_language(request.header("accept-language"), request.language)

    def page(self, language: str = DEFAULT_LANGUAGE) -> Page:
        return Page(self, self.catalogues[language])


class Page:
    """Templates rendered in one language."""

    def __init__(self, templates: Templates, catalogue: Catalogue) -> None:
        self.templates = templates
        self.catalogue = catalogue
        self.language = catalogue.tag
        self.direction = catalogue.direction

    def text(self, key: str, /, **values: Any) -> Markup:
        """The text ``key``, escaped, with ``{name}`` filled from ``values`` (escaped)."""
        text = escape(self.catalogue.texts[key])
        return Markup(_PLACEHOLDER.sub(lambda m: html_text(values[m.group(1)]) if m.group(1) in values else m.group(0),
                                     text))

    def render(self, template: str, /, **values: Any) -> Markup:
        return Markup("".join(self._render(self.templates.templates[template], values)))

    def _render(self, nodes: tuple[_Node, ...], values: dict[str, Any]) -> Iterator[str]:
        for node in nodes:
            if node.kind == "text":
                yield node.name
            elif node.kind == "value":
                yield html_text(values.get(node.name, ""))
            elif node.kind == "message":
                yield self.text(node.name, **values)
            else:
                yield from self._render(node.then if bool(values.get(node.name)) != node.negate else node.otherwise,
                                        values)

    def document(self, title: Any, body: Markup) -> str:
        """A whole page: ``title`` (a text, escaped) as its title and heading, then ``body``."""
        return self.render("page.html", lang=self.language, dir=self.direction, title=title, body=body,
                           stylesheet=self.templates.stylesheet)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The answer says which language it is in, and that it depends on
        ``Accept-Language`` (RFC 9110 §12.5.5, §8.5), so caches keep one per language."""
        return [("Content-Language", self.language), ("Vary", "Accept-Language")]


def _read_catalogue(path: Path) -> dict[str, Any]:
    try:
        texts = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"Catalogue {path} is not valid UTF-8 JSON: {exc}.") from None
    if not isinstance(texts, dict) or not all(
            isinstance(v, str) for k, v in texts.items() if not k.startswith("@")):
        raise ConfigurationError(f'Catalogue {path} must be a JSON object of texts, like {{"accept_all": "..."}}.')
    return texts


_SHIPPED: dict[str, dict[str, Any]] | None = None


def shipped_catalogues() -> dict[str, dict[str, Any]]:
    """The compiled shipped catalogues (``consentlib/locale/compiled/<tag>.json``), by tag."""
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = {path.stem: json.loads(path.read_text("utf-8")) for path in sorted(locale.COMPILED.glob("*.json"))}
    return {tag: dict(catalogue) for tag, catalogue in _SHIPPED.items()}


_DEFAULT: Templates | None = None


def default_templates() -> Templates:
    """The shipped templates (for pages rendered outside a middleware, in English)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Templates()
    return _DEFAULT
