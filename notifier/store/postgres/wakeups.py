"""Wake-ups between the instances sharing a PostgreSQL state (``LISTEN``/``NOTIFY``).

A webhook event is received by whichever instance the sender reached, but read by the one
holding the webhook source's lease; a notice queued by the instance reading a source may be
sent by any. The transaction that receives an event or queues a notice notifies ``CHANNEL``
(once, delivered when it commits: ``Ledger.wake_others_at_commit``); every running instance
listens on a connection of its own and wakes its loop, so the holder reads the event, and
every instance starts on the new notices, now, not at its next poll.

A lost connection is made again at once, then every ``_RETRY_AFTER`` while that fails; each
new one wakes the loop once, for what was notified while no one here listened. The poll
interval remains the backstop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import structlog

from notifier.core.errors import StateError
from notifier.store.postgres.database import CHANNEL, connect, describe

log = structlog.get_logger("notifier.roles")

_RETRY_AFTER = 5.0  # seconds between attempts to listen again
_CHECK_EVERY = 1.0  # how often the wait for a notification looks whether to stop


class WakeListener:
    """Calls ``wake`` whenever another instance notifies ``CHANNEL``."""

    def __init__(
        self, conninfo: str, where: str, wake: Callable[[], None], *, password: str | None = None
    ) -> None:
        self._conninfo, self._where, self._password = conninfo, where, password
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="wake-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _listen(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                connection = connect(self._conninfo, self._where, password=self._password)
            except StateError as exc:
                failing = self._failed(failing, str(exc))
                continue
            try:
                connection.execute(f"LISTEN {CHANNEL}")
                if failing:
                    log.info("wake_listen_restored", where=self._where)
                failing = False
                self._wake()  # what was notified while no one here listened
                while not self._stop.is_set():
                    for _ in connection.notifies(timeout=_CHECK_EVERY):
                        self._wake()
            except psycopg.Error as exc:
                failing = self._failed(failing, describe(self._where, exc))
            finally:
                connection.close()

    def _failed(self, failing: bool, error: str) -> bool:
        """Log the first failure of a streak and try again at once (a connection the server
        ended); after that, wait between attempts."""
        if not failing:
            log.warning("wake_listen_failed", where=self._where, error=error)
        else:
            self._stop.wait(_RETRY_AFTER)
        return True
