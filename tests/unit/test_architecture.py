"""The folders draw the architecture (docs/architecture.md), and this test keeps them honest.

Imports point one way: the commands -> the runtime -> the service -> the core. Sources, the store
and delivery use the core's values and ports and never each other; nothing below the commands
imports them; only the store and the composition root know SQLite. Every ``import`` counts,
also one inside a function or under ``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "notifier"
COMPOSITION_ROOT = "notifier.runtime.bootstrap"
PURE = ("notifier.core", "notifier.plain")
ADAPTERS = ("notifier.sources", "notifier.store", "notifier.delivery")
SHARED_BY_ADAPTERS = (
    "notifier.netio",  # socket deadlines for the IMAP and SMTP adapters
    "notifier.oauth2",  # OAuth2 tokens for the adapters that log in with one
)


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, known: Iterable[str]) -> set[str]:
    """Every module ``path`` imports: notifier's own resolved to modules, others by their top."""
    known = set(known)
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from notifier.store import mirror` imports the module notifier.store.mirror
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    return {name: imports_of(path, name, paths) for name, path in paths.items()}


def within(module: str, *rooms: str) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


# Shared by every source family: a top-level source module (``notifier.sources.addresses``)
# and the record mapping that exports, webhooks and APIs all read tickets with.
SHARED_BY_SOURCES = ("notifier.sources.records",)


def family(module: str) -> str:
    """``notifier.sources.mail.imap`` -> ``notifier.sources.mail``; "" for what every family
    shares (``SHARED_BY_SOURCES``, a top-level source module)."""
    parts = module.split(".")
    if within(module, *SHARED_BY_SOURCES):
        return ""
    return ".".join(parts[:3]) if len(parts) > 3 else ""


def _room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _store_code(module: str) -> bool:
    return within(module, "notifier.store") and module != "notifier.store"


Rule = tuple[str, Callable[[str, str], bool]]  # the rule; broken by importer -> imported?

SQLITE_RULE: Rule = (
    "only the store and the composition root use sqlite3",
    lambda importer, imported: (
        imported == "sqlite3" and not within(importer, "notifier.store", COMPOSITION_ROOT)
    ),
)
PSYCOPG_RULE: Rule = (
    "only the PostgreSQL store uses psycopg",
    lambda importer, imported: (
        within(imported, "psycopg") and not within(importer, "notifier.store.postgres")
    ),
)
# Rules over imports of notifier's own modules.
RULES: list[Rule] = [
    (
        "nothing below the commands imports them",
        lambda importer, imported: (
            within(imported, "notifier.cli")
            and not within(importer, "notifier.cli", "notifier.__main__")
        ),
    ),
    (
        "the core and the gate import only the core and the gate",
        lambda importer, imported: within(importer, *PURE) and not within(imported, *PURE),
    ),
    (
        "an adapter uses only the core and its own room",
        lambda importer, imported: (
            within(importer, *ADAPTERS)
            and not within(imported, *PURE, *SHARED_BY_ADAPTERS, _room(importer))
        ),
    ),
    (
        "a source family never imports another",
        lambda importer, imported: (
            within(importer, "notifier.sources")
            and bool(family(imported))
            and family(imported) != family(importer)
        ),
    ),
    (
        "shared adapter code uses only the core",
        lambda importer, imported: (
            within(importer, *SHARED_BY_ADAPTERS)
            and not within(imported, *PURE, *SHARED_BY_ADAPTERS)
        ),
    ),
    (
        "the service sees the core's values and ports only",
        lambda importer, imported: importer == "notifier.service" and not within(imported, *PURE),
    ),
    (
        "the store is reached through the composition root",
        lambda importer, imported: (
            _store_code(imported)
            and not within(importer, "notifier.store", COMPOSITION_ROOT)
            # the log set-up binds the store's log mirror, and nothing else of the store
            and not (importer == "notifier.runtime.logs" and imported == "notifier.store.mirror")
        ),
    ),
]


def rule_breaks(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import that breaks a rule, as "importer -> imported: the rule"."""
    own = set(graph)
    breaks: list[str] = []
    for importer, imported_all in sorted(graph.items()):
        for imported in sorted(imported_all):
            ours = within(imported, "notifier") and imported != "notifier"
            if ours and imported not in own:
                breaks.append(f"{importer} -> {imported}: no such module")
            breaks.extend(
                f"{importer} -> {imported}: {rule}"
                for rule, broken in (RULES if ours else [SQLITE_RULE, PSYCOPG_RULE])
                if broken(importer, imported)
            )
    return breaks


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Groups of notifier's modules that import each other, directly or round a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` that re-exports its modules is not a circle with them."""
    return {
        name: {t for t in targets if not (t != name and name.startswith(t + "."))}
        for name, targets in graph.items()
    }


# -- the rules hold for notifier ---------------------------------------------------------------


def test_every_import_points_the_way_the_architecture_does() -> None:
    assert rule_breaks(import_graph()) == []


def test_no_module_imports_another_in_a_circle() -> None:
    assert cycles(_without_package_inits(import_graph())) == []


def test_the_graph_sees_the_whole_package() -> None:
    graph = import_graph()
    assert {"notifier.core.ports", "notifier.store.sqlite.outbox", COMPOSITION_ROOT} <= set(graph)
    assert "notifier.core.ports" in graph["notifier.service"]
    assert "sqlite3" in graph["notifier.store.sqlite.connection"]


# -- and the checker catches what breaks them ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("from notifier.sources.mail import imap\n", "the core and the gate import only"),
        ("from notifier.store.sqlite.outbox import Outbox\n", "the core and the gate import only"),
        ("import notifier.delivery.smtp\n", "the core and the gate import only"),
        ("def f():\n    from notifier.runtime import config\n", "the core and the gate import"),
        ("import sqlite3\n", "only the store and the composition root use sqlite3"),
        ("from notifier.cli import main\n", "nothing below the commands imports them"),
    ],
)
def test_a_core_module_importing_an_adapter_or_the_runtime_is_caught(
    tmp_path: Path, source: str, rule: str
) -> None:
    package = _copy_of_the_package(tmp_path)
    (package / "core" / "model.py").write_text(source, encoding="utf-8")
    breaks = rule_breaks(import_graph(package))
    assert any(b.startswith("notifier.core.model -> ") and rule in b for b in breaks), breaks


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("sources/mail/imap.py", "from notifier.sources.export import source\n", "family"),
        ("sources/mail/imap.py", "from notifier.store.sqlite import outbox\n", "own room"),
        ("delivery/smtp.py", "from notifier.sources.mail import parse\n", "own room"),
        ("store/sqlite/outbox.py", "from notifier.runtime import config\n", "own room"),
        ("service.py", "from notifier.store.sqlite.outbox import Outbox\n", "values and ports"),
        ("cli/report.py", "from notifier.store.sql import report\n", "composition root"),
        ("runtime/daemon.py", "import sqlite3\n", "sqlite3"),
        ("runtime/roles.py", "import psycopg\n", "psycopg"),
        ("store/sql/store.py", "from psycopg import errors\n", "psycopg"),
    ],
)
def test_adapters_the_service_and_the_commands_keep_their_lanes(
    tmp_path: Path, module: str, source: str, rule: str
) -> None:
    package = _copy_of_the_package(tmp_path)
    (package / module).write_text(source, encoding="utf-8")
    assert any(rule in b for b in rule_breaks(import_graph(package)))


def test_a_circle_of_imports_is_caught(tmp_path: Path) -> None:
    package = _copy_of_the_package(tmp_path)
    (package / "core" / "clock.py").write_text("from notifier.core import model\n")
    (package / "core" / "model.py").write_text("def f():\n    from notifier.core import clock\n")
    assert ["notifier.core.clock", "notifier.core.model"] in cycles(import_graph(package))


def _copy_of_the_package(tmp_path: Path) -> Path:
    """The tree's ``.py`` files (empty but for ``__init__``): the rules, not the code, matter."""
    target = tmp_path / "notifier"
    for path in PACKAGE.rglob("*.py"):
        copy = target / path.relative_to(PACKAGE)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text("", encoding="utf-8")
    return target
