"""The long-running loop of ``notifier run``: passes until SIGTERM or SIGINT, reload on SIGHUP.

The loop waits on an event, never ``time.sleep``, so a signal ends the wait at once. It speaks
systemd's notify protocol (:mod:`notifier.runtime.sdnotify`; nothing happens without
``$NOTIFY_SOCKET``):

* ``READY=1`` after the first pass: the configuration was valid, the state is open and every
  source was tried. ``STATUS=`` says ``running`` or ``degraded`` and why; it is updated after
  every pass (``systemctl status notifier`` shows it).
* ``WATCHDOG=1`` at half of ``$WATCHDOG_USEC``: between passes the wait is cut into slices no
  longer than that, and during a pass the watchdog is fed wherever the pass looks for a stop
  request (between sources, input chunks and messages; with ``delivery.connections`` above 1
  the sending threads look, each datagram on a socket of its own). A pass stuck
  longer than ``WatchdogSec`` in one network step is a hang, and systemd restarts the service.
  Until ``READY=1`` the same places send ``EXTEND_TIMEOUT_USEC=`` so that a long first pass
  (a big backlog) is not mistaken for a failed start.
* SIGHUP: ``RELOADING=1`` with ``MONOTONIC_USEC=`` at once; the pass in progress stops after
  the message in flight (like a stop), then a whole new service is built from the re-read
  configuration and templates and swapped in, keeping the same open state database (and its
  lock). Anything wrong with the new configuration (a ConfigError, a template that no longer
  compiles, a changed ``state.directory``) rejects the reload with a ``reload_rejected`` line and
  the old service keeps running. Either way ``READY=1`` follows.
* SIGTERM/SIGINT: ``STOPPING=1`` at once; the SMTP transaction in flight is finished and
  recorded, the notices claimed but not yet attempted go back to the queue, exit 0.

Signals are taken by a thread of their own, never in a Python signal handler (see
:func:`install_signal_handlers`): ``STOPPING=1`` and ``RELOADING=1`` go out even while the
main thread is stuck writing a log line to a blocked stdout, and the stop or reload happens as
soon as that write returns.

After every pass the daemon writes ``status.json`` in the state directory (for ``notifier
status``) and, with ``--metrics``, updates the Prometheus metrics.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import TypeVar

import structlog

from notifier.core.clock import Clock, system_clock
from notifier.core.errors import ConfigError, NotifierError, StateError, TemplateError
from notifier.core.ports import StateStore
from notifier.core.queue import QueueSnapshot
from notifier.runtime.bootstrap import login_health, open_reader
from notifier.runtime.config import Settings
from notifier.runtime.health import DaemonStatus, SourceHealth, note_pass, write_status
from notifier.runtime.metrics import Metrics
from notifier.runtime.sdnotify import Notifier
from notifier.service import PassReport, Service

log = structlog.get_logger()
_T = TypeVar("_T")

# After a failing pass (for example the disk is full), wait at least this long before retrying.
_PRUNE_EVERY = timedelta(days=1)
_ERROR_PAUSE = timedelta(seconds=10)
# Until READY=1: ask systemd for this much more start-up time, at most every _EXTEND_EVERY.
_EXTEND_BY = timedelta(seconds=90)
_EXTEND_EVERY = 15.0


_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


@dataclass
class Signals:
    """What the signal relay sets; the main loop reads them (and logs what arrived)."""

    stop: threading.Event = field(default_factory=threading.Event)
    reload: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    _received: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, signum: int) -> None:
        """One signal arrived (called by the relay thread, never by a signal handler)."""
        with self._lock:
            self._received.append(signal.Signals(signum).name)
        if signum == signal.SIGHUP:
            self.reload.set()
        else:
            self.stop.set()
        self.wake.set()

    def log_received(self) -> list[str]:
        """Log the signals that arrived since the last call (here, never in a handler) and
        return their names, oldest first."""
        with self._lock:
            received, self._received = self._received, []
        for name in received:
            log.info("reload_requested" if name == "SIGHUP" else "stop_requested", signal=name)
        return received


def install_signal_handlers(signals: Signals, notifier: Notifier) -> None:
    """SIGTERM/SIGINT stop, SIGHUP reloads; each tells systemd at once and wakes the loop.

    Nothing runs in a signal handler: a handler runs in the main thread between two bytecodes,
    possibly inside a write to a blocked stdout that holds the logger's lock (a handler that
    logs deadlocks there, or aborts in a re-entrant buffered write), or inside an Event's own
    lock. Instead the interpreter writes each signal's number to a pipe
    (``signal.set_wakeup_fd``, done in C as the signal arrives) and a thread of ours reads it:
    it tells systemd (``STOPPING=1``, ``RELOADING=1``), sets the events and wakes the loop,
    whatever the main thread is stuck in. The loop logs ``stop_requested`` and
    ``reload_requested`` when it next runs. Must be called from the main thread.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # the interpreter drops a byte rather than block in C
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _ignore_in_handler)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def relay() -> None:
        while True:
            try:
                arrived = os.read(read_end, 64)
            except InterruptedError:
                continue
            if not arrived:
                return
            for signum in arrived:
                if signum == signal.SIGHUP:
                    notifier.reloading()  # before the loop can reload and send READY=1
                    signals.note(signum)
                elif signum in _STOP_SIGNALS:
                    first = not signals.stop.is_set()
                    signals.note(signum)  # first: telling systemd may block on a warning
                    if first:
                        notifier.stopping()

    threading.Thread(target=relay, name="signal-relay", daemon=True).start()


