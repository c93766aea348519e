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
        CSV_HEADER
        + csv_row(
            "HD-1", "ann@example.org", status="In Progress", resolved="",
            updated="2026-11-27T10:00:00Z",
        ),
        encoding="utf-8",
    )  # fmt: skip
    # Reading the first export again (it grew) must not undo that: its row is older.
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
    """More notices due at once than the per-recipient limit allows: one digest message, in
    words checked by the team's plain-language policy."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(
        csv_row(
            f"HD-{n}",
            "ann@example.org",
            summary=f"Request number {n}",
            note="We rebooted your laptop.",
        )
        for n in range(1, 6)
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
    # The digest passed the team's plain-language policy (rewrite) like any notice.
    assert "restarted your laptop" in body and "reboot" not in body.lower()
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
    assert "3. closure_reason: SUPPRESSED - resolution is 'Duplicate'" in explained.stdout
    assert "4. requester_address: ok" in explained.stdout  # later rules still shown
    sent = notifier("explain", "--config", str(config), key_of(config, "HD-3", "sent"))
    assert "now: SENT" in sent.stdout and "what happened:" in sent.stdout
    assert "sent: 250" in sent.stdout


def test_an_older_open_row_read_again_does_not_cancel(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A log-style export (open row, then resolved row) that grows is read again from the top:
    the old open row is older than the resolution and must not cancel its notice."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports, extra='\n[teams.default]\ndelay = "1h"\n')
    log = exports / "log.csv"
    opened = csv_row("HD-1", "ann@example.org", status="In Progress", resolved="",
                     updated="2026-11-27T08:00:00Z")  # fmt: skip
    log.write_text(CSV_HEADER + opened + csv_row("HD-1", "ann@example.org"), encoding="utf-8")
    assert notifier("once", "--config", str(config)).returncode == 0
    with log.open("a", encoding="utf-8") as handle:
        handle.write(csv_row("HD-2", "bob@example.org"))
    assert notifier("once", "--config", str(config)).returncode == 0
    assert [r["outcome"] for r in audit(config, "--ticket", "HD-1")] == ["queued"]


def test_a_held_newer_resolution_still_replaces_the_waiting_one(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """The newer resolution is held by the gate: the older waiting notice is cancelled anyway,
    so releasing the new one cannot make a second notice."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    extra = '\n[plain]\npolicy = "hold"\n[teams.default]\ndelay = "1h"\n'
    config = write_config(tmp_path, server, exports, extra=extra)
    (exports / "1.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", note="Your printer works again."),
        encoding="utf-8",
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    jargon = "Flushed the DNS cache and re-provisioned your VPN profile, see KB0012345."
    (exports / "2.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", resolved="2026-11-27T09:30:00Z", note=jargon),
        encoding="utf-8",
    )
    assert notifier("once", "--config", str(config)).returncode == 1  # held: needs review
    outcomes = [r["outcome"] for r in audit(config, "--ticket", "HD-1")]
    assert outcomes == ["queued", "held", "cancelled"]


def test_audit_show_prints_the_digest_a_member_went_out_in(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """For a notice sent inside a digest, `audit show` prints the digest the requester got,
    and `audit verify` agrees that those are the words recorded as sent."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", "ann@example.org", summary=f"Request {n}") for n in range(4))
    (exports / "1.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 0
    (digest,) = server.messages
    shown = notifier("audit", "--config", str(config), "show", key_of(config, "HD-2", "sent"))
    assert shown.returncode == 0, shown.stderr
    assert "4 of your requests are done" in shown.stdout and "Request 0" in shown.stdout
    assert notifier("audit", "--config", str(config), "verify").returncode == 0
    assert digest.message["Subject"] == "4 of your requests are done"


def test_a_reopen_dated_after_the_notice_was_due_does_not_cancel_it(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Issue 15 item 9: resolved, and reopened three days later, both rows read in one pass
    with no hold window. The notice was due at the resolution, before the reopen: it is sent,
    and the reopen is recorded as coming after the notice was due."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports)
    reopened = csv_row("HD-1", "ann@example.org", status="In Progress", resolved="",
                       updated="2026-11-30T09:00:00Z")  # fmt: skip
    (exports / "1.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org") + reopened, encoding="utf-8"
    )
    assert notifier("once", "--config", str(config)).returncode == 0
    assert [m.rcpt_tos for m in server.messages] == [("ann@example.org",)]
    history = audit(config, "--ticket", "HD-1")
    assert [r["outcome"] for r in history] == ["queued", "sent"]
    (note,) = [r for r in audit(config, "--status", "ignored") if "1.csv:3" in str(r["origin"])]
    assert "after the notice was due" in str(note["reason"])
