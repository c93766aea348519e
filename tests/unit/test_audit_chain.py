"""The audit trail's hash chain: append-only rows, verification naming the broken row, retention."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifier.cli.auditview import format_records
from notifier.core.audit import GENESIS, AuditQuery, Problem, row_hash, words_hash
from notifier.core.model import (
    DeliveryOutcome,
    DeliveryResult,
    InputProblem,
    Notice,
    Resolution,
    State,
)
from notifier.core.policy import Decision
from notifier.store.sql import audit
from notifier.store.sql.store import SqlStore
from notifier.store.sqlite import schema
from notifier.store.sqlite.database import SqliteDatabase
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from tests.store_backends import StoreBackend, state_from_before_the_chain

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def resolution(ticket: str, email: str = "ann@example.org", team: str = "") -> Resolution:
    return Resolution(
        source="desk", ticket_id=ticket, requester_email=email, resolved_at=NOW,
        origin=f"x.csv:{ticket}", team_hint=team,
    )  # fmt: skip


def notice_for(item: Resolution, team: str = "default") -> Notice:
    return Notice(
        resolution_key=item.key, ticket_id=item.ticket_id, source=item.source, team=team,
        to_email=item.requester_email, to_name="Ann", subject=f"{item.ticket_id} is done",
        text="Your printer works again.\n", html="<p>Your printer works again.</p>",
        message_id=f"<{item.ticket_id}@example.org>", in_reply_to="", references=(),
        reply_to="", template=f"{team}/resolved@abc123",
    )  # fmt: skip


def send(outbox: SqlStore, item: Resolution, now: datetime, team: str = "default") -> None:
    """Queue, claim and record a successful delivery of one notice."""
    outbox.add(
        item, team=team, state=State.QUEUED, reason="", now=now, notice=notice_for(item, team)
    )
    (claimed,) = outbox.claim_due(now, 1)
    result = DeliveryResult(DeliveryOutcome.SENT, 250, "2.0.0 Ok")
    outbox.record_attempt(claimed, result, Decision(State.SENT, None, ""), now)


@pytest.fixture
def outbox(state_store: SqlStore) -> SqlStore:
    """The store under test, on each backend in turn (tests/store_backends.py)."""
    return state_store


def seeded(outbox: SqlStore, count: int = 3) -> None:
    for n in range(count):
        send(outbox, resolution(f"T-{n}"), NOW + timedelta(minutes=n))


def first_problem(store_backend: StoreBackend) -> Problem:
    with store_backend.raw() as connection:
        result = connection.verify()
    assert not result.ok
    return result.problems[0]


def test_each_row_links_to_the_one_before_and_the_chain_verifies(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """Row 1 links to the genesis hash, every later row to its predecessor's row_hash."""
    seeded(outbox)
    connection = store_backend.raw()
    rows = connection.execute("SELECT id, prev_hash, row_hash FROM audit ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][1] == GENESIS
    assert all(later[1] == earlier[2] for earlier, later in itertools.pairwise(rows))
    result = connection.verify()
    assert (
        result.ok and result.rows == 6 and result.head_id == 6 and result.head_hash == rows[-1][2]
    )


def test_the_store_refuses_updates_deletes_and_hand_written_inserts(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """The triggers stop edits through any SQLite client, not only through notifier."""
    seeded(outbox, 1)
    connection = store_backend.raw()
    with pytest.raises(connection.refused, match="append-only"):
        connection.execute("UPDATE audit SET reason = 'all good' WHERE id = 1")
    with pytest.raises(connection.refused, match="append-only"):
        connection.execute("DELETE FROM audit WHERE id = 1")
    with pytest.raises(connection.refused, match="written by notifier"):
        connection.execute("INSERT INTO audit (at, outcome) VALUES ('x', 'sent')")
    with pytest.raises(connection.refused, match="append-only"):  # blanking must keep hashes
        connection.execute("UPDATE audit SET requester = '', content_salt = '', row_hash = 'x'")
    assert connection.verify().ok


@pytest.mark.parametrize(
    ("tamper", "row", "words"),
    [
        ("UPDATE audit SET reason = 'delivered on time' WHERE id = 3", 3, "contents were changed"),
        ("UPDATE audit SET at = '2026-01-01T00:00:00.000000Z' WHERE id = 2", 2, "contents"),
        ("UPDATE audit SET requester = 'eve@example.org' WHERE id = 4", 4, "requester was changed"),
        ("UPDATE audit SET requester = '' WHERE id = 4", 4, "requester was changed"),
        ("DELETE FROM audit WHERE id = 3", 3, "missing (deleted)"),
        ("DELETE FROM audit WHERE id IN (2, 3)", 2, "#2-#3 is missing"),
        ("DELETE FROM audit WHERE id = 1", 1, "missing"),
        ("DELETE FROM audit WHERE id = 6", 6, "deleted from the end"),
        ("UPDATE audit SET row_hash = '' WHERE id = 5", 5, "hashes were erased"),
        ("UPDATE notices SET body_text = 'Nothing was wrong.' WHERE ticket_id = 'T-1'", 4,
         "not the words recorded as sent"),
    ],
)  # fmt: skip
def test_an_edit_with_the_guard_dropped_is_found_and_the_row_named(
    outbox: SqlStore, store_backend: StoreBackend, tamper: str, row: int, words: str
) -> None:
    """Whoever drops the triggers and edits or deletes a row is caught at that row."""
    seeded(outbox)
    with store_backend.raw() as connection:
        connection.drop_guard("audit_append_only_update")
        connection.drop_guard("audit_append_only_delete")
        connection.execute(tamper)
    problem = first_problem(store_backend)
    assert problem.row_id == row
    assert words in problem.message and f"#{row}" in problem.message


def test_a_row_rewritten_with_a_fresh_hash_is_named_by_the_next_rows_link(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """Recomputing the edited row's own hash does not help: the next row still holds the old one."""
    seeded(outbox)
    with store_backend.raw() as connection:
        connection.drop_guard("audit_append_only_update")
        names = [d[0] for d in connection.execute("SELECT * FROM audit").description]
        values = dict(
            zip(
                names,
                connection.execute("SELECT * FROM audit WHERE id = 3").fetchone(),
                strict=True,
            )
        )
        values["reason"] = "delivered on time"
        forged = row_hash(values, values["prev_hash"], values["content_hash"])
        connection.execute(
            "UPDATE audit SET reason = ?, row_hash = ? WHERE id = 3", (values["reason"], forged)
        )
    problem = first_problem(store_backend)
    assert problem.row_id == 3 and "rewritten" in problem.message


def test_a_removed_guard_is_reported_even_when_no_row_changed(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """Verification fails while the append-only triggers are missing."""
    seeded(outbox, 1)
    with store_backend.raw() as connection:
        connection.drop_guard("audit_append_only_delete")
        result = connection.verify()
    assert not result.ok
    assert "audit_append_only_delete" in result.problems[0].message


def test_retention_drops_addresses_and_words_and_the_chain_still_verifies(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """Old rows lose the requester, old notices their words; hashes stay, a 'pruned' row is added."""
    old, new = resolution("OLD-1", "old@example.org"), resolution("NEW-1", "new@example.org")
    send(outbox, old, NOW - timedelta(days=100))
    outbox.held()  # a read between writes changes nothing
    send(outbox, new, NOW)
    result = outbox.apply_retention(NOW - timedelta(days=90), NOW)
    assert (result.audit_rows, result.notices, result.through_id) == (2, 1, 2)
    records = outbox.audit_records(AuditQuery())
    assert [r.requester for r in records] == ["", "", "new@example.org", "new@example.org", ""]
    assert records[-1].outcome == "pruned" and "through #2" in records[-1].origin
    assert records[1].words_hash  # the hash of what was said survives the words
    connection = store_backend.raw()
    stored = connection.execute(
        "SELECT requester_email, requester_name, subject, body_text, body_html, resolution_json "
        "FROM notices ORDER BY id"
    ).fetchall()
    assert stored[0] == ("", "", "", "", None, "")
    assert stored[1][0] == "new@example.org" and stored[1][2] == "NEW-1 is done"
    verification = connection.verify()
    assert verification.ok and verification.pruned == 2
    again = outbox.apply_retention(NOW - timedelta(days=90), NOW)
    assert (again.audit_rows, again.notices) == (0, 0)  # nothing left to drop: no new row
    assert len(outbox.audit_records(AuditQuery())) == 5


def test_retention_keeps_notices_that_are_still_waiting(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """A notice still queued or held keeps its address and words, whatever its age."""
    waiting = resolution("WAIT-1")
    outbox.add(waiting, team="default", state=State.HELD, reason="review", now=NOW - timedelta(days=200),
               notice=notice_for(waiting))  # fmt: skip
    outbox.apply_retention(NOW - timedelta(days=90), NOW)
    row = store_backend.raw().execute("SELECT requester_email, subject FROM notices").fetchone()
    assert row == ("ann@example.org", "WAIT-1 is done")


def test_blanking_a_requester_outside_retention_is_reported(
    outbox: SqlStore, store_backend: StoreBackend
) -> None:
    """The one update the guard allows is still visible when no retention run covers it."""
    seeded(outbox, 2)
    with store_backend.raw() as connection:
        connection.execute("UPDATE audit SET requester = '', content_salt = '' WHERE id = 2")
    problem = first_problem(store_backend)
    assert problem.row_id == 2 and "no retention run covers it" in problem.message


def test_rows_from_before_the_chain_are_sealed_in_order_by_the_next_write(tmp_path: Path) -> None:
    """A version 3 database upgrades; its old rows are linked, in id order, at the first write."""
    state_from_before_the_chain(tmp_path)

    store = Outbox.open(tmp_path)
    reader = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    before = audit.verify(SqliteDatabase(reader))
    assert before.ok and before.unsealed == 3
    store.reject(InputProblem("desk", "new.csv:1", "bad row"), NOW)
    store.close()
    after = audit.verify(SqliteDatabase(reader))
    assert after.ok and after.unsealed == 0 and after.rows == 4
    with reader:
        reader.execute("DROP TRIGGER audit_append_only_update")
        reader.execute("UPDATE audit SET reason = 'fine' WHERE id = 2")
    with sqlite3.connect(tmp_path / DATABASE_NAME) as reader:
        problem = audit.verify(SqliteDatabase(reader)).problems[0]
    assert problem.row_id == 2


def test_the_migration_script_keeps_trigger_bodies_whole() -> None:
    """The runner splits on ';': the v4 script yields whole CREATE TRIGGER statements."""
    statements = [s for s in schema.AUDIT_V4.split(";") if s.strip()]
    triggers = [s for s in statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 3
    assert all(sqlite3.complete_statement(s + ";") for s in statements)
    plain = schema.SqlScript("CREATE TABLE a (x);\nCREATE TABLE b (y);")
    assert plain.split(";") == ["CREATE TABLE a (x)", "\nCREATE TABLE b (y)", ""]


def test_the_words_hash_is_recorded_on_sent_rows_only(outbox: SqlStore) -> None:
    """'sent' rows carry the SHA-256 of the exact subject, text and HTML that went out."""
    item = resolution("T-9")
    send(outbox, item, NOW)
    queued, sent = outbox.audit_records(AuditQuery(ticket="T-9"))
    words = notice_for(item)
    assert queued.words_hash == ""
    assert sent.words_hash == words_hash(words.subject, words.text, words.html)
    assert sent.row_hash and sent.id == 2


def test_queries_filter_by_every_field_and_follow_from_an_id(outbox: SqlStore) -> None:
    """Ticket, requester (any case), team, source, outcome, since/until and after_id combine."""
    send(outbox, resolution("A-1", "Ann@Example.org"), NOW, team="network")
    send(outbox, resolution("B-1", "bob@example.org"), NOW + timedelta(hours=1), team="accounts")
    outbox.reject(InputProblem("mail", "INBOX uid 7", "no ticket id"), NOW + timedelta(hours=2))

    def tickets(**filters: object) -> list[str]:
        return [
            f"{r.ticket_id or r.origin}/{r.outcome}"
            for r in outbox.audit_records(AuditQuery(**filters))
        ]  # type: ignore[arg-type]

    assert tickets(ticket="A-1") == ["A-1/queued", "A-1/sent"]
    assert tickets(requester="ann@example.ORG") == ["A-1/queued", "A-1/sent"]
    assert tickets(team="accounts", outcome="sent") == ["B-1/sent"]
    assert tickets(source="mail") == ["INBOX uid 7/rejected"]
    assert tickets(since=NOW + timedelta(minutes=30), until=NOW + timedelta(hours=2)) == [
        "B-1/queued", "B-1/sent",
    ]  # fmt: skip
    assert tickets(after_id=4) == ["INBOX uid 7/rejected"]
    assert tickets(limit=2) == ["B-1/sent", "INBOX uid 7/rejected"]


def test_formats_carry_the_chain_fields(outbox: SqlStore) -> None:
    """json and csv include id and row_hash (to anchor the head elsewhere); the table stays readable."""
    seeded(outbox, 1)
    records = outbox.audit_records(AuditQuery())
    as_json = format_records(records, "json")
    assert '"row_hash": "' in as_json and '"id": 2' in as_json
    header, first, _ = format_records(records, "csv").splitlines()
    assert header.startswith("id,at,outcome,") and header.endswith(",words_hash,row_hash")
    assert first.startswith("1,2026-11-27T12:00:00Z,queued,")
    table = format_records(records, "table").splitlines()
    assert table[0].startswith("time (UTC)") and "sent" in table[2]
    assert format_records(records, "table", header=False).splitlines()[0].startswith("2026-")
