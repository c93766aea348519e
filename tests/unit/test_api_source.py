"""The API source's cursor: the first start reads from now, later polls from the cursor
minus the overlap, and a long listing stops after MAX_POLL_SECONDS with its cursor kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.core.model import Checkpoint, Resolution
from notifier.sources.api.source import CURSOR, MAX_POLL_SECONDS, ApiRecord, ApiSource
from notifier.sources.records.mapping import mapping_of, statuses

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class State:
    def __init__(self) -> None:
        self.marks: dict[str, str] = {}

    def checkpoint(self, source: str, key: str) -> str | None:
        return self.marks.get(key)


class Reader:
    product = "Test"
    mapping = mapping_of(
        {n: n for n in ("ticket_id", "requester_email", "status", "resolved_at")}, ("done",)
    )
    reopen_statuses = statuses()

    def __init__(self, clock: list[float], count: int) -> None:
        self.clock, self.count = clock, count
        self.asked: list[datetime] = []

    def changed(self, client: Any, since: datetime, token: str = "") -> Iterator[ApiRecord]:
        self.asked.append(since)
        for n in range(self.count):
            self.clock[0] += 10  # each ticket takes ten seconds to read
            at = NOW + timedelta(minutes=n)
            record = {"ticket_id": str(n), "requester_email": f"u{n}@example.org",
                      "status": "done", "resolved_at": at.isoformat()}  # fmt: skip
            yield ApiRecord(record, at, f"Test ticket {n}")

    def probe(self, client: Any) -> str:
        return "ok"


class Client:
    def close(self) -> None:
        """Nothing open."""


def test_the_first_start_reads_from_now_and_later_polls_from_the_cursor_less_overlap() -> None:
    clock, state = [0.0], State()
    reader = Reader(clock, 2)
    source = ApiSource("t", reader, Client(), state, monotonic=lambda: clock[0])  # type: ignore[arg-type]
    first = list(source.poll(NOW))
    assert first == [Checkpoint("t", CURSOR, "2026-12-03T12:00:00.000000Z")] and reader.asked == []
    state.marks[CURSOR] = "2026-12-03T12:00:00.000000Z"
    events = list(source.poll(NOW))
    assert reader.asked == [NOW - timedelta(minutes=5)]
    # the first is at the cursor itself: only the second moves it
    assert [type(e).__name__ for e in events] == ["Resolution", "Resolution", "Checkpoint"]


def test_a_long_listing_stops_after_the_poll_budget_with_its_cursor_kept() -> None:
    clock, state = [0.0], State()
    state.marks[CURSOR] = "2026-12-03T11:00:00.000000Z"
    reader = Reader(clock, 100)
    source = ApiSource("t", reader, Client(), state, monotonic=lambda: clock[0])  # type: ignore[arg-type]
    events = list(source.poll(NOW))
    read = [e for e in events if isinstance(e, Resolution)]
    assert len(read) == int(MAX_POLL_SECONDS // 10) + 1
    assert isinstance(events[-1], Checkpoint)  # the cursor of the last ticket read
