"""An API source: asks its product for the tickets changed since the cursor, reads each with
the shared record mapping, and commits the cursor with the notices it produced.

The cursor is the newest ``updated_at`` read, or the product's own cursor token where it has one
(Zendesk), kept as a checkpoint (``cursor``) that the service commits in the same transaction
as the events before it. Each poll asks again from ``overlap``
before the cursor (clocks disagree; a ticket saved at the cursor's second may be missed):
resolutions read twice have one key and are ``already_known``. On the first start the cursor
is "now" (or ``backfill_since``): the tickets resolved before notifier was set up are not
announced.
"""

from __future__ import annotations

import threading
import time as time_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar, Protocol

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.model import Checkpoint, InputProblem, SourceEvent
from notifier.core.ports import SourceState
from notifier.sources.api.client import ApiClient
from notifier.sources.records.mapping import ColumnMapping, mapping_of, normalise_status, statuses
from notifier.sources.records.verdict import record_verdict

CURSOR = "cursor"
PRODUCT_CURSOR = "token:"  # a saved cursor that is the product's own, not a time
# One poll reads for at most this long (seconds); the rest waits for the next pass, from the
# committed cursor: a long backfill must not keep the daemon from its stop, reload and watchdog.
MAX_POLL_SECONDS = 60.0


@dataclass(frozen=True)
class ApiRecord:
    """One ticket as a product's reader found it."""

    record: dict[str, object]  # the ticket, with the mapping's field names
    updated_at: datetime  # the product's last-change time: the cursor moves to it
    origin: str  # names the ticket in the audit trail ("RT ticket 42")
    # Why this ticket could not be read whole (a lookup of its requester failed): it is then
    # recorded as rejected input, and the other tickets go on.
    problem: str = ""
    # A product's own cursor (Zendesk's after_cursor), set on the last ticket of its page
    # only: reading resumes after it, so it is committed once the whole page is.
    token: str = ""
    skip: bool = False  # nothing to read (a deleted ticket, an empty page): the cursor only


@dataclass
class RecordReader:
    """What every product's reader shares: the statuses that mean resolved (``resolved``), the
    record mapping of the fields its records fill (``FIELDS``), the statuses that announce a
    reopen (none: an open status is one)."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    resolved: tuple[str, ...] = ()
    mapping: ColumnMapping = field(init=False)
    reopen_statuses: frozenset[str] = field(default_factory=statuses)
    _done: frozenset[str] = field(init=False, repr=False, default=frozenset())

    def __post_init__(self) -> None:
        self.mapping = mapping_of({name: name for name in self.FIELDS}, self.resolved)
        self._done = frozenset(normalise_status(status) for status in self.resolved)

    def is_resolved(self, status: str) -> bool:
        return normalise_status(status) in self._done


class TicketReader(Protocol):
    """One product's API: its record mapping, and its changed tickets oldest first."""

    product: str
    mapping: ColumnMapping
    reopen_statuses: frozenset[str]

    def changed(self, client: ApiClient, since: datetime, token: str) -> Iterator[ApiRecord]:
        """The tickets changed since ``since`` (by change time), or after ``token`` (the
        product's own cursor, when it has one and one was saved), oldest first."""
        ...

    def probe(self, client: ApiClient) -> str:
        """Log in and read one page of tickets; what was seen (for check-config --connect)."""
        ...


class ApiSource:
    def __init__(
        self,
        name: str,
        reader: TicketReader,
        client: ApiClient,
        state: SourceState,
        *,
        overlap: timedelta = timedelta(minutes=5),
        backfill_since: date | None = None,
        monotonic: Callable[[], float] = time_module.monotonic,
    ) -> None:
        self.name = name
        self.reader = reader
        self._client = client
        self._state = state
        self.overlap = overlap
        self.backfill_since = backfill_since
        self._monotonic = monotonic

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        saved = self._state.checkpoint(self.name, CURSOR)
        if saved is None:
            start = (
                datetime.combine(self.backfill_since, time(0), UTC)
                if self.backfill_since is not None
                else now
            )
            # The first start marks where reading begins; nothing before it is announced.
            yield Checkpoint(self.name, CURSOR, to_stamp(start))
            if self.backfill_since is None:
                return
            cursor, token = start, ""
        elif saved.startswith(PRODUCT_CURSOR):
            cursor, token = now, saved.removeprefix(PRODUCT_CURSOR)
        else:
            cursor, token = from_stamp(saved), ""
        newest = cursor
        started = self._monotonic()
        for item in self.reader.changed(self._client, cursor - self.overlap, token):
            if item.skip:
                pass
            elif item.problem:
                ticket = str(item.record.get("ticket_id") or "")
                yield InputProblem(self.name, item.origin, item.problem, ticket_id=ticket)
            else:
                yield record_verdict(
                    item.record, self.reader.mapping,
                    reopen_statuses=self.reader.reopen_statuses, source=self.name,
                    origin=item.origin, seen_at=item.updated_at,
                )  # fmt: skip
            if item.token:
                yield Checkpoint(self.name, CURSOR, PRODUCT_CURSOR + item.token)
            elif not token and item.updated_at > newest:
                newest = item.updated_at
                yield Checkpoint(self.name, CURSOR, to_stamp(newest))
            if self._monotonic() - started > MAX_POLL_SECONDS:
                return  # the next pass goes on from the cursor committed with this one

    def check(self) -> str:
        """``check-config --connect``: log in and read one page; SourceError says what failed."""
        return self.reader.probe(self._client)

    def committed(self) -> None:
        """Nothing to acknowledge: the cursor is a checkpoint."""

    def watch(self, wake: threading.Event) -> None:
        """Polled at the daemon's interval: nothing to watch between passes."""

    def close(self) -> None:
        self._client.close()
