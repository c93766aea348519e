"""The audit chain on real components: the service, SQLite and aiosmtpd; concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.core.audit import AuditQuery, words_hash
from notifier.core.model import InputProblem
from notifier.store.sql import audit
from notifier.store.sqlite.database import SqliteDatabase
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.paths import DATABASE_NAME
from tests.integration.test_service import Clock, ListSource, make_service, resolution
from tests.smtp_server import ServerBehaviour, SmtpServerFactory


def test_the_sent_rows_words_hash_is_the_hash_of_what_the_server_received(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Greylisted first, then delivered: the chain verifies and vouches for the words on the wire."""
    server = smtp_server(behaviour=ServerBehaviour(defer_first=1))
    clock, source = Clock(), ListSource([resolution(1), resolution(2)])
    service = make_service(tmp_path, server, clock, source)
    service.run_pass()
    clock.now += timedelta(hours=1)
    service.run_pass()
    assert len(server.messages) == 2
    outcomes = [r.outcome for r in service.outbox.audit_records(AuditQuery(ticket="T-1"))]
    assert outcomes == ["queued", "deferred", "sent"]
    for message in server.messages:
        received = message.message
        (sent,) = service.outbox.audit_records(
            AuditQuery(requester=message.rcpt_tos[0], outcome="sent")
        )
        body = received.get_body(("plain",))
        assert body is not None
        text = body.get_content().replace("\r\n", "\n")
        html_part = received.get_body(("html",))
        html = None if html_part is None else html_part.get_content().replace("\r\n", "\n")
        assert sent.words_hash == words_hash(str(received["Subject"]), text, html)
    service.outbox.close()
    with sqlite3.connect(tmp_path / "state" / DATABASE_NAME) as connection:
        result = audit.verify(SqliteDatabase(connection))
    assert result.ok and result.rows == 5  # 2 queued, 1 deferred, 2 sent


def test_two_writers_at_once_keep_one_unbroken_chain(tmp_path: Path) -> None:
    """The daemon and a command (release, prune) may write together: the write lock orders them."""
    Outbox.open(tmp_path).close()  # create the database once
    now = datetime(2026, 11, 27, tzinfo=UTC)

    def write(name: str, exclusive: bool) -> None:
        outbox = Outbox.open(tmp_path, exclusive=exclusive)  # its own connection, like a process
        try:
            for n in range(150):
                outbox.reject(InputProblem(name, f"{name}.csv:{n}", "bad row"), now)
        finally:
            outbox.close()

    threads = [
        threading.Thread(target=write, args=("daemon", True)),
        threading.Thread(target=write, args=("command", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as connection:
        result = audit.verify(SqliteDatabase(connection))
        sources = {row[0] for row in connection.execute("SELECT source FROM audit")}
    assert result.ok, result.problems
    assert result.rows == 300 and sources == {"daemon", "command"}
