"""`notifier run` as a daemon: crash safety under SIGKILL and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from notifier.store.sqlite.outbox import Outbox
from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.smtp_server import ServerBehaviour, SmtpServerFactory

TOTAL = 400


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("connections", [1, 3])
def test_sigkill_during_delivery_loses_nothing_and_duplicates_keep_their_message_id(
    tmp_path: Path, smtp_server: SmtpServerFactory, connections: int
) -> None:
    """Killed with SIGKILL mid-batch and restarted, every notice arrives; repeats share a
    Message-ID, and there are no more of them than SMTP sessions sending at the time."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(TOTAL))
    (exports / "big.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports, connections=connections)
    log = tmp_path / "run.log"

    first = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(lambda: len(server.messages) >= 40, 60, "the first deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    delivered_before_kill = len(server.messages)
    assert delivered_before_kill < TOTAL, "the kill came too late to test anything"

    second = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(
            lambda: len({m.rcpt_tos[0] for m in server.messages}) >= TOTAL, 120, "all deliveries"
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    finally:
        if second.poll() is None:
            second.kill()

    by_recipient: dict[str, set[str]] = {}
    for message in server.messages:
        by_recipient.setdefault(message.rcpt_tos[0], set()).add(message.message["Message-ID"])
    assert len(by_recipient) == TOTAL
    assert all(len(ids) == 1 for ids in by_recipient.values())  # any duplicate: same Message-ID
    copies = Counter(message.rcpt_tos[0] for message in server.messages)
    duplicates = sum(count - 1 for count in copies.values())
    # At most the message each session had in flight.
    assert duplicates <= connections, f"{duplicates} duplicates after one kill"
    # The sessions really ran side by side (1: one at a time; the sink's count of open ones).
    assert (server.most_sessions_open > 1) == (connections > 1)
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    starts = [e for e in events if e["event"] == "daemon_started"]
    assert len(starts) == 2 and starts[1]["recovered"] >= 1  # the batch the kill interrupted
    sent = json.loads(
        notifier("audit", "--config", str(config), "--status", "sent", "--format", "json").stdout
    )
    assert len({record["ticket_id"] for record in sent}) == TOTAL


def test_sigterm_stops_cleanly_and_logs_json(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """SIGTERM ends `notifier run` with status 0 after its pass; every log line is a JSON event."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    config = write_config(tmp_path, server, exports)
    log = tmp_path / "run.log"
    process = start_notifier("run", "--config", str(config), log=log)
    try:
        server.wait_for_messages(1, timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    names = [event["event"] for event in events]
    assert names[0] == "daemon_started" and names[-1] == "daemon_stopped"
    assert "stop_requested" in names and "notice_sent" in names
    sent = next(event for event in events if event["event"] == "notice_sent")
    assert sent["ticket_id"] == "HD-1" and sent["source"] == "desk" and sent["resolution_key"]


def test_ctrl_c_during_once_with_three_connections_hands_back_what_was_not_sent(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Ctrl-C while three sessions send: each finishes and records its message, the rest go
    back to the queue (nothing left 'sending'), and the next run sends each notice once."""
    # 0.2 s per message: the run takes 4 s, so the interrupt after 6 messages comes in time
    # even on a loaded machine (at 0.05 s all 60 were sometimes sent before it arrived).
    server = smtp_server(behaviour=ServerBehaviour(data_delay=0.2))
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(60))
    (exports / "burst.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports, connections=3)

    once = start_notifier("once", "--config", str(config), log=tmp_path / "once.log")
    try:
        wait_until(lambda: len(server.messages) >= 6, 60, "the first deliveries")
        once.send_signal(signal.SIGINT)
        code = once.wait(30)
    finally:
        if once.poll() is None:
            once.kill()
    assert code in (130, -signal.SIGINT), f"exit {code}: {(tmp_path / 'once.log').read_text()}"
    sent_before = len(server.messages)
    assert sent_before < 60, "the interrupt came too late to test anything"
    with Outbox.open(tmp_path / "state", exclusive=False) as outbox:
        states = outbox.counts_by_state()
    assert states == {"sent": sent_before, "queued": 60 - sent_before}

    assert notifier("once", "--config", str(config)).returncode == 0
    copies = Counter(message.rcpt_tos[0] for message in server.messages)
    assert len(copies) == 60 and set(copies.values()) == {1}


def test_sigterm_during_an_endless_drip_exits_in_time_and_the_notice_is_sent_later(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """The server took the message and then drips its final answer for ever. SIGTERM ends
    `notifier run` with status 0 within one answer's deadline (`smtp.timeout`, 2 s here, plus
    slack for a loaded machine); the notice is neither lost nor a dead letter: the next run
    sends it again with the same Message-ID (the server may already have it)."""
    server = smtp_server(behaviour=ServerBehaviour(drip="end_of_data", drip_interval=0.2))
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    config = write_config(tmp_path, server, exports)
    config.write_text(config.read_text().replace("timeout = 5", 'timeout = "2s"'))
    log = tmp_path / "run.log"
    process = start_notifier("run", "--config", str(config), log=log)
    try:
        assert server.handler.wait_for_drips(1, 60), log.read_text()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
        assert time.monotonic() - signalled <= 2 + 8, "the stop waited for more than one answer"
    finally:
        if process.poll() is None:
            process.kill()
    with Outbox.open(tmp_path / "state", exclusive=False) as outbox:
        assert outbox.counts_by_state() == {"deferred": 1}
    (first,) = server.messages

    server.handler.behaviour = ServerBehaviour()
    assert notifier("once", "--config", str(config)).returncode == 0
    # The retry is due after retry_initial (1 s); `once` may run before it: then wait and rerun.
    deadline = time.monotonic() + 30
    while len(server.messages) < 2 and time.monotonic() < deadline:
        time.sleep(1)
        assert notifier("once", "--config", str(config)).returncode == 0
    again = server.messages[1:]
    assert [m.message["Message-ID"] for m in again] == [first.message["Message-ID"]]
    with Outbox.open(tmp_path / "state", exclusive=False) as outbox:
        assert outbox.counts_by_state() == {"sent": 1}
