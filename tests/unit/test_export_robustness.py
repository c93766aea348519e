"""ExportSource against odd and hostile files: nothing stops the source, nothing repeats forever."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.core.model import Checkpoint
from notifier.sources.export.source import FileMark
from tests.unit.test_export import HEADER, T0, FakeSeen, problems, resolutions, source, write


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"ticket_id": "X", "requester_email": "x@example.org", "status": "Resolved", "title": "\\ud800"}',
         "lone surrogate"),
        ('{"ticket_id": ' + "9" * 5000 + ', "requester_email": "x@example.org", "status": "Resolved"}',
         ""),
    ],
)  # fmt: skip
def test_odd_jsonl_records_are_rejected_and_the_next_ones_read(
    tmp_path: Path, line: str, reason: str
) -> None:
    """A lone surrogate or an absurd number rejects its own line; later lines and files go on."""
    good = '{"ticket_id": "G", "requester_email": "g@example.org", "status": "Resolved"}'
    write(tmp_path / "a.jsonl", f"{line}\n{good}\n")
    write(tmp_path / "b.csv", f"{HEADER}\nB,b@example.org,x,Resolved,\n")
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["G", "B"]
    (problem,) = problems(events)
    assert problem.origin.endswith("a.jsonl:1") and reason in problem.reason
    ends = [FileMark.parse(e.value) for e in events if isinstance(e, Checkpoint)]
    assert [m.state for m in ends if m is not None] == ["more", "end", "end"]  # a.jsonl, b.csv


def test_absurdly_nested_json_stops_that_file_only(tmp_path: Path) -> None:
    """200,000 opening brackets: one problem for that file, which is not re-read every poll."""
    write(tmp_path / "a.json", "[" * 200_000)
    write(tmp_path / "b.csv", f"{HEADER}\nB,b@example.org,x,Resolved,\n")
    seen = FakeSeen()
    events = seen.remember(source(tmp_path, seen).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["B"]
    assert len(problems(events)) == 1
    assert seen.remember(source(tmp_path, seen).poll(T0 + timedelta(minutes=1))) == []


def test_an_unreadable_file_is_reported_once(tmp_path: Path) -> None:
    """A file that cannot be opened is one problem, not one on every poll."""
    if os.geteuid() == 0:
        bad = tmp_path / "dir.csv"  # a directory named like an export: open() fails even for root
        bad.mkdir()
        pattern = str(tmp_path / "*.csv")
    else:
        bad = write(tmp_path / "a.csv", "x")
        bad.chmod(0)
        pattern = str(tmp_path)
    src = source(pattern)
    first = list(src.poll(T0))
    second = list(src.poll(T0 + timedelta(minutes=1)))
    assert len(problems(first)) + len(problems(second)) <= 1


def test_a_half_written_last_row_is_held_back_until_the_file_is_finished(tmp_path: Path) -> None:
    """A young file whose last row has no line break yet: that row is neither used nor
    rejected; once the row is finished it is read, and the rows before are not read again."""
    path = tmp_path / "a.csv"
    write(path, f"{HEADER}\nA,a@example.org,x,Resolved,\nB,b@exa", mtime=T0 - timedelta(seconds=30))
    seen = FakeSeen()
    src = source(tmp_path, seen, settle_seconds=5)
    events = seen.remember(src.poll(T0))
    assert problems(events) == []
    assert [r.ticket_id for r in resolutions(events)] == ["A"]
    mark = FileMark.parse(seen.done[("exports", str(path))])
    assert mark is not None and mark.state == "tail" and mark.at is not None and mark.at.line == 3
    assert seen.remember(src.poll(T0 + timedelta(seconds=5))) == []  # unchanged: not read again
    write(path, f"{HEADER}\nA,a@example.org,x,Resolved,\nB,b@example.org,x,Resolved,\n",
          mtime=T0)  # fmt: skip
    later = seen.remember(src.poll(T0 + timedelta(seconds=10)))
    later += seen.remember(src.poll(T0 + timedelta(seconds=20)))
    assert problems(later) == []
    assert [(r.ticket_id, r.requester_email) for r in resolutions(later)] == [
        ("B", "b@example.org")
    ]


def test_an_old_file_with_a_cut_off_last_row_is_reported(tmp_path: Path) -> None:
    """Once the file is old, a truncated last row is a real problem and is reported with its line."""
    write(tmp_path / "a.csv", f"{HEADER}\nA,a@example.org,x,Resolved,\nB,b@exa")
    events = list(source(tmp_path).poll(T0))
    (problem,) = problems(events)
    assert problem.origin.endswith("a.csv:3")
    assert isinstance(events[-1], Checkpoint)
