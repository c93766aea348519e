"""The command line: ``notifier run | once | demo | preview | audit | check-config``.

Errors are one clear line on stderr, never a traceback. A configuration error exits with 78
(EX_CONFIG); ``once`` exits 0 when all went well, 1 when something needs attention (a dead letter,
rejected input, a held notice, a source that could not be read) and 75 (EX_TEMPFAIL) when the
only trouble is notices deferred for a later retry.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from notifier import __version__
from notifier.config import DEFAULT_CONFIG_PATH, EX_CONFIG, Settings, load_settings
from notifier.errors import ConfigError, NotifierError
from notifier.model import Resolution

EX_TEMPFAIL = 75


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"notifier: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except NotifierError as exc:
        print(f"notifier: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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

    command("check-config", _check_config, "validate the configuration, templates and secrets")

    command("held", _held, "list notices held for review (plain-language gate, template errors)")
    release = command("release", _release, "send a held notice after review")
    release.add_argument("key", help="the resolution key, as `notifier held` shows it")
    release.add_argument("--note", default="", help="why it may go out (kept in the audit trail)")
    cancel = command("cancel", _cancel, "drop a held notice after review; it is never sent")
    cancel.add_argument("key", help="the resolution key, as `notifier held` shows it")
    cancel.add_argument("--note", default="", help="why it is dropped (kept in the audit trail)")

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
    from notifier import logs

    logs.configure(settings.log.level, settings.log.format)


# -- commands ------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from notifier import bootstrap, daemon

    settings = _settings(args, required=True)
    _configure_logging(settings)
    stop, wake = threading.Event(), threading.Event()
    daemon.install_stop_handlers(stop, wake)
    outbox = bootstrap.open_outbox(settings)
    try:
        service = bootstrap.build_service(settings, outbox)
        return daemon.run_forever(service, settings.run.poll_interval, stop, wake)
    finally:
        outbox.close()


def _once(args: argparse.Namespace) -> int:
    from notifier import bootstrap

    settings = _settings(args, required=True)
    _configure_logging(settings)
    outbox = bootstrap.open_outbox(settings)
    try:
        service = bootstrap.build_service(settings, outbox)
        service.start()
        report = service.run_pass()
    finally:
        outbox.close()
    if report.needs_attention:
        return 1
    return EX_TEMPFAIL if report.deferred else 0


def _demo(args: argparse.Namespace) -> int:
    from notifier import demo

    return demo.run(keep=args.keep)


def _preview(args: argparse.Namespace) -> int:
    from notifier import bootstrap
    from notifier.authoring import format_preview_review
    from notifier.compose import compose, profile_for
    from notifier.delivery.message import build_message
    from notifier.rules import route

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
        from_name=settings.smtp.from_name,
        now=datetime.now(UTC),
    )
    print(f"# team: {team}, template: {notice.template}, policy: {profile.plain_policy}")
    print(format_preview_review(composed))
    print(message.as_string())
    return 0


def _ticket_from_json(path: Path) -> Resolution:
    from notifier.sources.timestamps import parse_timestamp

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
    from notifier import audit, bootstrap

    settings = _settings(args, required=False)
    wanted = audit.AuditQuery(
        ticket=args.ticket,
        requester=args.requester,
        outcome=args.outcome,
        source=args.source,
        team=args.team,
        since=_moment(args.since, "--since"),
        until=_moment(args.until, "--until"),
        limit=args.limit,
    )
    if wanted.outcome is not None and wanted.outcome not in audit.OUTCOMES:
        raise NotifierError(
            f"--status: unknown outcome {wanted.outcome!r}; one of {', '.join(audit.OUTCOMES)}"
        )
    outbox = bootstrap.open_outbox(settings, exclusive=False)
    try:
        records = outbox.audit_records(wanted)
    finally:
        outbox.close()
    print(audit.format_records(records, args.format))
    return 0


def _moment(text: str | None, option: str) -> datetime | None:
    from notifier.durations import parse_duration

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


def _check_config(args: argparse.Namespace) -> int:
    from notifier import bootstrap

    settings = _settings(args, required=True)
    if settings.smtp.username:
        settings.smtp.resolve_password()
    renderer = bootstrap.build_renderer(settings)
    problems = renderer.problems()
    for problem in problems:
        print(f"template error: {problem}", file=sys.stderr)
    bootstrap.build_sources(settings, _NothingSeen())
    bootstrap.build_sender(settings)
    print(
        f"configuration OK: {len(settings.exports)} export source(s), "
        f"teams: {', '.join(renderer.teams)}, smtp: {settings.smtp.host}:{settings.smtp.effective_port} "
        f"({settings.smtp.security}), state: {settings.state.directory}"
    )
    return EX_CONFIG if problems else 0


def _held(args: argparse.Namespace) -> int:
    from notifier import bootstrap

    settings = _settings(args, required=False)
    outbox = bootstrap.open_outbox(settings, exclusive=False)
    try:
        held = outbox.held()
    finally:
        outbox.close()
    if not held:
        print("no notices are held")
    for item in held:
        print(
            f"{item.resolution_key}\n  ticket {item.ticket_id} ({item.source}, team {item.team}) "
            f"to {item.requester}, held since {item.held_since:%Y-%m-%d %H:%M} UTC\n"
            f"  subject: {item.subject or '(not rendered)'}\n  reason: {item.reason}"
        )
        for finding in item.findings:
            if finding.get("severity") == "block":
                print(
                    f"  - {finding.get('kind')} {finding.get('text')!r}: {finding.get('suggestion')}"
                )
    return 0


def _release(args: argparse.Namespace) -> int:
    from notifier import bootstrap
    from notifier.compose import compose, profile_for
    from notifier.model import Notice

    settings = _settings(args, required=False)
    outbox = bootstrap.open_outbox(settings, exclusive=False)
    try:
        has_words, resolution = outbox.held_content(args.key)
        notice: Notice | None = None
        if not has_words:
            # Held for a template error: render again with today's templates.
            if resolution is None:
                raise NotifierError(f"{args.key}: nothing stored to render this notice from")
            from notifier.rules import route

            team = route(resolution, bootstrap.build_routes(settings))
            profile = profile_for(team, bootstrap.build_team_profiles(settings))
            domain = settings.smtp.from_address.rpartition("@")[2]
            notice = compose(
                resolution, profile, bootstrap.build_renderer(settings), domain=domain
            ).notice
        note = "released after review" + (f": {args.note}" if args.note else "")
        outbox.release(args.key, datetime.now(UTC), note=note, notice=notice)
    finally:
        outbox.close()
    print(f"released {args.key}: it goes out with the next pass (notifier run, or notifier once)")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from notifier import bootstrap

    settings = _settings(args, required=False)
    outbox = bootstrap.open_outbox(settings, exclusive=False)
    try:
        note = "cancelled after review" + (f": {args.note}" if args.note else "")
        outbox.cancel(args.key, datetime.now(UTC), note=note)
    finally:
        outbox.close()
    print(f"cancelled {args.key}: it will not be sent")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from notifier import bootstrap
    from notifier.authoring import format_lint, lint

    settings = _settings(args, required=False)
    renderer = bootstrap.build_renderer(settings)
    if args.team is not None and args.team not in renderer.teams:
        raise NotifierError(
            f"--team: no templates for {args.team!r}; teams: {', '.join(renderer.teams)}"
        )
    domain = settings.smtp.from_address.rpartition("@")[2]
    results = lint(renderer, bootstrap.build_team_profiles(settings), domain, args.team)
    print(format_lint(results))
    return 1 if any(r.template_blocked or r.error for r in results) else 0


def _plain(args: argparse.Namespace) -> int:
    from notifier import bootstrap
    from notifier.authoring import format_plain

    settings = _settings(args, required=False)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise NotifierError(f"{args.file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise NotifierError(f"{args.file}: not UTF-8 text") from None
    gate = bootstrap.build_gate(settings, args.team)
    analysis = gate.analyze(text, language=args.language)
    print(format_plain(analysis, args.format))
    return 1 if analysis.blocked else 0


class _NothingSeen:
    def checkpoint(self, source: str, key: str) -> str | None:
        return None
