"""The outbox: unique resolution keys, crash recovery, audit rows with every change, safe opening."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.core.errors import StateError
from notifier.core.model import (
    Checkpoint,
    DeliveryOutcome,
    DeliveryResult,
    InputProblem,
    Notice,
    Resolution,
    State,
)
from notifier.core.policy import RetryPolicy, after_attempt
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.schema import MIGRATIONS
from tests.store_backends import StoreBackend

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def resolution(ticket: str = "T-1", when: datetime = NOW) -> Resolution:
    return Resolution(
        source="jira",
        ticket_id=ticket,
        requester_email="a@example.org",
        resolved_at=when,
        origin="x.csv:2",
    )


def notice_for(item: Resolution) -> Notice:
    return Notice(
        resolution_key=item.key, ticket_id=item.ticket_id, source=item.source, team="default",
        to_email=item.requester_email, to_name="", subject="Done", text="Done.\n", html=None,
        message_id=f"<{item.ticket_id}@example.org>", in_reply_to="", references=("<t@example.org>",),
        reply_to="", template="default/resolved@abc",
    )  # fmt: skip


@pytest.fixture
def outbox(state_store: SqlStore) -> SqlStore:
    """The store under test, on each backend in turn (tests/store_backends.py)."""
    return state_store


def test_same_key_is_recorded_once(outbox: SqlStore) -> None:
    """Re-reading the same resolution adds nothing; a new resolved time is a new notice."""
    first = resolution()
    assert outbox.add(
        first, team="default", state=State.QUEUED, reason="", now=NOW, notice=notice_for(first)
    )
    assert not outbox.add(
        first, team="default", state=State.QUEUED, reason="", now=NOW, notice=notice_for(first)
    )
    reopened = resolution(when=NOW + timedelta(days=1))
    assert outbox.add(
        reopened,
        team="default",
        state=State.QUEUED,
        reason="",
        now=NOW,
        notice=notice_for(reopened),
    )
    assert outbox.counts_by_state() == {"queued": 2}
    assert [r.outcome for r in outbox.audit_records(AuditQuery(ticket="T-1"))] == [
        "queued",
        "queued",
    ]


def test_claim_send_and_record_with_audit(outbox: SqlStore) -> None:
    """Claiming marks notices sending; the result and its audit row are stored together."""
    item = resolution()
    outbox.add(
        item, team="default", state=State.QUEUED, reason="", now=NOW, notice=notice_for(item)
    )
    (claimed,) = outbox.claim_due(NOW, 10)
    assert claimed.notice.attempt == 1 and outbox.counts_by_state() == {"sending": 1}
    result = DeliveryResult(DeliveryOutcome.TRANSIENT, 451, "4.3.0 try later")
    decision = after_attempt(
        RetryPolicy(), result, queued_at=claimed.queued_at, now=NOW, attempt=1, rng=random.Random(0)
    )
    outbox.record_attempt(claimed, result, decision, NOW)
    assert outbox.claim_due(NOW, 10) == []  # not due before its retry time
    later = NOW + timedelta(minutes=2)
    (again,) = outbox.claim_due(later, 10)
    assert again.notice.attempt == 2 and again.notice.message_id == claimed.notice.message_id
    records = outbox.audit_records(AuditQuery(ticket="T-1"))
    assert [(r.outcome, r.smtp_code) for r in records] == [("queued", None), ("deferred", 451)]
    assert records[1].smtp_reply == "4.3.0 try later"


def test_rows_left_sending_are_recovered_with_the_same_message_id(
    store_backend: StoreBackend,
) -> None:
    """A crash between claim and result leaves 'sending'; the next start puts it back, recorded."""
    store = store_backend.open()
    item = resolution()
    store.add(item, team="default", state=State.QUEUED, reason="", now=NOW, notice=notice_for(item))
    store.claim_due(NOW, 10)
    store.close()  # the process "dies" here

    store = store_backend.open()
    assert store.recover_interrupted(NOW) == 1
    (claimed,) = store.claim_due(NOW, 10)
    assert claimed.notice.message_id == "<T-1@example.org>"
    assert [r.outcome for r in store.audit_records(AuditQuery())][-1] == "recovered"
    store.close()


def test_rejected_input_is_audited(outbox: SqlStore) -> None:
    """Bad input becomes an audit row with its origin and reason."""
    outbox.reject(InputProblem("jira", "export.csv:7", "requester_email: missing"), NOW)
    (record,) = outbox.audit_records(AuditQuery(outcome="rejected"))
    assert (record.origin, record.reason) == ("export.csv:7", "requester_email: missing")


def test_second_daemon_on_the_same_state_is_refused(tmp_path: Path) -> None:
    """Two writers on one state directory would break exactly-once; the second one is refused."""
    first = Outbox.open(tmp_path)
    with pytest.raises(StateError, match="another notifier process"):
        Outbox.open(tmp_path)
    reader = Outbox.open(tmp_path, exclusive=False)  # audit queries still work
    reader.close()
    first.close()


def test_corrupt_state_file_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    """A state file that is not a database stops start-up with a clear error; it is left as is."""
    path = tmp_path / DATABASE_NAME
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="cannot open the state database"):
        Outbox.open(tmp_path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_schema_is_versioned(tmp_path: Path) -> None:
    """The database records its schema version; a newer one than we know is refused."""
    Outbox.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StateError, match="newer than this notifier understands"):
        Outbox.open(tmp_path)


def test_checkpoints_are_per_source_and_key(outbox: SqlStore) -> None:
    """A source reads back the last progress mark it committed for a key, and nothing else's."""
    assert outbox.checkpoint("jira", "/x/a.csv") is None
    outbox.save_checkpoint(Checkpoint("jira", "/x/a.csv", "10:1"), NOW)
    outbox.save_checkpoint(Checkpoint("jira", "/x/a.csv", "11:2"), NOW)
    assert outbox.checkpoint("jira", "/x/a.csv") == "11:2"
    assert outbox.checkpoint("imap", "/x/a.csv") is None


