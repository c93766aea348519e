"""The watch connection: it sits in IDLE and only rings the daemon's doorbell when the server
announces new mail; it never reads messages (see :mod:`notifier.sources.mail.imap`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

import structlog
from imapclient import IMAPClient

from notifier.core.errors import SourceError
from notifier.sources.mail.connection import ImapOptions, connect, describe_error

log = structlog.get_logger()


class _Folder(Protocol):
    @property
    def folder(self) -> str: ...


class WatchedFolder(Protocol):
    """What the watch connection needs of its source (an ``ImapSource``)."""

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> ImapOptions: ...

    @property
    def policy(self) -> _Folder: ...

    @property
    def reconnect_max(self) -> timedelta: ...

    @property
    def idle_renew(self) -> timedelta: ...

    def connection_restored(self) -> None: ...


class IdleWatcher:
    """A thread that holds IDLE on the folder and sets ``wake`` when new mail is announced.

    IDLE is re-issued every ``idle_renew`` (servers drop IDLE after 30 minutes; RFC 2177 asks
    clients to re-issue well before). imapclient's ``idle_check`` returns ``[]`` both on a
    timeout and on EOF, so an early empty return is checked with NOOP; any error reconnects
    with capped backoff, and every (re)connection rings the bell once so the pass catches up on
    mail that arrived while the watcher was away.
    """

    CHECK_SECONDS = 30.0

    def __init__(self, source: WatchedFolder, wake: threading.Event) -> None:
        self.source = source
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"imap-idle-{source.name}", daemon=True
        )
        self._client: IMAPClient | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()  # unblocks idle_check at once
        self._thread.join(timeout=2)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._watch()
                failures = 0
            # Exception: any network error, a garbled answer, or (ValueError) imapclient
            # reading a socket that stop() just closed; the watcher must outlive them all.
            except Exception as exc:
                if self._stop.is_set():
                    break
                failures += 1
                delay = min(2.0**failures, self.source.reconnect_max.total_seconds())
                log.warning(
                    "imap_idle_error", source=self.source.name, error=describe_error(exc),
                    retry_in_seconds=delay,
                )  # fmt: skip
                self._stop.wait(delay)
            finally:
                client, self._client = self._client, None
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.shutdown()

    def _watch(self) -> None:
        client = connect(self.source.options)
        self._client = client
        client.select_folder(self.source.policy.folder, readonly=True)
        if not client.has_capability("IDLE"):
            log.warning("imap_idle_unsupported", source=self.source.name)
            self._stop.set()  # the daemon's poll interval does the work
            return
        client.idle()
        log.info("imap_idle_started", source=self.source.name, folder=self.source.policy.folder)
        self.source.connection_restored()
        self.wake.set()  # catch up on whatever arrived while we were not watching
        renew_every = self.source.idle_renew.total_seconds()
        renew_at = time.monotonic() + renew_every
        while not self._stop.is_set():
            timeout = max(0.1, min(self.CHECK_SECONDS, renew_at - time.monotonic()))
            started = time.monotonic()
            responses = client.idle_check(timeout=timeout)
            if _announces_mail(responses):
                self.wake.set()
            if any(_is_bye(r) for r in responses):
                raise SourceError("the server said BYE")
            early_empty = not responses and time.monotonic() - started < timeout / 2
            if early_empty or time.monotonic() >= renew_at:
                client.idle_done()
                client.noop()  # raises on a dead connection (idle_check hides EOF)
                client.idle()
                renew_at = time.monotonic() + renew_every
        with contextlib.suppress(Exception):
            client.idle_done()
            client.logout()


_NEW_MAIL = (b"EXISTS", b"RECENT")


def _announces_mail(responses: Iterable[Any]) -> bool:
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2 and response[1] in _NEW_MAIL:
            return True
    return False


def _is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and bool(response) and response[0] == b"BYE"
