"""The long-running loop of ``notifier run``: passes until SIGTERM or SIGINT.

The loop waits on an event, never ``time.sleep``, so a signal ends the wait at once. A stop
request is checked between messages: the SMTP transaction in flight is finished and recorded,
the notices claimed but not yet attempted go back to the queue, and the process exits 0.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from types import FrameType

import structlog

from notifier.errors import StateError
from notifier.service import Service

log = structlog.get_logger()

# After a failing pass (for example the disk is full), wait at least this long before retrying.
_ERROR_PAUSE = timedelta(seconds=10)


def install_stop_handlers(stop: threading.Event, wake: threading.Event) -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signal.Signals(signum).name)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def run_forever(
    service: Service, poll_interval: timedelta, stop: threading.Event, wake: threading.Event
) -> int:
    """Passes until ``stop``; between passes wait for ``wake`` (new mail, a signal) or a timeout."""
    recovered = service.start()
    for source in service.sources:
        source.watch(wake)
    log.info(
        "daemon_started",
        sources=[source.name for source in service.sources],
        recovered=recovered,
        poll_interval_seconds=poll_interval.total_seconds(),
    )
    recover = False
    while not stop.is_set():
        wake.clear()
        wait = poll_interval
        try:
            if recover:
                service.start()  # notices left 'sending' by the failed write go out again
                recover = False
            service.run_pass(stop)
            wait = service.next_wake(poll_interval)
        except StateError as exc:
            # Nothing is marked sent that was not: the transaction rolled back. Try again later.
            log.error("state_error", error=str(exc))
            recover = True
            wait = max(_ERROR_PAUSE, min(poll_interval, timedelta(minutes=1)))
        wake.wait(wait.total_seconds())
    for source in service.sources:
        source.close()
    log.info("daemon_stopped")
    return 0
