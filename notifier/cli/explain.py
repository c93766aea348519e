"""``notifier explain KEY``: one resolution's story, from the rules evaluated to the last attempt."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from notifier.core.audit import AuditRecord
from notifier.core.printable import printable as p

_OUTCOME_WORDS = {
    "queued": "queued to be sent",
    "sent": "SENT",
    "deferred": "waiting to be retried",
    "failed": "FAILED (dead letter)",
    "suppressed": "SUPPRESSED (never sent)",
    "held": "HELD for review",
    "cancelled": "CANCELLED (never sent)",
    "sending": "being sent",
}


def format_explanation(record: Mapping[str, object], history: Sequence[AuditRecord]) -> str:
    state = str(record["state"])
    # Every value from the record is ticket data or derived from it: escaped (see printable).
    lines = [
        f"resolution {p(record['resolution_key'])}",
        f"  ticket {p(record['ticket_id'])} from {p(record['source'])} ({p(record['origin'])}), "
        f"resolved {p(record['resolved_at'] or 'at an unknown time')}",
        f"  requester {p(record['requester_email'])}, team {p(record['team'])}",
        f"  now: {p(_OUTCOME_WORDS.get(state, state))}"
        + (f": {p(record['reason'])}" if record["reason"] else ""),
        "",
        "rules, in the order they were evaluated:",
    ]
    explained = json.loads(str(record.get("explain_json") or "{}") or "{}")
    steps = explained.get("rules", [])
    if not steps:
        lines.append(
            "  (not recorded: this resolution was decided before notifier kept rule traces)"
        )
    for number, step in enumerate(steps, start=1):
        marker = {"pass": "ok", "suppress": "SUPPRESSED", "delay": "wait"}.get(
            step["verdict"], step["verdict"]
        )
        lines.append(f"  {number}. {p(step['rule'])}: {p(marker)} - {p(step['detail'])}")
    plain = explained.get("plain")
    if explained.get("template_error"):
        lines += ["", f"template: ERROR - {p(explained['template_error'])}"]
    if explained.get("compose_error"):
        lines += ["", f"composing the notice: ERROR - {p(explained['compose_error'])}"]
    if plain:
        lines += [
            "",
            f"plain-language gate (policy {plain['policy']}): {plain['findings']} finding(s), "
            f"{plain['blocking']} blocking"
            + (", rewritten with safe replacements" if plain["rewritten"] else "")
            + (", HTML part left out" if plain.get("html_left_out") else "")
            + (f"; held: {p(plain['hold_reason'])}" if plain["hold_reason"] else ""),
        ]
        findings = json.loads(str(record.get("findings_json") or "[]") or "[]")
        for finding in findings:
            lines.append(
                f"  - [{p(finding['severity'])}] {p(finding['kind'])} {p(repr(finding['text']))} "
                f"({p(finding['origin'])}, {p(finding['part'])}): {p(finding['suggestion'])}"
            )
    lines += ["", "what happened:"]
    for item in history:
        detail = "; ".join(
            part
            for part in (
                f"{item.smtp_code} {item.smtp_reply}".strip() if item.smtp_code else "",
                item.reason,
            )
            if part
        )
        lines.append(
            f"  {item.at:%Y-%m-%d %H:%M:%S} {item.outcome}" + (f": {p(detail)}" if detail else "")
        )
    return "\n".join(lines)


def format_rejections(ticket: str, rejected: Sequence[AuditRecord]) -> str:
    """A ticket whose input could not be used: it has no notice, only these audit rows."""
    last = rejected[-1]
    team = f", team {p(last.team)} (where it would have gone)" if last.team else ""
    lines = [
        f"ticket {p(ticket)} from {p(last.source)}{team}",
        "  now: REJECTED input: its requester was never told",
        "",
        "why it could not be used, each time it was read:",
    ]
    lines += [
        f"  {item.at:%Y-%m-%d %H:%M:%S} {p(item.origin)}: {p(item.reason)}" for item in rejected
    ]
    lines += [
        "",
        "fix the ticket's data in the helpdesk (or the source's settings) and export it again: "
        "notifier reads a changed file again, and its key keeps it from being sent twice",
    ]
    return "\n".join(lines)
