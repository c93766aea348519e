"""Commands for the people who run the service: ``status``, ``send-test``, ``check-config
--connect`` and ``run --metrics``.

:func:`register` adds them to the parser built in :mod:`notifier.cli.main`; the handlers only print
and return an exit status. Nothing here writes to the state database.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.cli.context import NothingSeen
from notifier.core.errors import NotifierError, SourceError
from notifier.core.printable import json_text, printable, say
from notifier.core.roles import InstanceView, leased_source
from notifier.runtime.config import Settings

SettingsLoader = Callable[..., Settings]
CommandFactory = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    command: CommandFactory,
    settings: SettingsLoader,
) -> None:
    """Add the operations commands and options; ``settings(args, required=...)`` loads config."""
    commands.choices["run"].add_argument(
        "--metrics",
        metavar="ADDRESS:PORT",
        help="serve Prometheus metrics on this loopback address (e.g. 127.0.0.1:9464)",
    )
    commands.choices["check-config"].add_argument(
        "--connect",
        action="store_true",
        help="also log in to every IMAP source and to SMTP (EHLO, STARTTLS, AUTH); sends nothing",
    )
    status = command(
        "status",
        lambda args: show_status(args, settings(args, required=False)),
        "health at a glance: the daemon, each source's last poll and error, the queue, "
        "dead letters (exit 1 when something needs attention)",
    )
    status.add_argument("--format", choices=("text", "json"), default="text")
    send_test = command(
        "send-test",
        lambda args: send_test_notice(args, settings(args, required=True)),
        "render one sample notice and send it through the configured SMTP server",
    )
    send_test.add_argument("--to", required=True, metavar="ADDRESS", help="who receives it")
    send_test.add_argument("--team", help="use this team's templates (default: default)")


# -- status ----------------------------------------------------------------------------------------


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(int((now - moment).total_seconds()), 0)
    if seconds < 120:
        age = f"{seconds} s"
    elif seconds < 7200:
        age = f"{seconds // 60} min"
    elif seconds < 2 * 86400:
        age = f"{seconds // 3600} h"
    else:
        age = f"{seconds // 86400} d"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({age} ago)"


def _instance_json(view: InstanceView) -> dict[str, object]:
    return {
        "id": view.id, "name": view.name, "pid": view.pid, "alive": view.alive,
        "started_at": view.started_at.isoformat(), "renewed_at": view.renewed_at.isoformat(),
        "leases": list(view.leases),
    }  # fmt: skip


def _say_instances(instances: list[InstanceView], now: datetime) -> None:
    """Every instance sharing the state: alive or not, what it does, its leases."""
    alive = [view for view in instances if view.alive]
    say(
        f"instances: {len(alive)} alive"
        + (f", {len(instances) - len(alive)} stopped" if len(alive) < len(instances) else "")
    )
    for view in instances:
        if view.alive:
            reads = ", ".join(leased_source(lease) for lease in view.leases)
            roles = f"delivers; reads {reads}" if reads else "delivers"
            say(f"  {printable(view.name)} ({printable(view.id)}): alive, renewed "
                f"{_ago(view.renewed_at, now)}; {roles}")  # fmt: skip
        else:
            say(f"  {printable(view.name)} ({printable(view.id)}): stopped; last renewed "
                f"{_ago(view.renewed_at, now)}")  # fmt: skip


def show_status(args: argparse.Namespace, settings: Settings) -> int:
    from notifier.runtime.bootstrap import open_reader, state_database
    from notifier.runtime.health import process_alive, read_status, snapshot_as_json

    now = datetime.now(UTC)
    directory = settings.state.directory
    status = read_status(directory)
    with open_reader(settings.state) as reader:
        snapshot = reader.queue(now)
        instances = reader.instances()
    running = (
        status is not None and status.state not in ("stopped", "") and process_alive(status.pid)
    )
    configured = [export.name for export in settings.exports] + [box.name for box in settings.imap]
    sources = status.sources if status is not None else {}
    failing = sorted(name for name, health in sources.items() if health.failing)
    logins = status.logins if status is not None else {}
    refused = any(login.failing for login in logins.values())
    attention = (not running) or bool(failing) or refused or snapshot.dead_letters_recent > 0
    if args.format == "json":
        document: dict[str, Any] = {
            "state_directory": str(directory),
            "state_database": state_database(settings.state) or None,
            "daemon_running": running,
            "needs_attention": attention,
            "daemon": status.as_json() if status is not None else None,
            "queue": snapshot_as_json(snapshot),
            "instances": [_instance_json(view) for view in instances],
        }
        say(json_text(document, indent=2))
        return 1 if attention else 0

    database = state_database(settings.state)
    if database:
        say(f"state: {printable(database)}; this instance's files: {printable(directory)}")
    else:
        say(f"state: {printable(directory)}")
    if status is None:
        say("daemon: no status file: notifier run has not run with this state directory")
    elif status.written_by == "once" and not running:
        say(f"daemon: not running; last pass by notifier once {_ago(status.last_pass_at, now)}")
        if status.summary:
            say(f"  {printable(status.summary)}")
    else:
        what = "running" if running else "NOT RUNNING"
        say(
            f"daemon: {what} (pid {status.pid}, started {_ago(status.started_at, now)}); "
            f"last pass {_ago(status.last_pass_at, now)}"
        )
        if status.summary:
            say(f"  {printable(status.summary)}")
        if status.last_reload_at is not None:
            extra = f": {printable(status.last_reload_error)}" if status.last_reload_error else ""
            say(
                f"  last reload {_ago(status.last_reload_at, now)}: "
                f"{status.last_reload_result}{extra}"
            )
    if database:
        _say_instances(instances, now)
    say("sources:")
    for name in sorted(set(configured) | set(sources)):
        health = sources.get(name)
        if health is None:
            say(f"  {printable(name)}: not polled yet")
            continue
        flag = "FAILING" if health.failing else "ok"
        say(
            f"  {printable(name)}: {flag}; last successful poll {_ago(health.last_success_at, now)}"
        )
        if health.last_error:
            say(f"    last error {_ago(health.last_error_at, now)}: {printable(health.last_error)}")
    if logins:
        say("oauth2 logins:")
    for where, login in sorted(logins.items()):
        flag = "FAILING" if login.failing else "ok"
        valid = (
            f", valid until {login.valid_until:%Y-%m-%d %H:%M:%S} UTC" if login.valid_until else ""
        )
        say(
            f"  {printable(where)}: {flag}; {login.renewals} token(s), last "
            f"{_ago(login.renewed_at, now)}{valid}"
        )
        if login.last_error:
            say(f"    last refusal {_ago(login.last_error_at, now)}: {printable(login.last_error)}")
    counts = snapshot.counts
    order = ("queued", "deferred", "sending", "held", "sent", "failed", "suppressed", "cancelled")
    shown = [f"{state} {counts.get(state, 0)}" for state in order]
    shown += [
        f"{printable(state)} {n}" for state, n in sorted(counts.items()) if state not in order
    ]
    say(f"queue: {', '.join(shown)}")
    oldest = snapshot.oldest_waiting
    if oldest is None:
        say("oldest waiting notice: none")
    else:
        retry = (
            f", next try {oldest.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
            if oldest.next_attempt_at
            else ""
        )
        reply = f", last answer: {printable(oldest.last_reply)}" if oldest.last_reply else ""
        say(
            f"oldest waiting notice: ticket {printable(oldest.ticket_id)} "
            f"({printable(oldest.source)}, team {printable(oldest.team)}, {oldest.state}) "
            f"queued {_ago(oldest.queued_at, now)}, "
            f"{oldest.attempts} attempt(s){retry}{reply}"
        )
    say(f"dead letters: {snapshot.dead_letters} ({snapshot.dead_letters_recent} in the last 24 h)")
    latest = snapshot.latest_dead_letter
    if latest is not None:
        say(
            f"  latest: ticket {printable(latest.ticket_id)} to {printable(latest.requester)} "
            f"{_ago(latest.failed_at, now)}: {printable(latest.reason)}"
        )
        say("  see: notifier audit --status failed")
    return 1 if attention else 0


# -- check-config --connect ------------------------------------------------------------------------


def check_connections(settings: Settings) -> int:
    """Log in to every IMAP and API source and to SMTP, step by step; send nothing. 0 when all
    worked."""
    from notifier.runtime import bootstrap
    from notifier.sources.mail.connection import NETWORK_ERRORS, connect

    failures = 0
    for box in settings.imap:
        label = f"imap {box.name} ({box.host}:{box.effective_port}, {box.security})"
        source = bootstrap.build_imap_source(settings, box, NothingSeen())
        steps = {"tls": "TLS connect", "starttls": "connect, STARTTLS", "plain": "connect"}
        try:
            client = connect(source.options)
        except SourceError as exc:
            failures += 1
            say(f"{label}: FAILED: {printable(exc)}")
            continue
        encrypted = "certificate verified" if box.security != "plain" else "not encrypted"
        tokens = source.options.tokens
        how = f", XOAUTH2 with a token from {tokens.where}" if tokens is not None else ""
        say(
            f"{label}: {steps[box.security]} and login as {printable(box.username)} ok "
            f"({encrypted}{printable(how)})"
        )
        try:
            info = client.select_folder(box.folder, readonly=True)
            exists = int(info.get(b"EXISTS", 0))
            say(
                f"{label}: folder {printable(repr(box.folder))} ok: {exists} message(s), "
                "looked at read-only"
            )
        except NETWORK_ERRORS as exc:
            failures += 1
            say(f"{label}: folder {printable(repr(box.folder))} FAILED: {printable(exc)}")
        finally:
            try:
                client.logout()
            except NETWORK_ERRORS:
                client.shutdown()
    for api in settings.api:
        label = f"api {api.name} ({api.product}, {api.url})"
        polled = bootstrap.build_api_source(api, NothingSeen())
        try:
            seen = polled.check()
        except SourceError as exc:
            failures += 1
            say(f"{label}: FAILED: {printable(exc)}")
        else:
            say(f"{label}: login and one page ok: {printable(seen)}")
        finally:
            polled.close()
    sender = bootstrap.build_sender(settings)
    smtp = settings.smtp
    label = f"smtp {smtp.host}:{smtp.effective_port} ({smtp.security})"
    for step, ok, what in sender.check():
        if not ok:
            failures += 1
        say(f"{label}: {step} {'ok' if ok else 'FAILED'}: {printable(what)}")
    if failures:
        say(f"connection check: {failures} problem(s); nothing was sent", err=True)
        return 1
    # Only what happened: a relay without AUTH accepted no login.
    accepted = [f"IMAP ({len(settings.imap)})"] if settings.imap else []
    accepted += [f"API ({len(settings.api)})"] if settings.api else []
    accepted += ["SMTP"] if smtp.username else []
    said = f"; logins accepted: {', '.join(accepted)}" if accepted else ""
    unauthenticated = "" if smtp.username else "; SMTP without AUTH (no username configured)"
    say(f"connection check: every server answered{said}{unauthenticated}; nothing was sent")
    return 0


# -- send-test -------------------------------------------------------------------------------------


def send_test_notice(args: argparse.Namespace, settings: Settings) -> int:
    """Render the first sample ticket for ``--team`` to ``--to`` and send it; print the answer."""
    from dataclasses import replace

    from notifier.cli.authoring import SAMPLE_TICKETS
    from notifier.core.compose import compose, profile_for
    from notifier.core.errors import PermanentDeliveryError
    from notifier.core.model import DeliveryOutcome
    from notifier.core.rules import DEFAULT_TEAM
    from notifier.delivery.message import parse_address
    from notifier.runtime import bootstrap

    try:
        address = parse_address(args.to, "--to").addr_spec
    except PermanentDeliveryError as exc:
        raise NotifierError(str(exc)) from None
    renderer = bootstrap.build_renderer(settings)
    team = args.team or DEFAULT_TEAM
    if team not in renderer.teams and team not in settings.teams:
        raise NotifierError(f"--team: no team {team!r}; teams: {', '.join(renderer.teams)}")
    now = datetime.now(UTC)
    sample = replace(
        SAMPLE_TICKETS[0],
        source="send-test",
        ticket_id=f"TEST-{now:%Y%m%d%H%M%S}",
        requester_email=address,
        resolved_at=now - timedelta(minutes=5),
    )
    profile = profile_for(team, bootstrap.build_team_profiles(settings))
    domain = settings.smtp.from_address.rpartition("@")[2]
    composed = compose(sample, profile, renderer, domain=domain)
    if composed.review.hold_reason:
        say(
            "note: the plain-language gate would hold this notice: "
            f"{printable(composed.review.hold_reason)}"
        )
    notice = composed.notice
    say(
        f"sending a test notice to {printable(address)}: team {printable(team)}, "
        f"template {printable(notice.template)}"
    )
    say(f"  subject: {printable(notice.subject)}")
    sender = bootstrap.build_sender(settings)
    with sender.session() as session:
        result = session.send(notice)
    server = f"{settings.smtp.host}:{settings.smtp.effective_port}"
    if result.outcome is DeliveryOutcome.SENT:
        say(f"sent: {server} answered {result.code} {printable(result.reply)}".rstrip())
        say(f"  Message-ID: {printable(notice.message_id)}")
        return 0
    kind = "refused for good" if result.outcome is DeliveryOutcome.PERMANENT else "not sent"
    say(f"{kind}: {printable(result.detail)}", err=True)
    return 1
