"""Health at a glance: `notifier status` and the Prometheus endpoint of `notifier run --metrics`,
read from a real running daemon with a failing source and a dead letter."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from notifier.core.errors import ConfigError
from notifier.runtime.metrics import parse_listen
from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.e2e.daemon_support import NotifyListener, start_daemon, wait_until
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, free_port

MISSING_SOURCE = """
[[exports]]
name = "missing"
path = "{path}"
preset = "jira"
"""


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_status_and_metrics_show_sources_queue_and_dead_letters(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """A running daemon with one good and one unreadable source and one refused address:
    READY says degraded and why; `status` names the failing source, the error, the queue and the
    dead letter (exit 1); the metrics carry the same per source, team and outcome; once stopped,
    `status` says the daemon is not running."""
    server = smtp_server(
        behaviour=ServerBehaviour(refuse_recipients={"bad@example.org": "550 5.1.1 no such user"})
    )
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = csv_row("HD-1", "ann@example.org") + csv_row("HD-2", "bad@example.org")
    (exports / "a.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    missing = tmp_path / "nowhere"
    config = write_config(
        tmp_path, server, exports, extra=MISSING_SOURCE.format(path=missing), state=state_lines
    )
    port = free_port()
    log = tmp_path / "run.log"
    with NotifyListener() as systemd:
        process = start_daemon(
            "run",
            "--config",
            str(config),
            "--metrics",
            f"127.0.0.1:{port}",
            log=log,
            env={"NOTIFY_SOCKET": systemd.name},
        )
        try:
            got = systemd.wait_count("READY", 1)
            ready = next(d for d in got if d.kind == "READY")
            assert ready.fields["STATUS"].startswith("degraded: missing: export path")
            server.wait_for_messages(1, timeout=20)

            def failed_counted() -> bool:
                key = ("notifier_decisions_total",
                       (("outcome", "failed"), ("source", "desk"), ("team", "default")))  # fmt: skip
                return scrape(port).get(key) == 1.0

            wait_until(failed_counted, 20, "the dead letter in the metrics")
            metrics = scrape(port)
            sent = ("notifier_decisions_total",
                    (("outcome", "sent"), ("source", "desk"), ("team", "default")))  # fmt: skip
            assert metrics[sent] == 1.0
            assert metrics[("notifier_source_up", (("source", "desk"),))] == 1.0
            assert metrics[("notifier_source_up", (("source", "missing"),))] == 0.0
            assert metrics[("notifier_notices", (("state", "failed"),))] == 1.0
            assert metrics[("notifier_notices", (("state", "sent"),))] == 1.0
            assert metrics[("notifier_dead_letters_last_24h", ())] == 1.0
            assert metrics[("notifier_source_polls_total", (("result", "error"), ("source", "missing")))] >= 1  # fmt: skip
            assert (
                "notifier_source_last_success_timestamp_seconds",
                (("source", "desk"),),
            ) in metrics

            status = notifier("status", "--config", str(config))
            assert status.returncode == 1, status.stdout + status.stderr
            text = status.stdout
            assert "daemon: running" in text
            assert "desk: ok; last successful poll 20" in text
            assert "missing: FAILING; last successful poll never" in text
            assert f"export path '{missing}' does not exist" in text
            assert "sent 1" in text and "failed 1" in text
            assert "dead letters: 1 (1 in the last 24 h)" in text
            assert "latest: ticket HD-2 to bad@example.org" in text and "550 5.1.1" in text

            document = json.loads(
                notifier("status", "--config", str(config), "--format", "json").stdout
            )
            assert document["daemon_running"] is True and document["needs_attention"] is True
            assert document["queue"]["counts"] == {"failed": 1, "sent": 1}
            assert document["daemon"]["sources"]["missing"]["failing"] is True

            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    after = notifier("status", "--config", str(config))
    assert after.returncode == 1 and "daemon: NOT RUNNING" in after.stdout


def test_status_exits_zero_while_a_healthy_daemon_runs(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """All sources read, nothing failed: `status` exits 0 while the daemon runs."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(CSV_HEADER + csv_row("HD-1", "a@example.org"), "utf-8")
    config = write_config(tmp_path, server, exports)
    with NotifyListener() as systemd:
        process = start_daemon(
            "run", "--config", str(config), log=tmp_path / "run.log",
            env={"NOTIFY_SOCKET": systemd.name},
        )  # fmt: skip
        try:
            systemd.wait_count("READY", 1)
            status = notifier("status", "--config", str(config))
            assert status.returncode == 0, status.stdout
            assert "oldest waiting notice: none" in status.stdout
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("localhost:9000", ("127.0.0.1", 9000)),
        ("[::1]:9464", ("::1", 9464)),
        ("9100", ("127.0.0.1", 9100)),
    ],
)
def test_metrics_listen_address_forms(text: str, expected: tuple[str, int]) -> None:
    """--metrics takes address:port, [v6]:port or a bare port (on 127.0.0.1)."""
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["0.0.0.0:9464", "192.0.2.1:9464", "example.org:1", "1:99999"])
def test_metrics_refuses_anything_but_loopback(text: str) -> None:
    """The endpoint is never exposed beyond loopback (nor on a nonsense port)."""
    with pytest.raises(ConfigError, match="--metrics"):
        parse_listen(text)


def test_status_after_once_shows_each_source_as_polled(
    tmp_path: Path, smtp_server: SmtpServerFactory, state_lines: str
) -> None:
    """After `notifier once`, status said "not polled yet" for every source; it now shows the
    pass `once` made: the good source polled, the missing one failing with its error."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(CSV_HEADER + csv_row("HD-1", "a@example.org"), "utf-8")
    missing = MISSING_SOURCE.format(path=tmp_path / "nowhere")
    config = write_config(tmp_path, server, exports, extra=missing, state=state_lines)
    assert notifier("once", "--config", str(config)).returncode == 1  # the missing source
    status = notifier("status", "--config", str(config))
    assert "not polled yet" not in status.stdout, status.stdout
    assert "last pass by notifier once" in status.stdout
    desk = next(line for line in status.stdout.splitlines() if line.strip().startswith("desk:"))
    assert "ok; last successful poll" in desk
    gone = next(line for line in status.stdout.splitlines() if line.strip().startswith("missing:"))
    assert "FAILING" in gone
