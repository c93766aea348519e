"""Reviewing held notices: ``held``, ``edit``, ``release``, ``cancel``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from notifier.cli.context import settings_from
from notifier.core.errors import NotifierError
from notifier.core.printable import printable, say


def held_command(args: argparse.Namespace) -> int:
    from notifier.cli.edit import format_held
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        held = outbox.held()
    if not held:
        say("no notices are held")
        return 0
    say("\n\n".join(format_held(item) for item in held))
    return 0


def edit_command(args: argparse.Namespace) -> int:
    from notifier.cli.edit import edit_words
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
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


def release_command(args: argparse.Namespace) -> int:
    from notifier.core.compose import compose, profile_for
    from notifier.core.model import Notice
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
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


def cancel_command(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
    with bootstrap.open_outbox(settings, exclusive=False) as outbox:
        note = "cancelled after review" + (f": {args.note}" if args.note else "")
        outbox.cancel(args.key, datetime.now(UTC), note=note)
    say(f"cancelled {printable(args.key)}: it will not be sent")
    return 0
