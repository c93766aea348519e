"""The PostgreSQL the state backend's tests will run against (issue: PostgreSQL state for
several instances) keeps the promises those tests rely on: a password login over TCP on
127.0.0.1 only, a committed row survives a kill of the server (no checkpoint), and a client's
connection breaks with an error, not a hang, while the server is down."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests.postgres import PostgresServer


def test_a_committed_row_survives_a_crash_and_a_restart_on_the_same_port(
    postgres: PostgresServer,
) -> None:
    with psycopg.connect(postgres.url, connect_timeout=10) as db:
        db.execute("CREATE TABLE notices (key text PRIMARY KEY)")
        db.execute("INSERT INTO notices VALUES ('desk:1:2026-12-03T10:00:00Z')")
        db.commit()
        postgres.kill()
        with pytest.raises(psycopg.OperationalError):
            db.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.url, connect_timeout=3)
    postgres.start()
    with psycopg.connect(postgres.url, connect_timeout=10) as db:
        rows = db.execute("SELECT key FROM notices").fetchall()
    assert rows == [("desk:1:2026-12-03T10:00:00Z",)]


def test_it_listens_on_loopback_only_and_wants_the_password(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.url, connect_timeout=10) as db:
        (listen,) = db.execute("SHOW listen_addresses").fetchone() or ("",)
    assert listen == "127.0.0.1"
    wrong = postgres.url.replace(postgres.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)
    with socket.create_connection(("127.0.0.1", postgres.port), timeout=5):
        pass  # reachable on the address the tests use
