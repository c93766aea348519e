"""ExportSource: which files are read and when, and how each row's outcome is reported."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.core.errors import ConfigError, SourceError
from notifier.core.model import Checkpoint, InputProblem, Resolution, SourceEvent
from notifier.sources.export.presets import build_mapping
from notifier.sources.export.source import ExportSource, FileMark

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HEADER = "ticket_id,requester_email,title,status,resolved_at"


class FakeSeen:
    """In-memory stand-in for the outbox store's memory of finished files."""

    def __init__(self) -> None:
        self.done: dict[tuple[str, str], str] = {}

    def checkpoint(self, source: str, key: str) -> str | None:
        return self.done.get((source, key))

    def remember(self, events: Iterable[SourceEvent]) -> list[SourceEvent]:
        out = list(events)
        for event in out:
            if isinstance(event, Checkpoint):
                self.done[(event.source, event.key)] = event.value
        return out


def write(path: Path, content: str | bytes, mtime: datetime = T0 - timedelta(minutes=5)) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    os.utime(path, ns=(int(mtime.timestamp() * 1e9),) * 2)
    return path


def source(pattern: Path | str, seen: FakeSeen | None = None, **kwargs: object) -> ExportSource:
    mapping = build_mapping(None, {}, None, None, "UTC")
    return ExportSource("exports", str(pattern), mapping, seen or FakeSeen(), **kwargs)  # type: ignore[arg-type]


def resolutions(events: Iterable[SourceEvent]) -> list[Resolution]:
    return [e for e in events if isinstance(e, Resolution)]


def problems(events: Iterable[SourceEvent]) -> list[InputProblem]:
    return [e for e in events if isinstance(e, InputProblem)]


def test_bom_crlf_and_quoted_multiline_fields(tmp_path: Path) -> None:
    """A UTF-8 BOM, CRLF endings and quoted fields holding commas and newlines are read right."""
    text = (
        "\ufeff" + HEADER + ",resolution_note\r\n"
        'T-1,ana@example.org,"Printer, 2nd floor",Resolved,2026-11-27 10:00,"Line one\r\nline two"\r\n'
        "T-2,bo@example.org,VPN,Resolved,2026-11-27 11:00,Done\r\n"
    )
    path = write(tmp_path / "a.csv", text)
    events = list(source(tmp_path).poll(T0))
    got = resolutions(events)
    assert [r.ticket_id for r in got] == ["T-1", "T-2"]
    assert got[0].title == "Printer, 2nd floor"
    assert got[0].resolution_note == "Line one\r\nline two"
    assert [r.origin for r in got] == [f"{path}:2", f"{path}:4"]
    assert "ticket_id" in got[0].fields  # the BOM did not stick to the first column name
    last = events[-1]
    assert isinstance(last, Checkpoint) and (last.source, last.key) == ("exports", str(path))
    mark = FileMark.parse(last.value)
    assert mark is not None and mark.at is not None
    assert (mark.size, mark.mtime_ns) == (path.stat().st_size, path.stat().st_mtime_ns)
    assert (mark.at.offset, mark.at.line, mark.state) == (path.stat().st_size, 5, "end")


def test_malformed_rows_give_file_and_line_and_good_rows_go_on(tmp_path: Path) -> None:
    """Wrong field count, missing id or email, bad email and bad date: one problem each, others read."""
    text = "\n".join(
        [
            HEADER,
            "T-1,ana@example.org,ok,Resolved,2026-11-27 10:00",
            "T-2,bo@example.org,too,many,fields,here",
            ",cy@example.org,no id,Resolved,2026-11-27 10:00",
            "T-4,,no email,Resolved,2026-11-27 10:00",
            "T-5,not-an-address,bad email,Resolved,2026-11-27 10:00",
            "T-6,di@example.org,bad date,Resolved,27.11.2026 at noon",
            "T-7,ed@example.org,open,In progress,",
            "T-8,fay@example.org,ok,Closed,2026-11-27 11:00",
        ]
    )
    path = write(tmp_path / "a.csv", text + "\n")
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["T-1", "T-8"]
    found = {(p.origin, p.reason.split(":")[0].split(" '")[0]) for p in problems(events)}
    assert found == {
        (f"{path}:3", "expected 5 fields as in the header, found 6"),
        (f"{path}:4", "missing ticket id"),
        (f"{path}:5", "missing requester email"),
        (f"{path}:6", "invalid requester email"),
        (f"{path}:7", "unparseable date"),
    }
    assert isinstance(events[-1], Checkpoint)


