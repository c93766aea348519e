"""HTML mail bodies as readable plain text, with nothing but :mod:`html.parser`.

Good enough for what the mail interpreters need (notification text they can match with rules),
not a renderer: scripts, styles and the head are dropped, block elements become line breaks,
``<br>`` a newline, list items start with ``- ``, table cells are separated by spaces, links keep
their text and show the URL in brackets only when it says something the text does not, entities
are decoded. Whitespace is collapsed (``<pre>`` keeps its line breaks) and runs of blank lines are
squeezed to one.

Hostile input: :class:`html.parser.HTMLParser` before Python 3.13.4 is quadratic on unterminated
constructs (``"<!--" * 100_000`` takes a minute). :func:`_defuse` first removes comments,
declarations and processing instructions (none of them is ever shown) and escapes every ``<``
that has no ``>`` before the next ``<``, in one linear pass, so the parser never searches ahead
for a terminator that is not there.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "strip_tags"]

# Content that is never shown to a reader.
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
# At least a line break before and after.
_LINE = frozenset(
    {
        "div", "tr", "li", "dt", "dd", "hr", "section", "article", "header", "footer", "nav",
        "aside", "main", "address", "form", "fieldset", "figure", "figcaption", "caption",
        "center", "details", "summary", "option",
    }
)  # fmt: skip
# A blank line before and after (paragraph-like).
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl"}
)
_CELL = frozenset({"td", "th"})
_URL_SCHEMES = ("http://", "https://", "ftp://", "mailto:")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace but a line break, incl. &nbsp;
_BLANKS = re.compile(r"\n{3,}")
# A comment (to its end or the end of the input), or "<" up to the next ">" or "<" or the end.
# Every alternative ends without backtracking, so one pass over the input is linear.
_TOKEN = re.compile(r"<!--.*?(?:--!?>|\Z)|<[^<>]*(?:>|(?=<)|\Z)", re.DOTALL)


def _defuse(html: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(html):
        out.append(html[pos : match.start()])
        pos = match.end()
        token = match.group()
        if token.startswith(("<!", "<?")):
            continue  # comment, doctype, CDATA, conditional comment, PI: never shown
        if token.endswith(">"):
            out.append(token)
        else:
            out.append("&lt;" + token[1:])  # a stray "<" is text
    out.append(html[pos:])
    return "".join(out)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._pending = 0  # line breaks owed before the next text
        self._skip: list[str] = []  # open elements whose content is dropped
        self._pre = 0
        self._links: list[tuple[str, int]] = []  # (href, index in out where the link text starts)

    def _break(self, lines: int) -> None:
        # Adjacent blocks share their breaks: </div><div> is one line break, not two.
        self._pending = max(self._pending, lines)

    def _emit(self, text: str) -> None:
        if self._pending:
            if self.out:
                self.out.append("\n" * self._pending)
            self._pending = 0
        self.out.append(text)

    # -- events ---------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip or tag in _SKIP:
            if tag in _SKIP:
                self._skip.append(tag)
            return
        if tag == "br":
            self._pending += 1  # <br><br> is a blank line
        elif tag in _PARAGRAPH:
            self._break(2)
            self._pre += tag == "pre"
        elif tag == "li":
            self._break(1)
            self._emit("- ")
        elif tag in _LINE:
            self._break(1)
        elif tag in _CELL:
            self._emit(" ")
        elif tag == "a":
            href = next((value for name, value in attrs if name == "href" and value), "")
            self._links.append((href.strip(), len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag == "hr":
            self.handle_starttag(tag, attrs)
        elif not self._skip and (tag in _LINE or tag in _PARAGRAPH):
            self._break(1)  # a self-closed <div/> opens nothing

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in self._skip:  # close up to the matching element
                while self._skip.pop() != tag:
                    pass
            return
        if tag in _PARAGRAPH:
            self._break(2)
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in _LINE:
            self._break(1)
        elif tag in _CELL:
            self._emit(" ")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            self._close_link(href, start)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            for number, line in enumerate(data.replace("\r\n", "\n").split("\n")):
                if number:
                    self._pending += 1
                if line:
                    self._emit(line)
            return
        text = _SPACES.sub(" ", data.replace("\r", " ").replace("\n", " "))
        if text == " " and (self._pending or not self.out):
            return  # indentation between blocks, not content
        self._emit(text)

    # -- helpers --------------------------------------------------------------------------

    def _close_link(self, href: str, start: int) -> None:
        if not href.lower().startswith(_URL_SCHEMES):
            return  # anchors, javascript:, cid: ... say nothing to a reader
        if len(self.out) - start > 16:  # long link text (or nested links): never just the URL
            self._emit(f" [{href}]")
            return
        text = " ".join("".join(self.out[start:]).split())
        if not _same_target(text, href):
            self._emit(f" [{href}]" if text else f"[{href}]")


def _same_target(text: str, href: str) -> bool:
    """True when the link text already shows the URL (ignoring scheme, mailto:, www., a final /)."""

    def norm(value: str) -> str:
        value = value.strip().lower()
        for prefix in ("mailto:", "https://", "http://", "ftp://"):
            if value.startswith(prefix):
                value = value[len(prefix) :]
                break
        return value.removeprefix("www.").rstrip("/")

    return norm(text) == norm(href)


def html_to_text(html: str) -> str:
    """Convert an HTML document or fragment to plain text (see the module docstring)."""
    parser = _TextExtractor()
    parser.feed(_defuse(html))
    parser.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.out).split("\n"))
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n")


def strip_tags(html: str) -> str:
    """The last resort when :func:`html_to_text` fails: tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^<>]*>", " ", html).split())
