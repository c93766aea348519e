"""The state database on a full file system: a clear error, nothing marked sent that was not,
and recovery once space returns. Uses a small tmpfs (CI runs as root, as this test needs)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "state"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert mounted.returncode == 0, f"cannot mount a small tmpfs (run as root): {mounted.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """Take all but ``leave_bytes`` of the file system with a filler file."""
    filler = disk / "filler"
    free = __import__("shutil").disk_usage(disk).free
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(free - leave_bytes, 0))
    return filler


def test_full_disk_fails_clearly_marks_nothing_sent_and_recovers(
    tmp_path: Path, smtp_server: SmtpServerFactory, small_disk: Path
) -> None:
    """With the state file system full, a pass fails with a clear error and sends nothing it
    could not record; once space returns, every notice is delivered exactly once."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0  # creates the database

    note = "We replaced the toner and cleaned the rollers of your printer. " * 8
    rows = "".join(csv_row(f"HD-{n}", f"u{n}@example.org", note=note) for n in range(1500))
    (exports / "big.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    filler = fill(small_disk, leave_bytes=64 * 1024)
    failed = notifier("once", "--config", str(config))
    assert failed.returncode != 0
    assert "database or disk is full" in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr

    filler.unlink()  # space returns
    recovered = notifier("once", "--config", str(config), timeout=300)
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    received = [m.rcpt_tos[0] for m in server.messages]
    assert len(received) == 1500 and len(set(received)) == 1500
    sent = json.loads(
        notifier("audit", "--config", str(config), "--status", "sent", "--format", "json").stdout
    )
    assert len(sent) == 1500
