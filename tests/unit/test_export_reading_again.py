"""ExportSource: the young-file wait, problems reported once, and reading again under new settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from notifier.core.errors import ConfigError
from notifier.core.model import Checkpoint
from notifier.runtime.config import load_settings
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.source import ExportSource, FileMark, reading_fingerprint
from tests.unit.test_export import HEADER, T0, FakeSeen, problems, resolutions, source, write

GOOD = "T-1,ana@example.org,Printer,Resolved,2026-11-27 10:00\n"
BAD = "T-2,not-an-address,VPN,Resolved,2026-11-27 11:00\n"
UNFINISHED = "T-3,cy@example.org,Laptop,Resolved,2026-11-27 1"


def test_the_young_file_wait_is_configurable(tmp_path: Path) -> None:
    """An unfinished last row is reported once the file is ``young_file_seconds`` old; by
    default only after 60 s."""
    write(tmp_path / "a.csv", HEADER + "\n" + GOOD + UNFINISHED, T0 - timedelta(seconds=20))
    default, short = FakeSeen(), FakeSeen()
    assert problems(default.remember(source(tmp_path, default).poll(T0))) == []
    told = problems(short.remember(source(tmp_path, short, young_file_seconds=15).poll(T0)))
    assert [p.reason.split(":")[0] for p in told] == ["the last row does not end with a line break"]


def test_young_file_seconds_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="young_file_seconds must not be less than settle"):
        source(tmp_path, settle_seconds=10, young_file_seconds=5)
    path = tmp_path / "config.toml"
    path.write_text("[[exports]]\nname='a'\npath='x'\nsettle_seconds=10\nyoung_file_seconds=5\n")
    with pytest.raises(ConfigError, match=r"young_file_seconds \(5\) must not be less than"):
        load_settings(path)
    path.write_text("[[exports]]\nname='a'\npath='x'\nyoung_file_seconds=-1\n")
    with pytest.raises(ConfigError, match="young_file_seconds"):
        load_settings(path)


def test_a_bad_row_is_reported_once_however_often_the_young_file_is_polled(
    tmp_path: Path,
) -> None:
    """A writer that keeps rewriting the file while it is young (same bad row, one other row
    changed each time) has it read again each time, but the bad row is recorded once."""
    seen = FakeSeen()
    src = source(tmp_path, seen, settle_seconds=1)
    reported = []
    for step in range(30):
        now = T0 + timedelta(seconds=6 * step)
        note = f"T-1,ana@example.org,Printer take {step},Resolved,2026-11-27 10:00\n"
        write(
            tmp_path / "a.csv", HEADER + "\n" + note + BAD + UNFINISHED, now - timedelta(seconds=2)
        )
        for poll in (now, now + timedelta(seconds=3)):  # it holds still for two polls
            reported += problems(seen.remember(src.poll(poll)))
    assert [p.origin.rsplit("/", 1)[-1] for p in reported] == ["a.csv:3"]


def test_a_changed_bad_row_is_reported_again(tmp_path: Path) -> None:
    seen = FakeSeen()
    src = source(tmp_path, seen)
    write(tmp_path / "a.csv", HEADER + "\n" + BAD)
    assert len(problems(seen.remember(src.poll(T0)))) == 1
    write(tmp_path / "a.csv", HEADER + "\n" + BAD.replace("not-an-address", "still-not-one"))
    assert problems(seen.remember(src.poll(T0 + timedelta(seconds=10)))) == []  # it changed
    assert len(problems(seen.remember(src.poll(T0 + timedelta(seconds=20))))) == 1


def test_a_file_with_rejections_is_read_again_under_new_settings_only(tmp_path: Path) -> None:
    """The mark of a file with a rejected row carries the settings' fingerprint: other
    settings read it again from the start; a clean file is not read again."""
    write(tmp_path / "a.csv", HEADER + "\n" + GOOD + BAD)
    write(tmp_path / "b.csv", HEADER + "\n" + GOOD.replace("T-1", "T-9"))
    seen = FakeSeen()
    first = seen.remember(source(tmp_path, seen).poll(T0))
    assert len(resolutions(first)) == 2
    marks = {
        e.key.rsplit("/", 1)[-1]: FileMark.parse(e.value)
        for e in first
        if isinstance(e, Checkpoint) and not e.key.startswith("reported:")
    }
    assert marks["a.csv"] is not None and marks["a.csv"].settings is not None
    assert marks["b.csv"] is not None and marks["b.csv"].settings is None

    same = seen.remember(source(tmp_path, seen).poll(T0 + timedelta(seconds=10)))
    assert same == []
    other = build_mapping(None, {}, ["resolved", "closed"], None, "UTC")
    again = list(ExportSource("exports", str(tmp_path), other, seen).poll(T0))
    assert [r.ticket_id for r in resolutions(again)] == ["T-1"]  # a.csv only
    assert len(problems(again)) == 1  # reported again once, under the new settings


def test_a_mark_without_a_fingerprint_of_a_file_rejected_whole_is_read_again_once(
    tmp_path: Path,
) -> None:
    """A notifier before this one marked a file rejected whole without its settings: it is
    read again once, then marked with them."""
    path = write(tmp_path / "a.csv", "id,who\n1,x\n")
    stat = path.stat()
    seen = FakeSeen()
    seen.done[("exports", str(path))] = f"{stat.st_size}:{stat.st_mtime_ns}"
    assert len(problems(seen.remember(source(tmp_path, seen).poll(T0)))) == 1
    assert seen.remember(source(tmp_path, seen).poll(T0)) == []
    mark = FileMark.parse(seen.done[("exports", str(path))])
    assert mark is not None and mark.settings == reading_fingerprint(
        build_mapping(None, {}, None, None, "UTC"), "auto"
    )


def test_the_fingerprint_leaves_out_the_time_zone() -> None:
    """A time zone changes the keys of naive times: a fix of it must not re-send notices."""
    utc = build_mapping("jira", {}, None, None, "UTC")
    berlin = build_mapping("jira", {}, None, None, "Europe/Berlin")
    moved = build_mapping("jira", {"requester_email": "Mail"}, None, None, "UTC")
    assert reading_fingerprint(utc, "auto") == reading_fingerprint(berlin, "auto")
    assert reading_fingerprint(utc, "auto") != reading_fingerprint(moved, "auto")
    assert reading_fingerprint(utc, "auto") != reading_fingerprint(utc, "csv")
    assert FileMark.parse(FileMark(1, 2, None, "end", "ab" * 8).value()) == FileMark(
        1, 2, None, "end", "ab" * 8
    )
