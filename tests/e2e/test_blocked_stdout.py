"""Signals while standard output is blocked (journald slow or stopped).

``notifier run`` writes its log to a pipe that nobody reads until the daemon is stuck in a
write; then it gets SIGTERM (or SIGHUP), and only then is the pipe drained. The daemon must
neither deadlock nor abort: it tells systemd at once, and once its output flows again it stops
(or reloads) as usual.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, write_config
from tests.e2e.daemon_support import NotifyListener, wait_until
from tests.smtp_server import SmtpServerFactory

# After the output drains, the stop (or reload) must be done within this many seconds.
STOP_DEADLINE = 30
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python 3.10+ on Linux; spelled out for mypy)


class Drain:
    """The read end of the daemon's stdout: nobody reads it until :meth:`start`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self.fd, 65536):
            self.data += chunk

    def events(self) -> list[str]:
        lines = bytes(self.data).decode("utf-8", "replace").splitlines()
        return [json.loads(line)["event"] for line in lines if line.startswith("{")]

    def close(self) -> None:
        if self._thread.is_alive():
            self._thread.join(10)
        os.close(self.fd)


def _blocked_writing(pid: int) -> bool:
    """Whether a thread of ``pid`` sleeps in a write to a full pipe."""
    tasks = Path(f"/proc/{pid}/task")
    for task in tasks.iterdir():
        try:
            if "pipe_write" in (task / "wchan").read_text():
                return True
        except OSError:
            continue
    return False


def _signal_taken(pid: int) -> bool:
    """Whether no signal is pending for ``pid`` any more (the kernel delivered it)."""
    status = Path(f"/proc/{pid}/status").read_text()
    pending = [line.split()[1] for line in status.splitlines() if line.startswith("ShdPnd:")]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        pending += [line.split()[1] for line in text.splitlines() if line.startswith("SigPnd:")]
    return all(int(mask, 16) == 0 for mask in pending)


def _heard(systemd: NotifyListener, kind: str) -> bool:
    """Whether systemd gets a ``kind`` datagram within a few seconds."""
    try:
        systemd.wait_count(kind, 1, timeout=10)
    except AssertionError:
        return False
    return True


def _start_blocked(
    tmp_path: Path, smtp_server: SmtpServerFactory, systemd: NotifyListener
) -> tuple[subprocess.Popen[bytes], Drain, Path]:
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = "".join(csv_row(f"HD-{n}", f"user{n}@example.org") for n in range(300))
    (exports / "many.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    read_end, write_end = os.pipe()
    fcntl.fcntl(read_end, _F_SETPIPE_SZ, 4096)  # full after a dozen log lines
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier", "run", "--config", str(config)],
            stdout=write_end,
            stderr=errors,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": systemd.name},
        )
    os.close(write_end)
    wait_until(lambda: _blocked_writing(process.pid), 60, "the daemon to block on its stdout")
    return process, Drain(read_end), stderr


def test_sigterm_while_stdout_is_blocked_stops_once_the_output_drains(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    with NotifyListener() as systemd:
        process, drain, stderr = _start_blocked(tmp_path, smtp_server, systemd)
        try:
            process.send_signal(signal.SIGTERM)
            wait_until(lambda: _signal_taken(process.pid), 10, "SIGTERM to be delivered")
            assert process.poll() is None
            told_systemd = _heard(systemd, "STOPPING")
            drain.start()
            try:
                code = process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"notifier run did not stop within {STOP_DEADLINE} s of its output draining"
                ) from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            drain.close()
    errors = stderr.read_text()
    assert code == 0, errors
    assert "Fatal Python error" not in errors and "Traceback" not in errors, errors
    names = drain.events()
    assert names.count("stop_requested") == 1 and names[-1] == "daemon_stopped", names[-5:]
    # systemd heard of the stop before any log line could be written.
    assert told_systemd, f"no STOPPING=1 while the output was blocked: {systemd.kinds()}"


def test_sighup_while_stdout_is_blocked_reloads_once_the_output_drains(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    with NotifyListener() as systemd:
        process, drain, stderr = _start_blocked(tmp_path, smtp_server, systemd)
        try:
            process.send_signal(signal.SIGHUP)
            wait_until(lambda: _signal_taken(process.pid), 10, "SIGHUP to be delivered")
            assert process.poll() is None
            told_systemd = _heard(systemd, "RELOADING")
            drain.start()
            wait_until(lambda: "reload_finished" in drain.events(), STOP_DEADLINE, "the reload")
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"notifier run did not stop within {STOP_DEADLINE} s"
                ) from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            drain.close()
    errors = stderr.read_text()
    assert code == 0, errors
    assert "Fatal Python error" not in errors and "Traceback" not in errors, errors
    names = drain.events()
    assert names.count("reload_requested") == 1 and names[-1] == "daemon_stopped", names[-5:]
    assert told_systemd, f"no RELOADING=1 while the output was blocked: {systemd.kinds()}"