def test_header_lacking_required_columns_is_one_problem(tmp_path: Path) -> None:
    """A CSV without an email column yields ONE problem at path:1 naming the column and file."""
    path = write(tmp_path / "a.csv", "ticket_id,status\n1,Resolved\n2,Resolved\n3,Resolved\n")
    events = list(source(tmp_path).poll(T0))
    (problem,) = problems(events)
    assert problem.origin == f"{path}:1"
    assert str(path) in problem.reason
    assert "requester email" in problem.reason
    assert "'requester_email'" in problem.reason
    assert not resolutions(events)
    assert isinstance(events[-1], Checkpoint)  # reported once, not on every poll


def test_undecodable_bytes_reject_only_their_row(tmp_path: Path) -> None:
    """A Latin-1 byte in one row makes that row a problem; the other rows are still read."""
    content = (
        HEADER.encode() + b"\n"
        b"T-1,ana@example.org,Caf\xe9,Resolved,2026-11-27 10:00\n"
        b"T-2,bo@example.org,Cafe,Resolved,2026-11-27 10:00\n"
    )
    path = write(tmp_path / "a.csv", content)
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["T-2"]
    (problem,) = problems(events)
    assert problem.origin == f"{path}:2"
    assert "undecodable bytes" in problem.reason and "'title'" in problem.reason


def test_truncated_json_array_keeps_good_records(tmp_path: Path) -> None:
    """A JSON export cut off mid-array yields its complete records and one 'truncated' problem."""
    records = [
        {"ticket_id": f"T-{i}", "requester_email": f"u{i}@example.org", "status": "Resolved"}
        for i in range(3)
    ]
    text = json.dumps(records, indent=2)
    path = write(tmp_path / "a.json", text[: text.rindex("{") + 20])
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["T-0", "T-1"]
    (problem,) = problems(events)
    assert problem.origin == f"{path}:12"
    assert problem.reason.startswith("truncated JSON")


def test_json_object_holding_records_and_record_start_lines(tmp_path: Path) -> None:
    """{"result": [...]} is streamed; each resolution's origin is the line its object starts on."""
    body = {"result": [{"ticket_id": "A", "requester_email": "a@example.org", "status": "closed"}]}
    path = write(tmp_path / "a.json", json.dumps(body, indent=2))
    (res,) = resolutions(source(tmp_path).poll(T0))
    assert res.origin == f"{path}:3"


def test_jsonl_bad_line_is_reported_and_others_read(tmp_path: Path) -> None:
    """A JSONL file with one broken line reports that line and keeps the rest."""
    good = json.dumps({"ticket_id": "A", "requester_email": "a@example.org", "status": "Resolved"})
    path = write(tmp_path / "a.jsonl", f'{good}\n{{"ticket_id": "B",\n{good.replace("A", "C")}\n')
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["A", "C"]
    (problem,) = problems(events)
    assert problem.origin == f"{path}:2"


@pytest.mark.parametrize(
    "name", ["a.csv.tmp", "a.csv.part", "a.csv.partial", "a.csv.crdownload", "a.csv~", ".a.csv"]
)
def test_temporary_names_are_never_read(tmp_path: Path, name: str) -> None:
    """Files being written under a temporary or hidden name are ignored, however old."""
    write(tmp_path / name, f"{HEADER}\nT-1,a@example.org,x,Resolved,\n")
    src = source(str(tmp_path / "*"))
    assert list(src.poll(T0)) == []
    assert list(src.poll(T0 + timedelta(hours=1))) == []


def test_unsettled_file_waits_until_old_enough_and_stable(tmp_path: Path) -> None:
    """A file modified less than settle_seconds ago is skipped, then read once it holds still."""
    path = write(tmp_path / "a.csv", f"{HEADER}\nT-1,a@example.org,x,Resolved,\n", mtime=T0)
    src = source(tmp_path, settle_seconds=5)
    assert list(src.poll(T0 + timedelta(seconds=2))) == []
    # It grows between polls: still being written, so not read even though now old enough.
    write(
        path, f"{HEADER}\nT-1,a@example.org,x,Resolved,\nT-2,b@example.org,y,Resolved,\n", mtime=T0
    )
    assert list(src.poll(T0 + timedelta(seconds=30))) == []
    events = list(src.poll(T0 + timedelta(seconds=40)))
    assert [r.ticket_id for r in resolutions(events)] == ["T-1", "T-2"]


