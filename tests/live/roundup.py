"""A real Roundup tracker (classic template, SQLite), run as Roundup asks: never as root.

:func:`ensure_installed` makes ``/var/tmp/notifier-live/roundup-<version>/``, a venv from Debian's
``/usr/bin/python3`` (pyenv's interpreters under ``/root`` are unreadable for another user) with
the pinned Roundup. :class:`RoundupTracker` installs and initialises a tracker in a directory of
its own owned by the system user ``notifier-live`` (made when missing), and serves it with
``roundup-server`` as that user on a free loopback port. Requesters open and answer issues by
mail through Roundup's own gateway (``roundup-mailgw``, the message on stdin as an MTA pipe
would give it); the technician answers and resolves through the REST API, in one change, as the
web form does.

Facts found while writing this (Roundup 2.6.0), each one needed here:

* ``roundup-server`` refuses to run as root; every command must run as the same user, or the
  SQLite files end up owned by root;
* setting the status without a message mails nobody (``nosyreaction``);
* a REST ``PUT`` needs ``If-Match`` with the item's ``@etag``, and ``X-Requested-With``,
  ``Origin`` and ``Referer`` headers;
* the mail names no requester: it answers (In-Reply-To) the issue's first message, the
  requester's own mail when they opened it by mail; the classic ``statusauditor`` turns a
  resolved issue back to *chatting* when a new message comes.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.live.servers import HelpdeskError, free_port, loopback_opener, serve, stop

VERSION = "2.6.0"
CACHE = Path("/var/tmp/notifier-live")
VENV = CACHE / f"roundup-{VERSION}"
SYSTEM_PYTHON = Path("/usr/bin/python3")
USER = "notifier-live"
DOMAIN = "example.org"
TRACKER_ADDRESS = f"issue_tracker@{DOMAIN}"
ADMIN_PASSWORD = "admin-Pa55word"
TECHNICIAN = ("tech", "Tom Technician", f"tech@{DOMAIN}", "Tech-Pa55word!")


def _ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
        )
        entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def ensure_installed() -> Path:
    """The venv's bin/ directory, installing Roundup first when it is missing."""
    bin_dir = VENV / "bin"
    if (bin_dir / "roundup-server").exists():
        return bin_dir
    CACHE.mkdir(mode=0o755, parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--clear", str(VENV)], check=True)
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"roundup=={VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        raise HelpdeskError(f"cannot install Roundup into {VENV}:\n{install.stderr}")
    print(f"Roundup installed in {time.monotonic() - started:.1f} s")
    return bin_dir


class RoundupTracker:
    """One tracker: ``start()``, mail it, resolve through REST, ``stop()``."""

    def __init__(self, *, smtp_port: int) -> None:
        self.smtp_port = smtp_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/tracker"
        # Not under pytest's tmp_path: that is readable by root only.
        self.home = Path(tempfile.mkdtemp(prefix="roundup-live-", dir="/var/tmp"))
        self.tracker = self.home / "tracker"
        self._server: subprocess.Popen[bytes] | None = None
        self._http = loopback_opener()
        self._bin = Path()
        self._uid, self._gid = 0, 0

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> RoundupTracker:
        self._bin = ensure_installed()
        self._uid, self._gid = _ids()
        os.chown(self.home, self._uid, self._gid)
        settings = {
            "tracker_name": "IT Help",
            "tracker_web": self.url + "/",
            "tracker_email": TRACKER_ADDRESS.split("@")[0],
            "mail_domain": DOMAIN,
            "mail_host": "127.0.0.1",
            "mail_port": str(self.smtp_port),
            "nosy_add_author": "yes",  # the technician joins when he answers
            "nosy_messages_to_author": "new",  # the requester gets her new issue confirmed
        }
        options = ",".join(f"{key}={value}" for key, value in settings.items())
        self._admin("install", "classic", "sqlite", options)
        self._admin("initialise", ADMIN_PASSWORD)
        self.add_user(*TECHNICIAN)
        self._server = serve(
            [str(self._bin / "roundup-server"), "-n", "127.0.0.1", "-p", str(self.port),
             "-t", "fork", "-l", str(self.home / "server.log"), f"tracker={self.tracker}"],
            log=self.home / "roundup-server.out", url=self.url + "/", **self._as_user(),
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop(self._server)
        shutil.rmtree(self.home, ignore_errors=True)

    # -- what people do ------------------------------------------------------------------------

    def add_user(self, username: str, name: str, address: str, password: str) -> None:
        """A registered user (the classic tracker takes mail only from those)."""
        self._admin(
            "create", "user", f"username={username}", f"realname={name}", f"address={address}",
            f"password={password}", "roles=User",
        )  # fmt: skip

    def mail_in(self, raw: bytes) -> None:
        """A message to the tracker's address, piped into ``roundup-mailgw`` as an MTA does."""
        done = subprocess.run(
            [str(self._bin / "roundup-mailgw"), str(self.tracker)],
            input=raw,
            capture_output=True,
            timeout=120,
            **self._as_user(),
        )
        if done.returncode != 0:
            raise HelpdeskError(f"roundup-mailgw failed: {done.stdout!r} {done.stderr!r}")

    def resolve(self, issue: int, note: str) -> None:
        """The technician's note and status *resolved* in one change, as the web form sends it."""
        statuses = self._rest("GET", "/data/status?@fields=name")["data"]["collection"]
        resolved = next(s["id"] for s in statuses if s["name"] == "resolved")
        users = self._rest("GET", f"/data/user?username={TECHNICIAN[0]}")["data"]["collection"]
        message = self._rest(
            "POST", "/data/msg", {"content": note, "author": users[0]["id"], "date": "."}
        )
        current = self._rest("GET", f"/data/issue/{issue}")["data"]
        messages = [m["id"] for m in current["attributes"]["messages"]]
        self.change(issue, status=resolved, messages=[*messages, message["data"]["id"]])

    def change(self, issue: int, **properties: object) -> None:
        """Set ``properties`` of the issue in one change (a status alone mails nobody)."""
        current = self._rest("GET", f"/data/issue/{issue}")["data"]
        self._rest(
            "PUT", f"/data/issue/{issue}", dict(properties),
            headers={"If-Match": current["@etag"]},
        )  # fmt: skip

    def status(self, issue: int) -> str:
        found = self._rest("GET", f"/data/issue/{issue}?@verbose=2")
        return str(found["data"]["attributes"]["status"]["name"])

    # -- plumbing ------------------------------------------------------------------------------

    def _as_user(self) -> dict[str, Any]:
        return {
            "user": self._uid,
            "group": self._gid,
            "extra_groups": [],
            "cwd": self.home,
            "env": {
                "PATH": f"{self._bin}:/usr/bin:/bin",
                "HOME": str(self.home),
                "LANG": "C.UTF-8",
            },
        }

    def _admin(self, *args: str) -> None:
        done = subprocess.run(
            [str(self._bin / "roundup-admin"), "-i", str(self.tracker), *args],
            capture_output=True,
            timeout=120,
            **self._as_user(),
        )
        if done.returncode != 0:
            raise HelpdeskError(f"roundup-admin {args[0]} failed: {done.stdout!r} {done.stderr!r}")

    def _rest(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        user, _, _, password = TECHNICIAN
        sent = {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            "Accept": "application/json",
            "X-Requested-With": "rest",
            "Origin": f"http://127.0.0.1:{self.port}",
            "Referer": self.url + "/",
            **(headers or {}),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - self.url is http://127.0.0.1:<port>
            f"{self.url}/rest{path}", data=data, method=method, headers=sent
        )
        try:
            with self._http.open(request, timeout=60) as answer:
                return dict(json.loads(answer.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            raise HelpdeskError(f"REST {method} {path}: {exc.code} {exc.read()[:300]!r}") from exc
