"""The plain-text part of a message whose mailing has none: the text of its HTML.

The text is the HTML as html.parser reads it, with a line break around each block element,
each link's address written after its text, and the head, styles and scripts left out.
html.parser took about a third of a message's rendering, so HTML made only of the usual
shapes (tags with plain attributes, end tags, comments, a doctype, and text with no `<`) is
split by one regular expression instead, and each piece handed to the same rules; anything
else (scripts and styles, `<![CDATA[`, a stray `<`, unusual attribute syntax) still goes to
html.parser. tests/unit/marketing/mailings/test_text_part.py checks that the two agree
wherever the fast path answers.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_SKIPPED = frozenset(("style", "script", "head", "title"))
_BREAKS = frozenset(("p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"))
_SPACES = re.compile("  +")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextRules:
    """What each piece of HTML becomes in the text: the rules both readers follow."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._href: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # attrs are read for <a> only: the fast reader parses no other tag's attributes
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in _BREAKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href:
            self.parts.append(f" ({self._href})")
            self._href = None
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        # each run of spaces and tabs becomes one space: tabs first, then runs of spaces, which
        # a regular expression finds far faster than runs of either
        text = "".join(self.parts).replace("\t", " ")
        text = _SPACES.sub(" ", text)
        return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


class _HtmlParserReader(_TextRules, HTMLParser):
    """Any HTML, read by html.parser."""

    def __init__(self) -> None:
        _TextRules.__init__(self)
        HTMLParser.__init__(self, convert_charrefs=True)

    def updatepos(self, i: int, j: int) -> int:
        """Where parsing goes on (`j`), without counting lines and columns on the way:
        getpos() is never asked for here, and the counting took a tenth of a message's time."""
        return j


# The shapes the fast reader knows, each read by html.parser as written here (a subset of
# what its own expressions accept): whitespace is the five characters html.parser's tag names
# stop at; an attribute has a plain name and a quoted value without `<` or `>`, or an unquoted
# one that stops where html.parser's does; a comment holds no `--`.
_WS = r"[ \t\n\r\f]"
_VALUE = rf"""(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`/]+(?={_WS}|>))"""
_PIECE = re.compile(
    r"<(?:"
    # a start tag: its name, its attributes and a self-closing slash
    rf"([a-zA-Z][a-zA-Z0-9]*)((?:{_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:{_WS}*={_WS}*{_VALUE})?)*)"
    rf"{_WS}*(/?)>"
    rf"|/([a-zA-Z][a-zA-Z0-9]*){_WS}*>"  # an end tag
    r"|!--(?:[^-]|-(?!-))*-->"  # a comment
    r"|![dD][oO][cC][tT][yY][pP][eE][^<>]*>"  # a doctype
    r")"
)
_ATTRIBUTES = re.compile(rf"{_WS}+([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:{_WS}*={_WS}*({_VALUE}))?")
_STRIDE = 5  # re.split gives the text before a piece, then the piece's four groups
_RAW_TEXT = frozenset(("script", "style"))  # html.parser reads their content differently


def _attributes(text: str) -> list[tuple[str, str | None]]:
    """A start tag's attributes as html.parser gives them: names in lower case, values
    unquoted and unescaped, None for an attribute without a value."""
    attributes: list[tuple[str, str | None]] = []
    for name, raw in _ATTRIBUTES.findall(text):
        value: str | None = raw[1:-1] if raw[:1] in ("'", '"') else (raw or None)
        attributes.append((name.lower(), unescape(value) if value else value))
    return attributes


def _read_fast(html: str) -> _TextRules | None:
    """The rules applied to HTML of the usual shapes; None for anything else."""
    pieces = _PIECE.split(html)
    if any("<" in data for data in pieces[::_STRIDE]):
        return None  # a '<' that starts none of the shapes
    rules = _TextRules()
    data_of, start_of, end_of = rules.handle_data, rules.handle_starttag, rules.handle_endtag
    tags = zip(*(pieces[group::_STRIDE] for group in range(1, _STRIDE)), strict=True)
    # the text before each piece; the text after the last is read after the loop
    for data, (start, attributes, closed, end) in zip(pieces[:-1:_STRIDE], tags, strict=True):
        if data:
            data_of(unescape(data))
        if start is not None:
            tag = start.lower()
            if tag in _RAW_TEXT:
                return None
            start_of(tag, _attributes(attributes) if tag == "a" else [])
            if closed:  # <br/>: html.parser's handle_startendtag is the start, then the end
                end_of(tag)
        elif end is not None:
            end_of(end.lower())
    if pieces[-1]:
        data_of(unescape(pieces[-1]))
    return rules


def text_of_html(html: str) -> str:
    """The readable text of an HTML body, links written out."""
    rules = _read_fast(html)
    if rules is None:
        parser = _HtmlParserReader()
        parser.feed(html)
        parser.close()
        rules = parser
    return rules.text()
