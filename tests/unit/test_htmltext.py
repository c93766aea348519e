"""html_to_text: HTML notification bodies become the plain text a person would read."""

from __future__ import annotations

import time

import pytest

from notifier.core.htmltext import html_to_text

CASES = [
    (
        "drops script, style, head",
        "<html><head><title>T</title><style>p{}</style></head><body><script>x()</script>Hi</body></html>",
        "Hi",
    ),
    ("blocks become lines", "<div>a</div><div>b</div><p>c</p><p>d</p>", "a\nb\n\nc\n\nd"),
    ("br is a newline", "one<br>two<br/>three<br><br>four", "one\ntwo\nthree\n\nfour"),
    ("list items", "<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>", "- one\n- two"),
    (
        "table cells",
        "<table><tr><td>Ticket:</td><td>42</td></tr><tr><th>Status</th><td>Resolved</td></tr></table>",
        "Ticket: 42\nStatus Resolved",
    ),
    (
        "link keeps text and a different URL",
        '<a href="https://it.example.org/t/42">your ticket</a>',
        "your ticket [https://it.example.org/t/42]",
    ),
    (
        "link equal to its text",
        '<a href="https://it.example.org/">it.example.org</a>',
        "it.example.org",
    ),
    (
        "mailto equal to its text",
        '<a href="mailto:it@example.org">it@example.org</a>',
        "it@example.org",
    ),
    (
        "anchors and javascript show no URL",
        '<a href="#top">top</a> <a href="javascript:x()">x</a>',
        "top x",
    ),
    ("entities decoded", "Caf&eacute; &amp; &lt;tea&gt; &#8364;5&nbsp;now", "Café & <tea> €5 now"),
    ("whitespace collapsed", "<p>  lots   of\n\n   space  </p>", "lots of space"),
    (
        "blank lines squeezed",
        "<p>a</p><br><br><br><br><p>b</p>",
        "a\n\nb",
    ),
    ("pre keeps line breaks", "<pre>line 1\nline 2</pre>", "line 1\nline 2"),
    (
        "comments and conditional comments dropped",
        "a<!-- hidden --><!--[if mso]><b>mso</b><![endif]-->b",
        "ab",
    ),
    ("stray angle brackets are text", "1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("unclosed tags", "<p>Resolved<div>by Tom", "Resolved\nby Tom"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(
    ("html", "text"), [(h, t) for _, h, t in CASES], ids=[n for n, _, _ in CASES]
)
def test_html_becomes_readable_text(html: str, text: str) -> None:
    """Each HTML construct maps to the text a mail client would show."""
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    "html",
    [
        "<!--" * 100_000,
        "</" * 100_000,
        "<a " * 100_000,
        "<![CDATA[" * 50_000,
        "<!" * 100_000,
        '<a b="' * 50_000,
        "<?" * 100_000,
        "<script>" + "</s" * 100_000,
        '<a href="http://x">' * 20_000 + "</a>" * 20_000,
    ],
)
def test_hostile_markup_is_linear(html: str) -> None:
    """Unterminated constructs that make html.parser quadratic finish quickly (each took seconds to minutes)."""
    started = time.perf_counter()
    html_to_text(html)
    assert time.perf_counter() - started < 2.0
