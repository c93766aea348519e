"""Ticket data never drives the operator's terminal: every command, end to end.

A state directory is filled by the real pipeline (`notifier once`, a CSV export, a real SMTP
server) from an export whose file name, ticket ids, titles and requester names carry ESC
sequences (clear screen, set window title), CR LF pairs that would forge a line of output,
C1 controls, a right-to-left override (U+202E) and invisible characters. Then every command an
operator runs on it is run as a subprocess, and its stdout and stderr must hold no control or
format character (line feeds aside) and no forged line.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, notifier, write_config
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer

ESC = "\x1b[2J\x1b]0;owned\x07"  # clear the screen, retitle the window
FORGE = "\r\nforged"  # a line of its own that looks like notifier's
C1 = "\x9b31m"  # CSI as one C1 character
RLO = "\u202e"  # right-to-left override: "gpj.exe" shows as "exe.jpg"
INVISIBLE = "\u200b\u2066\ufeff"  # zero-width space, an isolate, a BOM
HOSTILE = ESC + FORGE + C1 + RLO + INVISIBLE
JARGON = "Flushed the DNS cache and re-provisioned your VPN profile, see KB0012345."
REFUSE_DAN = ServerBehaviour(refuse_recipients={"dan@example.org": "550 5.1.1 no such user"})
FILE_NAME = "desk" + ESC + "\nforged" + RLO + ".csv"  # a file name may hold any of these


def hidden_characters(text: str) -> list[str]:
    """Characters a terminal acts on or that cannot be seen: C0/C1 controls and DEL (except
    the line feed that ends a line), format characters (bidi, zero-width), line and
    paragraph separators, surrogates."""
    return sorted(
        {
            f"U+{ord(ch):04X}"
            for ch in text
            if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        }
    )


def forged_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith("forged")]


def hostile_state(tmp_path: Path, server: SmtpTestServer, *, log_format: str = "json") -> Path:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / FILE_NAME).write_text(
        CSV_HEADER
        # sent: a plain note
        + csv_row(
            "HD-1" + HOSTILE,
            "ann@example.org",
            name="Ann" + HOSTILE,
            summary="Printer" + HOSTILE,
            note="Your printer works again.",
        )
        # held by the plain-language gate
        + csv_row(
            "HD-2" + HOSTILE,
            "bob@example.org",
            name="=HYPERLINK(1)",
            summary="Laptop" + HOSTILE,
            note=JARGON,
        )
        # rejected: the origin (file:line) and the bad value are in the trail
        + csv_row("HD-3" + HOSTILE, "not-an-address" + HOSTILE)
        # refused for good by the server: a dead letter
        + csv_row(
            "HD-4" + HOSTILE,
            "dan@example.org",
            name="Dan" + HOSTILE,
            summary="Phone" + HOSTILE,
            note="Your phone works again.",
        )
        # sent: no line break or space, which a renderer might take as a reason to quote
        + csv_row(
            "HD-5" + ESC + C1 + RLO,
            "eve@example.org",
            name="Eve" + ESC + RLO,
            note="Your screen works again.",
        ),
        encoding="utf-8",
    )
    extra = '\n[plain]\npolicy = "hold"\n'
    config = write_config(tmp_path, server, exports, extra=extra)
    if log_format != "json":
        text = config.read_text(encoding="utf-8").replace(
            'format = "json"', f'format = "{log_format}"'
        )
        config.write_text(text, encoding="utf-8")
    return config


# `preview` prints the message after its own "# " lines: the body is the ticket's words, line
# breaks included. Control characters are still checked there.
MESSAGE_ON_STDOUT = ("preview",)


def check(result: subprocess.CompletedProcess[str], what: str) -> list[str]:
    """The problems in one command's output, named by the command."""
    problems = []
    for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if hidden := hidden_characters(text):
            problems.append(f"{what}: {stream} has raw {', '.join(hidden)}")
        if stream == "stdout" and what in MESSAGE_ON_STDOUT:
            continue
        if forged := forged_lines(text):
            problems.append(f"{what}: {stream} has a forged line {forged[0]!r}")
    if "Traceback" in result.stderr:
        problems.append(f"{what}: traceback on stderr")
    return problems


