"""The command line: ``notifier run | once | demo | preview | audit | check-config``.

Errors are one clear line on stderr, never a traceback. A configuration error exits with 78
(EX_CONFIG); ``once`` exits 0 when all went well, 1 when something needs attention (a dead letter,
rejected input, a held notice, a source that could not be read) and 75 (EX_TEMPFAIL) when the
only trouble is notices deferred for a later retry.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from notifier import __version__
from notifier.cli.commands.held import cancel_command, edit_command, held_command, release_command
from notifier.cli.commands.run import (
    check_config_command,
    demo_command,
    once_command,
    reread_command,
    run_command,
)
from notifier.cli.commands.state import add_arguments as migrate_state_arguments
from notifier.cli.commands.state import migrate_state_command
from notifier.cli.commands.templates import lint_command, plain_command, preview_command
from notifier.cli.commands.trail import (
    audit_command,
    audit_prune_command,
    audit_show_command,
    audit_verify_command,
    explain_command,
    report_command,
)
from notifier.cli.context import settings_from
from notifier.core.errors import ConfigError, NotifierError
from notifier.core.printable import printable, say
from notifier.runtime.config import EX_CONFIG


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

    command("run", run_command, "poll the sources and deliver notices until SIGTERM or SIGINT")
    command("once", once_command, "one pass: poll every source once and deliver what is due")
    demo = commands.add_parser(
        "demo",
        help="see notifier work: sample exports, a local SMTP server, no configuration",
        description="Runs the real pipeline on the sample exports shipped with notifier, "
        "sending to an SMTP server embedded on 127.0.0.1, then prints every delivered message "
        "and the audit trail. Nothing leaves this machine.",
    )
    demo.set_defaults(handler=demo_command)
    demo.add_argument("--keep", action="store_true", help="keep the temporary state directory")

    migrate_arguments = command(
        "migrate-state",
        migrate_state_command,
        "move the SQLite state whole into an empty PostgreSQL database (stop notifier first)",
    )
    migrate_state_arguments(migrate_arguments)

    preview = command(
        "preview", preview_command, "render the notice for one ticket without sending it"
    )
    preview.add_argument("ticket", type=Path, help="a JSON object: ticket_id, requester_email, ...")
    preview.add_argument("--team", help="render with this team's templates (default: routing)")

    audit_cmd = command(
        "audit", audit_command, "show the audit trail: every decision notifier made"
    )
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
        audit_verify_command,
        "check the hash chain of the whole trail; exit 1 naming the first row that does not match",
    )
    show = audit_action(
        "show",
        audit_show_command,
        "what the requester saw: the exact subject and text, the template and its version, "
        "and the notice's audit history",
    )
    show.add_argument("key", help="a resolution key, or a ticket id (shows each of its notices)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.add_argument("--html", action="store_true", help="print the HTML part too")
    prune = audit_action(
        "prune",
        audit_prune_command,
        "retention: drop requester addresses and message words older than an age; "
        "the chain stays verifiable",
    )
    prune.add_argument("--older-than", required=True, help="an age such as 90d or 26w")

    report_cmd = command(
        "report",
        report_command,
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

    command(
        "check-config", check_config_command, "validate the configuration, templates and secrets"
    )

    command(
        "held", held_command, "list notices held for review (plain-language gate, template errors)"
    )
    release = command("release", release_command, "send a held notice after review")
    release.add_argument("key", help="the resolution key, as `notifier held` shows it")
    release.add_argument("--note", default="", help="why it may go out (kept in the audit trail)")
    release.add_argument(
        "--force",
        action="store_true",
        help="send newly rendered words even if the plain-language gate would hold them",
    )
    edit = command(
        "edit",
        edit_command,
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
    cancel = command("cancel", cancel_command, "drop a held notice after review; it is never sent")
    cancel.add_argument("key", help="the resolution key, as `notifier held` shows it")
    cancel.add_argument("--note", default="", help="why it is dropped (kept in the audit trail)")
    explain = command(
        "explain",
        explain_command,
        "show every rule evaluated for one resolution, and what happened",
    )
    explain.add_argument(
        "key", help="a resolution key, or a ticket id (explains each of its resolutions)"
    )

    lint_cmd = command(
        "lint",
        lint_command,
        "render every team's templates with sample tickets and check them for jargon "
        "(exit 1 when a template's own words would be blocked)",
    )
    lint_cmd.add_argument("--team", help="only this team's templates")
    plain = command(
        "plain", plain_command, "check any text for IT jargon (exit 1 when it would be blocked)"
    )
    plain.add_argument("file", nargs="?", default="-", help="a text file, or - for stdin")
    plain.add_argument("--format", choices=("text", "json"), default="text")
    plain.add_argument("--language", default="en", help="the text's language (default en)")
    plain.add_argument("--team", help="use this team's glossary")

    reread = command("reread", reread_command, "read a source's input again on the next pass")
    reread.add_argument("source", help="the name of an [[exports]] or [[imap]] source")
    reread.add_argument("--since", help="only input from this time: ISO date/time, or an age (7d)")

    # Operations: status, send-test, check-config --connect, run --metrics (notifier/cli/ops.py).
    from notifier.cli import ops as opscli

    opscli.register(commands, command, settings_from)
    from notifier.cli import oauth as oauthcli

    oauthcli.register(commands, settings_from)
    return parser
