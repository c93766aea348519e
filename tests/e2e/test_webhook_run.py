"""``notifier run`` receiving webhooks: a resolution pushed over HTTP reaches the SMTP sink,
and a SIGKILL between receipt and commit leaves the sender without a 2xx, so its retry is
received once."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import sqlite3
import threading
from pathlib import Path

import httpx

from tests.e2e.cli import start_notifier, write_config
from tests.e2e.daemon_support import events, wait_until
from tests.smtp_server import SmtpServerFactory, free_port

SECRET = "e2e-hook-secret"


def body() -> bytes:
    return json.dumps(
        {"id": "HD-9", "status": "solved", "requester_email": "kim@example.org",
         "title": "New laptop", "resolved_at": "2026-12-03T09:00:00Z",
         "resolution_note": "Your new laptop is ready at the front desk."}
    ).encode()  # fmt: skip


def headers(data: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    return {"X-Signature": f"sha256={digest}", "X-Delivery": "delivery-1"}


def hook_config(port: int, secret_file: Path | str) -> str:
    """The config lines of a listener on ``port`` and one HMAC-signed generic webhook."""
    return f"""
[webhooks]
listen = "127.0.0.1:{port}"
[[webhook]]
name = "hooks"
preset = "generic"
auth = "hmac-sha256"
signature_header = "X-Signature"
signature_prefix = "sha256="
secret_file = "{secret_file}"
event_id_header = "X-Delivery"
fields = {{ ticket_id = "id" }}
"""


def test_a_kill_before_the_commit_means_no_2xx_and_the_retry_is_received_once(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    sink = smtp_server()
    port = free_port()
    (tmp_path / "hook-secret").write_text(SECRET)
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, sink, exports, extra=hook_config(port, "hook-secret"))
    url = f"http://127.0.0.1:{port}/webhooks/hooks"
    log = tmp_path / "run.log"
    daemon = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(
            lambda: any(e["event"] == "daemon_started" for e in events(log)), 30, "the start"
        )
        database = tmp_path / "state" / "notifier.sqlite3"
        blocker = sqlite3.connect(database, isolation_level=None, timeout=30)
        blocker.execute("BEGIN IMMEDIATE")  # the event cannot be committed now
        answers: list[object] = []

        def send() -> None:
            try:
                answers.append(httpx.post(url, content=body(), headers=headers(body()), timeout=30))
            except httpx.HTTPError as exc:
                answers.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(timeout=2)
        assert answers == [], "answered before the event was committed"
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        sender.join(timeout=10)
        (lost,) = answers
        assert isinstance(lost, httpx.HTTPError), f"a killed receiver answered: {lost!r}"
        blocker.execute("ROLLBACK")
        (kept,) = blocker.execute("SELECT count(*) FROM webhook_events").fetchone()
        blocker.close()
        assert kept == 0

        daemon = start_notifier("run", "--config", str(config), log=log)
        wait_until(
            lambda: sum(e["event"] == "daemon_started" for e in events(log)) == 2, 30, "restart"
        )
        retry = httpx.post(url, content=body(), headers=headers(body()), timeout=30)
        assert retry.status_code == 200 and retry.json()["status"] == "accepted"
        wait_until(lambda: len(sink.messages) == 1, 30, "the notice")
        again = httpx.post(url, content=body(), headers=headers(body()), timeout=30)
        assert again.json()["status"] == "duplicate"
        assert sink.messages[0].rcpt_tos == ("kim@example.org",)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0, log.read_text()[-3000:]
    assert len(sink.messages) == 1
