"""One daemon per state directory: an advisory lock file held while the store is open."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from notifier.core.errors import StateError
from notifier.store.sqlite.paths import LOCK_NAME


class StateLock:
    """The state directory, locked for one process (``flock`` on the directory itself).

    A lock on a file in the directory is not enough: deleting the file (a clean-up script, an
    operator tidying up) and starting a second daemon gives that one a fresh file to lock, and
    two daemons share one database. The directory cannot be unlinked and re-created under a
    running daemon (it holds the database), so its lock holds for as long as the daemon runs.
    ``notifier.lock`` is locked too, for notifier versions that know only that file.
    """

    def __init__(self, directory: Path) -> None:
        self._fds: list[int] = []
        try:
            self._hold(os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            self._hold(
                os.open(directory / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            )
        except BlockingIOError:
            self.close()
            raise StateError(
                f"{directory}: another notifier process is using this state directory; "
                "stop it first (systemctl stop notifier)"
            ) from None
        except OSError as exc:
            self.close()
            raise StateError(
                f"{exc.filename or directory}: cannot lock the state directory: {exc.strerror}; "
                f"the user notifier runs as must be able to write in {directory} (under "
                "systemd: ReadWritePaths= or StateDirectory=)"
            ) from None

    def _hold(self, fd: int) -> None:
        self._fds.append(fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
