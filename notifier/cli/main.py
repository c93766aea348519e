"""The command line: ``notifier run | once | demo | preview | audit | check-config``.

Errors are one clear line on stderr, never a traceback. A configuration error exits with 78
(EX_CONFIG); ``once`` exits 0 when all went well, 1 when something needs attention (a dead letter,
rejected input, a held notice, a source that could not be read) and 75 (EX_TEMPFAIL) when the
only trouble is notices deferred for a later retry.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from notifier import __version__
from notifier.cli.auditview import format_notice, format_records, format_verification
from notifier.core.audit import OUTCOMES, AuditQuery
from notifier.core.errors import ConfigError, NotifierError
from notifier.core.model import Resolution
from notifier.core.printable import printable, say
from notifier.runtime.config import DEFAULT_CONFIG_PATH, EX_CONFIG, Settings, load_settings

if TYPE_CHECKING:
    from notifier.service import PassReport, Service

EX_TEMPFAIL = 75


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        say(f"notifier: configuration error: {printable(exc)}", err=True)
        return EX_CONFIG
    except NotifierError as exc:
        say(f"notifier: error: {printable(exc)}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`notifier audit | head`): stop quietly, as other tools do. The
        # unflushed rest must not fail again at exit, so stdout now goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a killed writer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notifier",
        description="Tells requesters, in plain words, that the thing they asked IT for is done.",
    )
    parser.add_argument("--version", action="version", version=f"notifier {__version__}")
    config_help = "configuration file (default: $NOTIFIER_CONFIG or /etc/notifier/config.toml)"
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", type=Path, help=config_help)
        sub.set_defaults(handler=handler)
        return sub

    command("run", _run, "poll the sources and deliver notices until SIGTERM or SIGINT")
    command("once", _once, "one pass: poll every source once and deliver what is due")
    demo = commands.add_parser(
        "demo",
        help="see notifier work: sample exports, a local SMTP server, no configuration",
        description="Runs the real pipeline on the sample exports shipped with notifier, "
        "sending to an SMTP server embedded on 127.0.0.1, then prints every delivered message "
        "and the audit trail. Nothing leaves this machine.",
    )
    demo.set_defaults(handler=_demo)
    demo.add_argument("--keep", action="store_true", help="keep the temporary state directory")

    preview = command("preview", _preview, "render the notice for one ticket without sending it")
    preview.add_argument("ticket", type=Path, help="a JSON object: ticket_id, requester_email, ...")
    preview.add_argument("--team", help="render with this team's templates (default: routing)")

    audit_cmd = command("audit", _audit, "show the audit trail: every decision notifier made")
    audit_cmd.add_argument("--ticket", help="only this ticket id")
    audit_cmd.add_argument("--requester", help="only this requester's e-mail address")
    audit_cmd.add_argument(
        "--status", "--outcome", dest="outcome", help="only this outcome (sent, failed, ...)"
    )
    audit_cmd.add_argument("--source", help="only this source")
    audit_cmd.add_argument("--team", help="only this team")
    audit_cmd.add_argument(
        "--since", help="from this time: ISO date/time, or an age such as 2h or 7d"
    )
    audit_cmd.add_argument("--until", help="before this time: ISO date/time, or an age")
    audit_cmd.add_argument("--limit", type=int, help="only the newest N records")
    audit_cmd.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit_cmd.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new records as they are written (json becomes one object a line); "
        "Ctrl-C stops",
    )
    audit_actions = audit_cmd.add_subparsers(
        title="audit commands (without one: list records)", metavar="[ACTION]", required=False
    )

    def audit_action(
        name: str, handler: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        sub = audit_actions.add_parser(name, help=text, description=text)
        # SUPPRESS: `notifier audit --config X verify` keeps X.
        sub.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
        sub.set_defaults(handler=handler)
        return sub

    audit_action(
        "verify",
        _audit_verify,
        "check the hash chain of the whole trail; exit 1 naming the first row that does not match",
    )
    show = audit_action(
        "show",
        _audit_show,
        "what the requester saw: the exact subject and text, the template and its version, "
        "and the notice's audit history",
    )
    show.add_argument("key", help="a resolution key, or a ticket id (shows each of its notices)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.add_argument("--html", action="store_true", help="print the HTML part too")
    prune = audit_action(
        "prune",
        _audit_prune,
        "retention: drop requester addresses and message words older than an age; "
        "the chain stays verifiable",
    )
    prune.add_argument("--older-than", required=True, help="an age such as 90d or 26w")

    report_cmd = command(
        "report",
        _report,
        "service levels per team: resolutions seen, notified, suppressed by reason, held, "
        "failed, time from resolution to delivery, plain-language findings",
    )
    report_cmd.add_argument(
        "--since", help="resolutions first seen from this time: ISO date/time, or an age (7d)"
    )
    report_cmd.add_argument("--until", help="... and before this time: ISO date/time, or an age")
    report_cmd.add_argument("--team", help="only this team")
    report_cmd.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    report_cmd.add_argument(
        "--output", "-o", type=Path, help="write to this file instead of standard output"
    )

    command("check-config", _check_config, "validate the configuration, templates and secrets")

    command("held", _held, "list notices held for review (plain-language gate, template errors)")
    release = command("release", _release, "send a held notice after review")
    release.add_argument("key", help="the resolution key, as `notifier held` shows it")
    release.add_argument("--note", default="", help="why it may go out (kept in the audit trail)")
    release.add_argument(
        "--force",
        action="store_true",
        help="send newly rendered words even if the plain-language gate would hold them",
    )
    edit = command(
        "edit",
        _edit,
        "correct a held notice's words in $EDITOR (or from --file); the plain-language gate "
        "checks them, and the audit trail records the edit and who made it",
    )
    edit.add_argument("key", help="the resolution key, as `notifier held` shows it")
    edit.add_argument(
        "--file", type=Path, help="read the new words from this file instead of $EDITOR"
    )
    edit.add_argument("--note", default="", help="why the words changed (kept in the audit trail)")
    edit.add_argument(
        "--force",
        action="store_true",
        help="accept the new words even if the plain-language gate would still hold them",
    )
    cancel = command("cancel", _cancel, "drop a held notice after review; it is never sent")
    cancel.add_argument("key", help="the resolution key, as `notifier held` shows it")
    cancel.add_argument("--note", default="", help="why it is dropped (kept in the audit trail)")
    explain = command(
        "explain", _explain, "show every rule evaluated for one resolution, and what happened"
    )
    explain.add_argument(
        "key", help="a resolution key, or a ticket id (explains each of its resolutions)"
    )

    lint_cmd = command(
        "lint",
        _lint,
        "render every team's templates with sample tickets and check them for jargon "
        "(exit 1 when a template's own words would be blocked)",
    )
    lint_cmd.add_argument("--team", help="only this team's templates")
    plain = command(
        "plain", _plain, "check any text for IT jargon (exit 1 when it would be blocked)"
    )
    plain.add_argument("file", nargs="?", default="-", help="a text file, or - for stdin")
    plain.add_argument("--format", choices=("text", "json"), default="text")
    plain.add_argument("--language", default="en", help="the text's language (default en)")
    plain.add_argument("--team", help="use this team's glossary")

    reread = command("reread", _reread, "read a source's input again on the next pass")
    reread.add_argument("source", help="the name of an [[exports]] or [[imap]] source")
    reread.add_argument("--since", help="only input from this time: ISO date/time, or an age (7d)")

    # Operations: status, send-test, check-config --connect, run --metrics (notifier/cli/ops.py).
    from notifier.cli import ops as opscli

    opscli.register(commands, command, _settings)
    return parser


# -- helpers -------------------------------------------------------------------------------------


def _config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """The path and whether the user named it (a named file must exist)."""
    if args.config is not None:
        return args.config, True
    if os.environ.get("NOTIFIER_CONFIG"):
        return Path(os.environ["NOTIFIER_CONFIG"]), True
    return DEFAULT_CONFIG_PATH, False


def _settings(args: argparse.Namespace, *, required: bool) -> Settings:
    path, named = _config_path(args)
    return load_settings(path, required=required or named)


def _configure_logging(settings: Settings) -> None:
    from notifier.runtime import logs

    logs.configure(settings.log.level, settings.log.format)


# -- commands ------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap, daemon
    from notifier.runtime.metrics import Metrics, parse_listen
    from notifier.runtime.sdnotify import Notifier, watchdog_interval

    notifier = Notifier.from_environment()
    signals = daemon.Signals()
    # First of all: a SIGHUP or SIGTERM while starting must not kill the process half-way.
    daemon.install_signal_handlers(signals, notifier)
    settings = _settings(args, required=True)
    _configure_logging(settings)
    metrics: Metrics | None = None
    listen = args.metrics or settings.metrics.listen
    if listen:
        host, port = parse_listen(listen)
        metrics = Metrics()
        metrics.serve(host, port)
    try:
        with bootstrap.open_outbox(settings) as outbox:
            runner = daemon.Daemon(
                settings=settings,
                outbox=outbox,
                build=bootstrap.build_service,
                load=lambda: _settings(args, required=True),
                signals=signals,
                notifier=notifier,
                watchdog=watchdog_interval(),
                metrics=metrics,
                on_reload=_configure_logging,
            )
            return runner.run()
    finally:
        if metrics is not None:
            metrics.close()


def _once(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    settings = _settings(args, required=True)
    _configure_logging(settings)
    with bootstrap.open_outbox(settings) as outbox:
        service = bootstrap.build_service(settings, outbox)
        service.start()
        report = service.run_pass()
        _record_once(settings, service, report)
    if report.needs_attention:
        return 1
    return EX_TEMPFAIL if report.deferred else 0


def _record_once(settings: Settings, service: Service, report: PassReport) -> None:
    """Leave what this pass found in status.json, so `notifier status` shows each source."""
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
                written_by="once",
            ),
        )


def _demo(args: argparse.Namespace) -> int:
    from notifier.cli import demo

    return demo.run(keep=args.keep)


def _preview(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_preview_review
    from notifier.core.compose import compose, profile_for
    from notifier.core.rules import route
    from notifier.delivery.message import build_message
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    resolution = _ticket_from_json(args.ticket)
    team = args.team or route(resolution, bootstrap.build_routes(settings))
    profile = profile_for(team, bootstrap.build_team_profiles(settings))
    renderer = bootstrap.build_renderer(settings)
    domain = settings.smtp.from_address.rpartition("@")[2]
    composed = compose(resolution, profile, renderer, domain=domain)
    notice = composed.notice
    message = build_message(
        notice,
        from_address=settings.smtp.from_address,
        from_name=profile.display_name,  # as the sender writes it: the team that signs
        now=datetime.now(UTC),
    )
    say(
        f"# team: {printable(team)}, template: {printable(notice.template)}, "
        f"policy: {profile.plain_policy}"
    )
    say(format_preview_review(composed))
    # The headers decoded, then each text part as the requester reads it: on the wire they are
    # RFC 2047 words and quoted-printable, which no reviewer can read.
    for name, value in message.items():
        say(f"{name}: {printable(value)}")
    for part in message.walk():
        if part.get_content_maintype() == "text":
            say(f"\n--- {part.get_content_type()} ---")
            say(part.get_content())
    return 0


def _ticket_from_json(path: Path) -> Resolution:
    from notifier.sources.export.timestamps import parse_timestamp

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotifierError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise NotifierError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise NotifierError(f"{path}: expected a JSON object with ticket fields")
    known = {
        "ticket_id", "id", "requester_email", "requester_name", "title", "status", "resolved_at",
        "team", "resolution_note", "language", "original_message_id", "fields",
    }  # fmt: skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise NotifierError(
            f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    ticket_id = str(data.get("ticket_id", data.get("id", ""))).strip()
    if not ticket_id or not data.get("requester_email"):
        raise NotifierError(f"{path}: ticket_id and requester_email are required")
    extra = data.get("fields", {})
    if not isinstance(extra, dict):
        raise NotifierError(f"{path}: fields: expected an object of column names and values")
    resolved = data.get("resolved_at")
    try:
        resolved_at = parse_timestamp(str(resolved)) if resolved else None
    except ValueError as exc:
        raise NotifierError(f"{path}: resolved_at: {exc}") from None
    return Resolution(
        source="preview",
        ticket_id=ticket_id,
        requester_email=str(data["requester_email"]),
        requester_name=str(data.get("requester_name", "")),
        title=str(data.get("title", "")),
        status=str(data.get("status", "")),
        resolved_at=resolved_at,
        team_hint=str(data.get("team", "")),
        resolution_note=str(data.get("resolution_note", "")),
        language=str(data.get("language", "")),
        original_message_id=str(data.get("original_message_id", "")),
        origin=str(path),
        fields={str(k): str(v) for k, v in extra.items()},
    )


def _audit(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    wanted = AuditQuery(
        ticket=args.ticket,
        requester=args.requester,
        outcome=args.outcome,
        source=args.source,
        team=args.team,
        since=_moment(args.since, "--since"),
        until=_moment(args.until, "--until"),
        limit=args.limit,
    )
    if wanted.outcome is not None and wanted.outcome not in OUTCOMES:
        raise NotifierError(
            f"--status: unknown outcome {wanted.outcome!r}; one of {', '.join(OUTCOMES)}"
        )
    fmt = "jsonl" if args.follow and args.format == "json" else args.format
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        # The newest row before the history is read: --follow goes on from there, no gap.
        newest = [r.id or 0 for r in outbox.audit_records(AuditQuery(limit=1))]
        records = outbox.audit_records(wanted)
        if records or not args.follow or fmt != "jsonl":
            say(format_records(records, fmt), flush=True)
        if not args.follow:
            return 0
        last = max([*newest, *(r.id or 0 for r in records[-1:])], default=0)
        follow = dataclasses.replace(wanted, limit=None, after_id=last)
        tick = threading.Event()
        try:
            while not tick.wait(1.0):
                new = outbox.audit_records(follow)
                if new:
                    say(format_records(new, fmt, header=False), flush=True)
                    follow = dataclasses.replace(follow, after_id=new[-1].id)
        except KeyboardInterrupt:
            return 0
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    import time

    from notifier.runtime import bootstrap

    with bootstrap.open_outbox(_settings(args, required=False), exclusive=False) as store:
        started = time.perf_counter()
        result = store.verify()
        elapsed = time.perf_counter() - started
    say(format_verification(result, elapsed))
    return 0 if result.ok else 1


def _audit_show(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    with bootstrap.open_outbox(_settings(args, required=False), exclusive=False) as store:
        keys = store.find_notices(args.key)
        views = [view for key in keys if (view := store.notice_view(key))]
    if not views:
        raise NotifierError(
            f"{args.key}: no notice with this resolution key or ticket id "
            "(see notifier audit --ticket ...)"
        )
    if args.format == "json":
        say("[" + ",\n".join(format_notice(v, fmt="json") for v in views) + "]")
    else:
        say("\n\n".join(format_notice(v, html=args.html) for v in views))
    return 0


def _audit_prune(args: argparse.Namespace) -> int:
    from notifier.core.durations import parse_duration
    from notifier.runtime import bootstrap

    try:
        age = parse_duration(args.older_than)
    except ValueError as exc:
        raise NotifierError(f"--older-than: {exc}") from None
    now = datetime.now(UTC)
    with bootstrap.open_outbox(_settings(args, required=False), exclusive=False) as outbox:
        result = outbox.apply_retention(now - age, now)
    say(
        f"retention: requester removed from {result.audit_rows} audit rows, addresses and words "
        f"from {result.notices} notices recorded before {result.cutoff:%Y-%m-%d %H:%M} UTC; "
        "the chain still verifies (notifier audit verify)"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from notifier.cli.report import format_report
    from notifier.runtime import bootstrap

    since = _moment(args.since, "--since")
    until = _moment(args.until, "--until")
    with bootstrap.open_outbox(_settings(args, required=False), exclusive=False) as store:
        built = store.report(since=since, until=until, team=args.team, now=datetime.now(UTC))
    text = format_report(built, args.format)
    if args.output is None:
        say(text)
        return 0
    try:
        args.output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise NotifierError(f"{args.output}: cannot write: {exc.strerror}") from None
    say(f"report written to {printable(args.output)}")
    return 0


def _moment(text: str | None, option: str) -> datetime | None:
    from notifier.core.durations import parse_duration

    if text is None:
        return None
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise NotifierError(
            f"{option}: {text!r} is neither an ISO date/time nor an age like 2h or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reread(args: argparse.Namespace) -> int:
    from notifier.cli.reread import reread

    since = _moment(args.since, "--since")
    return reread(_settings(args, required=True), args.source, since, datetime.now(UTC))


def _check_config(args: argparse.Namespace) -> int:
    from notifier.cli import preflight
    from notifier.runtime import bootstrap

    settings = _settings(args, required=True)
    renderer = bootstrap.build_renderer(settings)
    findings = preflight.check_runtime_needs(settings, renderer.problems())
    if not any(f.severity == "error" and not f.where for f in findings):
        # Building what the service builds at start finds the rest (presets, rules, TLS files);
        # it needs the secrets, so only once they could all be read.
        for build in (
            lambda: bootstrap.build_sources(settings, _NothingSeen()),
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
        f"{len(settings.imap)} IMAP source(s), "
        f"teams: {', '.join(renderer.teams)}, smtp: {settings.smtp.host}:{settings.smtp.effective_port} "
        f"({settings.smtp.security}), state: {settings.state.directory}"
    )
    if args.connect:
        from notifier.cli import ops as opscli

        return opscli.check_connections(settings)
    return 0


def _held(args: argparse.Namespace) -> int:
    from notifier.cli.edit import format_held
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        held = outbox.held()
    if not held:
        say("no notices are held")
        return 0
    say("\n\n".join(format_held(item) for item in held))
    return 0


def _edit(args: argparse.Namespace) -> int:
    from notifier.cli.edit import edit_words
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        held = outbox.held_notice(args.key)
        edited = edit_words(settings, held, from_file=args.file, force=args.force)
        if edited is None:
            say(f"{printable(args.key)}: the words did not change; the notice stays held")
            return 0
        outbox.edit(
            args.key,
            datetime.now(UTC),
            subject=edited.subject,
            text=edited.text,
            findings=edited.findings_json,
            note=edited.note(args.note, forced=args.force),
        )
    for line in edited.warnings:
        say(line)
    say(
        f"edited {printable(args.key)}: it stays held with the new words (sent as plain text "
        f"only); send it with notifier release {printable(args.key)}"
    )
    return 0


def _release(args: argparse.Namespace) -> int:
    from notifier.core.compose import compose, profile_for
    from notifier.core.model import Notice
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        has_words, resolution = outbox.held_content(args.key)
        notice: Notice | None = None
        if not has_words:
            # Held for a template error: render again with today's templates.
            if resolution is None:
                raise NotifierError(f"{args.key}: nothing stored to render this notice from")
            from notifier.core.rules import route

            team = route(resolution, bootstrap.build_routes(settings))
            profile = profile_for(team, bootstrap.build_team_profiles(settings))
            domain = settings.smtp.from_address.rpartition("@")[2]
            try:
                composed = compose(
                    resolution, profile, bootstrap.build_renderer(settings), domain=domain
                )
            except NotifierError:
                raise
            except Exception as exc:  # the fault that held it is still there
                raise NotifierError(
                    f"{args.key}: cannot render this notice: {type(exc).__name__}: {exc}"
                ) from exc
            # Nobody has read these words yet: the gate's verdict on them still counts.
            if composed.review.hold_reason and not args.force:
                raise NotifierError(
                    f"{args.key}: the newly rendered words would be held: "
                    f"{composed.review.hold_reason}. Send them anyway with --force, or cancel"
                )
            notice = composed.notice
        note = "released after review" + (f": {args.note}" if args.note else "")
        outbox.release(args.key, datetime.now(UTC), note=note, notice=notice)
    say(
        f"released {printable(args.key)}: it goes out with the next pass (notifier run, or notifier once)"
    )
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        note = "cancelled after review" + (f": {args.note}" if args.note else "")
        outbox.cancel(args.key, datetime.now(UTC), note=note)
    say(f"cancelled {printable(args.key)}: it will not be sent")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from notifier.cli.explain import format_explanation, format_rejections
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        # A resolution key, or a ticket id: then each of the ticket's resolutions, and the
        # input about it that was rejected (which has no notice, only its audit rows).
        keys = outbox.find_notices(args.key)
        rejected = [
            record
            for record in outbox.audit_records(AuditQuery(ticket=args.key, outcome="rejected"))
            if not record.resolution_key
        ]
        if not keys and not rejected:
            raise NotifierError(
                f"{args.key}: no resolution with this key or ticket id (see notifier audit)"
            )
        explained = [
            format_explanation(
                outbox.explain_record(key),
                outbox.audit_records(AuditQuery(resolution_key=key)),
            )
            for key in keys
        ]
        if rejected:
            explained.append(format_rejections(args.key, rejected))
    say("\n\n".join(explained))
    return 0


def _lint(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_lint, lint
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    renderer = bootstrap.build_renderer(settings)
    if args.team is not None and args.team not in renderer.teams:
        raise NotifierError(
            f"--team: no templates for {args.team!r}; teams: {', '.join(renderer.teams)}"
        )
    domain = settings.smtp.from_address.rpartition("@")[2]
    results = lint(renderer, bootstrap.build_team_profiles(settings), domain, args.team)
    say(format_lint(results))
    return 1 if any(r.template_blocked or r.error for r in results) else 0


def _plain(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_plain
    from notifier.runtime import bootstrap

    settings = _settings(args, required=False)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise NotifierError(f"{args.file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise NotifierError(f"{args.file}: not UTF-8 text") from None
    gate = bootstrap.build_gate(settings, args.team)
    analysis = gate.analyze(text, language=args.language)
    say(format_plain(analysis, args.format))
    return 1 if analysis.blocked else 0


class _NothingSeen:
    def checkpoint(self, source: str, key: str) -> str | None:
        return None
