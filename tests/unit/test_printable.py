"""notifier.core.printable: what a person reads never holds a character that acts on a terminal."""

from __future__ import annotations

import ast
import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.core.printable import csv_cell, json_text, printable, printable_block, say

# Any code point, lone surrogates (undecodable bytes under "surrogateescape") included.
ANY_TEXT = st.text(st.characters(exclude_categories=()))
PACKAGE = Path(__file__).resolve().parents[2] / "notifier"


def raw_hidden(text: str, *, keep: str = "") -> set[str]:
    """An independent reading of "hidden": controls, format characters, separators, surrogates."""
    return {
        ch
        for ch in text
        if ch not in keep and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
    }


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("HD-1", "HD-1"),
        ("\x1b[2J", "\\x1b[2J"),  # ESC: clear the screen
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: set the window title, BEL
        ("a\r\nforged", "a\\r\\nforged"),  # a forged line
        ("tab\there", "tab\\there"),
        ("\x00\x7f", "\\x00\\x7f"),  # NUL, DEL
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("\x85", "\\x85"),  # NEL, a C1 line break
        ("gpj\u202e.exe", "gpj\\u202e.exe"),  # right-to-left override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # isolates
        ("zero\u200bwidth\u200d\ufeff", "zero\\u200bwidth\\u200d\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("soft\xadhyphen", "soft\\xadhyphen"),
        ("tag\U000e0041", "tag\\U000e0041"),  # a tag character (Cf, astral)
        ("lone \udcff", "lone \\udcff"),  # a lone surrogate (undecodable byte)
        ("Zoë Ørsted, 東京, émoji 🎉", "Zoë Ørsted, 東京, émoji 🎉"),  # text stays text
        ("a\u00a0b", "a\u00a0b"),  # a no-break space is a space
        ("C:\\x1b", "C:\\x1b"),  # a backslash is kept
    ],
)
def test_printable_shows_hidden_characters_as_escapes_and_keeps_text(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_block_keeps_line_feeds_and_tabs_only() -> None:
    assert printable_block("a\n\tb\r\n\x1b[2J\u202e") == "a\n\tb\\r\n\\x1b[2J\\u202e"


@given(ANY_TEXT)
def test_printable_leaves_no_hidden_character_and_is_one_line(text: str) -> None:
    shown = printable(text)
    assert not raw_hidden(shown)
    assert "\n" not in shown and "\r" not in shown
    shown.encode("utf-8")  # never a lone surrogate that cannot be written
    assert printable(shown) == shown  # escaping twice changes nothing
    assert len(shown) >= len(text)


@given(ANY_TEXT)
def test_printable_changes_only_hidden_characters(text: str) -> None:
    shown = printable(text)
    visible = "".join(ch for ch in text if not raw_hidden(ch))
    # Dropping every escape sequence of the output gives back the visible characters.
    kept = iter(shown)
    assert all(ch in kept for ch in visible)  # in order, as a subsequence
    if not raw_hidden(text):
        assert shown == text


@given(ANY_TEXT)
def test_printable_block_keeps_exactly_the_line_structure(text: str) -> None:
    shown = printable_block(text)
    assert not raw_hidden(shown, keep="\n\t")
    assert shown.count("\n") == text.count("\n")


@given(st.recursive(ANY_TEXT | st.integers() | st.none(), lambda inner: st.lists(inner)
                    | st.dictionaries(ANY_TEXT, inner), max_leaves=10))  # fmt: skip
def test_json_text_is_the_same_json_with_nothing_hidden(value: object) -> None:
    for indent in (None, 2):
        text = json_text(value, indent=indent)
        assert not raw_hidden(text, keep="\n")
        assert json.loads(text) == value
        assert printable_block(text) == text  # `say` passes it through unchanged


@given(ANY_TEXT)
def test_csv_cell_is_one_line_and_never_a_formula(text: str) -> None:
    cell = csv_cell(text)
    assert isinstance(cell, str)
    assert not raw_hidden(cell)
    assert not cell.startswith(("=", "+", "-", "@"))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([cell, 1])
    assert buffer.getvalue().count("\n") == 1


def test_csv_cell_keeps_numbers_and_prefixes_formulas() -> None:
    assert csv_cell(-5) == -5 and csv_cell(None) is None and csv_cell(2.5) == 2.5
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("+1") == "'+1"
    assert csv_cell("-2+3") == "'-2+3" and csv_cell("a=b") == "a=b"


def test_say_writes_escaped_lines(capsys: pytest.CaptureFixture[str]) -> None:
    say("ticket HD-1\x1b[2J\u202e\nnext line")
    say("oops\r\n", err=True)
    out, err = capsys.readouterr()
    assert out == "ticket HD-1\\x1b[2J\\u202e\nnext line\n"
    assert err == "oops\\r\n\n"


# -- every command writes only through notifier.core.printable ----------------------------------------

_STREAMS = {"stdout", "stderr", "__stdout__", "__stderr__"}


def _writes_around_printable(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            found.append(f"line {node.lineno}: print()")
        # sys.stdout.write(...), sys.stderr.buffer.write(...), os.write(1, ...)
        if isinstance(func, ast.Attribute) and func.attr in ("write", "writelines"):
            target = ast.unparse(func.value)
            if any(part in _STREAMS for part in target.split(".")):
                found.append(f"line {node.lineno}: {target}.{func.attr}()")
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "write"
            and ast.unparse(func.value) == "os"
            and node.args
            and ast.unparse(node.args[0]) in ("1", "2")
        ):
            found.append(f"line {node.lineno}: os.write()")
    return found


def test_no_module_writes_to_the_terminal_except_through_printable() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): writes
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "printable.py"
        and (writes := _writes_around_printable(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_writes_check_finds_a_print() -> None:
    """The check above can fail: it finds each way of writing around printable."""
    code = "import sys, os\nprint(1)\nsys.stdout.write('x')\nsys.stderr.buffer.write(b'')\nos.write(2, b'')\n"
    assert len(_writes_around_printable(ast.parse(code))) == 4
