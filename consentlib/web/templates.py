"""The HTML templates and message catalogues of consentlib's own pages.

A template is an HTML file with four kinds of tag, and nothing else is special:

``{{ name }}``
    A value, HTML-escaped (unless it is ``markupsafe.Markup``, a fragment already rendered).
``{{ t.key }}``
    The text ``key`` of the visitor's language, escaped; ``{name}`` in the text is
    replaced by the value ``name``, escaped too.
``{% if name %}`` ... ``{% else %}`` ... ``{% endif %}`` (and ``{% if not name %}``)
    A part shown when the value is true (or false); they nest.

A catalogue, ``messages/<language tag>.json``, maps keys to plain texts (not HTML: they
are escaped). ``"@accepts"`` lists the ``Accept-Language`` ranges it serves (a trailing
``*`` takes further subtags: ``"fr*"`` takes ``fr`` and ``fr-CA``); by default its own
tag and further subtags. A key missing from a catalogue falls back to English.

A site's ``templates`` directory wins over the shipped files: a template there replaces
the shipped one of the same name; a catalogue there is laid over the shipped one of the
same language (change one sentence by giving one key), or adds a language.

``page.html`` is the layout every page is put in: the site's own layout replaces it,
with ``{{ lang }}``, ``{{ title }}``, ``{{ stylesheet }}`` (the URL of the pages'
stylesheet) and ``{{ body }}`` (the page itself) to place.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from consentlib.errors import ConfigurationError
from consentlib.web.assets import manifest
from consentlib.web.language import choose

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


class Templates:
    """The shipped templates and catalogues, with a site's ``directory`` laid over them.

    Everything is read and checked here, once: a template that names a value its page
    does not have, or a catalogue that is not a JSON object of texts, is refused with a
    :class:`~consentlib.errors.ConfigurationError` when the middleware is built.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, prefix: str = "/_consent/") -> None:
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
        catalogues = {path.stem: _read_catalogue(path) for path in (SHIPPED / "messages").glob("*.json")}
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
            patterns = texts.get("@accepts", [f"{tag}*"])
            if not (isinstance(patterns, list) and all(isinstance(p, str) for p in patterns)):
                raise ConfigurationError(f'Catalogue {tag}.json: "@accepts" must be a list like ["{tag}*"].')
            merged = {**english, **{k: v for k, v in texts.items() if not k.startswith("@")}}
            self.catalogues[tag] = Catalogue(tag, tuple(p.lower() for p in patterns), merged)
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

    def for_language(self, accept_language: str | None) -> Page:
        """The pages in the language an ``Accept-Language`` header asks for."""
        return self.page(choose(accept_language, self._choices, DEFAULT_LANGUAGE))

    def page(self, language: str = DEFAULT_LANGUAGE) -> Page:
        return Page(self, self.catalogues[language])


class Page:
    """Templates rendered in one language."""

    def __init__(self, templates: Templates, catalogue: Catalogue) -> None:
        self.templates = templates
        self.catalogue = catalogue
        self.language = catalogue.tag

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
        return self.render("page.html", lang=self.language, title=title, body=body,
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


_DEFAULT: Templates | None = None


def default_templates() -> Templates:
    """The shipped templates (for pages rendered outside a middleware, in English)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Templates()
    return _DEFAULT
