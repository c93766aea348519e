"""Instances sharing a PostgreSQL state wake each other: a webhook event received by one, or
notices it queued, are announced (NOTIFY at the commit) to the others' listeners. A real server; the listener's
connection is also ended by the server, as a restart or an administrator would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from structlog.testing import capture_logs

from notifier.core.model import Resolution, State
from notifier.store.postgres.store import PostgresStore
from notifier.store.postgres.wakeups import WakeListener
from tests.postgres import PostgresServer
from tests.store_backends import new_database

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def url(postgres_cluster: PostgresServer) -> str:
    return new_database(postgres_cluster)


@pytest.fixture
def woken(url: str) -> Iterator[threading.Event]:
    """An instance listening: the event is set each time it is woken (first at the start)."""
    event = threading.Event()
    listener = WakeListener(url, "test-database", event.set)
    listener.start()
    try:
        assert event.wait(10), "the listener did not start"
        event.clear()
        yield event
    finally:
        listener.close()


@pytest.fixture
def other(url: str) -> Iterator[PostgresStore]:
    """The other instance's store on the same database."""
    store = PostgresStore.open(url, "test-database")
    try:
        yield store
    finally:
        store.close()


def test_an_event_received_by_another_instance_wakes_this_one(
    other: PostgresStore, woken: threading.Event
) -> None:
    assert other.receive("hooks", "evt-1", NOW, "{}")
    assert woken.wait(5), "not woken by the other instance's receipt"
    woken.clear()
    assert not other.receive("hooks", "evt-1", NOW, "{}")  # a replay: nothing new
    assert not woken.wait(1), "woken for a replay that added nothing"


def test_a_listener_whose_connection_is_ended_listens_again(
    url: str, other: PostgresStore, woken: threading.Event
) -> None:
    with capture_logs() as logs, psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
        ).fetchall()
        assert ended == [(True,)]
        assert woken.wait(15), "no wake-up after listening again"  # the catch-up one
        woken.clear()
        assert other.receive("hooks", "evt-2", NOW, "{}")
        assert woken.wait(5), "not woken once listening again"
    assert [e["event"] for e in logs if e["event"].startswith("wake_listen")] == [
        "wake_listen_failed", "wake_listen_restored",
    ]  # fmt: skip


def test_notices_queued_by_another_instance_wake_this_one_once_per_commit(
    other: PostgresStore, woken: threading.Event
) -> None:
    """Queued notices are any instance's to send: their commit wakes the others, once however
    many it queued; a notice held for review (not due) does not."""
    from tests.integration.test_postgres_store import queue

    queue(other, 20)  # one transaction
    assert woken.wait(5), "not woken by the other instance's queued notices"
    woken.clear()
    assert not woken.wait(1), "woken more than once for one commit"
    held = Resolution(source="desk", ticket_id="T-held", requester_email="h@example.org")
    with other.transaction():
        other.add(held, team="default", state=State.HELD, reason="review", now=NOW)
    assert not woken.wait(1), "woken for a notice held for review"
    other.release(held.key, NOW, note="looked fine")
    assert woken.wait(5), "not woken by a released notice"
