"""ExportSource when the clock and file times disagree (a clock set back, a skewed writer)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from tests.unit.test_export import HEADER, T0, FakeSeen, resolutions, source, write


def test_a_file_with_a_future_mtime_is_read_once_it_held_still_between_two_polls(
    tmp_path: Path,
) -> None:
    """The clock set back an hour: a file stamped an hour ahead is not 'being written for
    ever'. It is read at the second poll that sees it unchanged; one a second ahead (within
    the tolerance) waits for settle_seconds like any young file."""
    ahead = write(tmp_path / "a.csv", f"{HEADER}\nA,a@example.org,x,Resolved,\n",
                  mtime=T0 + timedelta(hours=1))  # fmt: skip
    near = write(tmp_path / "b.csv", f"{HEADER}\nB,b@example.org,x,Resolved,\n",
                 mtime=T0 + timedelta(seconds=1))  # fmt: skip
    seen = FakeSeen()
    src = source(tmp_path, seen, settle_seconds=5)

    def ids(at: timedelta) -> list[str]:
        return [r.ticket_id for r in resolutions(seen.remember(src.poll(T0 + at)))]

    assert ids(timedelta(0)) == []  # first sight: no age to go by
    assert ids(timedelta(seconds=2)) == ["A"]
    assert ids(timedelta(seconds=6)) == ["B"]  # 5 s after its (near future) mtime
    with ahead.open("a") as out:
        out.write("C,c@example.org,x,Resolved,\n")
    os.utime(ahead, ns=(int((T0 + timedelta(hours=2)).timestamp() * 1e9),) * 2)
    assert ids(timedelta(seconds=8)) == []  # changed since the last poll: wait
    assert ids(timedelta(seconds=10)) == ["C"]
    assert near.exists()
