"""Asking the audit trail: ``audit`` (list, follow, ``verify``, ``show``, ``prune``),
``report`` and ``explain``.
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
from datetime import UTC, datetime

from notifier.cli.auditview import format_notice, format_records, format_verification
from notifier.cli.context import parse_moment, settings_from
from notifier.core.audit import OUTCOMES, AuditQuery
from notifier.core.errors import NotifierError
from notifier.core.printable import printable, say


def audit_command(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
    wanted = AuditQuery(
        ticket=args.ticket,
        requester=args.requester,
        outcome=args.outcome,
        source=args.source,
        team=args.team,
        since=parse_moment(args.since, "--since"),
        until=parse_moment(args.until, "--until"),
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


def audit_verify_command(args: argparse.Namespace) -> int:
    import time

    from notifier.runtime import bootstrap

    with bootstrap.open_outbox(settings_from(args, required=False), exclusive=False) as store:
        started = time.perf_counter()
        result = store.verify()
        elapsed = time.perf_counter() - started
    say(format_verification(result, elapsed))
    return 0 if result.ok else 1


def audit_show_command(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap

    with bootstrap.open_outbox(settings_from(args, required=False), exclusive=False) as store:
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


def audit_prune_command(args: argparse.Namespace) -> int:
    from notifier.core.durations import parse_duration
    from notifier.runtime import bootstrap

    try:
        age = parse_duration(args.older_than)
    except ValueError as exc:
        raise NotifierError(f"--older-than: {exc}") from None
    now = datetime.now(UTC)
    with bootstrap.open_outbox(settings_from(args, required=False), exclusive=False) as outbox:
        result = outbox.apply_retention(now - age, now)
    say(
        f"retention: requester removed from {result.audit_rows} audit rows, addresses and words "
        f"from {result.notices} notices recorded before {result.cutoff:%Y-%m-%d %H:%M} UTC; "
        "the chain still verifies (notifier audit verify)"
    )
    return 0


def report_command(args: argparse.Namespace) -> int:
    from notifier.cli.report import format_report
    from notifier.runtime import bootstrap

    since = parse_moment(args.since, "--since")
    until = parse_moment(args.until, "--until")
    with bootstrap.open_outbox(settings_from(args, required=False), exclusive=False) as store:
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


def explain_command(args: argparse.Namespace) -> int:
    from notifier.cli.explain import format_explanation, format_rejections
    from notifier.runtime import bootstrap

    settings = settings_from(args, required=False)
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
