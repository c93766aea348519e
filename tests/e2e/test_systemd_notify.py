"""`notifier run` under a stand-in for systemd: the notify protocol, the watchdog, SIGHUP reloads
and SIGTERM during a delivery, with the real daemon process, a real SMTP server and a real
datagram socket as $NOTIFY_SOCKET."""

from __future__ import annotations

import itertools
import json
import signal
import time
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.e2e.daemon_support import (
    NotifyListener,
    events,
    in_order,
    start_daemon,
    wait_until,
)
from tests.smtp_server import ServerBehaviour, SmtpServerFactory

WATCHDOG_USEC = 2_000_000  # systemd would kill the service after 2 s without WATCHDOG=1


def add_row(exports: Path, name: str, key: str, email: str) -> None:
    (exports / name).write_text(CSV_HEADER + csv_row(key, email), encoding="utf-8")


def test_ready_watchdog_reload_good_and_broken_then_stopping_in_order(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """READY after the first pass, WATCHDOG at half of WATCHDOG_USEC, SIGHUP with a good config
    (RELOADING + MONOTONIC_USEC, READY, the new settings in effect), SIGHUP with a broken one
    (reload_rejected, still READY, the previous settings keep working), SIGTERM -> STOPPING, 0."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    add_row(exports, "a.csv", "HD-1", "ann@example.org")
    config = write_config(tmp_path, server, exports)
    original = config.read_text(encoding="utf-8")
    log = tmp_path / "run.log"
    with NotifyListener() as systemd:
        process = start_daemon(
            "run",
            "--config",
            str(config),
            log=log,
            env={"NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
        )
        try:
            got = systemd.wait_count("READY", 1)
            ready = next(d for d in got if d.kind == "READY")
            assert ready.fields["STATUS"].startswith("running: 1 source(s) OK")
            assert len(server.wait_for_messages(1, timeout=20)) == 1

            # The watchdog is fed at half the interval, from the loop's waits.
            got = systemd.wait_count("WATCHDOG", 4, timeout=10)
            feeds = [d.at for d in got if d.kind == "WATCHDOG"]
            gaps = [b - a for a, b in itertools.pairwise(feeds)]
            assert max(gaps) < WATCHDOG_USEC / 1e6 * 0.75, gaps

            # A good new configuration: RELOADING with MONOTONIC_USEC, READY, in effect.
            config.write_text(
                original.replace(
                    'from_address = "it-helpdesk@example.org"',
                    'from_address = "it-helpdesk@example.org"\nfrom_name = "Reloaded Desk"',
                ),
                encoding="utf-8",
            )
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            process.send_signal(signal.SIGHUP)
            got = systemd.wait_count("READY", 2)
            reloading = next(d for d in got if d.kind == "RELOADING")
            assert before <= int(reloading.fields["MONOTONIC_USEC"])
            ready_again = [d for d in got if d.kind == "READY"][1]
            reload_seconds = ready_again.at - reloading.at
            print(f"reload: RELOADING -> READY in {reload_seconds * 1000:.0f} ms")
            assert reload_seconds < 5, f"reload took {reload_seconds:.2f} s"
            add_row(exports, "b.csv", "HD-2", "bob@example.org")
            second = server.wait_for_messages(2, timeout=20)[1]
            assert second.message["From"].addresses[0].display_name == "Reloaded Desk"

            # A broken configuration: rejected, the running one goes on, READY again.
            good = config.read_text(encoding="utf-8")
            config.write_text(good.replace("timeout = 5", "timeout = 5\nbogus_key = 1"), "utf-8")
            process.send_signal(signal.SIGHUP)
            systemd.wait_count("READY", 3)
            rejected = [e for e in events(log) if e["event"] == "reload_rejected"]
            assert len(rejected) == 1 and "smtp.bogus_key: unknown key" in str(rejected[0]["error"])
            add_row(exports, "c.csv", "HD-3", "cy@example.org")
            third = server.wait_for_messages(3, timeout=20)[2]
            assert third.message["From"].addresses[0].display_name == "Reloaded Desk"
            assert process.poll() is None

            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
            systemd.wait_count("STOPPING", 1, timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
        kinds = systemd.kinds()
    wanted = ["READY", "WATCHDOG", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"]
    assert in_order(kinds, wanted), kinds
    assert kinds.count("READY") == 3 and kinds.count("RELOADING") == 2
    assert kinds[-1] == "STOPPING" or set(kinds[kinds.index("STOPPING") :]) <= {"STOPPING"}
    names = [e["event"] for e in events(log)]
    assert names.count("reload_requested") == 2 and names.count("reload_finished") == 1
    assert len(server.messages) == 3


def test_sigterm_during_a_delivery_finishes_it_once_and_exits_zero(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """SIGTERM while the server is still answering DATA: STOPPING=1 at once, the message in flight
    is delivered and recorded exactly once, the rest go back to the queue, exit 0 within seconds;
    the next run sends the rest, never the first one again."""
    delay = 3.0
    server = smtp_server(behaviour=ServerBehaviour(data_delay=delay))
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(3))
    (exports / "batch.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    log = tmp_path / "run.log"
    with NotifyListener() as systemd:
        process = start_daemon(
            "run", "--config", str(config), log=log, env={"NOTIFY_SOCKET": systemd.name}
        )
        try:
            wait_until(lambda: server.data_attempts >= 1, 30, "the first DATA")
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            got = systemd.wait_count("STOPPING", 1, timeout=5)
            stopping = next(d for d in got if d.kind == "STOPPING")
            assert stopping.at - signalled < 1.0 and len(server.messages) == 0  # still in flight
            assert process.wait(30) == 0
            stopped_after = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
    assert stopped_after < delay + 5, f"took {stopped_after:.1f} s to stop"
    assert len(server.messages) == 1
    first = server.messages[0].rcpt_tos[0]
    sent = json.loads(
        notifier("audit", "--config", str(config), "--status", "sent", "--format", "json").stdout
    )
    assert [record["requester"] for record in sent] == [first]
    assert notifier("once", "--config", str(config)).returncode == 0
    recipients = sorted(m.rcpt_tos[0] for m in server.messages)
    assert recipients == [f"user{n}@example.org" for n in range(3)]  # each exactly once
