"""Export files as real writers leave them: written in stalls, cut mid-row, absurdly large.

Each test runs the `notifier` command as a subprocess against a real SMTP server (aiosmtpd)
and a real SQLite state, on files a writer thread is still writing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from tests.e2e.cli import ROOT, notifier, write_config
from tests.smtp_server import SmtpServerFactory

# Email last: a row cut inside the address still has every field and still parses.
ADDRESS_LAST = "Key,Status,Resolved,Summary,Note,Email\n"
# Resolved last: a row cut after its last comma has no resolved time (a fingerprint key).
RESOLVED_LAST = "Key,Status,Summary,Note,Email,Resolved\n"
COLUMNS = """
[exports.columns]
ticket_id = "Key"
requester_email = "Email"
title = "Summary"
status = "Status"
resolved_at = "Resolved"
resolution_note = "Note"
"""


def config_for(tmp_path: Path, server: object, exports: Path, extra: str = "") -> Path:
    """write_config's settings, with this file's column names."""
    config = write_config(tmp_path, server, exports, extra=extra)  # type: ignore[arg-type]
    text = config.read_text()
    head, _, _ = text.partition("[exports.columns]")
    config.write_text(head + COLUMNS + extra)
    return config


class StallingWriter(threading.Thread):
    """Writes ``pieces`` to files one after the other, flushing each and then stalling until
    the test lets it go on: what a slow export tool leaves on disk between its writes."""

    def __init__(self, pieces: list[tuple[Path, str]]) -> None:
        super().__init__(name="stalling-writer", daemon=True)
        self.pieces = pieces
        self.go = threading.Semaphore(0)
        self.stalled = threading.Semaphore(0)

    def run(self) -> None:
        handles: dict[Path, object] = {}
        try:
            for path, text in self.pieces:
                self.go.acquire()
                handle = handles.get(path)
                if handle is None:
                    handle = handles[path] = path.open("a", encoding="utf-8", newline="")
                handle.write(text)  # type: ignore[attr-defined]
                handle.flush()  # type: ignore[attr-defined]
                self.stalled.release()
        finally:
            for handle in handles.values():
                handle.close()  # type: ignore[attr-defined]

    def step(self) -> None:
        """Let the writer write its next piece, and wait until it stalls again."""
        self.go.release()
        assert self.stalled.acquire(timeout=10), "the writer did not get on"


def test_rows_cut_mid_row_by_a_stalled_writer_are_used_only_when_finished(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A writer stalls mid-row (inside an address, right after a row's last comma) for two
    passes and more; then it finishes the row. Every requester gets exactly one notice, at
    the finished address, and no ticket gets a second notice with another Message-ID."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    a, b = exports / "a.csv", exports / "b.csv"
    row_a = "A-{n},Resolved,2026-11-27T09:00:00Z,Printer,Roller replaced,a{n}@example.com\n"
    row_b = "B-{n},Resolved,VPN,Token renewed,b{n}@example.org,2026-11-27T10:00:00Z\n"
    a1, a2 = row_a.format(n=1), row_a.format(n=2)
    b1 = row_b.format(n=1)
    cut_a = a2.index("@example.c") + len("@example.c")  # a2@example.c: still an address
    cut_b = b1.rindex(",") + 1  # every field there, the resolved time empty
    writer = StallingWriter(
        [
            (a, ADDRESS_LAST + a1 + a2[:cut_a]),
            (b, RESOLVED_LAST + b1[:cut_b]),
            (a, a2[cut_a:] + row_a.format(n=3)),
            (b, b1[cut_b:] + row_b.format(n=2)),
        ]
    )
    writer.start()
    config = config_for(tmp_path, server, exports)
    for _ in range(len(writer.pieces)):
        writer.step()
        for _ in range(2):  # two passes and more than settle_seconds while it stalls
            notifier("once", "--config", str(config))
    writer.join(10)
    assert notifier("once", "--config", str(config)).returncode == 0

    copies = Counter(m.rcpt_tos[0] for m in server.messages)
    wanted = {"a1@example.com", "a2@example.com", "a3@example.com"}
    wanted |= {"b1@example.org", "b2@example.org"}
    assert copies == Counter(wanted), copies  # none at a2@example.c, none twice
    rejected = json.loads(
        notifier(
            "audit", "--config", str(config), "--status", "rejected", "--format", "json"
        ).stdout
    )
    assert rejected == []  # a row being written is not bad input


def run_measured(tmp_path: Path, *args: str, address_space: int) -> tuple[int, str, int]:
    """Run ``notifier ARGS`` with its address space capped (so a runaway cannot take the
    machine); (exit status, stderr, the peak RSS of that process in bytes, from wait4)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    out, err = tmp_path / "measured.out", tmp_path / "measured.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier", *args],
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=limit,  # setrlimit only, before exec
        )
    watchdog = threading.Timer(600, process.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, err.read_text(), usage.ru_maxrss * 1024  # Linux: KiB


HUGE = 2 * 1024**3  # a sparse run of NUL bytes: no disk space, all of it read


def with_huge_line(path: Path, before: str, after: str) -> int:
    """``before``, then one line of HUGE NUL bytes and its line break, then ``after``."""
    with path.open("wb") as out:
        out.write(before.encode())
        out.truncate(len(before.encode()) + HUGE)  # a hole: reads back as zeros
        out.seek(0, os.SEEK_END)
        out.write(b"\n" + after.encode())
    return HUGE + 1


def test_multi_gigabyte_lines_and_huge_notes_are_rejected_and_the_rest_is_queued(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A 2 GiB line in a CSV and in a JSONL file, a 6 MB note and a 200 KB one: each record
    is rejected with file:line and its size, `notifier once` stays under 256 MiB, every other
    row of those files and of the other file is queued and sent, and a second run repeats
    none of the rejections. A 100 KB note (under the field cap) is clipped before the
    templates and the gate see it."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    row = "{k},Resolved,2026-11-27T09:00:00Z,Printer,Roller replaced,{e}\n"
    csv_size = with_huge_line(
        exports / "big.csv",
        ADDRESS_LAST + row.format(k="C-1", e="c1@example.org"),
        row.format(k="C-2", e="c2@example.org"),
    )

    def line(key: str, email: str, note: str = "Done.") -> str:
        return json.dumps({"Key": key, "Email": email, "Status": "Resolved", "Note": note}) + "\n"

    jsonl_size = with_huge_line(
        exports / "big.jsonl", line("J-1", "j1@example.org"), line("J-2", "j2@example.org")
    )
    words = "The printer on the second floor prints again after we replaced its roller. "
    (exports / "notes.jsonl").write_text(
        line("N-1", "n1@example.org", "x" * 6_000_000)
        + line("N-2", "n2@example.org", "y" * 200_000)
        + line("N-3", "n3@example.org", words * (100_000 // len(words)))
    )
    (exports / "small.csv").write_text(ADDRESS_LAST + row.format(k="S-1", e="s1@example.org"))
    for path in exports.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))  # long settled
    config = config_for(tmp_path, server, exports)

    status, stderr, peak = run_measured(
        tmp_path, "once", "--config", str(config), address_space=3 * 1024**3
    )
    assert status == 1, stderr  # rejected input needs attention
    assert peak < 256 * 1024**2, f"peak RSS {peak / 1024**2:.0f} MiB"
    sent = {m.rcpt_tos[0]: m.message for m in server.messages}
    assert set(sent) == {
        "c1@example.org", "c2@example.org", "j1@example.org", "j2@example.org",
        "n3@example.org", "s1@example.org",
    }  # fmt: skip
    body = sent["n3@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert 4000 < len(body) < 6000 and "\u2026" in body  # the note, clipped, in a short notice

    def rejected() -> dict[str, str]:
        result = notifier("audit", "--config", str(config), "--status", "rejected",
                          "--format", "json")  # fmt: skip
        return {Path(r["origin"]).name: r["reason"] for r in json.loads(result.stdout)}

    reasons = rejected()
    assert set(reasons) == {"big.csv:3", "big.jsonl:2", "notes.jsonl:1", "notes.jsonl:2"}
    assert f"larger than 4,194,304 bytes ({csv_size:,} bytes)" in reasons["big.csv:3"]
    assert f"larger than 4,194,304 bytes ({jsonl_size:,} bytes)" in reasons["big.jsonl:2"]
    assert "larger than 4,194,304 bytes" in reasons["notes.jsonl:1"]
    assert "'Note' is 200,000 characters long" in reasons["notes.jsonl:2"]

    again = notifier("once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert len(rejected()) == 4 and len(server.messages) == 6
