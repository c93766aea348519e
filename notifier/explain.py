"""``notifier explain KEY``: one resolution's story, from the rules evaluated to the last attempt."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from notifier.audit import AuditRecord

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
    lines = [
        f"resolution {record['resolution_key']}",
        f"  ticket {record['ticket_id']} from {record['source']} ({record['origin']}), "
        f"resolved {record['resolved_at'] or 'at an unknown time'}",
        f"  requester {record['requester_email']}, team {record['team']}",
        f"  now: {_OUTCOME_WORDS.get(state, state)}"
        + (f": {record['reason']}" if record["reason"] else ""),
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
        lines.append(f"  {number}. {step['rule']}: {marker} - {step['detail']}")
    plain = explained.get("plain")
    if explained.get("template_error"):
        lines += ["", f"template: ERROR - {explained['template_error']}"]
    if explained.get("compose_error"):
        lines += ["", f"composing the notice: ERROR - {explained['compose_error']}"]
    if plain:
        lines += [
            "",
            f"plain-language gate (policy {plain['policy']}): {plain['findings']} finding(s), "
            f"{plain['blocking']} blocking"
            + (", rewritten with safe replacements" if plain["rewritten"] else "")
            + (", HTML part left out" if plain.get("html_left_out") else "")
            + (f"; held: {plain['hold_reason']}" if plain["hold_reason"] else ""),
        ]
        findings = json.loads(str(record.get("findings_json") or "[]") or "[]")
        for finding in findings:
            lines.append(
                f"  - [{finding['severity']}] {finding['kind']} {finding['text']!r} "
                f"({finding['origin']}, {finding['part']}): {finding['suggestion']}"
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
            f"  {item.at:%Y-%m-%d %H:%M:%S} {item.outcome}" + (f": {detail}" if detail else "")
        )
    return "\n".join(lines)
