"""Webhooks: latency to the SMTP sink, durable acceptance per second, memory under slow clients.

Three measurements against ``notifier run`` (a subprocess, as systemd runs it) with one
``generic`` webhook source signed with HMAC-SHA256, all on 127.0.0.1, each beside its baseline
measured in the same run:

1. **Latency**: one signed resolution at a time; from the request sent to the message accepted
   by an aiosmtpd sink in this process (p50, p99), beside a bare SMTP send (connect, EHLO,
   MAIL, RCPT, DATA, QUIT with smtplib) of a message of the same size to the same sink.
   Goal: p99 under 100 ms.
2. **Acceptance**: ``--clients`` processes each keep one connection open and post signed update
   events (not resolutions: the pass records them, nothing is sent) for ``--seconds``; the
   answers counted are 200 "accepted", each committed to the state before it was sent. Beside:
   the same clients against a bare WSGI handler on the same server library (waitress, same
   threads) that answers 200 and commits nothing. Goal: at least 1,000 a second.
3. **Memory**: notifier's resident memory before and while 1,000 clients hold a connection open
   sending a request head one byte a second; a signed request's latency while they do.

Run: ``.venv/bin/python bench/webhooks.py`` (about a minute). Writes results/webhooks.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import multiprocessing
import smtplib
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _support as bench
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtp_server import free_port

SECRET = b"bench-webhook-secret"
PATH = "/webhooks/hooks"


class Sink:
    """An aiosmtpd handler noting when each message arrives, by its ticket id."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        ticket = ""
        for line in data.split(b"\r\n"):
            if line.startswith(b"Your reference: "):
                ticket = line.split(b": ", 1)[1].decode()
        with self.changed:
            self.arrived[ticket] = time.perf_counter()
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, ticket: str, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        with self.changed:
            while ticket not in self.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no notice for {ticket}")
                self.changed.wait(left)
            return self.arrived[ticket]


def event(ticket: str, status: str) -> bytes:
    return json.dumps(
        {"id": ticket, "status": status, "requester_email": f"{ticket.lower()}@example.org",
         "title": "Printer on floor 2", "resolved_at": "2026-12-03T09:00:00Z",
         "resolution_note": "I cleared the paper jam. The printer works again."}
    ).encode()  # fmt: skip


def headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def write_config(directory: Path, smtp_port: int, listen_port: int) -> Path:
    (directory / "secret").write_bytes(SECRET)
    config = directory / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{directory / "state"}"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from_address = "it-helpdesk@example.org"