def _ignore_in_handler(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: nothing (see install_signal_handlers); it only keeps the
    signal from killing the process or raising KeyboardInterrupt at a random place."""


class _PassInterrupt(threading.Event):
    """The "stop" event a pass sees: set by a stop or a reload request.

    The pass asks it between sources, input chunks and messages, so each look is also proof
    that the main loop is alive: it feeds the watchdog there.
    """

    def __init__(self, daemon: Daemon) -> None:
        super().__init__()
        self._daemon = daemon

    def is_set(self) -> bool:
        self._daemon.keepalive()
        return self._daemon.signals.stop.is_set() or self._daemon.signals.reload.is_set()


BuildService = Callable[[Settings, StateStore], Service]
LoadSettings = Callable[[], Settings]


# status.json is rewritten at most this often (seconds) while the daemon is healthy.
STATUS_EVERY = 1.0
# Seconds between the starts of two passes, at least (see Daemon._keep_apart).
MIN_PASS_GAP = 0.02


class Daemon:
    """``notifier run``: the loop, reload, health and the conversation with systemd."""

    def __init__(
        self,
        *,
        settings: Settings,
        outbox: StateStore,
        build: BuildService,
        load: LoadSettings,
        signals: Signals,
        notifier: Notifier | None = None,
        watchdog: timedelta | None = None,
        metrics: Metrics | None = None,
        on_reload: Callable[[Settings], None] | None = None,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._pruned_at: float | None = None  # monotonic: a clock set back must not delay it
        self.outbox = outbox
        self.service = build(settings, outbox)
        self._build = build
        self._load = load
        self.signals = signals
        self.notifier = notifier or Notifier(None)
        self.metrics = metrics
        self._on_reload = on_reload
        self._clock = clock
        self._monotonic = monotonic
        # Feed the watchdog at half its timeout (sd_watchdog_enabled(3)).
        self._feed_every = watchdog.total_seconds() / 2 if watchdog else None
        self._last_fed = monotonic()
        self._last_extended = monotonic()
        self._ready = False
        self._recover = False
        self._interrupt = _PassInterrupt(self)
        self._reader = open_reader(settings.state)
        self._audit_seen = 0
        self._status_warned = False
        self._status_refreshed = float("-inf")
        self._snapshot: QueueSnapshot | None = None  # the queue's counts, as last refreshed
        self._busy = False  # the last pass read several inputs (see _keep_apart)
        self._status_dirty = False  # a pass's status not written yet (see STATUS_EVERY)
        self.status = DaemonStatus(pid=os.getpid(), state="starting", started_at=clock())

    @property
    def poll_interval(self) -> timedelta:
        return self.settings.run.poll_interval

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        if self.metrics is not None:
            self._audit_seen = self._safe(self._reader.last_audit_id, 0)
        recovered = self.service.start()
        self._watch_sources()
        log.info(
            "daemon_started",
            sources=[source.name for source in self.service.sources],
            recovered=recovered,
            poll_interval_seconds=self.poll_interval.total_seconds(),
            watchdog_seconds=self._feed_every * 2 if self._feed_every else None,
            systemd_notify=self.notifier.enabled,
        )
        self._write_status()
        while not self.signals.stop.is_set():
            self.signals.log_received()
            if self.signals.reload.is_set():
                self.reload()
            self.signals.wake.clear()
            started = self._monotonic()
            wait = self.run_pass()
            if not self._ready:
                self._ready = True
                self.notifier.ready(self.status.summary)
            if self._busy:
                self._keep_apart(started)
            self._sleep(wait)
        self.signals.log_received()
        for source in self.service.sources:
            source.close()
        self.status.state = "stopped"
        self.status.summary = "stopped"
        self._write_status()
        self._reader.close()
        log.info("daemon_stopped")
        return 0

    def run_pass(self) -> timedelta:
        """One pass with health bookkeeping; returns how long the loop may wait afterwards."""
        started = self._monotonic()
        report: PassReport | None = None
        state_problem = ""
        wait = self.poll_interval
        try:
            if self._recover:
                self.service.start()  # notices left 'sending' by the failed write go out again
                self._recover = False
            report = self.service.run_pass(self._interrupt)
            self._apply_retention()
            wait = self.service.next_wake(self.poll_interval)
        except StateError as exc:
            # Nothing is marked sent that was not: the transaction rolled back. Try again later.
            log.error("state_error", error=str(exc))
            state_problem = str(exc)
            self._recover = True
            wait = max(_ERROR_PAUSE, min(self.poll_interval, timedelta(minutes=1)))
        self._after_pass(report, state_problem, self._monotonic() - started)
        return wait

    def _apply_retention(self) -> None:
        """Once a day, drop private data older than audit.retention (docs/audit.md)."""
        retention = self.settings.audit.retention
        since = None if self._pruned_at is None else self._monotonic() - self._pruned_at
        if not retention or (since is not None and since < _PRUNE_EVERY.total_seconds()):
            return
        self._pruned_at = self._monotonic()
        now = self._clock()
        result = self.outbox.apply_retention(now - retention, now)
        log.info("audit_retention_applied", audit_rows=result.audit_rows, notices=result.notices)

    def keepalive(self) -> None:
        """Feed the watchdog when due; before READY=1, ask for more start-up time instead."""
        now = self._monotonic()
        if self._feed_every is not None and now - self._last_fed >= self._feed_every:
            self._last_fed = now
            self.notifier.watchdog()
        if not self._ready and now - self._last_extended >= _EXTEND_EVERY:
            self._last_extended = now
            self.notifier.extend_timeout(_EXTEND_BY)

    def _keep_apart(self, started: float) -> None:
        """After a pass that read several inputs, begin the next no sooner than
        ``MIN_PASS_GAP`` after this one began: a burst of wake-ups (webhooks arriving hundreds
        a second) is then read in passes that share each pass's fixed cost, instead of one
        pass per event, while a lone event is still read at once. A stop ends the wait."""
        left = started + MIN_PASS_GAP - self._monotonic()
        if left > 0:
            self.signals.stop.wait(left)  # one wait: an injected clock need not move

    def _sleep(self, wait: timedelta) -> None:
        """Wait for ``wait``, a wake-up (new mail, a signal), feeding the watchdog meanwhile."""
        deadline = self._monotonic() + wait.total_seconds()
        signals = self.signals
        while not (signals.stop.is_set() or signals.reload.is_set() or signals.wake.is_set()):
            self.keepalive()
            now = self._monotonic()
            if self._status_dirty:
                due = self._status_refreshed + STATUS_EVERY
                if now >= due:  # the last pass of a burst: its status is written now
                    self._status_dirty = False
                    self._status_refreshed = now
                    self._write_status()
            remaining = deadline - now
            if remaining <= 0:
                return
            if self._status_dirty:
                remaining = min(remaining, max(due - now, 0.01))
            if self._feed_every is not None:
                remaining = min(remaining, max(self._last_fed + self._feed_every - now, 0.01))
            signals.wake.wait(remaining)

    def _watch_sources(self) -> None:
        for source in self.service.sources:
            source.watch(self.signals.wake)

    # -- reload ----------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Swap in a service built from the re-read configuration; False if it was rejected."""
        self.signals.reload.clear()
        started = self._monotonic()
        try:
            settings = self._load()
            if settings.state.directory != self.settings.state.directory:
                raise ConfigError(
                    f"state.directory: changed from {self.settings.state.directory} to "
                    f"{settings.state.directory}; restart notifier to move its state"
                )
            service = self._build(settings, self.outbox)
            broken = sorted(
                set(service.renderer.problems()) - set(self.service.renderer.problems())
            )
            if broken:
                raise TemplateError("; ".join(broken))
        except Exception as exc:  # whatever it is, the running service must go on
            reason = str(exc) if isinstance(exc, NotifierError) else f"{type(exc).__name__}: {exc}"
            kind = "template" if isinstance(exc, TemplateError) else "configuration"
            log.error("reload_rejected", error=reason, kind=kind)
            self.status.last_reload_at = self._clock()
            self.status.last_reload_result = "rejected"
            self.status.last_reload_error = reason
            if self.metrics is not None:
                self.metrics.observe_reload(ok=False)
            self._write_status()
            if self._ready:
                self.notifier.ready(f"{self.status.summary}; reload rejected: {reason}")
            return False
        for source in self.service.sources:
            source.close()
        self.service, self.settings = service, settings
        if self._on_reload is not None:
            self._on_reload(settings)
        self._watch_sources()
        log.info(
            "reload_finished",
            sources=[source.name for source in service.sources],
            poll_interval_seconds=self.poll_interval.total_seconds(),
            duration_ms=round((self._monotonic() - started) * 1000, 1),
        )
        self.status.last_reload_at = self._clock()
        self.status.last_reload_result = "ok"
        self.status.last_reload_error = ""
        if self.metrics is not None:
            self.metrics.observe_reload(ok=True)
        self._write_status()
        if self._ready:
            self.notifier.ready(f"{self.status.summary}; configuration reloaded")
        return True

    # -- health ----------------------------------------------------------------------------------

    def _after_pass(self, report: PassReport | None, state_problem: str, duration: float) -> None:
        now = self._clock()
        interrupted = self.signals.stop.is_set() or self.signals.reload.is_set()
        names = [source.name for source in self.service.sources]
        if report is None:  # the state database failed: nothing is known about the sources
            known = self.status.sources
            self.status.sources = {name: known.get(name, SourceHealth()) for name in names}
        else:
            self.status.sources = note_pass(
                self.status.sources,
                self.service.sources,
                report.source_errors,
                now,
                complete=not interrupted,
            )
        failing: list[str] = []
        for name, health in self.status.sources.items():
            if health.failing:
                failing.append(f"{name}: {health.last_error or 'unreachable'}")
        problems = ([f"state database: {state_problem}"] if state_problem else []) + failing
        state = "degraded" if problems else "running"
        # status.json and its queue counts at most once a second while all is well: a burst
        # of webhook events runs many short passes, and each write is a file replaced.
        refresh = (
            state != self.status.state
            or state == "degraded"
            or self._monotonic() - self._status_refreshed >= STATUS_EVERY
        )
        self.status.last_pass_at = now
        self._busy = report is not None and report.seen + report.ignored + report.rejected > 1
        if report is not None:
            self.status.last_pass = {
                "seen": report.seen,
                "queued": report.queued,
                "held": report.held,
                "rejected": report.rejected,
                "sent": report.sent,
                "deferred": report.deferred,
                "failed": report.failed,
            }
        self.status.state = state
        self._status_dirty = not refresh  # written from _sleep once STATUS_EVERY has passed
        if refresh:  # always when degraded: the summary names the problems
            self._snapshot = self._safe(lambda: self._reader.queue(now), None)
            if problems:
                self.status.summary = f"degraded: {'; '.join(problems)}"
            else:
                snapshot = self._snapshot
                waiting = f", {snapshot.waiting} waiting" if snapshot is not None else ""
                sent = f", last pass sent {report.sent}" if report is not None else ""
                self.status.summary = f"running: {len(names)} source(s) OK{sent}{waiting}"
            self._status_refreshed = self._monotonic()
            self._write_status()
        snapshot = self._snapshot
        if self.metrics is not None:
            decisions: dict[tuple[str, str, str], int] = {}
            counted = self._safe(lambda: self._reader.audit_counts_since(self._audit_seen), None)
            if counted is not None:
                decisions, self._audit_seen = counted
            self.metrics.observe_sources(self.status.sources, names)
            self.metrics.observe_pass(duration, now, snapshot, decisions)
        if self._ready:
            self.notifier.status(self.status.summary)

    def _write_status(self) -> None:
        self.status.updated_at = self._clock()
        self.status.logins = login_health()
        try:
            write_status(self.settings.state.directory, self.status)
        except OSError as exc:
            if not self._status_warned:  # once: health must not flood the log
                self._status_warned = True
                log.warning("status_write_failed", error=str(exc))

    def _safe(self, read: Callable[[], _T], default: _T) -> _T:
        """Health reads never stop the daemon: the state error shows in the pass itself."""
        try:
            return read()
        except StateError as exc:
            log.debug("health_read_failed", error=str(exc))
            return default
