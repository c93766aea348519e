"""Log lines carry their level's syslog priority when, and only when, stdout is the journal.

journald reads a ``<N>`` prefix on a stream line as the entry's priority (``SyslogLevelPrefix=``,
on by default) and strips it; systemd tells the service which file is that stream with
``$JOURNAL_STREAM`` (``device:inode``). Anywhere else (a pipe to ``jq``, a file, a terminal)
the line stays plain JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from notifier.runtime import logs
from notifier.store import mirror


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(mirror, "_events_logger", None)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    yield
    structlog.reset_defaults()


def journal_stream_id(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_dev}:{stat.st_ino}"


def log_one_of_each(path: Path, fmt: str = "json") -> list[str]:
    with path.open("w", encoding="utf-8") as stream:
        logs.configure("debug", fmt, stream=stream)
        log = structlog.get_logger()
        log.debug("probe_debug")
        log.info("notice_sent", ticket_id="HD-1")
        log.warning("input_rejected", reason="no such column")
        log.error("reload_rejected", error="smtp.port: not a number")
    return path.read_text(encoding="utf-8").splitlines()


def test_lines_to_the_journal_carry_their_levels_syslog_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "journal-stream"
    out.touch()
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_id(out))
    lines = log_one_of_each(out)
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>"]
    events = [json.loads(line[3:]) for line in lines]
    assert [e["event"] for e in events] == [
        "probe_debug",
        "notice_sent",
        "input_rejected",
        "reload_rejected",
    ]
    assert [e["level"] for e in events] == ["debug", "info", "warning", "error"]


def test_console_lines_to_the_journal_are_prefixed_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "journal-stream"
    out.touch()
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_id(out))
    lines = log_one_of_each(out, fmt="console")
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>"]
    assert "reload_rejected" in lines[3]


@pytest.mark.parametrize("journal_stream", [None, "another-file", "garbage"])
def test_lines_elsewhere_stay_plain_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_stream: str | None
) -> None:
    """Not the journal (no $JOURNAL_STREAM, or it names another file: the operator redirected
    stdout, or a child inherited the variable): no prefix, so `| jq` keeps working."""
    out = tmp_path / "plain"
    out.touch()
    if journal_stream == "another-file":
        other = tmp_path / "other"
        other.touch()
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream_id(other))
    elif journal_stream is not None:
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream)
    lines = log_one_of_each(out)
    assert len(lines) == 4
    assert [json.loads(line)["level"] for line in lines] == ["debug", "info", "warning", "error"]


def test_a_stream_without_a_file_descriptor_is_not_the_journal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    stream = io.StringIO()
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    logs.configure("info", "json", stream=stream)
    structlog.get_logger().warning("status_write_failed", error="disk full")
    assert json.loads(stream.getvalue())["event"] == "status_write_failed"
    assert os.environ["JOURNAL_STREAM"] == "1:1"
