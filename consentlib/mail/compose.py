"""Editing a mail for MailTracker: tracked links in HTML, the footer, List-Unsubscribe.

Links are found with :mod:`html.parser` (so anchors inside comments, scripts or
attribute values are left alone) and only the ``href`` of each real ``<a>`` start tag
is replaced in the original text; the rest of the HTML stays byte for byte.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.policy import Policy
from html import escape
from html.parser import HTMLParser

from consentlib.mail.tokens import is_web_url

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class _LinkFinder(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        # start and end of each tracked <a> start tag, its attributes, whether it ends "/>"
        self.links: list[tuple[int, int, list[tuple[str, str | None]], bool]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", html)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool = False) -> None:
        if tag != "a":
            return
        href = next((value for name, value in attrs if name == "href"), None)
        text = self.get_starttag_text()
        if href is None or text is None:
            return
        if not is_web_url(href.strip()):
            return  # mailto:, tel:, anchors and relative links are not tracked
        line, column = self.getpos()
        start = self._line_starts[line - 1] + column
        if self.html.startswith(text, start):
            self.links.append((start, start + len(text), attrs, closed))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs, closed=True)


def rewrite_links(html: str, click_url: Callable[[str, int, int], str]) -> tuple[str, int]:
    """``html`` with each http(s) ``<a href>`` replaced by ``click_url(href, i, count)``.

    The start tag is written again from the parser's attributes, so an ``href=`` inside
    another attribute's value (``title="see href=x"``) is never mistaken for the link.
    """
    finder = _LinkFinder(html)
    finder.feed(html)
    finder.close()
    count = len(finder.links)
    out, last = [], 0
    for index, (start, end, attrs, closed) in enumerate(finder.links):
        rewritten, done = [], False
        for name, value in attrs:
            if name == "href" and value is not None and not done:  # the first href is the one browsers follow
                value, done = click_url(value.strip(), index, count), True
            rewritten.append(name if value is None else f'{name}="{escape(value, quote=True)}"')
        out += [html[last:start], f"<a {' '.join(rewritten)}{' /' if closed else ''}>"]
        last = end
    out.append(html[last:])
    return "".join(out), count


def add_before_body_end(html: str, fragment: str) -> str:
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html.rstrip("\n") + fragment
    at = ends[-1].start()
    return html[:at] + fragment + html[at:]


class _URLListHeader(UnstructuredHeader):
    """RFC 2369 §2: a list of ``<URL>``s. The default email policy folds a long unbroken
    URL into RFC 2047 encoded-words, which no mail client reads as a URL; this header
    folds only between entries and leaves each URL whole (RFC 5322 allows up to 998
    characters a line)."""

    # The registry mixes BaseHeader in (and with it ``name``), as map_to_type's classes need.
    name: str

    def fold(self, *, policy: Policy) -> str:
        entries = re.split(r"(?<=>),\s*(?=<)", str(self))
        return f"{self.name}: " + ("," + policy.linesep + " ").join(entries) + policy.linesep


_REGISTRY = HeaderRegistry()
_REGISTRY.map_to_type("list-unsubscribe", _URLListHeader)  # type: ignore[arg-type]  # made a BaseHeader by the registry


def unsubscribe_header(url: str, mailto: str | None) -> BaseHeader:
    """The ``List-Unsubscribe`` header object: the https URL first, the mailto after."""
    value = f"<{url}>" + (f", <{mailto}>" if mailto else "")
    return _REGISTRY("List-Unsubscribe", value)