def _send(outbox: SqlStore, items: list[Resolution], at: datetime, *, digest: bool = False) -> None:
    for item in items:
        outbox.add(
            item, team="default", state=State.QUEUED, reason="", now=at, notice=notice_for(item)
        )
    claimed = outbox.claim_due(at, 100)
    result = DeliveryResult(DeliveryOutcome.SENT, 250, "2.0.0 ok")
    together = notice_for(items[0]) if digest else None
    for item in claimed:
        decision = after_attempt(
            RetryPolicy(), result, queued_at=item.queued_at, now=at, attempt=1, rng=random.Random(0)
        )
        outbox.record_attempt(item, result, decision, at, digest=together)


def test_sends_per_requester_are_counted_in_one_query_like_one_at_a_time(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """The per-recipient count for a batch of requesters (one query) matches the single form:
    case-insensitive, a digest counts once, older sends and other outcomes do not count; and the
    lookup is served by the partial index on sent rows, not a scan of the period."""

    def to(requester: str, ticket: str) -> Resolution:
        return Resolution(
            source="jira", ticket_id=ticket, requester_email=requester, resolved_at=NOW,
            origin="x.csv:2",
        )  # fmt: skip

    _send(outbox, [to("a@example.org", "T-0")], NOW - timedelta(hours=2))
    _send(outbox, [to("a@example.org", "T-1"), to("A@Example.org", "T-2")], NOW, digest=True)
    _send(outbox, [to("B@example.org", "T-3")], NOW - timedelta(minutes=5))
    asked = ["a@example.org", "b@example.org", "c@example.org"]
    counts = outbox.sent_to_since_many(asked, NOW - timedelta(hours=1), until=NOW)
    assert counts == {
        "a@example.org": (1, NOW),
        "b@example.org": (1, NOW - timedelta(minutes=5)),
        "c@example.org": (0, None),
    }
    assert counts == {
        r: outbox.sent_to_since(r, NOW - timedelta(hours=1), until=NOW) for r in asked
    }
    db = outbox._db
    query = (
        "SELECT count(DISTINCT message_id), min(at) FROM audit WHERE outcome = 'sent' AND "  # noqa: S608 - fixed SQL
        + db.same_address("requester", "?")
        + " AND at >= ?"
    )
    if store_backend.name == "sqlite":
        query = "EXPLAIN QUERY PLAN " + query
    else:  # a table this small is scanned unless scans are ruled out
        db.execute("SET enable_seqscan = off")
        query = "EXPLAIN " + query
    plan = db.execute(query, ("a@example.org", "2026-11-27T11:00:00Z")).fetchall()
    assert any("audit_sent_requester" in str(row[-1]) for row in plan), plan


def _checkpoint_work(outbox: SqlStore, key: str, ran_in: dict[str, int]) -> Callable[[], None]:
    def work() -> None:
        ran_in[key] = threading.get_ident()
        outbox.save_checkpoint(Checkpoint("desk", key, "done"), NOW)

    return work


def _wait_for_waiting(outbox: SqlStore, count: int) -> None:
    """Until ``count`` threads wait for the commit in progress (a deadline, never a hang)."""
    deadline = time.monotonic() + 10
    while len(outbox._group_waiting) < count:
        assert time.monotonic() < deadline, f"{count} threads never waited for the commit"
        time.sleep(0.001)


def _join(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), f"{thread.name} did not finish"


def _slow_commit(outbox: SqlStore) -> tuple[threading.Thread, threading.Event]:
    """A thread committing until the returned event is set; others hand work in meanwhile."""
    committing, release = threading.Event(), threading.Event()

    def slow() -> None:
        committing.set()
        assert release.wait(10)
        outbox.save_checkpoint(Checkpoint("desk", "first", "done"), NOW)

    first = threading.Thread(target=outbox.together, args=(slow,), name="first")
    first.start()
    assert committing.wait(10)
    return first, release


def test_work_handed_in_while_a_commit_runs_is_committed_together(outbox: SqlStore) -> None:
    """Two threads arriving while a third commits share the next commit (one transaction, run
    by one of them); each returns only once its own work is committed."""
    first, release = _slow_commit(outbox)
    ran_in: dict[str, int] = {}
    others = [
        threading.Thread(
            target=outbox.together, args=(_checkpoint_work(outbox, key, ran_in),), name=key
        )
        for key in ("a", "b")
    ]
    for thread in others:
        thread.start()
    _wait_for_waiting(outbox, 2)
    release.set()
    _join(first, *others)
    assert ran_in["a"] == ran_in["b"]  # one thread ran both: the same transaction
    assert [outbox.checkpoint("desk", key) for key in ("first", "a", "b")] == ["done"] * 3


def test_work_that_cannot_be_stored_fails_alone_in_a_shared_commit(outbox: SqlStore) -> None:
    """One thread's work fails in a shared commit: the others' work is still committed (their
    messages went out), and only that thread gets the error."""
    first, release = _slow_commit(outbox)
    failures: dict[str, BaseException] = {}

    def hand_in(key: str, work: Callable[[], None]) -> None:
        try:
            outbox.together(work)
        except StateError as exc:
            failures[key] = exc

    def broken() -> None:
        raise StateError("disk I/O error (injected)")

    good = threading.Thread(target=hand_in, args=("good", _checkpoint_work(outbox, "good", {})))
    good.start()
    _wait_for_waiting(outbox, 1)  # "good" first, so that it is in the group whatever happens
    bad = threading.Thread(target=hand_in, args=("broken", broken))
    bad.start()
    _wait_for_waiting(outbox, 2)
    release.set()
    _join(first, good, bad)
    assert set(failures) == {"broken"} and "injected" in str(failures["broken"])
    assert outbox.checkpoint("desk", "good") == "done"
