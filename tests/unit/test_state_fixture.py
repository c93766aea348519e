"""A state directory written by a released notifier opens, migrates and reads back whole.

The database in ``tests/data/state/<version>/`` was written by that release (see its README);
a change of layout, schema or codec that cannot read it fails here, not on an operator's disk.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from notifier.store.sqlite.reader import StateReader
from notifier.store.sqlite.schema import MIGRATIONS

RELEASES = Path(__file__).resolve().parents[1] / "data" / "state"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(params=sorted(p.name for p in RELEASES.iterdir() if p.is_dir()))
def released_state(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A copy of one release's state directory (the test may migrate and write it)."""
    shutil.copy(RELEASES / request.param / DATABASE_NAME, tmp_path / DATABASE_NAME)
    return tmp_path


def schema_version(directory: Path) -> int:
    with sqlite3.connect(directory / DATABASE_NAME) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def test_the_fixture_is_from_an_older_or_the_current_schema(released_state: Path) -> None:
    assert 1 <= schema_version(released_state) <= len(MIGRATIONS)


def test_a_released_state_opens_migrates_and_its_chain_verifies(released_state: Path) -> None:
    with Outbox.open(released_state) as store:
        verification = store.verify()
        records = store.audit_records(AuditQuery())
    assert schema_version(released_state) == len(MIGRATIONS)
    assert verification.ok, verification.problems
    assert verification.rows == len(records) > 0
    assert {"queued", "sent", "held"} <= {record.outcome for record in records}


def test_everything_a_release_stored_reads_back(released_state: Path) -> None:
    with Outbox.open(released_state) as store:
        held = store.held()
        sent = store.audit_records(AuditQuery(outcome="sent"))
        views = [store.notice_view(record.resolution_key) for record in sent]
        resolutions = store.resolutions([record.resolution_key for record in sent])
        checkpoints = {
            source: store.source_checkpoints(source)
            for source in {record.source for record in sent}
        }
        report = store.report(since=None, until=None, team=None, now=NOW)
    assert held and all(item.text and item.subject for item in held)
    assert all(view is not None and view.subject and view.message_id for view in views)
    assert set(resolutions) == {record.resolution_key for record in sent}
    assert all(checkpoints.values()), checkpoints
    assert sum(line.notified for line in report.teams) == len(sent)
    assert sum(line.held for line in report.teams) == len(held)


def test_a_released_state_takes_new_work_after_migrating(released_state: Path) -> None:
    with Outbox.open(released_state) as store:
        assert store.recover_interrupted(NOW) == 0
        held = store.held()[0]
        store.release(held.resolution_key, NOW, note="released after review")
        claimed = store.claim_due(NOW, 10)
        assert [item.notice.resolution_key for item in claimed] == [held.resolution_key]
        store.unclaim([held.resolution_key])
        assert store.verify().ok
    with StateReader(released_state) as reader:
        snapshot = reader.queue(NOW)
    assert snapshot.counts.get("queued") == 1
    assert snapshot.dead_letters == 0
