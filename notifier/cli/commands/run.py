"""Running notifier: ``run`` (the daemon), ``once`` (one pass), ``demo``, ``reread`` and
``check-config``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from notifier.cli.context import (
    EX_TEMPFAIL,
    NothingSeen,
    configure_logging,
    parse_moment,
    settings_from,
)
from notifier.core.errors import ConfigError
from notifier.core.printable import printable, say
from notifier.runtime.config import EX_CONFIG, Settings

log = structlog.get_logger("notifier.run")

if TYPE_CHECKING:
    from notifier.core.ports import StateStore
    from notifier.runtime.bootstrap import RoleKeeper
    from notifier.service import PassReport, Service
    from notifier.sources.webhook.receiver import Receiver
    from notifier.sources.webhook.server import WebhookServer


def run_command(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap, daemon
    from notifier.runtime.metrics import Metrics, parse_listen
    from notifier.runtime.sdnotify import Notifier, watchdog_interval

    notifier = Notifier.from_environment()
    signals = daemon.Signals()
    # First of all: a SIGHUP or SIGTERM while starting must not kill the process half-way.
    daemon.install_signal_handlers(signals, notifier)
    settings = settings_from(args, required=True)
    configure_logging(settings)
    metrics: Metrics | None = None
    listen = args.metrics or settings.metrics.listen
    if listen:
        host, port = parse_listen(listen)
        metrics = Metrics()
        metrics.serve(host, port)
    webhooks: _Webhooks | None = None
    try:
        with (
            bootstrap.open_outbox(settings) as outbox,
            _roles(settings, outbox) as roles,
            _woken_by_others(settings, signals.wake.set),
        ):
            webhooks = _Webhooks(settings, outbox, signals.wake.set, roles)
            runner = daemon.Daemon(
                settings=settings,
                outbox=outbox,
                build=webhooks.build,
                load=lambda: settings_from(args, required=True),
                signals=signals,
                notifier=notifier,
                watchdog=watchdog_interval(),
                metrics=metrics,
                on_reload=webhooks.reloaded,
            )
            webhooks.start()  # after the service was built: the state is open and migrated
            try:
                return runner.run()
            finally:
                webhooks.close()  # before the state store closes: no receipt without it
    finally:
        if metrics is not None:
            metrics.close()


@contextlib.contextmanager
def _roles(settings: Settings, outbox: StateStore) -> Iterator[RoleKeeper]:
    """This instance's roles among those sharing the state, renewed while the command runs
    and given up when it ends (before the state store closes)."""
    from notifier.runtime import bootstrap

    roles = bootstrap.open_roles(settings, outbox)
    roles.start()
    try:
        yield roles
    finally:
        roles.close()


@contextlib.contextmanager
def _woken_by_others(settings: Settings, wake: Callable[[], None]) -> Iterator[None]:
    """The daemon's loop is woken by the other instances sharing the state while it runs
    (an event for it to read, notices for it to send)."""
    from notifier.runtime import bootstrap

    wakeups = bootstrap.open_wakeups(settings, wake)
    wakeups.start()
    try:
        yield
    finally:
        wakeups.close()


class _Webhooks:
    """The webhook listener of ``run``: started once, its receiver rebuilt with the service
    (a reload whose secrets cannot be read is rejected with it) and swapped in on reload."""

    def __init__(
        self,
        settings: Settings,
        outbox: StateStore,
        wake: Callable[[], None],
        roles: RoleKeeper,
    ) -> None:
        self._settings, self._outbox, self._wake, self._roles = settings, outbox, wake, roles
        self._server: WebhookServer | None = None
        self._receiver: Receiver | None = None

    def build(self, settings: Settings, outbox: StateStore) -> Service:
        from notifier.runtime import bootstrap

        service = bootstrap.build_service(settings, outbox, roles=self._roles)
        self._receiver = bootstrap.build_receiver(settings, outbox, self._wake)
        return service

    def start(self) -> None:
        from notifier.runtime import bootstrap

        if self._receiver is not None:
            self._server = bootstrap.start_webhook_server(self._settings, self._receiver)

    def reloaded(self, settings: Settings) -> None:
        configure_logging(settings)
        if settings.webhooks.listen != self._settings.webhooks.listen or (
            bool(settings.webhook) != (self._server is not None)
        ):
            log.warning(
                "webhooks_restart_needed",
                reason="webhooks.listen changed, or webhook sources were added to or all "
                "removed from a running notifier: restart it to apply",
            )
        if self._server is not None and self._receiver is not None:
            self._server.use(self._receiver)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def once_command(args: argparse.Namespace) -> int:
    import signal

    from notifier.runtime import bootstrap, daemon
    from notifier.runtime.sdnotify import Notifier

    # Ctrl-C or SIGTERM stops the pass between messages, as it stops `run`: the messages in
    # flight are finished and recorded, the rest handed back. A KeyboardInterrupt raised at a
    # random place could leave a claimed notice behind. SIGHUP still ends `once` at once.
    signals = daemon.Signals()
    daemon.install_signal_handlers(signals, Notifier(None))
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    settings = settings_from(args, required=True)
    configure_logging(settings)
    with bootstrap.open_outbox(settings) as outbox, _roles(settings, outbox) as roles:
        service = bootstrap.build_service(settings, outbox, roles=roles)
        service.start()
        report = service.run_pass(signals.stop)
        _record_once(settings, service, report)
    received = signals.log_received()
    if received:
        return 128 + int(signal.Signals[received[0]])  # 130 for SIGINT, as a shell reports
    if report.needs_attention:
        return 1
    return EX_TEMPFAIL if report.deferred else 0


def _record_once(settings: Settings, service: Service, report: PassReport) -> None:
    """Leave what this pass found in status.json, so `notifier status` shows each source."""
    from notifier.runtime.bootstrap import login_health
    from notifier.runtime.health import DaemonStatus, note_pass, read_status, write_status

    now = datetime.now(UTC)
    previous = read_status(settings.state.directory)
    known = previous.sources if previous is not None else {}
    sources = note_pass(known, service.sources, report.source_errors, now, complete=True)
    failing = sorted(name for name, health in sources.items() if health.failing)
    summary = f"notifier once: sent {report.sent}" + (
        f"; failing: {', '.join(failing)}" if failing else ""
    )
    with contextlib.suppress(OSError):  # the pass is done; status is only a view of it
        write_status(
            settings.state.directory,
            DaemonStatus(
                pid=os.getpid(),
                state="stopped",
                summary=summary,
                started_at=now,
                updated_at=now,
                last_pass_at=now,
                sources=sources,
                logins=login_health(),
                written_by="once",
            ),
        )


def demo_command(args: argparse.Namespace) -> int:
    from notifier.cli import demo

    return demo.run(keep=args.keep)


def reread_command(args: argparse.Namespace) -> int:
    from notifier.cli.reread import reread

    since = parse_moment(args.since, "--since")
    return reread(settings_from(args, required=True), args.source, since, datetime.now(UTC))


def check_config_command(args: argparse.Namespace) -> int:
    from notifier.cli import preflight
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=True)
    renderer = bootstrap.build_renderer(settings)
    findings = preflight.check_runtime_needs(settings, renderer.problems())
    if not any(f.severity == "error" and not f.where for f in findings):
        # Building what the service builds at start finds the rest (presets, rules, TLS files);
        # it needs the secrets, so only once they could all be read.
        for build in (
            lambda: bootstrap.build_sources(settings, NothingSeen(), NothingSeen()),
            lambda: bootstrap.build_receiver(settings, NothingSeen(), lambda: None),
            lambda: bootstrap.build_team_profiles(settings),  # rules, working hours, glossaries
            lambda: bootstrap.build_sender(settings),
        ):
            try:
                build()
            except ConfigError as exc:
                findings.append(preflight.Finding("error", "", str(exc)))
    for finding in findings:
        say(printable(str(finding)), err=True)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if errors:
        say(f"configuration not OK: {errors} error(s), {warnings} warning(s)")
        return EX_CONFIG
    noted = f", {warnings} warning(s)" if warnings else ""
    say(
        f"configuration OK{noted}: {len(settings.exports)} export source(s), "
        f"{len(settings.imap)} IMAP source(s), {len(settings.webhook)} webhook source(s), "
        f"teams: {', '.join(renderer.teams)}, smtp: {settings.smtp.host}:{settings.smtp.effective_port} "
        f"({settings.smtp.security}), state: {settings.state.directory}"
    )
    if args.connect:
        from notifier.cli import ops as opscli

        return opscli.check_connections(settings)
    return 0
