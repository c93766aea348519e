"""A 100,000-message IMAP folder: first start with the backfill guard, restart with stored state.

One real Dovecot and one aiosmtpd sink on 127.0.0.1. The folder ``Resolved`` is filled with
100,000 resolution mails (the text of ``tests.mailfactory.reply``, one requester each) by
``DovecotServer.bulk_fill``: maildir files written directly, then one SELECT so Dovecot indexes
them. The fill time printed is the file writing plus that first indexing SELECT; building the
messages is timed apart.

Then, with the real ``Service`` and ``ImapSource`` built by ``bootstrap`` in this process
(folder mode, ``idle = false`` so no watcher thread runs, everything else the shipped default,
``original_folders`` empty), side by side:

- **bare SELECT**: a fresh IMAPClient connection, SELECT of the folder (readonly), three times:
  the floor for any client that opens this folder;
- **(a) first start**: a fresh state directory; the pass connects, SELECTs, finds the last UID
  and stores a checkpoint there (the backfill guard: only mail arriving from now on counts, the
  100,000 old ones are not fetched). Time from building the service to the checkpoint committed;
- **(b) restart with stored state**: the sources are closed and built again (as a new process
  would; the SQLite state stays), one new resolution is APPENDed, and one pass runs. Time from
  building the service to the sink having the notice;
- **(b') the same as a process**: a second new resolution, then ``notifier once`` as a
  subprocess on the same state: wall time to exit, the notice checked at the sink;
- **bare, after new mail**: one more APPEND, then on a bare connection a SELECT (Dovecot
  rescans the 100,000-file maildir after a change) and, twice, the ``SEARCH HEADER Message-ID``
  the source issues to find the mail a resolution answers: what a pass pays the server.

"Bytes fetched" is what the kernel counted on the IMAP client's TCP socket
(``TCP_INFO.tcpi_bytes_received``, everything the server sent on that connection: greeting,
LOGIN, SELECT, SEARCH and FETCH answers), read right after the pass; with it the number of
message bodies the source fetched (``ImapSource.bodies_fetched``). Not measured for (b'), a
separate process.

    .venv/bin/python bench/big_mailbox.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _support as bench

from tests.dovecot import DovecotServer, find_dovecot
from tests.mailfactory import reply
from tests.smtp_server import SmtpTestServer

FOLDER = "Resolved"
_TCPI_BYTES_ACKED = 120  # offsets in struct tcp_info (linux/tcp.h, since Linux 4.1/4.2)


def socket_bytes(client: Any) -> tuple[int, int]:
    """(bytes received, bytes sent) on an IMAPClient's TCP connection, as the kernel counted."""
    sock: socket.socket = client.socket()
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    acked, received = struct.unpack_from("QQ", info, _TCPI_BYTES_ACKED)
    return received, acked


def old_mail(n: int) -> bytes:
    """What ``tests.mailfactory.reply`` builds, formatted directly: 100,000 EmailMessage
    objects would take over a minute to build, and the folder's content is not what is measured."""
    return (
        "From: Tom Tech <tom.tech@example.org>\r\n"
        f"To: Ann Example <old{n:06d}@example.org>\r\n"
        "Subject: Re: Printer broken\r\n"
        f"Date: Fri, 27 Nov 2026 10:{n // 60 % 60:02d}:{n % 60:02d} +0000\r\n"
        f"Message-ID: <old-reply-{n}@example.org>\r\n"
        f"In-Reply-To: <old-request-{n}@example.org>\r\n"
        f"References: <old-request-{n}@example.org>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n"
        "MIME-Version: 1.0\r\n\r\n"
        "We fixed the printer. It prints again.\r\n\r\n"
        f"On Thu, Ann wrote:\r\n> Hello, request number {n}.\r\n"
    ).encode("ascii")


def settings_document(tmp: Path, dovecot: DovecotServer, sink: SmtpTestServer) -> dict[str, Any]:
    return {
        "state": {"directory": str(tmp / "state")},
        "smtp": {
            "host": sink.host,
            "port": sink.port,
            "security": "plain",
            "from_address": "it-helpdesk@example.org",
            "timeout": 10,
        },
        "log": {"format": "json"},
        "imap": [
            {
                "name": "mail",
                "host": dovecot.host,
                "port": dovecot.port,
                "security": "plain",
                "username": dovecot.user,
                "password_file": str(tmp / "imap-password"),
                "allow_plaintext_password": True,  # loopback test server without TLS
                "timeout": 120,  # a SELECT of a big folder must not time out
                "folder": FOLDER,
                "mode": "folder",
                "idle": False,  # no watcher thread: one pass, measured
            }
        ],
    }


