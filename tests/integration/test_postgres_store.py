"""Several instances on one PostgreSQL state: claims never overlap, the audit chain stays one
chain under concurrent writers, a live instance's claims are left alone, leases pass on only
when they expire or are given up. Real server, one database per test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.model import (
    DeliveryOutcome,
    DeliveryResult,
    InputProblem,
    Notice,
    Resolution,
    State,
)
from notifier.core.policy import Decision
from notifier.store.postgres.leases import Membership, instances
from notifier.store.postgres.store import PostgresStore
from notifier.store.sqlite.outbox import Outbox
from tests.postgres import PostgresServer
from tests.store_backends import new_database, state_from_before_the_chain

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def url(postgres_cluster: PostgresServer) -> str:
    return new_database(postgres_cluster)


@pytest.fixture
def stores(url: str) -> Iterator[list[PostgresStore]]:
    opened = [PostgresStore.open(url, "test-database") for _ in range(4)]
    yield opened
    for store in opened:
        store.close()


def queue(store: PostgresStore, count: int) -> None:
    with store.transaction():
        for n in range(count):
            item = Resolution(source="desk", ticket_id=f"T-{n}", requester_email=f"u{n}@example.org",
                              resolved_at=NOW, origin=f"x.csv:{n}")  # fmt: skip
            notice = Notice(
                resolution_key=item.key, ticket_id=item.ticket_id, source="desk", team="default",
                to_email=item.requester_email, to_name="", subject="Done", text="Done.\n",
                html=None, message_id=f"<{n}@example.org>", in_reply_to="", references=(),
                reply_to="", template="default/resolved@abc",
            )  # fmt: skip
            store.add(item, team="default", state=State.QUEUED, reason="", now=NOW, notice=notice)


def test_instances_claiming_at_once_never_claim_one_notice_twice(
    stores: list[PostgresStore],
) -> None:
    """Four instances claim 25 at a time from 1,000 due notices and record each as sent:
    every notice is claimed by exactly one of them, and all four took part."""
    queue(stores[0], 1000)
    claimed: dict[int, list[str]] = {n: [] for n in range(len(stores))}

    def deliver(n: int) -> None:
        store = stores[n]
        while batch := store.claim_due(NOW, 25):
            claimed[n] += [item.notice.resolution_key for item in batch]
            for item in batch:
                store.together(lambda item=item: store.record_attempt(  # type: ignore[misc]
                    item, DeliveryResult(DeliveryOutcome.SENT, 250, "ok"),
                    Decision(State.SENT, None, ""), NOW))  # fmt: skip

    threads = [threading.Thread(target=deliver, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    every = [key for keys in claimed.values() for key in keys]
    assert len(every) == len(set(every)) == 1000
    assert all(claimed.values()), {n: len(keys) for n, keys in claimed.items()}
    assert stores[1].counts_by_state() == {"sent": 1000}
    verification = stores[2].verify()
    assert verification.ok and verification.rows == 2000, verification.problems


def test_concurrent_writers_append_to_one_chain_that_verifies(
    stores: list[PostgresStore],
) -> None:
    """Four instances each write 250 audit rows at the same time: ids 1..1000 with no gap,
    each row linked to the one before, whoever wrote it."""

    def write(store: PostgresStore, n: int) -> None:
        for k in range(250):
            store.reject(InputProblem("desk", f"s{n}.csv:{k}", "bad row"), NOW)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    verification = stores[0].verify()
    assert verification.ok, verification.problems
    assert verification.rows == 1000 and verification.head_id == 1000


def test_a_live_instance_keeps_its_claims_and_a_stopped_ones_are_recovered(
    url: str, stores: list[PostgresStore]
) -> None:
    """b's recovery leaves a's notices in flight while a renews its lease; once a's lease
    has expired, b puts them back, naming a, with their Message-IDs."""
    a, b = stores[0], stores[1]
    member = Membership(url, "test-database", instance=a.instance, name="a", pid=1)
    try:
        member.renew([], timedelta(seconds=2))
        queue(a, 3)
        assert len(a.claim_due(NOW, 10)) == 3
        assert b.recover_interrupted(NOW) == 0
        time.sleep(2.5)
        assert b.recover_interrupted(NOW) == 3
    finally:
        member.close()
    (again, *_) = b.claim_due(NOW, 10)
    assert again.notice.message_id.endswith("@example.org>")
    recovered = b.audit_records(AuditQuery(outcome="recovered"))
    assert len(recovered) == 3 and all(f"by instance {a.instance}" in r.reason for r in recovered)


def test_a_lease_passes_on_when_it_expires_or_is_given_up(
    url: str, stores: list[PostgresStore]
) -> None:
    """A source's lease is its holder's while renewed; another instance gets it once it has
    expired or was given up (a clean stop), never before."""
    a = Membership(url, "test-database", instance="a-1", name="a", pid=1)
    b = Membership(url, "test-database", instance="b-1", name="b", pid=2)
    try:
        period = timedelta(seconds=2)
        assert a.renew(["source:desk", "source:mail"], period) == {"source:desk", "source:mail"}
        assert b.renew(["source:desk", "source:mail"], period) == set()
        assert a.renew(["source:desk"], period) == {"source:desk"}  # mail let go
        assert b.renew(["source:desk", "source:mail"], period) == {"source:mail"}
        time.sleep(2.5)  # a stopped renewing
        assert b.renew(["source:desk", "source:mail"], period) == {"source:desk", "source:mail"}
        assert a.renew(["source:desk"], period) == set()
        b.leave()
        assert a.renew(["source:desk"], period) == {"source:desk"}
        views = {view.name: view for view in instances(a._db)}
        assert views["a"].alive and views["a"].leases == ("source:desk",)
        assert not views["b"].alive and views["b"].leases == ()
    finally:
        a.close()
        b.close()


def test_rows_from_before_the_chain_are_sealed_on_the_way(tmp_path: Path, url: str) -> None:
    """A SQLite state whose audit rows predate the hash chain (schema version 3) moves with
    its rows sealed, in id order: the target accepts only rows with their hashes."""
    state_from_before_the_chain(tmp_path)
    with Outbox.open(tmp_path) as source, PostgresStore.open(url, "test-database") as target:
        assert source.verify().unsealed == 3
        assert source.copy_into(target)["audit"] == 3
        moved = target.verify()
        assert moved.ok and moved.unsealed == 0 and moved.rows == 3
        assert moved.head_hash == source.verify().head_hash
