"""The Dovecot test fixture itself: if these fail, every IMAP test result is suspect."""

from __future__ import annotations

import os
import pwd
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest

from tests.dovecot import (
    DovecotFactory,
    DovecotNotInstalledError,
    DovecotServer,
    _live_group_members,
)


def message(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


def test_plain_login_selects_an_empty_inbox(dovecot: DovecotServer) -> None:
    """The default server accepts the configured user over plain IMAP on 127.0.0.1."""
    assert dovecot.host == "127.0.0.1"
    with dovecot.client() as imap:
        assert imap.select_folder("INBOX")[b"EXISTS"] == 0
        assert b"IDLE" in imap.capabilities()
        assert b"UIDPLUS" in imap.capabilities()


def test_wrong_password_is_refused(dovecot: DovecotServer) -> None:
    """Logins are really checked against the passwd-file (no anonymous or any-password mode)."""
    with (
        imapclient.IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=5) as imap,
        pytest.raises(imapclient.exceptions.LoginError),
    ):
        imap.login(dovecot.user, "wrong")


def test_server_listens_on_loopback_only(dovecot: DovecotServer) -> None:
    """Dovecot binds its one TCP listener to 127.0.0.1, and nothing on other addresses."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    pid = str(dovecot._process.pid if dovecot._process else 0)
    mine = [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]
    assert mine == [f"127.0.0.1:{dovecot.port}"]


def test_login_processes_do_not_run_as_root(dovecot: DovecotServer) -> None:
    """imap-login (pre-login) and imap (mail) processes run as unprivileged users."""
    assert dovecot._process is not None
    with (
        socket.create_connection((dovecot.host, dovecot.port), timeout=5) as waiting,
        dovecot.client() as imap,
    ):
        assert waiting.recv(256).startswith(b"* OK")  # an imap-login process serves this one
        imap.select_folder("INBOX")
        users = {}
        for pid, _name in _live_group_members(dovecot._process.pid):
            status = Path(f"/proc/{pid}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines())
            users[fields["Name"].strip()] = int(fields["Uid"].split()[1])  # effective uid
    assert users["imap-login"] != 0
    assert users["imap"] != 0
    if os.geteuid() == 0:
        assert users["imap-login"] == pwd.getpwnam("dovenull").pw_uid
        assert users["imap"] == pwd.getpwnam("dovecot").pw_uid


def test_implicit_tls_login_verifies_the_certificate(dovecot_factory: DovecotFactory) -> None:
    """security="tls": imaps with a trustme certificate for 127.0.0.1, verified by ca_file."""
    server = dovecot_factory(security="tls")
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with imapclient.IMAPClient(
        server.host, port=server.port, ssl=True, ssl_context=context, timeout=5
    ) as imap:
        imap.login(server.user, server.password)
        assert imap.select_folder("INBOX")[b"EXISTS"] == 0
    # Without the test CA the same connection must fail: the certificate is really checked.
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(server.host, port=server.port, ssl=True, timeout=5)


def test_implicit_tls_for_localhost(dovecot_factory: DovecotFactory) -> None:
    """The certificate also names localhost, so clients configured with it verify too."""
    server = dovecot_factory(security="tls")
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with (
        socket.create_connection((server.host, server.port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        assert tls.recv(256).startswith(b"* OK")


def test_starttls_upgrade(dovecot_factory: DovecotFactory) -> None:
    """security="starttls": the plain port offers STARTTLS and the client upgrades before login."""
    server = dovecot_factory(security="starttls")
    with imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=5) as imap:
        assert b"STARTTLS" in imap.capabilities()
        imap.starttls(server.ssl_context())
        imap.login(server.user, server.password)
        assert imap.select_folder("INBOX")[b"EXISTS"] == 0
    with server.client() as imap:  # the helper upgrades by itself
        imap.select_folder("INBOX")


def test_append_returns_increasing_uids(dovecot: DovecotServer) -> None:
    """append() returns the APPENDUID of each message: 1, 2, 3 in a new folder."""
    uids = [dovecot.append("Resolved", message(n)) for n in range(3)]
    assert uids == [1, 2, 3]
    assert dovecot.uids("Resolved") == uids
    with dovecot.client() as imap:
        imap.select_folder("Resolved", readonly=True)
        fetched = imap.fetch([2], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    assert b"message 1" in fetched[2][b"BODY[HEADER.FIELDS (SUBJECT)]"]


def test_idle_client_sees_exists_after_another_connection_appends(
    dovecot: DovecotServer,
) -> None:
    """An IDLEing client is told about new mail (EXISTS) within a few seconds."""
    with dovecot.client() as watcher:
        watcher.select_folder("INBOX")
        watcher.idle()
        try:
            started = time.monotonic()
            dovecot.append("INBOX", message(1))
            responses: list[tuple[object, ...]] = []
            while time.monotonic() - started < 5 and not responses:
                responses = [r for r in watcher.idle_check(timeout=1) if b"EXISTS" in r]
            elapsed = time.monotonic() - started
        finally:
            watcher.idle_done()
    assert responses == [(1, b"EXISTS")]
    assert elapsed < 3


def test_restart_keeps_data_and_port(dovecot: DovecotServer) -> None:
    """restart() stops and starts on the same port; messages and UIDVALIDITY survive."""
    dovecot.append("INBOX", message(1))
    before = dovecot.status("INBOX")
    port = dovecot.port
    with dovecot.client() as imap:
        imap.select_folder("INBOX")
        dovecot.restart()
        # The old session was cut by the restart.
        with pytest.raises((imapclient.exceptions.IMAPClientAbortError, OSError)):
            imap.noop()
    assert dovecot.port == port
    assert dovecot.status("INBOX") == before


def test_recreate_gives_new_uidvalidity_and_same_messages(dovecot: DovecotServer) -> None:
    """A recreated folder keeps its messages under a new UIDVALIDITY (and fresh UIDs)."""
    for n in range(3):
        dovecot.append("Resolved", message(n), flags=[b"\\Seen"] if n == 0 else [])
    before = dovecot.status("Resolved")
    new = dovecot.recreate_folder_with_new_uidvalidity("Resolved")
    after = dovecot.status("Resolved")
    assert new == after["UIDVALIDITY"] != before["UIDVALIDITY"]
    assert after["MESSAGES"] == 3
    assert after["UNSEEN"] == 2  # flags were carried over
    with dovecot.client() as imap:
        imap.select_folder("Resolved", readonly=True)
        subjects = [
            data[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip()
            for _, data in sorted(
                imap.fetch(imap.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).items()
            )
        ]
    assert subjects == [b"Subject: message 0", b"Subject: message 1", b"Subject: message 2"]


def test_recreate_inbox_gives_new_uidvalidity(dovecot: DovecotServer) -> None:
    """INBOX cannot be deleted; recreate still changes its UIDVALIDITY and keeps the mail."""
    dovecot.append("INBOX", message(1))
    dovecot.append("INBOX", message(2))
    before = dovecot.status("INBOX")
    dovecot.recreate_folder_with_new_uidvalidity("INBOX")
    after = dovecot.status("INBOX")
    assert after["UIDVALIDITY"] != before["UIDVALIDITY"]
    assert after["MESSAGES"] == 2


def test_bulk_fill_keeps_order_and_mixes_with_append(dovecot: DovecotServer) -> None:
    """bulk_fill files get UIDs in the order given, and APPEND continues after them."""
    dovecot.append("Bulk", message(0))
    assert dovecot.bulk_fill("Bulk", (message(n) for n in range(1, 6))) == 5
    assert dovecot.append("Bulk", message(6)) == 7
    with dovecot.client() as imap:
        imap.select_folder("Bulk", readonly=True)
        fetched = imap.fetch(
            imap.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "RFC822.SIZE"]
        )
    subjects = [fetched[uid][b"BODY[HEADER.FIELDS (SUBJECT)]"].strip() for uid in sorted(fetched)]
    assert subjects == [f"Subject: message {n}".encode() for n in range(7)]
    assert fetched[3][b"RFC822.SIZE"] == len(message(2))  # sizes counted with CRLF


def test_bulk_fill_20000_messages_is_fast(dovecot: DovecotServer) -> None:
    """bulk_fill writes 20,000 messages and SELECT reports EXISTS 20000 within seconds."""
    started = time.monotonic()
    dovecot.bulk_fill("Big", (message(n) for n in range(20_000)))
    with dovecot.client(timeout=60) as imap:
        assert imap.select_folder("Big", readonly=True)[b"EXISTS"] == 20_000
        assert imap.search(["UID", "20000"]) == [20_000]
    elapsed = time.monotonic() - started
    print(f"bulk_fill 20000: {dovecot.last_bulk_fill_seconds:.2f} s, with SELECT {elapsed:.2f} s")
    assert elapsed < 15, f"bulk_fill + SELECT took {elapsed:.1f} s"


@pytest.fixture
def server_outside_fixture() -> Iterator[DovecotServer]:
    server = DovecotServer()
    try:
        yield server
    finally:
        server.cleanup()


def test_stop_leaves_no_dovecot_process(server_outside_fixture: DovecotServer) -> None:
    """stop() ends the master and every child (auth, log, imap-login, imap), even mid-session."""
    server = server_outside_fixture.start()
    assert server._process is not None
    group = server._process.pid
    imap = server.client()
    imap.select_folder("INBOX")
    assert len(_live_group_members(group)) >= 4
    server.stop()
    assert _live_group_members(group) == []
    imap.shutdown()


def test_bulk_fill_non_ascii_folder(dovecot: DovecotServer) -> None:
    """bulk_fill finds the maildir of a folder whose name Dovecot stores in modified UTF-7."""
    dovecot.bulk_fill("Résolu", (message(n) for n in range(3)))
    assert dovecot.fetch_count("Résolu") == 3


def test_missing_binary_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without dovecot the fixture fails (never skips) and says how to install it."""
    monkeypatch.setattr("shutil.which", lambda *args, **kwargs: None)
    with pytest.raises(DovecotNotInstalledError, match=r"scripts/test\.sh.*dovecot-imapd"):
        DovecotServer().start()