def write_toml(path: Path, document: dict[str, Any]) -> Path:
    """The same settings as TOML, for ``notifier once``."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    for section, body in document.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bare_select(dovecot: DovecotServer, times: int = 3) -> list[float]:
    seconds = []
    for _ in range(times):
        with dovecot.client(timeout=120) as imap:
            started = time.perf_counter()
            imap.select_folder(FOLDER, readonly=True)
            seconds.append(time.perf_counter() - started)
    return seconds


def bare_after_new_mail(dovecot: DovecotServer) -> dict[str, Any]:
    with dovecot.client(timeout=120) as imap:
        started = time.perf_counter()
        imap.select_folder(FOLDER, readonly=True)
        select = time.perf_counter() - started
        searches = []
        for n in (900_004, 900_005):  # ids no message has: the whole folder is searched
            started = time.perf_counter()
            imap.search(["HEADER", "Message-ID", f"<request-{n}@example.org>"])
            searches.append(time.perf_counter() - started)
    return {"select_seconds": select, "search_header_seconds": searches}


def one_pass(settings: Any, outbox: Any) -> dict[str, Any]:
    """Build the service (fresh sources, as at process start) and run one pass, timed."""
    from notifier.runtime import bootstrap

    started = time.perf_counter()
    service = bootstrap.build_service(settings, outbox)
    service.start()
    report = service.run_pass()
    seconds = time.perf_counter() - started
    source = service.sources[0]
    client = getattr(source, "_client", None)  # held open between passes
    received, sent = socket_bytes(client) if client is not None else (0, 0)
    result = {
        "seconds": seconds,
        "bytes_received": received,
        "bytes_sent": sent,
        "bodies_fetched": source.bodies_fetched,
        "seen": report.seen,
        "queued": report.queued,
        "sent": report.sent,
        "source_errors": report.source_errors,
        "checkpoint": outbox.checkpoint("mail", f"folder:{FOLDER}"),
    }
    for each in service.sources:
        each.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=100_000, help="folder size (100000)")
    args = parser.parse_args()
    dovecot_binary, _ = find_dovecot()
    info = bench.machine(dovecot_binary)
    code = bench.code_version()
    print(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}, "
          f"Dovecot {info['dovecot']}, load {info['loadavg_at_start']}")  # fmt: skip

    from notifier.runtime import logs
    from notifier.runtime.config import Settings
    from notifier.store.sqlite.outbox import Outbox

    with tempfile.TemporaryDirectory(prefix="bench-big-mailbox-") as tmp_name:
        tmp = Path(tmp_name)
        sink = SmtpTestServer()
        sink.start()
        dovecot = DovecotServer()
        dovecot.start()
        try:
            started = time.perf_counter()
            mails = [old_mail(n) for n in range(args.messages)]
            build_seconds = time.perf_counter() - started
            mail_bytes = sum(len(m) for m in mails)
            print(f"built {len(mails):,} messages ({mail_bytes / 1e6:.0f} MB) in "
                  f"{build_seconds:.1f} s; filling ...", flush=True)  # fmt: skip
            dovecot.bulk_fill(FOLDER, mails)
            fill_seconds = dovecot.last_bulk_fill_seconds
            del mails
            count = dovecot.fetch_count(FOLDER)
            print(f"bulk_fill: {count:,} messages in {fill_seconds:.1f} s "
                  f"(files + Dovecot's first indexing SELECT)", flush=True)  # fmt: skip
            selects = bare_select(dovecot)
            print(f"bare SELECT: {', '.join(f'{s * 1000:.1f}' for s in selects)} ms", flush=True)

            (tmp / "imap-password").write_text(dovecot.password)
            document = settings_document(tmp, dovecot, sink)
            settings = Settings.model_validate(document)
            log_path = tmp / "notifier.log"
            log_stream = log_path.open("w", encoding="utf-8")
            logs.configure("info", "json", stream=log_stream)
            outbox = Outbox.open(settings.state.directory)
            try:
                first = one_pass(settings, outbox)
                print(f"(a) first start: checkpoint {first['checkpoint']} after "
                      f"{first['seconds'] * 1000:.0f} ms, {first['bytes_received']:,} bytes "
                      f"received, {first['bodies_fetched']} bodies", flush=True)  # fmt: skip
                dovecot.append(FOLDER, reply(900_001, requester="new-one@example.org"))
                restart = one_pass(settings, outbox)
            finally:
                outbox.close()
                log_stream.close()
            delivered = [m.rcpt_tos for m in sink.messages]
            restart["delivered"] = ["new-one@example.org"] in [list(d) for d in delivered]
            print(f"(b) restart: new resolution delivered={restart['delivered']} after "
                  f"{restart['seconds'] * 1000:.0f} ms, {restart['bytes_received']:,} bytes "
                  f"received, {restart['bodies_fetched']} bodies", flush=True)  # fmt: skip

            dovecot.append(FOLDER, reply(900_002, requester="new-two@example.org"))
            config = write_toml(tmp / "config.toml", document)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(bench.TREE), str(bench.ROOT)])}
            started = time.perf_counter()
            once = subprocess.run(
                [sys.executable, "-m", "notifier", "once", "--config", str(config)],
                capture_output=True, timeout=300, check=False, cwd=bench.TREE, env=env,
            )  # fmt: skip
            once_seconds = time.perf_counter() - started
            once_delivered = any(list(m.rcpt_tos) == ["new-two@example.org"] for m in sink.messages)
            print(f"(b') notifier once: exit {once.returncode}, delivered={once_delivered}, "
                  f"{once_seconds * 1000:.0f} ms", flush=True)  # fmt: skip
            # The floor for what a pass does after new mail, on a bare connection: SELECT (Dovecot
            # rescans the maildir) and the Message-ID search the source uses to find the original.
            dovecot.append(FOLDER, reply(900_003, requester="new-three@example.org"))
            floor = bare_after_new_mail(dovecot)
            print(f"bare, after one more APPEND: SELECT {floor['select_seconds'] * 1000:.0f} ms; "
                  f"SEARCH HEADER Message-ID {floor['search_header_seconds'][0] * 1000:.0f} ms, "
                  f"again {floor['search_header_seconds'][1] * 1000:.0f} ms", flush=True)  # fmt: skip
        finally:
            dovecot.cleanup()
            sink.stop()

    select_median = statistics.median(selects)
    print()
    print(f"{'':<44}{'seconds':>9}{'x SELECT':>10}{'bytes in':>11}{'bodies':>8}")
    print(f"{'bare SELECT (median of 3)':<44}{select_median:>9.3f}{1:>10.1f}{'':>11}{'':>8}")
    for name, result in (("(a) first start -> checkpoint", first),
                         ("(b) restart -> new notice delivered", restart)):  # fmt: skip
        print(f"{name:<44}{result['seconds']:>9.3f}"
              f"{bench.ratio(result['seconds'], select_median):>10.1f}"
              f"{result['bytes_received']:>11,}{result['bodies_fetched']:>8}")  # fmt: skip
    print(f"{'(b) as notifier once (process, wall)':<44}{once_seconds:>9.3f}"
          f"{bench.ratio(once_seconds, select_median):>10.1f}{'n/a':>11}{'':>8}")  # fmt: skip
    for name, seconds in (
        ("bare SELECT after new mail", floor["select_seconds"]),
        ("bare SEARCH HEADER Message-ID (1st)", floor["search_header_seconds"][0]),
        ("bare SEARCH HEADER Message-ID (2nd)", floor["search_header_seconds"][1]),
    ):
        print(f"{name:<44}{seconds:>9.3f}{bench.ratio(seconds, select_median):>10.1f}")
    print(f"folder: {count:,} messages; bulk_fill {fill_seconds:.1f} s; building the messages "
          f"{build_seconds:.1f} s")  # fmt: skip
    path = bench.write_result(
        "big_mailbox.json",
        {
            "benchmark": "big_mailbox",
            "date": bench.now_utc(),
            "machine": info,
            "code": code,
            "parameters": {"messages": args.messages, "mode": "folder", "idle": False},
            "fill": {
                "messages": count,
                "bytes": mail_bytes,
                "build_seconds": build_seconds,
                "bulk_fill_seconds": fill_seconds,
            },
            "bare_select_seconds": selects,
            "bare_after_new_mail": floor,
            "first_start": first,
            "restart": restart,
            "restart_process": {
                "seconds": once_seconds,
                "exit_code": once.returncode,
                "delivered": once_delivered,
            },
            "ratio_first_start_over_select": bench.ratio(first["seconds"], select_median),
            "ratio_restart_over_select": bench.ratio(restart["seconds"], select_median),
        },
    )
    print(f"results: {path.relative_to(bench.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
