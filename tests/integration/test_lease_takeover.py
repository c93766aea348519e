"""A source's lease taken over while its holder reads (``notifier reread`` on a shared state):
the holder's chunk being committed is waited for, and what it reads after that is not kept,
so it cannot undo what the taker changed. Real PostgreSQL; the source is a fake of the
``Source`` port and the roles a fake of the ``Roles`` port (the holder's view before its
next renewal: it still thinks it holds the lease)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from notifier.core.model import Checkpoint, SourceEvent
from notifier.core.roles import source_lease
from notifier.store.postgres.leases import Membership
from notifier.store.postgres.store import PostgresStore
from tests.integration.test_service import START, Clock, make_service, resolution
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory
from tests.store_backends import new_database

LEASE = source_lease("fake")
PERIOD = timedelta(seconds=30)


@dataclass
class StillHolding:
    """The lease holder's roles as it sees them between renewals."""

    shared: bool = True

    def may_read(self, source: str) -> bool:
        return True

    def may_send(self) -> bool:
        return True


@dataclass
class GatedSource:
    """Yields a resolution and its checkpoint once ``go`` is set: a read in progress."""

    name: str = "fake"
    go: threading.Event = field(default_factory=threading.Event)
    reading: threading.Event = field(default_factory=threading.Event)
    acknowledged: int = 0

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        self.reading.set()
        self.go.wait(timeout=10)
        yield resolution(1)
        yield Checkpoint(self.name, "file.csv", "read-to-the-end")

    def committed(self) -> None:
        self.acknowledged += 1


@pytest.fixture
def url(postgres_cluster: PostgresServer) -> str:
    return new_database(postgres_cluster)


def test_taking_a_lease_waits_for_the_holders_commit_and_ends_its_hold(url: str) -> None:
    holder = PostgresStore.open(url, "test-database")
    own = Membership(url, "test-database", instance=holder.instance, name="a", pid=1)
    taker = Membership(url, "test-database", instance="reread-1", name="a (reread)", pid=2)
    try:
        assert own.renew([LEASE], PERIOD) == {LEASE}
        taken: list[str | None] = []
        with holder.transaction():
            assert holder.holds_lease("fake")
            taking = threading.Thread(target=lambda: taken.append(taker.take(LEASE, PERIOD)))
            taking.start()
            taking.join(timeout=1)
            assert taking.is_alive(), "the lease was taken during the holder's transaction"
        taking.join(timeout=10)
        assert taken == [f"a ({holder.instance})"]
        with holder.transaction():
            assert not holder.holds_lease("fake")
        assert own.renew([LEASE], PERIOD) == set()  # not while the taker holds it
        taker.leave()
        assert own.renew([LEASE], PERIOD) == {LEASE}  # given back
    finally:
        own.close()
        taker.close()
        holder.close()


def test_a_chunk_read_while_the_lease_was_taken_over_is_not_kept(
    url: str, smtp_server: SmtpServerFactory
) -> None:
    """The holder is reading when `notifier reread` takes the lease, forgets the source's
    checkpoint and gives the lease back. The holder's chunk rolls back, checkpoint and all (it
    would otherwise put back what reread forgot), and the source is not acknowledged; once the
    holder has the lease again, it reads and tells the resolution once."""
    store = PostgresStore.open(url, "test-database")
    own = Membership(url, "test-database", instance=store.instance, name="a", pid=1)
    reread = PostgresStore.open(url, "test-database")
    taker = Membership(url, "test-database", instance=reread.instance, name="reread", pid=2)
    server, clock, source = smtp_server(), Clock(), GatedSource()
    service = make_service(store, server, clock, source)  # type: ignore[arg-type]
    service.sources = [source]  # type: ignore[list-item]
    service.roles = StillHolding()
    try:
        assert own.renew([LEASE], PERIOD) == {LEASE}
        store.save_checkpoint(Checkpoint("fake", "file.csv", "read-before"), START)
        reports = []
        passing = threading.Thread(target=lambda: reports.append(service.run_pass()))
        passing.start()
        assert source.reading.wait(timeout=10)
        taker.take(LEASE, PERIOD)
        reread.forget_checkpoints("fake", ["file.csv"])
        taker.leave()
        with capture_logs() as logs:
            source.go.set()
            passing.join(timeout=30)
        assert [e["event"] for e in logs if e["event"] == "source_lease_taken"] == [
            "source_lease_taken"
        ]
        assert store.source_checkpoints("fake") == {}  # reread's change stands
        assert store.counts_by_state() == {} and server.messages == []
        assert source.acknowledged == 0

        assert own.renew([LEASE], PERIOD) == {LEASE}  # its next renewal
        source.go.set()
        report = service.run_pass()
        assert report.sent == 1 and source.acknowledged == 1
        assert store.source_checkpoints("fake") == {"file.csv": "read-to-the-end"}
    finally:
        source.go.set()
        for closing in (own, taker, store, reread):
            closing.close()


def test_without_a_take_over_the_holders_chunks_are_kept(
    url: str, smtp_server: SmtpServerFactory
) -> None:
    """An instance holding its lease keeps what it reads (the check names the lease right)."""
    store = PostgresStore.open(url, "test-database")
    own = Membership(url, "test-database", instance=store.instance, name="a", pid=1)
    server, clock, source = smtp_server(), Clock(), GatedSource()
    source.go.set()
    service = make_service(store, server, clock, source)  # type: ignore[arg-type]
    service.sources = [source]  # type: ignore[list-item]
    service.roles = StillHolding()
    try:
        assert own.renew([LEASE], PERIOD) == {LEASE}
        assert service.run_pass().sent == 1
        assert store.source_checkpoints("fake") == {"file.csv": "read-to-the-end"}
    finally:
        own.close()
        store.close()
