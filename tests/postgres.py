"""A real PostgreSQL (Debian's ``postgresql`` package) for the tests, as Dovecot is started:
``initdb`` in a directory of its own, ``pg_ctl`` on a free loopback port, a password login over
TCP, and nothing in /etc. initdb and the server refuse to run as root, so under root they run as
the system user ``postgres`` the package creates, in a directory under /var/tmp that user owns.

The test command installs the package when it is missing; a test that needs the server fails,
never skips, when it is absent. :meth:`PostgresServer.kill` stops the server the way a crash
does (``pg_ctl stop -m immediate``: no checkpoint) and :meth:`start` brings it back on the same
port, for the tests of a database that goes away during a run.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.smtp_server import free_port

USER = "postgres"  # the system user Debian's package creates
DATABASE_USER = "notifier"


def _bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )  # the newest major version
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run "
            "scripts/test.sh, which installs Debian's postgresql when it is missing"
        )
    return found[-1].parent


class PostgresServer:
    """``start()``, ``url`` (``postgresql://notifier:...@127.0.0.1:PORT/notifier``), ``kill()``,
    ``start()`` again, ``stop()``."""

    def __init__(self, *, durable: bool = False) -> None:
        # durable: fsync on, as a production server runs (the benchmarks compare it with
        # SQLite's synchronous=FULL); the tests run without it.
        self.durable = durable
        self.bin = _bin()
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        # Not under pytest's tmp_path: that is readable by root only.
        self.home = Path(tempfile.mkdtemp(prefix="postgres-test-", dir="/var/tmp"))
        self.data = self.home / "data"
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(USER)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
            self._as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self._initialised = False

    @property
    def url(self) -> str:
        return self.url_for(DATABASE_USER)

    def url_for(self, database: str, *, with_password: bool = True) -> str:
        """``database``'s URL; without the password as a config names it (the password in a
        file of its own)."""
        login = f"{DATABASE_USER}:{self.password}" if with_password else DATABASE_USER
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        first = not self._initialised
        if first:
            self._initdb()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        if first:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", DATABASE_USER,
                      DATABASE_USER, env={"PGPASSWORD": self.password})  # fmt: skip
        return self

    def kill(self) -> None:
        """Stop as a crash would: no checkpoint, connections cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=60, check=False, **self._as,
            )  # fmt: skip
        shutil.rmtree(self.home, ignore_errors=True)

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _initdb(self) -> None:
        secret = self.home / "password"
        secret.write_text(self.password)
        if self._as:
            os.chown(secret, self._as["user"], self._as["group"])
        self._run("initdb", "-D", str(self.data), "-U", DATABASE_USER, f"--pwfile={secret}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        secret.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            # Durability across a kill of the server is what the tests check; across a crash
            # of the machine is not, and fsync would make every commit slow here.
            unsafe = "" if self.durable else "fsync = off\nfull_page_writes = off\n"
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.home}'\n"
                f"{unsafe}synchronous_commit = on\nmax_connections = 100\n"
            )
        self._initialised = True

    def _run(self, program: str, *args: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True, text=True, timeout=120, cwd=self.home,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}, **self._as,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}{self.log()}"
            )
