"""Working on templates: ``preview`` a notice, ``lint`` a team's templates, check words with
``plain``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from notifier.cli.context import settings_from
from notifier.core.errors import NotifierError
from notifier.core.model import Resolution
from notifier.core.printable import printable, say


def preview_command(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_preview_review
    from notifier.core.compose import compose, profile_for
    from notifier.core.rules import route
    from notifier.delivery.message import build_message
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
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
    from notifier.sources.records.timestamps import parse_timestamp

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


def lint_command(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_lint, lint
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
    renderer = bootstrap.build_renderer(settings)
    if args.team is not None and args.team not in renderer.teams:
        raise NotifierError(
            f"--team: no templates for {args.team!r}; teams: {', '.join(renderer.teams)}"
        )
    domain = settings.smtp.from_address.rpartition("@")[2]
    results = lint(renderer, bootstrap.build_team_profiles(settings), domain, args.team)
    say(format_lint(results))
    return 1 if any(r.template_blocked or r.error for r in results) else 0


def plain_command(args: argparse.Namespace) -> int:
    from notifier.cli.authoring import format_plain
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
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
