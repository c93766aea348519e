"""Fault tests: repeated SIGKILL, a mail server that goes away, a corrupt state file.

These are the promises of docs/guarantees.md, tried hard. The kill test prints its counts.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.e2e.test_export_writers import ADDRESS_LAST, config_for
from tests.smtp_server import SmtpServerFactory

# Lines printed at the end of the pytest run (see pytest_terminal_summary in tests/conftest.py).
SUMMARY: list[str] = []
RESOLUTIONS = 5000  # enough work that all KILLS land before the last notice is sent
KILLS = 20


def test_twenty_sigkills_lose_nothing_and_repeat_only_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """5,000 resolutions, `notifier run` killed with SIGKILL at 20 seeded random moments and
    restarted each time: every notice arrives, duplicates <= kills, each duplicate with the
    Message-ID of its first copy."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(RESOLUTIONS))
    (exports / "big.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    log = tmp_path / "run.log"
    rng = random.Random(20261127)
    kills = 0
    deadline = time.monotonic() + 240
    while len({m.rcpt_tos[0] for m in server.messages}) < RESOLUTIONS:
        assert time.monotonic() < deadline, "not all notices arrived in time"
        process = start_notifier("run", "--config", str(config), log=log)
        try:
            if kills < KILLS:
                # Somewhere between start-up, reading the export and the middle of delivery.
                time.sleep(rng.uniform(0.3, 1.5))
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                kills += 1
            else:
                while len({m.rcpt_tos[0] for m in server.messages}) < RESOLUTIONS:
                    assert time.monotonic() < deadline, "not all notices arrived in time"
                    time.sleep(0.1)
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    first_id: dict[str, str] = {}
    for message in server.messages:
        recipient = message.rcpt_tos[0]
        first_id.setdefault(recipient, message.message["Message-ID"])
        assert message.message["Message-ID"] == first_id[recipient]
    copies = Counter(message.rcpt_tos[0] for message in server.messages)
    duplicates = sum(count - 1 for count in copies.values())
    SUMMARY.append(
        f"kill test: resolutions {RESOLUTIONS}, kills {kills}, delivered "
        f"{len(copies)}, messages {len(server.messages)}, duplicates {duplicates}"
    )
    assert kills == KILLS
    assert len(copies) == RESOLUTIONS
    assert duplicates <= kills


def test_mail_server_down_then_back_delivers_everything_with_backoff(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """While the server is down notices are deferred with growing waits; once it is back they
    all go out, and nothing is tried before its retry time."""
    server = smtp_server()
    port = server.port
    server.stop()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + "".join(csv_row(f"HD-{n}", f"u{n}@example.org") for n in range(3)),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)
    # Retries wait 2.5-5 s (backoff with jitter): far longer than starting `notifier once`.
    text = config.read_text().replace('retry_initial = "1s"', 'retry_initial = "5s"')
    config.write_text(text.replace('retry_max = "2s"', 'retry_max = "5s"'))
    assert notifier("once", "--config", str(config)).returncode == 75  # deferred, try later
    assert notifier("once", "--config", str(config)).returncode == 0  # not due yet: no attempt
    deferred = json.loads(
        notifier(
            "audit", "--config", str(config), "--status", "deferred", "--format", "json"
        ).stdout
    )
    assert len(deferred) == 3  # one attempt each: the second pass respected the backoff
    assert all("will retry" in r["reason"] and str(port) in r["reason"] for r in deferred)

    restarted = smtp_server()
    text = config.read_text().replace(f"port = {port}", f"port = {restarted.port}")
    config.write_text(text)
    time.sleep(5.1)  # past every retry time
    assert notifier("once", "--config", str(config)).returncode == 0
    assert sorted(m.rcpt_tos[0] for m in restarted.messages) == [
        f"u{n}@example.org" for n in range(3)
    ]


def test_a_corrupt_state_file_stops_with_a_clear_error_and_is_left_alone(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A state database that is not one: non-zero exit, one clear line, the file untouched."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, server, exports)
    state = tmp_path / "state"
    state.mkdir()
    garbage = b"not a database, but somebody's precious file\n" * 50
    (state / "notifier.sqlite3").write_bytes(garbage)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1
    assert "cannot open the state database" in result.stderr and "Traceback" not in result.stderr
    assert (state / "notifier.sqlite3").read_bytes() == garbage


STALLED_ROWS = 300
STALLED_KILLS = 6


def test_sigkills_while_a_writer_stalls_mid_row_lose_nothing_and_add_no_message_id(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A writer appends 300 rows in 20 pieces, each cut inside a random row's address where
    the cut still parses, stalling after each, some stalls longer than two polls; `notifier run` is killed with
    SIGKILL 6 times meanwhile and restarted. Every requester gets the notice at the finished
    address, duplicates <= kills, and each duplicate has the first copy's Message-ID."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(
        f"W-{n},Resolved,2026-11-27T09:00:00Z,Printer,Fixed,w{n}@example.com\n"
        for n in range(STALLED_ROWS)
    )
    data = (ADDRESS_LAST + rows).encode()
    rng = random.Random(20261202)
    # Cut inside 19 random rows' addresses where the cut still is one (w7@example.c), and
    # after some of those cuts stall for two polls and more.
    marks = [f",w{n}@example.co".encode() for n in sorted(rng.sample(range(STALLED_ROWS), 19))]
    cuts = [data.index(m) + len(m) - rng.choice([0, 1]) for m in marks] + [len(data)]
    stalls = [rng.choice([0.1, 0.4, 2.5]) for _ in cuts]
    done = threading.Event()

    def write() -> None:
        with (exports / "w.csv").open("ab") as out:
            start = 0
            for cut, stall in zip(cuts, stalls, strict=True):
                out.write(data[start:cut])
                out.flush()
                start = cut
                time.sleep(stall)
        done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    config = config_for(tmp_path, server, exports)
    log = tmp_path / "run.log"
    wanted = {f"w{n}@example.com" for n in range(STALLED_ROWS)}
    kills = 0
    deadline = time.monotonic() + 180
    while not (done.is_set() and {m.rcpt_tos[0] for m in server.messages} >= wanted):
        assert time.monotonic() < deadline, "not all notices arrived in time"
        process = start_notifier("run", "--config", str(config), log=log)
        try:
            if kills < STALLED_KILLS:
                time.sleep(rng.uniform(0.5, 3.0))
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                kills += 1
            else:
                while not (done.is_set() and {m.rcpt_tos[0] for m in server.messages} >= wanted):
                    assert time.monotonic() < deadline, "not all notices arrived in time"
                    time.sleep(0.1)
                time.sleep(2.5)  # two more polls: nothing more may come
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    copies = Counter(m.rcpt_tos[0] for m in server.messages)
    assert set(copies) == wanted  # none at a cut address
    first_id: dict[str, str] = {}
    for message in server.messages:
        first_id.setdefault(message.rcpt_tos[0], message.message["Message-ID"])
        assert message.message["Message-ID"] == first_id[message.rcpt_tos[0]]
    duplicates = sum(count - 1 for count in copies.values())
    SUMMARY.append(
        f"stalled-writer kill test: rows {STALLED_ROWS}, kills {kills}, "
        f"messages {len(server.messages)}, duplicates {duplicates}"
    )
    assert duplicates <= kills
