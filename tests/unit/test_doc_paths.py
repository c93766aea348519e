"""Every path and module of notifier the README and docs/ name exists in the tree.

The docs point people at code (`sources/export/streams.py`, `notifier.cli.authoring.X`); after
a file moves, a pointer to where it used to be sends the reader nowhere.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "notifier"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOMS = ("cli", "runtime", "core", "plain", "sources", "store", "delivery")

# `notifier/x/y.py`, or a path inside one of notifier's folders: `sources/mail/imap.py`.
_PATH = re.compile(rf"`((?:notifier/)?(?:{'|'.join(ROOMS)})/[\w/]*\.py|notifier/\w+\.py)`")
# `notifier.sources.mail.parse`, `notifier.cli.authoring.SAMPLE_TICKETS`: a name under one of
# notifier's packages (not a file such as notifier.sqlite3 or notifier.service).
_TOP = sorted(
    p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
)
_DOTTED = re.compile(rf"\bnotifier\.(?:{'|'.join(_TOP)})(?:\.\w+)*")
# Every `name.py` in the README's layout table, whose rows name the folder first.
_LAYOUT_ROW = re.compile(r"^\| `(notifier/[\w/]*)`[^|]*\|(.*)\|\s*$", re.MULTILINE)


def _paths_named(text: str) -> list[str]:
    return [m.group(1).removeprefix("notifier/") for m in _PATH.finditer(text)]


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            thing: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(thing, name):
                return False
            thing = getattr(thing, name)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_of_notifier_a_doc_names_exists(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = [path for path in _paths_named(text) if not (PACKAGE / path).exists()]
    assert missing == [], f"{doc.name} names files that are not in notifier/: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_a_doc_names_imports(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    names = sorted({m.group().rstrip(".") for m in _DOTTED.finditer(text)})
    broken = [name for name in names if not _resolves(name)]
    assert broken == [], f"{doc.name} names what notifier does not have: {broken}"


def test_the_readme_layout_table_names_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = _LAYOUT_ROW.findall(text)
    assert rows, "the README has no layout table"
    missing: list[str] = []
    for folder, cell in rows:
        base = PACKAGE.parent / folder
        if not base.is_dir():
            continue
        for name in re.findall(r"`([\w/]+\.py)`", cell):
            if name.startswith("notifier/"):
                found = (PACKAGE.parent / name).exists()
            else:
                found = any(base.rglob(Path(name).name)) or (PACKAGE / name).exists()
            if not found:
                missing.append(f"{folder}: {name}")
    assert missing == []


def test_a_moved_file_would_be_caught() -> None:
    assert _paths_named("see `sources/parse.py` and `notifier/cli/main.py`") == [
        "sources/parse.py",
        "cli/main.py",
    ]
    assert not (PACKAGE / "sources/parse.py").exists()
    assert _resolves("notifier.cli.authoring.SAMPLE_TICKETS")
    assert not _resolves("notifier.sources.mailparse")


_TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_toml_example_in_the_docs_is_valid_toml(doc: Path) -> None:
    """An operator pastes these: a block TOML refuses (an inline table over two lines) would
    be a configuration error at their first start."""
    import tomllib

    for n, block in enumerate(_TOML_BLOCK.findall(doc.read_text(encoding="utf-8")), 1):
        try:
            tomllib.loads(block)
        except tomllib.TOMLDecodeError as exc:
            pytest.fail(f"{doc.name}: TOML block {n}: {exc}")
