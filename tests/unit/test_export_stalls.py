"""Property: an export written in arbitrary stalls, cut at arbitrary bytes, gives every
complete record exactly once, and never a record that was cut."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.core.model import Resolution
from tests.unit.test_export import T0, FakeSeen, source

# Notes with what makes cutting hard: quotes, commas, line breaks, multi-byte characters.
NOTE = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\u00e9\u20ac\U0001f600{}[]:')), max_size=12)
RECORDS = st.lists(st.tuples(NOTE, st.booleans()), min_size=1, max_size=8)
# Seconds between the file's mtime and the poll: young, old, or in the future (clock back).
AGES = st.sampled_from([0, 3, 10, 120, 3600, -3600])


def serialise(kind: str, records: list[tuple[str, bool]], crlf: bool) -> bytes:
    rows = [
        {
            "ticket_id": f"T-{n}",
            "requester_email": f"user{n}@example.org",
            "status": "Resolved",
            "resolution_note": note,
        }
        for n, (note, _) in enumerate(records)
    ]
    if kind == "csv":
        end = "\r\n" if crlf else "\n"

        def cell(value: str, always: bool) -> str:
            if always or any(c in value for c in ',"\r\n'):
                return '"' + value.replace('"', '""') + '"'
            return value

        lines = [",".join(rows[0])] + [
            ",".join(cell(v, records[n][1]) for v in row.values()) for n, row in enumerate(rows)
        ]
        return "".join(line + end for line in lines).encode()
    if kind == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    return (json.dumps(rows, indent=1 if crlf else None, ensure_ascii=False) + "\n").encode()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["csv", "jsonl", "json"]),
    records=RECORDS,
    crlf=st.booleans(),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    ages=st.lists(AGES, min_size=7, max_size=7),
    polls=st.lists(st.integers(1, 2), min_size=7, max_size=7),
)
def test_every_complete_record_is_read_exactly_once_whatever_the_stalls(
    tmp_path_factory: object,
    kind: str,
    records: list[tuple[str, bool]],
    crlf: bool,
    cuts: list[float],
    ages: list[int],
    polls: list[int],
) -> None:
    """The file grows to each cut point in turn (any byte: inside a quote, a multi-byte
    character, between CR and LF) and stalls there for one or two polls with its mtime young,
    old or in the future; at the end it is whole. Every ticket comes out exactly once, with
    its whole note and address."""
    folder = Path(tmp_path_factory.mktemp("stalls"))  # type: ignore[attr-defined]
    path = folder / f"export.{kind}"
    data = serialise(kind, records, crlf)
    points = [*sorted({int(c * len(data)) for c in cuts}), len(data)]
    seen = FakeSeen()
    src = source(folder, seen, settle_seconds=5)
    got: list[Resolution] = []
    clock = T0
    for step, point in enumerate(points):
        path.write_bytes(data[:point])
        stamp = clock + timedelta(seconds=30 - ages[step])  # as seen by the first poll
        os.utime(path, ns=(int(stamp.timestamp() * 1e9),) * 2)
        for _ in range(polls[step]):
            clock += timedelta(seconds=30)
            got += [e for e in seen.remember(src.poll(clock)) if isinstance(e, Resolution)]
    for _ in range(3):  # the whole file, settled
        clock += timedelta(minutes=5)
        got += [e for e in seen.remember(src.poll(clock)) if isinstance(e, Resolution)]
    expected = [
        (f"T-{n}", f"user{n}@example.org", note.strip()) for n, (note, _) in enumerate(records)
    ]
    assert sorted((r.ticket_id, r.requester_email, r.resolution_note) for r in got) == sorted(
        expected
    )
