"""Paging through "changed since" by the change time itself, not by offset alone.

An offset into a list sorted by change time shifts when a ticket changes while the list is
read (it moves to the end and the rest move up one: one is skipped at a page boundary). So
each page asks again from the newest change time read so far, skipping the tickets of that
same second already given; only a page that is all one second, all given, goes on by page
number within it. The products sort by (change time, id), so ties keep their order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

Item = TypeVar("Item")

# fetch(since, page) -> the items changed at or after ``since``, sorted by (time, id), the
# ``page``-th page (1 first) of at most ``size``.
Fetch = Callable[[datetime, int], Sequence[Item]]


def changed_since(
    fetch: Fetch[Item],
    since: datetime,
    key: Callable[[Item], tuple[datetime, str]],
    size: int,
) -> Iterator[Item]:
    """Every item changed at or after ``since``, each once, oldest first."""
    boundary, given, page = since, set[str](), 1
    while True:
        items = fetch(boundary, page)
        newest = boundary
        for item in items:
            at, ident = key(item)
            if at <= boundary and ident in given:
                continue
            yield item
            if at > newest:
                newest, given = at, set()
            if at == newest:
                given.add(ident)
        if len(items) < size:
            return
        if newest > boundary:
            boundary, page = newest, 1
        else:
            page += 1  # a whole page of one second: go on within it