def test_first_poll_reads_an_old_file(tmp_path: Path) -> None:
    """'notifier once' sees each file only once: an old enough file is read on the first poll."""
    write(tmp_path / "a.csv", f"{HEADER}\nT-1,a@example.org,x,Resolved,\n")
    assert len(resolutions(source(tmp_path).poll(T0))) == 1


def test_seen_file_is_skipped_and_read_on_or_again_after_it_changes(tmp_path: Path) -> None:
    """A finished file is not read again until its size or mtime changes; one that grew is
    read on from its last complete record, one rewritten is read again from the start."""
    seen = FakeSeen()
    src = source(tmp_path, seen)
    path = write(tmp_path / "a.csv", f"{HEADER}\nT-1,a@example.org,x,Resolved,\n")
    assert len(resolutions(seen.remember(src.poll(T0)))) == 1
    assert seen.remember(src.poll(T0 + timedelta(minutes=1))) == []
    write(path, f"{HEADER}\nT-1,a@example.org,x,Resolved,\nT-2,b@example.org,y,Resolved,\n")
    # The poll that notices the change waits; the next one, seeing it unchanged, reads it.
    assert seen.remember(src.poll(T0 + timedelta(minutes=2))) == []
    events = seen.remember(src.poll(T0 + timedelta(minutes=3)))
    assert [(r.ticket_id, r.origin) for r in resolutions(events)] == [("T-2", f"{path}:3")]
    # Rewritten: the bytes before the last mark changed (same length: "Done" for "y"...).
    write(path, f"{HEADER}\nT-1,a@example.org,z,Resolved,\nT-2,b@example.org,y,Resolved,\n"
          "T-3,c@example.org,w,Resolved,\n")  # fmt: skip
    assert seen.remember(src.poll(T0 + timedelta(minutes=4))) == []
    events = seen.remember(src.poll(T0 + timedelta(minutes=5)))
    assert [r.ticket_id for r in resolutions(events)] == ["T-1", "T-2", "T-3"]


def test_files_are_processed_in_name_order_and_only_known_extensions(tmp_path: Path) -> None:
    """A directory yields its .csv/.json/.jsonl files sorted by name, each ending with Checkpoint."""
    row = {"ticket_id": "J", "requester_email": "j@example.org", "status": "Resolved"}
    write(tmp_path / "b.json", json.dumps([row]))
    write(tmp_path / "a.csv", f"{HEADER}\nC,c@example.org,x,Resolved,\n")
    write(tmp_path / "c.jsonl", json.dumps({**row, "ticket_id": "L"}) + "\n")
    write(tmp_path / "notes.txt", "not an export")
    events = list(source(tmp_path).poll(T0))
    kinds = [
        (type(e).__name__, getattr(e, "ticket_id", Path(getattr(e, "key", "")).name))
        for e in events
    ]
    assert kinds == [
        ("Resolution", "C"),
        ("Checkpoint", "a.csv"),
        ("Resolution", "J"),
        ("Checkpoint", "b.json"),
        ("Resolution", "L"),
        ("Checkpoint", "c.jsonl"),
    ]


def test_glob_pattern_and_configured_format(tmp_path: Path) -> None:
    """A glob selects files; a configured format reads a file whatever its extension."""
    write(tmp_path / "export.txt", f"{HEADER}\nT,t@example.org,x,Resolved,\n")
    write(tmp_path / "other.csv", f"{HEADER}\nO,o@example.org,x,Resolved,\n")
    got = resolutions(source(str(tmp_path / "*.txt"), file_format="csv").poll(T0))
    assert [r.ticket_id for r in got] == ["T"]


