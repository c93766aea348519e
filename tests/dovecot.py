"""A real Dovecot IMAP server for tests: private config, temp directory, 127.0.0.1, free port.

Nothing here mocks imapclient: the code under test talks IMAP over a real socket to the
Debian ``dovecot-imapd`` binary, started in the foreground (``dovecot -F -c CONF``) as a child
of the test process. Everything it writes (config, users, maildirs, logs, sockets, state)
lives in one temporary directory; nothing system-wide is read or touched.

Use the ``dovecot`` / ``dovecot_factory`` fixtures from ``tests/conftest.py``::

    def test_something(dovecot: DovecotServer) -> None:
        uid = dovecot.append("INBOX", b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
        with dovecot.client() as imap:  # logged in, timeout set
            imap.select_folder("INBOX")

    def test_tls(dovecot_factory: DovecotFactory) -> None:
        server = dovecot_factory(security="tls")  # implicit TLS; server.ca_file is the CA PEM

or, outside pytest, ``with DovecotServer(security="starttls") as server: ...``.

Privileges: as root, Dovecot keeps its default unprivileged users (``dovenull`` for login
processes, ``dovecot`` for internal ones) and the mail user is ``uid=dovecot gid=dovecot``,
so the maildirs are chowned to ``dovecot``. As any other user, Dovecot runs "rootless":
every process, the mail user included, runs as that user.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

import imapclient
import trustme
from imapclient import imap_utf7

__all__ = [
    "DovecotError",
    "DovecotFactory",
    "DovecotNotInstalledError",
    "DovecotServer",
    "DripProxy",
    "find_dovecot",
]

DovecotSecurity = Literal["plain", "starttls", "tls"]
SERVER_HOSTNAMES = ("127.0.0.1", "localhost")
DEFAULT_USERS: Mapping[str, str] = {"notifier": "imap-s3cret", "other": "other-s3cret"}
NOT_INSTALLED = "dovecot is not installed: run scripts/test.sh, which installs dovecot-imapd"

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([\d:,]+)\]")
_PR_SET_PDEATHSIG = 1
# Dovecot children that only exit after the master: they hold no mail data.
_OUTLIVE_CHILDREN = frozenset({"anvil", "log"})


class DovecotError(RuntimeError):
    """Dovecot did not start, stop or answer as expected (the message quotes its log)."""


class DovecotNotInstalledError(DovecotError):
    """The ``dovecot`` binary is missing: a test failure, never a skip."""


def find_dovecot() -> tuple[Path, Path]:
    """Paths of ``dovecot`` and ``doveadm``; raise :class:`DovecotNotInstalledError` if absent."""
    found: list[Path] = []
    for name in ("dovecot", "doveadm"):
        # /usr/sbin is not on a normal user's PATH, but the Debian package installs there.
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path is None:
            raise DovecotNotInstalledError(NOT_INSTALLED)
        found.append(Path(path))
    return found[0], found[1]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM Dovecot if the test process dies without stopping it.

    A killed pytest would otherwise leave a running master (and its children) behind.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _live_group_members(pgid: int) -> list[tuple[int, str]]:
    """``(pid, name)`` of the processes still running in process group ``pgid``.

    Zombies are left out: once the master exits, its last children are re-parented to init,
    which may take a while to reap them (this container's init does), but they are gone.
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split at the last ")".
            head, tail = stat.read_text().rsplit(")", 1)
            fields = tail.split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append((int(stat.parent.name), head.split("(", 1)[1]))
    return members


class DovecotServer:
    """A private Dovecot on 127.0.0.1 and a free port, with passwd-file users and maildirs.

    ``security``: ``"plain"`` (no TLS at all), ``"starttls"`` (plain port offering STARTTLS,
    not requiring it) or ``"tls"`` (implicit TLS, "imaps"). ``port`` is the one listener.
    ``users``: user name -> plain password; ``user``/``password`` are the first pair.
    ``ca``: signs the server certificate for 127.0.0.1 and localhost; ``ca_file`` is its PEM.
    """

    def __init__(
        self,
        *,
        security: DovecotSecurity = "plain",
        users: Mapping[str, str] | None = None,
        ca: trustme.CA | None = None,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        base_dir: Path | None = None,
        oauth2_introspection_url: str | None = None,
    ) -> None:
        self.host = host
        # Set: XOAUTH2 and OAUTHBEARER are offered, and Dovecot asks this RFC 7662 endpoint
        # (POST token=...) whether a bearer token is active and whose it is ("username").
        self.oauth2_introspection_url = oauth2_introspection_url
        self.port = 0
        self.security: DovecotSecurity = security
        self.users: dict[str, str] = dict(users or DEFAULT_USERS)
        if not self.users:
            raise ValueError("DovecotServer needs at least one user")
        self.ca = ca or trustme.CA()
        self.timeout = timeout
        self._base_dir = base_dir
        self._tmp: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._doveadm: Path | None = None
        self.last_bulk_fill_seconds = 0.0  # files written and indexed, for reports

    # -- what clients need -----------------------------------------------------------------

    @property
    def user(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.user]

    @property
    def directory(self) -> Path:
        """The server's temporary directory (config, ``dovecot.log``, ``home/<user>/Maildir``)."""
        if self._tmp is None:
            raise DovecotError("the server was never started")
        return self._tmp

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) that verifies the server certificate."""
        return self.directory / "ca.pem"

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    @property
    def prepared(self) -> bool:
        """Whether ``start()`` got as far as making the directory (and so a log to keep)."""
        return self._tmp is not None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA and checks the host name."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client_settings(self) -> dict[str, object]:
        """What an IMAP client needs: host, port, security, ca_file, username, password."""
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "ca_file": self.ca_file if self.security != "plain" else None,
            "username": self.user,
            "password": self.password,
        }

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> DovecotServer:
        """Start Dovecot and wait until it greets; a later start reuses the port and data."""
        dovecot, self._doveadm = find_dovecot()
        if self.running:
            return self
        if self._tmp is None:
            self._prepare_directory()
        if self.port:
            self._launch(dovecot, self.port)
            return self
        last_error: DovecotError | None = None
        for _ in range(5):  # the probed port may be taken before Dovecot binds it
            try:
                self._launch(dovecot, _free_port(self.host))
            except DovecotError as exc:
                last_error = exc
                continue
            return self
        raise DovecotError(f"could not start Dovecot: {last_error}")

    def stop(self) -> None:
        """Stop Dovecot and every process it started; keep the data (see :meth:`restart`)."""
        process, self._process = self._process, None
        if process is None:
            return
        # SIGTERM to the whole process group (start_new_session) ends every child at once, imap
        # sessions included. Signalled alone, the master waits ~1 s for its log process; and
        # anvil and log only leave after the master, which sometimes idles ~1 s (or, waiting
        # for anvil, ~5 s) before it exits by itself. Once no other process is left, nothing
        # holds mail data, so the master is killed rather than waited for.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        idle_since: float | None = None
        while process.poll() is None and time.monotonic() < deadline:
            busy = [
                name
                for pid, name in _live_group_members(process.pid)
                if pid != process.pid and name not in _OUTLIVE_CHILDREN
            ]
            if busy:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 0.05:
                process.kill()
            time.sleep(0.01)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        # A killed master leaves its pid file; a recycled pid would then block the restart.
        (self.directory / "run" / "master.pid").unlink(missing_ok=True)
        deadline = time.monotonic() + 2
        while _live_group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # anvil and log exit when they see the master gone
        for pid, _name in _live_group_members(process.pid):  # backstop for a hung process
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def restart(self) -> DovecotServer:
        """Stop, then start again on the same port with the same users and mail."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop and delete the temporary directory."""
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    # -- IMAP helpers ------------------------------------------------------------------------

    def client(
        self,
        user: str | None = None,
        *,
        ssl: bool | None = None,
        starttls: bool | None = None,
        timeout: float | None = None,
    ) -> imapclient.IMAPClient:
        """A logged-in ``IMAPClient``; use it as a context manager to log out.

        ``ssl`` defaults to implicit TLS for ``security="tls"``; ``starttls`` defaults to
        upgrading on a ``"starttls"`` server. Certificates are verified against ``ca_file``.
        """
        user = user or self.user
        use_ssl = self.security == "tls" if ssl is None else ssl
        use_starttls = self.security == "starttls" if starttls is None else starttls
        context = self.ssl_context() if self.security != "plain" else None
        client = imapclient.IMAPClient(
            self.host,
            port=self.port,
            ssl=use_ssl,
            ssl_context=context,
            timeout=self.timeout if timeout is None else timeout,
        )
        try:
            if use_starttls and not use_ssl:
                client.starttls(context)
            password = self.users[user]
            if password.isascii():
                client.login(user, password)
            else:  # LOGIN is ASCII only (RFC 3501); AUTHENTICATE PLAIN carries UTF-8
                client.plain_login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def create_folder(self, folder: str, *, user: str | None = None) -> None:
        """Create ``folder`` unless it exists."""
        with self.client(user) as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)

    def delete_folder(self, folder: str, *, user: str | None = None) -> None:
        """Delete ``folder`` (and its messages) if it exists."""
        with self.client(user) as imap:
            if imap.folder_exists(folder):
                imap.delete_folder(folder)

    def append(
        self,
        folder: str,
        message: bytes,
        flags: Sequence[str | bytes] = (),
        when: datetime | None = None,
        *,
        user: str | None = None,
    ) -> int:
        """APPEND one message (creating ``folder`` if missing); return its UID (APPENDUID)."""
        with self.client(user) as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            return self._append(imap, folder, message, flags, when)

    def append_many(
        self, folder: str, messages: Iterable[bytes], *, user: str | None = None
    ) -> list[int]:
        """APPEND several messages over one connection; return their UIDs in order."""
        with self.client(user) as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            return [self._append(imap, folder, raw, (), None) for raw in messages]

    def status(self, folder: str, *, user: str | None = None) -> dict[str, int]:
        """STATUS of ``folder``: ``MESSAGES``, ``UIDNEXT``, ``UIDVALIDITY``, ``UNSEEN``."""
        with self.client(user) as imap:
            items = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN")
            answer = imap.folder_status(folder, items)
        return {key.decode(): int(value) for key, value in answer.items()}

    def fetch_count(self, folder: str, *, user: str | None = None) -> int:
        """How many messages ``folder`` holds."""
        return self.status(folder, user=user)["MESSAGES"]

    def uidvalidity(self, folder: str, *, user: str | None = None) -> int:
        return self.status(folder, user=user)["UIDVALIDITY"]

    def uids(self, folder: str, *, user: str | None = None) -> list[int]:
        """All UIDs in ``folder``, ascending."""
        with self.client(user) as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in imap.search("ALL"))

    def recreate_folder_with_new_uidvalidity(self, folder: str, *, user: str | None = None) -> int:
        """Give ``folder`` a new UIDVALIDITY, keeping its messages (re-appended); return it.

        This is what a client sees after the server rebuilt or restored a mailbox: the same
        mail under new UIDs that it must not match with the old ones. A normal folder is
        deleted, created again and refilled (Dovecot takes UIDVALIDITY from the increasing
        ``dovecot-uidvalidity`` counter, so it changes even within the same second). INBOX
        cannot be deleted; it is emptied and ``doveadm mailbox update --uid-validity`` sets
        a new value. Raises :class:`DovecotError` if the value did not change.
        """
        user = user or self.user
        with self.client(user) as imap:
            old = int(imap.folder_status(folder, ("UIDVALIDITY",))[b"UIDVALIDITY"])
            imap.select_folder(folder, readonly=True)
            numbers = imap.search("ALL")
            fetched = imap.fetch(numbers, ("RFC822", "FLAGS", "INTERNALDATE")) if numbers else {}
            saved = [fetched[uid] for uid in sorted(fetched)]
            if folder.upper() == "INBOX":
                imap.select_folder(folder)
                if numbers:
                    imap.delete_messages(numbers)
                    imap.expunge()
                imap.close_folder()
                self._doveadm_run(
                    "mailbox", "update", "-u", user, "--uid-validity", str(old + 1), folder
                )
            else:
                imap.unselect_folder()
                imap.delete_folder(folder)
                imap.create_folder(folder)
            for data in saved:
                flags = [f for f in data[b"FLAGS"] if f != b"\\Recent"]
                self._append(imap, folder, data[b"RFC822"], flags, data[b"INTERNALDATE"])
            new = int(imap.folder_status(folder, ("UIDVALIDITY",))[b"UIDVALIDITY"])
        if new == old:
            raise DovecotError(f"UIDVALIDITY of {folder!r} did not change ({old})")
        return new

    def bulk_fill(self, folder: str, messages: Iterable[bytes], *, user: str | None = None) -> int:
        """Add many messages fast by writing maildir files directly; return how many.

        IMAP APPEND costs a round trip and an index update per message; writing files into
        ``cur/`` costs a file each, and Dovecot assigns UIDs (in file-name order, which is the
        order of ``messages``) at the next SELECT/STATUS. Works while the server runs.
        """
        user = user or self.user
        self.create_folder(folder, user=user)
        started = time.monotonic()
        cur = self.maildir_path(folder, user=user) / "cur"
        uid, gid = self._mail_owner()
        chown = os.geteuid() == 0
        stamp = int(time.time())
        pid = os.getpid()
        count = 0
        for count, raw in enumerate(messages, start=1):
            # Maildir stores LF line ends; S= is the file size, W= the size with CRLF (RFC822.SIZE).
            data = raw.replace(b"\r\n", b"\n")
            virtual_size = len(data) + data.count(b"\n")
            seconds, micro = divmod(count, 1_000_000)
            name = f"{stamp + seconds}.M{micro:06d}P{pid}.bulk,S={len(data)},W={virtual_size}:2,"
            path = cur / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                if chown:
                    os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
        # Let Dovecot assign the UIDs now, so that a later APPEND cannot take a lower one.
        with self.client(user, timeout=max(self.timeout, 120.0)) as imap:
            imap.select_folder(folder, readonly=True)
        self.last_bulk_fill_seconds = time.monotonic() - started
        return count

    def maildir_path(self, folder: str, *, user: str | None = None) -> Path:
        """The maildir of ``folder`` (Maildir++ layout: ``Maildir/.Sub.Folder``)."""
        root = self.directory / "home" / (user or self.user) / "Maildir"
        if folder.upper() == "INBOX":
            return root
        encoded: bytes = imap_utf7.encode(folder)  # Dovecot names directories in mUTF-7
        return root / ("." + encoded.decode("ascii"))

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _append(
        imap: imapclient.IMAPClient,
        folder: str,
        message: bytes,
        flags: Sequence[str | bytes],
        when: datetime | None,
    ) -> int:
        answer = imap.append(folder, message, flags=tuple(flags), msg_time=when)
        match = _APPENDUID.search(answer)
        if match is None:
            raise DovecotError(f"APPEND to {folder!r} gave no APPENDUID: {answer!r}")
        return int(match.group(2))

    def _mail_owner(self) -> tuple[int, int]:
        if os.geteuid() == 0:
            return pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
        return os.geteuid(), os.getegid()

    def _prepare_directory(self) -> None:
        base = self._base_dir or Path(tempfile.gettempdir())
        tmp = Path(tempfile.mkdtemp(prefix="dovecot-test-", dir=base))
        self._tmp = tmp
        uid, gid = self._mail_owner()
        if os.geteuid() == 0:
            # The mail user (dovecot) and the auth process must reach the directory.
            for parent in tmp.parents:
                if not parent.stat().st_mode & 0o001:
                    shutil.rmtree(tmp)
                    self._tmp = None
                    raise DovecotError(
                        f"{parent} is not searchable by other users, so the dovecot user "
                        "cannot reach the test directory; pass base_dir=/tmp"
                    )
            tmp.chmod(0o711)
        for sub in ("run", "state", "home"):
            (tmp / sub).mkdir()
        for name in self.users:
            home = tmp / "home" / name
            home.mkdir()
            os.chown(home, uid, gid)
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        if self.security != "plain":
            cert = self.ca.issue_cert(*SERVER_HOSTNAMES)
            cert.cert_chain_pems[0].write_to_path(str(tmp / "server.pem"))
            for extra in cert.cert_chain_pems[1:]:
                extra.write_to_path(str(tmp / "server.pem"), append=True)
            cert.private_key_pem.write_to_path(str(tmp / "server.key"))
            (tmp / "server.key").chmod(0o600)
        # The auth process (user dovecot when root) reads this file.
        users = "".join(f"{name}:{{PLAIN}}{password}\n" for name, password in self.users.items())
        (tmp / "users").write_text(users)
        (tmp / "users").chmod(0o644)

    def _config(self, port: int) -> str:
        tmp = self.directory
        if os.geteuid() == 0:
            owner = "uid=dovecot gid=dovecot"
            privileges = ""  # keep the defaults: dovenull (login), dovecot (internal)
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            owner = f"uid={os.geteuid()} gid={os.getegid()}"
            privileges = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\n"
            )
        ssl_lines = "ssl = no\n"
        if self.security != "plain":
            ssl_lines = f"ssl = yes\nssl_cert = <{tmp}/server.pem\nssl_key = <{tmp}/server.key\n"
        imap_port, imaps_port = (0, port) if self.security == "tls" else (port, 0)
        return f"""\
# Private Dovecot for tests (tests/dovecot.py); nothing here reads /etc/dovecot.
base_dir = {tmp}/run
state_dir = {tmp}/state
instance_name = notifier-test-{port}
protocols = imap
listen = {self.host}
log_path = {tmp}/dovecot.log
{privileges}# The dovecot user's uid is below the default first_valid_uid (500).
first_valid_uid = 1
last_valid_uid = 0
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth2_introspection_url else ""}
# Wrong passwords answer at once instead of after 2 s.
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
# New mail reaches IDLE clients within a second even where inotify is unavailable.
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 2 mins
namespace inbox {{
  inbox = yes
  separator = .
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users
}}
{self._oauth2_passdb()}userdb {{
  driver = static
  args = {owner} home={tmp}/home/%u
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {imaps_port}
  }}
}}
"""

    def _oauth2_passdb(self) -> str:
        """The oauth2 passdb (and its settings file) when a token endpoint is configured."""
        if self.oauth2_introspection_url is None:
            return ""
        settings = self.directory / "oauth2.conf.ext"
        settings.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.oauth2_introspection_url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        return f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {settings}\n}}\n"

    def _launch(self, dovecot: Path, port: int) -> None:
        tmp = self.directory
        conf = tmp / "dovecot.conf"
        conf.write_text(self._config(port))
        stderr_path = tmp / "dovecot.stderr"
        with stderr_path.open("ab") as stderr:
            process = subprocess.Popen(
                [str(dovecot), "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, killed as a whole on stop
                preexec_fn=_die_with_parent,
            )
        self._process = process
        self.port = port
        try:
            self._wait_for_greeting(process)
        except BaseException:
            self.stop()
            raise

    def _wait_for_greeting(self, process: subprocess.Popen[bytes]) -> None:
        """Wait for the ``* OK`` greeting: imap-login sends it once auth is ready too."""
        deadline = time.monotonic() + self.timeout
        while True:
            if process.poll() is not None:
                raise DovecotError(self._failure(f"exited with status {process.returncode}"))
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                    if self.security == "tls":
                        context = self.ssl_context()
                        with context.wrap_socket(sock, server_hostname=self.host) as tls:
                            greeting = tls.recv(256)
                    else:
                        greeting = sock.recv(256)
                if greeting.startswith(b"* OK"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DovecotError(self._failure(f"did not greet within {self.timeout} s"))
            time.sleep(0.01)

    def _failure(self, what: str) -> str:
        stderr = (self.directory / "dovecot.stderr").read_text(errors="replace").strip()
        return (
            f"Dovecot on {self.host}:{self.port} {what}.\n"
            f"stderr:\n{stderr}\nlog ({self.log_file}):\n{self.log_tail()}"
        )

    def _doveadm_run(self, *args: str) -> str:
        assert self._doveadm is not None
        conf = self.directory / "dovecot.conf"
        result = subprocess.run(
            [str(self._doveadm), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode != 0:
            raise DovecotError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout


class DovecotFactory:
    """Starts :class:`DovecotServer` instances sharing one CA; :meth:`stop_all` ends them."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.servers: list[DovecotServer] = []

    def __call__(
        self,
        *,
        security: DovecotSecurity = "plain",
        users: Mapping[str, str] | None = None,
        oauth2_introspection_url: str | None = None,
    ) -> DovecotServer:
        server = DovecotServer(
            security=security,
            users=users,
            ca=self.ca,
            oauth2_introspection_url=oauth2_introspection_url,
        )
        self.servers.append(server)  # before start: a failed start still gets cleaned up
        server.start()
        return server

    def stop_all(self, *, keep: Callable[[DovecotServer], bool] = lambda _: False) -> None:
        """Stop every server; delete its directory unless ``keep(server)`` (logs on failure)."""
        while self.servers:
            server = self.servers.pop()
            if keep(server):
                server.stop()
            else:
                server.cleanup()


class DripProxy:
    """A TCP proxy on 127.0.0.1 in front of a server (a Dovecot) that turns into a slow drip.

    Bytes pass both ways unchanged until a client connection sends ``trigger`` (for example
    ``b"BODY.PEEK[]"``, a body FETCH); from then on the server's bytes reach that client one
    every ``interval`` seconds, for as long as there are any: a server dripping mid-FETCH.
    Set ``trigger = None`` to let later connections through at full speed. ``drips`` counts the
    connections that started dripping; :meth:`wait_for_drip` waits for the next one.

    With ``rewrite = (pattern, replacement)`` a triggered connection is not slowed down: the
    server's bytes are passed through ``re.sub(pattern, replacement, ...)`` instead, a server
    whose answers are garbled (for example ``rb"UIDVALIDITY \\d+"`` -> ``b"UIDVALIDITY many"``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        trigger: bytes | None,
        interval: float = 0.5,
        rewrite: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.target = (host, port)
        self.trigger = trigger
        self.interval = interval
        self.rewrite = rewrite
        self.host = "127.0.0.1"
        self.drips = 0
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server((self.host, 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, name="drip-proxy", daemon=True)

    def __enter__(self) -> DripProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(5)

    def wait_for_drip(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.drips >= count, timeout)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            state = {"dripping": False}
            threading.Thread(
                target=self._to_server, args=(client, upstream, state), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(upstream, client, state), daemon=True
            ).start()

    def _to_server(
        self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]
    ) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                trigger = self.trigger
                seen = (seen + data)[-4096:]
                if trigger is not None and trigger in seen and not state["dripping"]:
                    state["dripping"] = True  # before the command reaches the server
                    with self._changed:
                        self.drips += 1
                        self._changed.notify_all()
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _to_client(
        self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]
    ) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if not state["dripping"]:
                    client.sendall(data)
                    continue
                if self.rewrite is not None:
                    client.sendall(re.sub(*self.rewrite, data))
                    continue
                for value in data:
                    if self._closing.wait(self.interval):
                        return
                    client.sendall(bytes([value]))
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)
