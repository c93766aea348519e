"""Shared pytest fixtures.

Keep one section per real component; the helpers themselves live in their own modules
(``tests/smtp_server.py`` for SMTP) so that e2e tests and scripts can reuse them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from notifier.store.sql.store import SqlStore
from tests.api_server import api_server  # noqa: F401 - the fixture, for every test
from tests.postgres import PostgresServer
from tests.smtp_server import SmtpServerFactory
from tests.store_backends import BACKENDS, StoreBackend, backend, config_lines

# The commands a test starts must hear Ctrl-C as they would from a terminal. A shell that runs
# the suite in the background without job control (`nohup scripts/test.sh &`, some CI runners)
# starts it with SIGINT ignored, and an ignored signal stays ignored across fork and exec: the
# tests that send SIGINT would wait for a child that never hears it. A handler of our own is
# reset to the default in every child, so the children start as they would from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# -- SMTP (aiosmtpd on 127.0.0.1) ------------------------------------------------------------


@pytest.fixture(scope="session")
def trustme_ca() -> trustme.CA:
    """One throwaway CA for the whole run; it signs every test server's certificate."""
    return trustme.CA()


@pytest.fixture
def trustme_ca_file(trustme_ca: trustme.CA, tmp_path: Path) -> Path:
    """The test CA as a PEM file, for clients that take a ``ca_file`` path."""
    path = tmp_path / "trustme-ca.pem"
    trustme_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_server(trustme_ca: trustme.CA, tmp_path: Path) -> Iterator[SmtpServerFactory]:
    """Start real SMTP servers: ``server = smtp_server(security="starttls")``.

    Every server started through the factory is stopped when the test ends.
    """
    factory = SmtpServerFactory(trustme_ca, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


# -- IMAP (Dovecot on 127.0.0.1) --------------------------------------------------------------
# The helper lives in tests/dovecot.py; a missing dovecot binary fails these fixtures (never skips).
# Imported here, not at the top, to keep this section self-contained.

from tests.dovecot import DovecotFactory, DovecotServer  # noqa: E402


@pytest.fixture
def dovecot_factory(
    trustme_ca: trustme.CA, request: pytest.FixtureRequest
) -> Iterator[DovecotFactory]:
    """Start real Dovecot servers with options: ``server = dovecot_factory(security="tls")``.

    Every server is stopped at teardown, pass or fail. When the test failed, its temporary
    directory (config, ``dovecot.log``, maildirs) is kept and the log path is printed.
    """
    failed_before = request.session.testsfailed
    factory = DovecotFactory(trustme_ca)
    try:
        yield factory
    finally:
        failed = request.session.testsfailed > failed_before
        # A server that never got a directory (Dovecot missing) has no log: its start error
        # is the test's error, not one raised here in teardown.
        kept = [server.log_file for server in factory.servers if failed and server.prepared]
        factory.stop_all(keep=lambda _server: failed)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        for log in kept:
            if reporter is not None:
                reporter.write_line(f"dovecot log kept for {request.node.nodeid}: {log}")


@pytest.fixture
def dovecot(dovecot_factory: DovecotFactory) -> DovecotServer:
    """A fresh plain-IMAP Dovecot for this test (user ``dovecot.user``, empty INBOX)."""
    return dovecot_factory()


# -- run summary -----------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the counts the fault tests promise to report (CI keeps pytest's output)."""
    from tests.e2e.test_faults import SUMMARY

    for line in SUMMARY:
        terminalreporter.write_line(line)


# -- PostgreSQL (Debian's, in a temp dir on 127.0.0.1) ---------------------------------------


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server of this test's own, started; stopped and removed after it."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run; each test takes a fresh database on it."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


# -- the state store on every backend (the store's contract tests) ---------------------------


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    """Each backend in turn: ``open()`` gives the same state again, as a restart would."""
    server = request.getfixturevalue("postgres_cluster") if request.param == "postgres" else None
    yield from backend(request.param, tmp_path, server)


@pytest.fixture(params=BACKENDS)
def state_lines(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """More ``[state]`` lines for a command's config, each backend in turn: none (the state
    directory) or a new PostgreSQL database with its password in a file."""
    if request.param == "sqlite":
        return ""
    return config_lines(request.getfixturevalue("postgres_cluster"), tmp_path)


@pytest.fixture
def state_store(store_backend: StoreBackend) -> SqlStore:
    """An open state store, on each backend in turn (closed after the test)."""
    return store_backend.open()
