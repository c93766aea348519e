"""What ``notifier audit`` prints: rows as a table, JSON or CSV, a notice's words, the
verification verdict."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime

from notifier.core.audit import READ_COLUMNS, AuditRecord, NoticeView, Verification
from notifier.core.printable import csv_cell, json_text, printable, printable_block


def format_verification(result: Verification, seconds: float) -> str:
    lines = []
    if result.ok:
        lines.append(
            f"audit trail intact: {result.rows} rows checked in {seconds:.2f} s"
            + (f", chain from #1 to #{result.head_id}" if result.head_id else "")
        )
    else:
        first = result.problems[0]
        where = f"at row #{first.row_id}" if first.row_id else "guard removed"
        lines.append(f"audit trail BROKEN {where}: {printable(first.message)}")
        lines += [f"  also: {printable(p.message)}" for p in result.problems[1:]]
        lines.append(f"({result.rows} rows read in {seconds:.2f} s)")
    if result.unsealed:
        lines.append(
            f"{result.unsealed} rows from before the chain existed are not linked yet; "
            "notifier links them with its next write"
        )
    if result.pruned:
        lines.append(f"{result.pruned} rows had their requester removed by retention")
    if result.head_id:
        lines.append(f"head: #{result.head_id} {result.head_hash}")
    return "\n".join(lines)


def format_notice(view: NoticeView, *, fmt: str = "text", html: bool = False) -> str:
    """What the requester saw, where it came from, and whether the trail vouches for it."""
    recorded = view.recorded_words_hash
    if not view.has_words:
        words_state = "removed by retention" if recorded else "none stored (not rendered)"
    elif not recorded:
        words_state = "not sent yet" if view.state != "sent" else "no hash recorded"
    elif recorded == view.words_hash:
        words_state = "match the audit trail"
    else:
        words_state = "DO NOT MATCH the audit trail (changed after sending)"
    if fmt == "json":
        return json_text(
            {
                "resolution_key": view.resolution_key,
                "ticket_id": view.ticket_id,
                "source": view.source,
                "team": view.team,
                "state": view.state,
                "to_email": view.to_email,
                "to_name": view.to_name,
                "template": view.template_name,
                "template_version": view.template_version,
                "message_id": view.message_id,
                "resolved_at": _iso(view.resolved_at),
                "queued_at": _iso(view.queued_at),
                "sent_at": _iso(view.sent_at),
                "attempts": view.attempts,
                "subject": view.subject,
                "text": view.text,
                "html": view.html,
                "words_hash": recorded or view.words_hash,
                "words": words_state,
                "findings": json.loads(view.findings) if view.findings else [],
                "history": [_plain(record) for record in view.history],
            },
            indent=2,
        )
    to = f"{view.to_name} <{view.to_email}>" if view.to_name else view.to_email
    sent = (
        f"sent {view.sent_at:%Y-%m-%d %H:%M:%S} UTC after {view.attempts} attempt(s)"
        if view.sent_at
        else view.state
    )
    lines = [
        f"notice     {printable(view.resolution_key)}",
        f"ticket     {printable(view.ticket_id)} (source {printable(view.source)}, "
        f"team {printable(view.team)})",
        f"to         {printable(to or '(removed by retention)')}",
        f"state      {sent}",
        f"template   {printable(view.template_name or '-')}, "
        f"version {printable(view.template_version or '-')}",
        f"message-id {printable(view.message_id or '-')}",
        f"words      {words_state}" + (f" (sha256 {recorded})" if recorded else ""),
    ]
    if view.findings:
        kinds = sorted({str(f.get("kind")) for f in json.loads(view.findings)})
        lines.append(f"findings   {printable(', '.join(kinds))}")
    if view.has_words:
        lines += ["", f"Subject: {printable(view.subject)}", "", framed(view.text)]
        if view.html is not None:
            lines += (
                ["", "--- HTML part", framed(view.html)]
                if html
                else ["", f"(an HTML part of {len(view.html)} characters: --html shows it)"]
            )
    lines += ["", "--- audit trail", _table(list(view.history))]
    return "\n".join(lines)


def framed(words: str) -> str:
    """The notice's words, every line after ``| ``: they are several lines by nature (their
    line breaks stay), but no line of theirs can pass for one of this report's own."""
    lines = printable_block(words.rstrip("\n")).split("\n")
    return "\n".join(f"| {line}" if line else "|" for line in lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def format_records(records: Iterable[AuditRecord], fmt: str, *, header: bool = True) -> str:
    """Render rows as ``table`` (for a terminal), ``json`` (a list), ``jsonl`` or ``csv``.

    ``header=False`` leaves out the table and CSV header (the next lines of ``--follow``).
    """
    rows = list(records)
    if fmt == "json":
        return json_text([_plain(record) for record in rows], indent=2)
    if fmt == "jsonl":
        return "\n".join(json_text(_plain(record)) for record in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=READ_COLUMNS, lineterminator="\n")
        if header:
            writer.writeheader()
        # A person opens this in a spreadsheet: no line break inside a cell, no formula.
        writer.writerows(
            {name: csv_cell(value) for name, value in _plain(record).items()} for record in rows
        )
        return buffer.getvalue().rstrip("\n")
    return _table(rows, header=header)


def _plain(record: AuditRecord) -> dict[str, object]:
    values = asdict(record)
    values["at"] = record.at.isoformat().replace("+00:00", "Z")
    return {"id": values.pop("id"), **values}


def _table(rows: list[AuditRecord], *, header: bool = True) -> str:
    # The key is what `explain` and `audit show` take (a ticket id works too).
    headers = ("time (UTC)", "outcome", "ticket", "source", "team", "requester", "key", "detail")
    lines = [
        (
            record.at.strftime("%Y-%m-%d %H:%M:%S"),
            record.outcome,
            printable(record.ticket_id or "-"),
            printable(record.source or "-"),
            printable(record.team or "-"),
            printable(record.requester or "-"),
            printable(record.resolution_key or "-"),
            printable(_detail(record)),
        )
        for record in rows
    ]
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is not padded
    out = (
        ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
        if header
        else []
    )
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    if not lines and header:
        out.append("(no audit records match)")
    return "\n".join(out)


def _detail(record: AuditRecord) -> str:
    parts = []
    if record.smtp_code is not None:
        parts.append(f"{record.smtp_code} {record.smtp_reply}".strip())
    if record.reason:
        parts.append(record.reason)
    if record.origin and record.outcome in ("rejected", "pruned"):
        parts.insert(0, record.origin)
    return "; ".join(parts)
