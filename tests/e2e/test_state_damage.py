"""A damaged state database and an unwritable state directory: one clear line, no traceback.

The damage is real: garbage written over pages of a real SQLite file that notifier made, past
the file header (the file still opens as a database; the queries that touch those pages fail).
The unwritable directory really fails for root too: either the command runs as ``nobody``
(``setpriv``) on a directory owned by root, or the directory is a read-only bind mount in a
mount namespace of the command's own (``unshare -m``), as under systemd's ``ProtectSystem=strict``
without the state directory in ``ReadWritePaths``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifier.store.sqlite.paths import DATABASE_NAME
from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, notifier, start_notifier, write_config
from tests.e2e.daemon_support import events, wait_until
from tests.smtp_server import SmtpServerFactory

PAGE = 4096


def _state_with_history(tmp_path: Path, smtp_server: SmtpServerFactory) -> tuple[Path, Path]:
    """A config and its state database after 100 notices were sent (about 150 pages)."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(
        csv_row(f"HD-{n}", f"user{n}@example.org", note="Replaced the toner. " * 15)
        for n in range(100)
    )
    (exports / "done.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0
    database = tmp_path / "state" / DATABASE_NAME
    assert not database.with_name(DATABASE_NAME + "-wal").exists()  # all in the main file
    return config, database


def _garble(database: Path, pages: list[int]) -> None:
    """Write garbage over these pages (numbered from 1, as SQLite does; page 1 keeps its header)."""
    noise = bytes((n * 37 + 11) % 256 for n in range(PAGE))
    with database.open("r+b") as handle:
        for page in pages:
            start = (page - 1) * PAGE + (100 if page == 1 else 0)
            handle.seek(start)
            handle.write(noise[: PAGE - (start % PAGE)])


def _pages_of(database: Path, table: str) -> tuple[int, list[int]]:
    with sqlite3.connect(database) as db:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        pages = [p for (p,) in db.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    db.close()
    return int(root), pages


def _one_line_naming(result: subprocess.CompletedProcess[str], path: Path) -> None:
    errors = result.stderr
    assert "Traceback" not in errors and errors.count("\n") == 1, errors
    assert str(path) in errors, errors


def test_a_database_damaged_throughout_stops_every_command_with_one_line(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    config, database = _state_with_history(tmp_path, smtp_server)
    pages = database.stat().st_size // PAGE
    _garble(database, list(range(2, pages + 1)))  # the schema (page 1) is intact

    for command in (["once"], ["run"], ["audit", "verify"], ["audit"], ["held"]):
        result = notifier(*command, "--config", str(config), timeout=60)
        assert result.returncode == 1, (command, result.stderr)
        _one_line_naming(result, database)
        assert "damaged" in result.stderr and "backup" in result.stderr, result.stderr


def test_damaged_audit_pages_degrade_the_daemon_and_fail_verify_with_one_line(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """The daemon stays up, logs state_error naming the file each pass and stops cleanly;
    `notifier audit verify` says in one line that the file is damaged."""
    config, database = _state_with_history(tmp_path, smtp_server)
    root, pages = _pages_of(database, "audit")
    _garble(database, [page for page in pages if page != root])

    verify = notifier("audit", "verify", "--config", str(config))
    assert verify.returncode == 1, verify.stderr
    _one_line_naming(verify, database)

    log = tmp_path / "run.log"
    process = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(
            lambda: any(e["event"] == "state_error" for e in events(log)), 30, "a state_error"
        )
        assert process.poll() is None, log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    problem = next(e for e in events(log) if e["event"] == "state_error")
    assert str(database) in str(problem["error"]) and "damaged" in str(problem["error"])
    status = json.loads((database.parent / "status.json").read_text())
    assert "damaged" in status["summary"] or status["state"] == "stopped"


# -- an unwritable state directory -------------------------------------------------------------


@pytest.fixture
def world_readable(tmp_path: Path) -> Iterator[Path]:
    """A directory everybody may read (pytest's own tmp_path is root's alone)."""
    where = Path(tempfile.mkdtemp(prefix="notifier-unwritable-"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _as_nobody(*args: str) -> list[str]:
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]


def _read_only(directory: Path, *args: str) -> list[str]:
    script = (
        f'mount --bind "{directory}" "{directory}" && '
        f'mount -o remount,ro,bind "{directory}" && exec "$@"'
    )
    return ["unshare", "-m", "sh", "-c", script, "sh", *args]


@pytest.mark.parametrize("how", ["nobody", "read-only mount"])
@pytest.mark.parametrize("with_database", [False, True], ids=["empty", "with-database"])
def test_an_unwritable_state_directory_gives_one_line(
    world_readable: Path,
    smtp_server: SmtpServerFactory,
    how: str,
    with_database: bool,
) -> None:
    if with_database:
        config, database = _state_with_history(world_readable, smtp_server)
        state = database.parent
    else:
        exports = world_readable / "exports"
        exports.mkdir()
        config = write_config(world_readable, smtp_server(), exports)
        state = world_readable / "state"
        state.mkdir()
    for path in world_readable.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by nobody, writable by root
    for command in ("once", "run"):
        notifier_args = [sys.executable, "-m", "notifier", command, "--config", str(config)]
        argv = _as_nobody(*notifier_args) if how == "nobody" else _read_only(state, *notifier_args)
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
        assert result.returncode == 1, (command, result.stderr)
        _one_line_naming(result, state)
        assert "Permission denied" in result.stderr or "Read-only" in result.stderr, result.stderr
