"""Two `notifier run` instances on one PostgreSQL state: one reads the sources under a lease,
both deliver; SIGKILL the one holding the lease and the other takes over. Real processes, a
real server, one SMTP sink they share."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, start_notifier, write_config
from tests.e2e.test_run import wait_until
from tests.e2e.test_webhook_run import SECRET, body, headers, hook_config
from tests.postgres import DATABASE_USER, PostgresServer
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer, free_port
from tests.store_backends import new_database
from tests.tcp_proxy import PartitionProxy

TOTAL = 2000
FILES = 20  # written one after another while the instances run
LEASE = 3.0  # seconds ([state] lease); takeover must come within two of them


def _events(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _write_batch(exports: Path, n: int, size: int) -> None:
    """Export file ``n`` of ``size`` resolutions, appearing whole (written, then renamed)."""
    rows = "".join(
        csv_row(f"HD-{k}", f"user{k}@example.org") for k in range(n * size, (n + 1) * size)
    )
    partial = exports / f".part-{n}"
    partial.write_text(CSV_HEADER + rows, encoding="utf-8")
    partial.rename(exports / f"batch-{n:02}.csv")


def _acquired(log: Path) -> list[dict[str, object]]:
    return [e for e in _events(log) if e["event"] == "lease_acquired"]


def _instance_config(
    tmp_path: Path, name: str, server: SmtpTestServer, exports: Path, url: str, password: Path
) -> Path:
    home = tmp_path / name
    home.mkdir()
    state = (
        f'url = "{url}"\npassword_file = "{password}"\nlease = "{LEASE:g}s"\n'
        f'instance_name = "{name}"'
    )
    return write_config(home, server, exports, connections=2, state=state)


def _shared_state(tmp_path: Path, server: PostgresServer) -> tuple[Path, str, Path]:
    """The instances' export folder, a new database's URL and its password file."""
    exports = tmp_path / "exports"
    exports.mkdir()
    password = tmp_path / "db-password"
    password.write_text(server.password, encoding="utf-8")
    return exports, new_database(server, with_password=False), password


def _start_a_then_b(
    configs: dict[str, Path],
    logs: dict[str, Path],
    processes: dict[str, subprocess.Popen[bytes]],
    *,
    leases: int = 1,
) -> None:
    """Start a and wait until it holds its sources' ``leases`` and made its first pass; then
    start b and wait for b's first pass. From then on a reads and both deliver. ``processes``
    gets each as it starts, for the caller's cleanup."""
    processes["a"] = start_notifier("run", "--config", str(configs["a"]), log=logs["a"])
    wait_until(lambda: len(_acquired(logs["a"])) == leases, 60, "a to take its leases")
    wait_until(lambda: any(e["event"] == "pass_finished" for e in _events(logs["a"])), 60,
               "a's first pass")  # fmt: skip
    processes["b"] = start_notifier("run", "--config", str(configs["b"]), log=logs["b"])
    wait_until(lambda: any(e["event"] == "pass_finished" for e in _events(logs["b"])), 60,
               "b's first pass")  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_sigkill_of_the_lease_holder_hands_its_sources_over_and_loses_nothing(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """2,000 resolutions arrive in 20 files while two instances run. The one reading them is
    killed mid-run: the other holds the source within two lease periods, reads the rest, and
    sends what the dead one had claimed. Every requester is told; a repeat carries the first
    copy's Message-ID, and there are no more repeats than messages the dead one had in flight;
    the audit chain verifies."""
    server = smtp_server()
    exports, url, password = _shared_state(tmp_path, postgres_cluster)
    configs = {
        name: _instance_config(tmp_path, name, server, exports, url, password)
        for name in ("a", "b")
    }
    logs = {name: tmp_path / f"{name}.log" for name in configs}
    per_file = TOTAL // FILES

    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _start_a_then_b(configs, logs, processes)
        written = 0
        while len(server.messages) < 300:
            if written < FILES // 2:
                _write_batch(exports, written, per_file)
                written += 1
            time.sleep(0.1)
        processes["a"].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        processes["a"].wait(10)
        wait_until(lambda: _acquired(logs["b"]), 4 * LEASE + 10, "instance b to take the lease")
        takeover = time.monotonic() - killed_at
        status = notifier("status", "--config", str(configs["b"])).stdout
        assert "instances: 1 alive, 1 stopped" in status, status
        assert "  b (" in status and "reads desk" in status, status
        while written < FILES:
            _write_batch(exports, written, per_file)
            written += 1
        wait_until(lambda: len({m.rcpt_tos[0] for m in server.messages}) >= TOTAL, 180,
              "every requester to be told")  # fmt: skip
    finally:
        for process in processes.values():
            _stop(process)

    assert takeover <= 2 * LEASE, f"b took the source over {takeover:.1f} s after the kill"
    by_recipient: dict[str, set[str]] = {}
    for message in server.messages:
        by_recipient.setdefault(message.rcpt_tos[0], set()).add(message.message["Message-ID"])
    assert len(by_recipient) == TOTAL
    assert all(len(ids) == 1 for ids in by_recipient.values())  # a repeat: the same Message-ID
    copies = Counter(message.rcpt_tos[0] for message in server.messages)
    duplicates = sum(count - 1 for count in copies.values())
    assert duplicates <= 2, f"{duplicates} repeats; a had at most 2 messages in flight"
    # Both delivered: any instance sends, only the lease holder reads.
    senders = {name: sum(e["event"] == "notice_sent" for e in _events(logs[name])) for name in logs}
    assert all(senders.values()), senders
    for log in logs.values():
        assert not [e for e in _events(log) if e["level"] in ("warning", "error")]
    verify = notifier("audit", "verify", "--config", str(configs["b"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("reset", [False, True], ids=["held", "reset"])
def test_an_instance_cut_off_from_the_database_stops_and_the_other_carries_on(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer, reset: bool
) -> None:
    """Instance a reaches PostgreSQL through a proxy that is cut mid-run (its SMTP server is
    its own, so what it sends is counted apart): bytes held back (a silent partition), or every
    connection reset and new ones refused (a rejecting firewall, a moved server). Within a
    lease period it stops sending; b takes the source over within two, recovers a's claims and
    tells everyone; no requester gets two messages with different Message-IDs; the chain
    verifies after the partition."""
    total, files = 1000, 10
    # a's server is slow enough (20 ms a message) that a is mid-batch when it is cut off:
    # it has claims in flight for b to recover, however fast the machine is.
    sinks = {"a": smtp_server(behaviour=ServerBehaviour(data_delay=0.02)), "b": smtp_server()}
    exports, direct, password = _shared_state(tmp_path, postgres_cluster)
    with PartitionProxy("127.0.0.1", postgres_cluster.port) as proxy:
        proxied = direct.replace(f":{postgres_cluster.port}/", f":{proxy.port}/")
        configs = {
            "a": _instance_config(tmp_path, "a", sinks["a"], exports, proxied, password),
            "b": _instance_config(tmp_path, "b", sinks["b"], exports, direct, password),
        }
        logs = {name: tmp_path / f"{name}.log" for name in configs}
        per_file = total // files

        def told() -> set[str]:
            return {m.rcpt_tos[0] for sink in sinks.values() for m in sink.messages}

        processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            _start_a_then_b(configs, logs, processes)
            written = 0
            # Half of the first file (100): a claims whole files, so it has claims in flight.
            while len(sinks["a"].messages) < per_file // 2:
                if written < files // 2:
                    _write_batch(exports, written, per_file)
                    written += 1
                time.sleep(0.1)
            proxy.cut(reset=reset)
            cut_at = time.monotonic()
            while written < files:
                _write_batch(exports, written, per_file)
                written += 1
            wait_until(lambda: _acquired(logs["b"]), 4 * LEASE + 10, "instance b to take the lease")
            takeover = time.monotonic() - cut_at
            wait_until(lambda: len(told()) >= total, 180, "every requester to be told")
            time.sleep(max(0.0, cut_at + LEASE - time.monotonic()))
            sent_by_a = len(sinks["a"].messages)
            time.sleep(LEASE)  # a, still cut off, sends nothing more
            assert len(sinks["a"].messages) == sent_by_a
            proxy.heal()
            time.sleep(LEASE)  # a hears from the database again: nothing left for it to send
        finally:
            proxy.heal()
            for process in processes.values():
                _stop(process)

    assert takeover <= 2 * LEASE, f"b took the source over {takeover:.1f} s after the cut"
    by_recipient: dict[str, set[str]] = {}
    for sink in sinks.values():
        for message in sink.messages:
            by_recipient.setdefault(message.rcpt_tos[0], set()).add(message.message["Message-ID"])
    assert len(by_recipient) == total
    assert all(len(ids) == 1 for ids in by_recipient.values())
    assert any(e["event"] == "notice_recovered" for e in _events(logs["b"]))
    verify = notifier("audit", "verify", "--config", str(configs["b"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_postgresql_restart_mid_run_is_waited_out_and_nothing_is_lost(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres: PostgresServer
) -> None:
    """PostgreSQL is killed (as a crash: no checkpoint) while two instances deliver, and
    started again seconds later: both log the outage, reconnect and finish; every requester
    is told once per Message-ID, and the chain verifies."""
    total = 1000
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{k}", f"user{k}@example.org") for k in range(total))
    (exports / "all.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    url = postgres.url_for(DATABASE_USER, with_password=False)
    password = tmp_path / "db-password"
    password.write_text(postgres.password, encoding="utf-8")
    configs = {
        name: _instance_config(tmp_path, name, server, exports, url, password)
        for name in ("a", "b")
    }
    logs = {name: tmp_path / f"{name}.log" for name in configs}
    processes = {}
    try:
        for name in configs:
            processes[name] = start_notifier("run", "--config", str(configs[name]), log=logs[name])
        wait_until(lambda: len(server.messages) >= 200, 60, "the first deliveries")
        postgres.kill()
        time.sleep(2 * LEASE)  # longer than a lease: both lose their roles meanwhile
        postgres.start()
        wait_until(lambda: len({m.rcpt_tos[0] for m in server.messages}) >= total, 180,
              "every requester to be told")  # fmt: skip
    finally:
        for process in processes.values():
            _stop(process)

    by_recipient: dict[str, set[str]] = {}
    for message in server.messages:
        by_recipient.setdefault(message.rcpt_tos[0], set()).add(message.message["Message-ID"])
    assert len(by_recipient) == total
    assert all(len(ids) == 1 for ids in by_recipient.values())
    duplicates = len(server.messages) - total
    assert duplicates <= 4, f"{duplicates} repeats; at most 2 sessions x 2 instances in flight"
    outage = [e for log in logs.values() for e in _events(log) if e["event"] == "state_error"]
    assert outage, "no instance noticed the database going away"
    verify = notifier("audit", "verify", "--config", str(configs["a"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_webhook_received_by_the_instance_not_reading_it_is_told_at_once(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """Two instances, each with its own listener, poll every 60 s. An event posted to b, while
    a holds the webhook source's lease, is read by a at once (b's receipt wakes it through the
    database), not at a's next poll."""
    server = smtp_server()
    exports, url, password = _shared_state(tmp_path, postgres_cluster)
    (tmp_path / "hook-secret").write_text(SECRET, encoding="utf-8")
    ports = {"a": free_port(), "b": free_port()}
    configs = {}
    for name in ports:
        config = _instance_config(tmp_path, name, server, exports, url, password)
        text = config.read_text(encoding="utf-8").replace(
            'poll_interval = "1s"', 'poll_interval = "60s"'
        )
        config.write_text(text + hook_config(ports[name], tmp_path / "hook-secret"), "utf-8")
        configs[name] = config
    logs = {name: tmp_path / f"{name}.log" for name in configs}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _start_a_then_b(configs, logs, processes, leases=2)  # a's next pass is 60 s away
        answer = httpx.post(
            f"http://127.0.0.1:{ports['b']}/webhooks/hooks", content=body(),
            headers=headers(body()), timeout=30,
        )  # fmt: skip
        assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
        # Well before a's next poll, 60 s away.
        wait_until(lambda: len(server.messages) == 1, 20, "the requester to be told")
        assert server.messages[0].rcpt_tos == ("kim@example.org",)
        assert any(e["event"] == "notice_queued" for e in _events(logs["a"]))  # a read it
    finally:
        for process in processes.values():
            _stop(process)


def test_an_instance_polling_seldom_helps_at_once_with_what_another_queued(
    tmp_path: Path, smtp_server: SmtpServerFactory, postgres_cluster: PostgresServer
) -> None:
    """a reads the export (it polls every second), b polls every 60 s. When a queues 400
    notices, its commit wakes b, which sends its share now instead of after its next poll."""
    server = smtp_server(behaviour=ServerBehaviour(data_delay=0.02))  # a alone: about 4 s
    exports, url, password = _shared_state(tmp_path, postgres_cluster)
    configs = {name: _instance_config(tmp_path, name, server, exports, url, password)
               for name in ("a", "b")}  # fmt: skip
    slow = configs["b"].read_text(encoding="utf-8")
    configs["b"].write_text(slow.replace('poll_interval = "1s"', 'poll_interval = "60s"'), "utf-8")
    logs = {name: tmp_path / f"{name}.log" for name in configs}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _start_a_then_b(configs, logs, processes)  # b's next pass is 60 s away
        _write_batch(exports, 0, 400)
        wait_until(lambda: len(server.messages) == 400, 40, "every requester to be told")
        sent = {
            n: sum(e["event"] == "notice_sent" for e in _events(log)) for n, log in logs.items()
        }
        assert sent["b"] > 0, sent  # b was woken: it did not wait for its next poll
        assert sent["a"] + sent["b"] == 400, sent
    finally:
        for process in processes.values():
            _stop(process)
