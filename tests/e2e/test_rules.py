"""Notification rules end to end through the export source and `notifier once`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory


def audit(config: Path, *args: str) -> list[dict[str, object]]:
    result = notifier("audit", "--config", str(config), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    records: list[dict[str, object]] = json.loads(result.stdout)
    return records


def key_of(config: Path, ticket: str, outcome: str) -> str:
    (record,) = audit(config, "--ticket", ticket, "--status", outcome)
    return str(record["resolution_key"])


def test_a_reopen_inside_the_hold_window_cancels_the_notice(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Resolved, then seen open again in the next export before the notice was due: cancelled."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports, extra='\n[teams.default]\ndelay = "1h"\n')
    (exports / "1.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    (exports / "2.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", status="In Progress", resolved=""),
        encoding="utf-8",
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    assert server.messages == []
    history = audit(config, "--ticket", "HD-1")
    assert [r["outcome"] for r in history] == ["queued", "cancelled"]
    assert "reopened before the notice was due" in str(history[1]["reason"])
    assert "2.csv:2" in str(history[1]["reason"])

    explained = notifier("explain", "--config", str(config), str(history[0]["resolution_key"]))
    assert explained.returncode == 0, explained.stderr
    assert (
        "CANCELLED" in explained.stdout
        and "hold_window: wait - wait 60 minutes" in explained.stdout
    )


def test_two_resolutions_inside_the_window_give_one_notice_with_the_latest_words(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A second resolution of the same ticket replaces the waiting one: one notice, newest note."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports, extra='\n[teams.default]\ndelay = "2s"\n')
    (exports / "1.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", note="We changed the toner."),
        encoding="utf-8",
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    (exports / "2.csv").write_text(
        CSV_HEADER
        + csv_row(
            "HD-1",
            "ann@example.org",
            resolved="2026-11-27T09:30:00Z",
            note="We replaced the printer.",
        ),
        encoding="utf-8",
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    time.sleep(2.2)
    assert notifier("once", "--config", str(config)).returncode == 0
    (message,) = server.messages
    body = message.message.get_body(("plain",)).get_content()
    assert "We replaced the printer." in body and "toner" not in body
    outcomes = [(r["outcome"], r["resolution_key"]) for r in audit(config, "--ticket", "HD-1")]
    assert [o for o, _ in outcomes] == ["queued", "queued", "cancelled", "sent"]
    assert outcomes[2][1] == outcomes[0][1] and outcomes[3][1] == outcomes[1][1]


def test_five_notices_due_together_for_one_person_become_one_digest(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """More notices due at once than the per-recipient limit allows: one digest message."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(
        csv_row(f"HD-{n}", "ann@example.org", summary=f"Request number {n}") for n in range(1, 6)
    )
    (exports / "1.csv").write_text(
        CSV_HEADER + rows + csv_row("HD-9", "bob@example.org"), encoding="utf-8"
    )
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0
    to_ann = [m for m in server.messages if m.rcpt_tos == ("ann@example.org",)]
    assert len(to_ann) == 1 and len(server.messages) == 2
    digest = to_ann[0].message
    assert digest["Subject"] == "5 of your requests are done"
    body = digest.get_body(("plain",)).get_content()
    assert all(f"Request number {n}" in body for n in range(1, 6))
    sent = [r for r in audit(config, "--status", "sent") if r["requester"] == "ann@example.org"]
    assert len(sent) == 5 and {r["message_id"] for r in sent} == {digest["Message-ID"]}
    assert all("in digest" in str(r["reason"]) for r in sent)


def test_suppressed_resolutions_appear_in_audit_with_their_rule(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Duplicates, no-reply requesters and old resolutions are never sent; audit names the rule;
    explain shows every rule for a suppressed and for a sent resolution."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    header = "Key,Email,Summary,Status,Resolved,Resolution\r\n"
    (exports / "1.csv").write_text(
        header
        + "HD-1,ann@example.org,Printer,Resolved,2026-11-27T09:00:00Z,Duplicate\r\n"
        + "HD-2,noreply@vendor.example,Printer,Resolved,2026-11-27T09:00:00Z,Done\r\n"
        + "HD-3,cat@example.org,Printer,Resolved,2026-11-27T09:00:00Z,Done\r\n",
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0
    assert [m.rcpt_tos[0] for m in server.messages] == ["cat@example.org"]
    suppressed = {r["ticket_id"]: str(r["reason"]) for r in audit(config, "--status", "suppressed")}
    assert "rule closure_reason" in suppressed["HD-1"] and "Duplicate" in suppressed["HD-1"]
    assert "rule requester_address" in suppressed["HD-2"] and "noreply@*" in suppressed["HD-2"]

    explained = notifier("explain", "--config", str(config), key_of(config, "HD-1", "suppressed"))
    assert "SUPPRESSED" in explained.stdout
    assert "2. closure_reason: SUPPRESSED - resolution is 'Duplicate'" in explained.stdout
    assert "3. requester_address: ok" in explained.stdout  # later rules still shown
    sent = notifier("explain", "--config", str(config), key_of(config, "HD-3", "sent"))
    assert "now: SENT" in sent.stdout and "what happened:" in sent.stdout
    assert "sent: 250" in sent.stdout