def test_unknown_extension_in_auto_mode_is_reported_once(tmp_path: Path) -> None:
    """A globbed file whose format cannot be told is one problem, then remembered as read."""
    seen = FakeSeen()
    src = source(str(tmp_path / "*"), seen)
    write(tmp_path / "export.xlsx", b"PK\x03\x04")
    events = seen.remember(src.poll(T0))
    assert len(problems(events)) == 1
    assert "unknown export format" in problems(events)[0].reason
    assert seen.remember(src.poll(T0 + timedelta(minutes=1))) == []


def test_file_that_cannot_be_opened_is_a_problem_and_not_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that vanishes (or is unreadable) when opened gives one problem and no Checkpoint."""
    path = write(tmp_path / "a.csv", f"{HEADER}\nT,t@example.org,x,Resolved,\n")
    original_open = Path.open

    def vanishing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "a.csv":
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return original_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", vanishing_open)
    events = list(source(tmp_path).poll(T0))
    assert events == [
        InputProblem("exports", str(path), "cannot read file: No such file or directory")
    ]


def test_missing_directory_raises_source_error(tmp_path: Path) -> None:
    """A configured directory that does not exist is a SourceError (retried next pass)."""
    with pytest.raises(SourceError, match="does not exist"):
        list(source(tmp_path / "nope").poll(T0))


def test_empty_glob_is_not_an_error(tmp_path: Path) -> None:
    """A glob matching nothing yet is normal: no events, no error."""
    assert list(source(str(tmp_path / "*.csv")).poll(T0)) == []


def test_bad_format_name_is_a_config_error(tmp_path: Path) -> None:
    """An unknown file format is refused when the source is built."""
    with pytest.raises(ConfigError, match="xlsx"):
        source(tmp_path, file_format="xlsx")


ADDRESS_LISTS = [
    "ana@example.org,evil@example.com",
    "ana@example.org; cy@example.org",
    '"Ana" <ana@example.org>, <evil@example.com>',
    "<ana@example.org> <evil@example.com>",
    "Lee, Sam <sam@example.org>",  # an unquoted comma: two names, which one is meant?
]


def test_an_address_list_in_the_requester_column_rejects_the_row_in_csv(tmp_path: Path) -> None:
    """Taking the first address of a list would mail whoever it happens to start with."""
    rows = [f'T-{n},"{value.replace(chr(34), chr(34) * 2)}",t,Resolved,2026-11-27 10:00'
            for n, value in enumerate(ADDRESS_LISTS)]  # fmt: skip
    rows.append('T-9,"""Lee, Sam"" <sam@example.org>",t,Resolved,2026-11-27 10:00')  # one address
    path = write(tmp_path / "a.csv", "\n".join([HEADER, *rows]) + "\n")
    events = list(source(tmp_path).poll(T0))
    assert [(r.ticket_id, r.requester_email, r.requester_name) for r in resolutions(events)] == [
        ("T-9", "sam@example.org", "Lee, Sam")
    ]
    found = problems(events)
    assert [p.origin for p in found] == [f"{path}:{n}" for n in range(2, 2 + len(ADDRESS_LISTS))]
    for problem in found:
        assert "column 'requester_email'" in problem.reason
        assert "is an address list" in problem.reason


def test_an_address_list_in_the_requester_field_rejects_the_record_in_json_and_jsonl(
    tmp_path: Path,
) -> None:
    records = [
        {"ticket_id": f"T-{n}", "requester_email": value, "status": "Resolved"}
        for n, value in enumerate(ADDRESS_LISTS)
    ]
    records.append(
        {"ticket_id": "T-8", "requester_email": ["a@example.org", "b@example.org"],
         "status": "Resolved"}
    )  # fmt: skip
    records.append({"ticket_id": "T-9", "requester_email": "ok@example.org", "status": "Resolved"})
    write(tmp_path / "a.json", json.dumps(records, indent=2))
    write(tmp_path / "b.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    events = list(source(tmp_path).poll(T0))
    assert [r.ticket_id for r in resolutions(events)] == ["T-9", "T-9"]
    found = problems(events)
    assert len(found) == 2 * (len(ADDRESS_LISTS) + 1)
    assert all("is an address list" in p.reason for p in found)
    assert {p.origin for p in found if p.origin.startswith(str(tmp_path / "b.jsonl"))} == {
        f"{tmp_path / 'b.jsonl'}:{n}" for n in range(1, len(ADDRESS_LISTS) + 2)
    }
