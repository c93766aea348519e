"""Paging "changed since" by change time: no ticket skipped when one changes mid-listing,
none given twice, and a second holding more tickets than a page is read whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.sources.api.paging import changed_since

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Tickets:
    """A product's list sorted by (time, id); ``touch`` changes one between two pages."""

    def __init__(self, times: dict[str, datetime]) -> None:
        self.times = dict(times)
        self.pages = 0
        self.touch_after_first: tuple[str, datetime] | None = None

    def fetch(self, since: datetime, page: int, size: int) -> list[tuple[datetime, str]]:
        self.pages += 1
        if self.pages == 2 and self.touch_after_first is not None:
            ident, at = self.touch_after_first
            self.times[ident] = at
        ordered = sorted((at, ident) for ident, at in self.times.items() if at >= since)
        return ordered[(page - 1) * size : page * size]


def read(tickets: Tickets, size: int) -> list[str]:
    return [
        ident
        for _, ident in changed_since(
            lambda since, page: tickets.fetch(since, page, size), T0, lambda item: item, size
        )
    ]


def test_a_ticket_changed_while_the_list_is_read_skips_none() -> None:
    times = {f"{n:02d}": T0 + timedelta(seconds=n) for n in range(10)}
    tickets = Tickets(times)
    tickets.touch_after_first = ("01", T0 + timedelta(seconds=60))  # moves to the end
    got = read(tickets, 4)
    assert set(got) == set(times)  # with offsets alone, "04" would be skipped
    assert got.count("01") == 2  # read before and after its change: the keys dedupe


def test_more_tickets_in_one_second_than_a_page_are_each_read_once() -> None:
    same = {f"{n:02d}": T0 for n in range(9)}
    got = read(Tickets({**same, "late": T0 + timedelta(seconds=5)}), 4)
    assert sorted(got) == sorted([*same, "late"])
    assert len(got) == len(set(got))