[delivery]
rate_limit_per_minute = 1000000
[rules]
max_age = 0
limit_per_recipient = 1000000
[log]
format = "json"
level = "warning"
[webhooks]
listen = "127.0.0.1:{listen_port}"
max_clients = 2000
request_timeout = "120s"
idle_timeout = "120s"
[[webhook]]
name = "hooks"
preset = "generic"
auth = "hmac-sha256"
signature_header = "X-Signature"
signature_prefix = "sha256="
secret_file = "secret"
fields = {{ ticket_id = "id" }}
""",
        encoding="utf-8",
    )
    return config


def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", PATH, body=body, headers=headers(body))
    answer = connection.getresponse()
    answer.read()
    return answer.status


# -- 1. latency ----------------------------------------------------------------------------


def latency(port: int, sink: Sink, smtp_port: int, count: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    to_sink: list[float] = []
    for n in range(count):
        ticket = f"LAT-{n}"
        started = time.perf_counter()
        status = post(connection, event(ticket, "solved"))
        if status != 200:
            raise RuntimeError(f"answer {status}")
        to_sink.append((sink.wait_for(ticket) - started) * 1000)
    connection.close()
    bare: list[float] = []
    for n in range(count):
        ticket = f"BARE-{n}"
        body = (  # about the size of a notice
            f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {ticket}\r\n\r\n"
            f"Your reference: {ticket}\r\n" + ("x" * 70 + "\r\n") * 16
        )
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail("a@example.org", ["b@example.org"], body)
        bare.append((sink.wait_for(ticket) - started) * 1000)
    return {"webhook_to_smtp_ms": bench.summary(to_sink), "bare_smtp_send_ms": bench.summary(bare)}


# -- 2. acceptance -------------------------------------------------------------------------


def _client(port: int, seconds: float, prefix: str, results: Any) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    accepted, n = 0, 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        n += 1
        if post(connection, event(f"{prefix}-{n}", "open")) == 200:
            accepted += 1
    results.put(accepted)


def acceptance(port: int, clients: int, seconds: float, prefix: str) -> float:
    results: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_client, args=(port, seconds, f"{prefix}{i}", results))
        for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def bare_server(port: int) -> None:
    """The baseline: waitress with the same threads, answering 200 and committing nothing."""
    from waitress import serve

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "accepted"}']

    serve(app, host="127.0.0.1", port=port, threads=4, asyncore_use_poll=True, _quiet=True)


# -- 3. memory -----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def slow_clients(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\n")
        opened.append(sock)

    def drip() -> None:
        while not stop.is_set():
            for sock in opened:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")
            stop.wait(1)

    threading.Thread(target=drip, daemon=True).start()
    return opened


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="latency samples of each kind")
    parser.add_argument("--clients", type=int, default=4, help="client processes (acceptance)")
    parser.add_argument("--seconds", type=float, default=5.0, help="acceptance run length")
    parser.add_argument("--slow", type=int, default=1000, help="slow clients (memory)")
    args = parser.parse_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    result: dict[str, Any] = {"date": bench.now_utc(), "machine": bench.machine(),
                              "code": bench.code_version(), "args": vars(args)}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as scratch:
        directory = Path(scratch)
        port = free_port()
        config = write_config(directory, controller.port, port)
        log = directory / "run.log"
        daemon = bench.start_notifier(config, log)
        try:
            try:
                wait_listening(port)
            except TimeoutError:
                print(log.read_text()[-2000:], file=sys.stderr)
                raise
            result["latency"] = latency(port, sink, controller.port, args.count)
            result["accepted_per_second"] = acceptance(port, args.clients, args.seconds, "ACC")
            bare_port = free_port()
            bare = multiprocessing.Process(target=bare_server, args=(bare_port,), daemon=True)
            bare.start()
            wait_listening(bare_port)
            result["bare_per_second"] = acceptance(bare_port, args.clients, args.seconds, "B")
            bare.terminate()
            before = rss_kib(daemon.pid)
            stop = threading.Event()
            held = slow_clients(port, args.slow, stop)
            time.sleep(3)
            during = rss_kib(daemon.pid)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            status = post(connection, event("MEM-1", "solved"))
            answered_ms = (time.perf_counter() - started) * 1000
            sink.wait_for("MEM-1", timeout=30)
            stop.set()
            for sock in held:
                sock.close()
            result["memory"] = {
                "rss_kib_before": before, "rss_kib_with_slow_clients": during,
                "slow_clients": len(held), "kib_per_slow_client": (during - before) / len(held),
                "signed_request_answered_ms": answered_ms, "status": status,
            }  # fmt: skip
        finally:
            bench.stop_notifier(daemon)
            controller.stop()
    lat = result["latency"]
    accepted, bare_rate = result["accepted_per_second"], result["bare_per_second"]
    memory = result["memory"]
    p99 = lat["webhook_to_smtp_ms"]["p99"]
    print(f"{'measure':44} {'notifier':>12} {'baseline':>12} {'ratio':>8}")
    print(
        f"{'webhook -> SMTP accepted, p50 ms':44} {lat['webhook_to_smtp_ms']['p50']:12.1f} "
        f"{lat['bare_smtp_send_ms']['p50']:12.1f} "
        f"{bench.ratio(lat['webhook_to_smtp_ms']['p50'], lat['bare_smtp_send_ms']['p50']):8.1f}"
    )
    print(
        f"{'webhook -> SMTP accepted, p99 ms':44} {p99:12.1f} "
        f"{lat['bare_smtp_send_ms']['p99']:12.1f} "
        f"{bench.ratio(p99, lat['bare_smtp_send_ms']['p99']):8.1f}"
    )
    print(
        f"{'accepted per second (durable vs bare)':44} {accepted:12.0f} {bare_rate:12.0f} "
        f"{bench.ratio(accepted, bare_rate):8.2f}"
    )
    print(
        f"{'RSS KiB, with vs without ' + str(memory['slow_clients']) + ' slow clients':44} "
        f"{memory['rss_kib_with_slow_clients']:12d} {memory['rss_kib_before']:12d} "
        f"{bench.ratio(memory['rss_kib_with_slow_clients'], memory['rss_kib_before']):8.2f}"
    )
    print(f"signed request answered while they wait: {memory['signed_request_answered_ms']:.0f} ms")
    print(f"goal p99 < 100 ms: {'PASS' if p99 < 100 else 'MISS'}")
    print(f"goal >= 1,000 accepted/s: {'PASS' if accepted >= 1000 else 'MISS'}")
    result["goals"] = {"p99_under_100_ms": p99 < 100, "at_least_1000_per_second": accepted >= 1000}
    print(f"written: {bench.write_result('webhooks.json', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