def test_no_command_writes_a_control_or_format_character_from_ticket_data(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(behaviour=REFUSE_DAN)
    config = hostile_state(tmp_path, server)
    c = ["--config", str(config)]
    ran: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(what: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        if stdin is None:
            result = notifier(*args)
        else:
            result = subprocess.run(
                [sys.executable, "-m", "notifier", *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                cwd=ROOT,
            )
        ran[what] = result
        return result

    once = run("once", "once", *c)
    assert once.returncode == 1, once.stdout + once.stderr  # held, rejected, failed
    assert [m.rcpt_tos[0] for m in server.messages] == ["ann@example.org", "eve@example.org"]
    for received in server.messages:  # what the requesters' mail clients show
        for header in ("Subject", "To"):
            assert not [c for c in str(received.message[header]) if unicodedata.category(c) == "Cf"]

    records = json.loads(run("audit json", "audit", *c, "--format", "json").stdout)
    # JSON output keeps the values: escaped, not changed.
    assert {"HD-1" + HOSTILE, "HD-2" + HOSTILE, "HD-4" + HOSTILE} <= {
        r["ticket_id"] for r in records
    }
    rejected = [r for r in records if r["outcome"] == "rejected"]
    assert rejected and FILE_NAME in str(rejected[0]["origin"])
    keys = {r["ticket_id"]: str(r["resolution_key"]) for r in records if r["resolution_key"]}
    sent_key, held_key, failed_key = (keys[f"HD-{n}" + HOSTILE] for n in (1, 2, 4))

    run("audit table", "audit", *c)
    csv_out = run("audit csv", "audit", *c, "--format", "csv").stdout
    run("audit jsonl follow-less", "audit", *c, "--format", "json", "--ticket", "HD-1" + HOSTILE)
    run("audit show", "audit", *c, "show", sent_key)
    run("audit show --html", "audit", *c, "show", sent_key, "--html")
    run("audit show json", "audit", *c, "show", sent_key, "--format", "json")
    run("audit show by ticket id", "audit", *c, "show", "HD-2" + HOSTILE)
    run("audit show unknown key", "audit", *c, "show", "nothing" + HOSTILE)
    run("audit verify", "audit", *c, "verify")
    run("explain sent", "explain", *c, sent_key)
    run("explain held", "explain", *c, held_key)
    run("explain failed", "explain", *c, failed_key)
    run("explain unknown key", "explain", *c, "nothing" + HOSTILE)
    run("held", "held", *c)
    run("release unknown key", "release", *c, "nothing" + HOSTILE)
    run("cancel unknown key", "cancel", *c, "nothing" + HOSTILE)
    run("status", "status", *c)
    status_json = json.loads(run("status json", "status", *c, "--format", "json").stdout)
    assert status_json["queue"]["latest_dead_letter"]["ticket_id"] == "HD-4" + HOSTILE
    for fmt in ("table", "csv", "json", "html"):
        run(f"report {fmt}", "report", *c, "--format", fmt)
    run("lint", "lint", *c)
    ticket = tmp_path / ("ticket" + ESC + ".json")
    ticket.write_text(
        json.dumps(
            {
                "ticket_id": "HD-9" + HOSTILE,
                "requester_email": "eve@example.org",
                "requester_name": "Eve" + HOSTILE,
                "title": "Mouse" + HOSTILE,
                "resolution_note": "KB0012345 " + HOSTILE,
            }
        ),
        encoding="utf-8",
    )
    run("preview", "preview", *c, str(ticket))
    run("preview missing file", "preview", *c, str(tmp_path / ("none" + HOSTILE + ".json")))
    run("plain", "plain", *c, stdin="Flushed the DNS " + HOSTILE + " cache, see KB0012345.")
    run("plain json", "plain", *c, "--format", "json", stdin="KB0012345 " + HOSTILE)
    run("check-config --connect", "check-config", *c, "--connect")
    run("send-test", "send-test", *c, "--to", "eve@example.org")
    run("send-test bad address", "send-test", *c, "--to", "eve" + HOSTILE + "@example.org")
    run("audit --status unknown", "audit", *c, "--status", "sent" + HOSTILE)

    problems = [problem for what, result in ran.items() for problem in check(result, what)]
    assert not problems, "\n".join(problems)

    # The characters are shown, as escapes, where they were.
    table = ran["audit table"].stdout
    assert "\\x1b[2J" in table and "\\u202e" in table and "\\r\\nforged" in table
    assert "HD-2\\x1b[2J" in ran["held"].stdout
    assert "HD-4\\x1b[2J" in ran["status"].stdout  # the latest dead letter
    assert "ticket HD-1\\x1b[2J" in ran["explain sent"].stdout

    # CSV for a spreadsheet: one line per row, no formula cell.
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert len(rows) == len(records)
    assert not any(
        cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values() if cell
    )
    assert any(row["requester"] == "bob@example.org" for row in rows)
    assert any(row["ticket_id"].startswith("HD-2\\x1b[2J") for row in rows)


def test_console_logs_quote_values_and_show_no_control_character(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """`log.format = "console"` (a terminal): values quoted, hidden characters escaped."""
    server = smtp_server(behaviour=REFUSE_DAN)
    config = hostile_state(tmp_path, server, log_format="console")
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert check(result, "once (console logs)") == []
    sent = [line for line in result.stdout.splitlines() if "notice_sent" in line]
    assert len(sent) == 2 and "ticket_id='HD-5\\x1b[2J" in sent[1], result.stdout


def test_json_logs_escape_c1_and_format_characters_and_still_parse(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(behaviour=REFUSE_DAN)
    config = hostile_state(tmp_path, server)
    result = notifier("once", "--config", str(config))
    assert check(result, "once (json logs)") == []
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("ticket_id") == "HD-1" + HOSTILE for e in events)


def test_an_address_list_as_requester_is_rejected_with_file_and_line_and_mails_nobody(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org,evil@example.com")
        + csv_row("HD-2", '"Bob" <bob@example.org>, <evil@example.com>')
        + csv_row("HD-3", "cat@example.org"),
        encoding="utf-8",
    )
    record = {"Key": "HD-4", "Email": ["dan@example.org", "evil@example.com"],
              "Status": "Resolved", "Resolved": "2026-11-27T09:00:00Z"}  # fmt: skip
    (exports / "b.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    assert notifier("once", "--config", str(config)).returncode == 1  # rejected input
    assert [m.rcpt_tos[0] for m in server.messages] == ["cat@example.org"]
    records = json.loads(notifier("audit", "--config", str(config), "--format", "json").stdout)
    rejected = {str(r["origin"]): str(r["reason"]) for r in records if r["outcome"] == "rejected"}
    assert sorted(rejected) == [
        f"{exports / 'a.csv'}:2", f"{exports / 'a.csv'}:3", f"{exports / 'b.jsonl'}:1"
    ]  # fmt: skip
    assert all("column 'Email'" in r and "address list" in r for r in rejected.values())
