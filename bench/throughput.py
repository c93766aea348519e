"""Throughput of the whole pipeline beside the raw SMTP limit and a naive baseline, in one run.

One aiosmtpd sink on 127.0.0.1 (a handler that only keeps what it received), and these
clients, each a separate process so that none shares the sink's interpreter:

1. **pipeline**: ``notifier once`` (a subprocess, as cron or a test would run it) over one CSV
   export of 10,000 resolved tickets: parse, route, rules, render, plain-language gate, outbox
   (SQLite, audit rows), SMTP; once for each ``delivery.connections`` value of
   ``--connections`` (1, 2 and 3), each on a fresh state. Wall time from the start of the
   process to its exit, start-up included; CPU from ``os.wait4`` (the kernel's numbers for
   that child); peak RSS (VmHWM) as the child reports it when it exits.
2. **raw**: a minimal smtplib loop that sends the very bytes the pipeline delivered
   (captured at the sink) over ONE reused session: the most the sink takes from one client,
   the limit the goal is measured against. The same over two sessions side by side shows
   what the sink takes from two connections.
3. **naive**: the same messages, a new SMTP connection (connect, EHLO, MAIL, RCPT, DATA,
   QUIT) per message.

Configuration choices, so that the pipeline is measured and not its brakes:
- ``delivery.rate_limit_per_minute = 1000000`` (the default 120 a minute throttles by design);
- ``rules.max_age = 0`` (no backfill guard: the rows carry a fixed resolved time);
- one distinct requester per row, so ``rules.limit_per_recipient`` (default 3) never applies;
- titles and notes come from five variants each (every row has its own ticket number and
  requester), as in a mass closure; the gate's caches then know the note sentences. A burst
  of notes that are all different costs the gate about 0.3 ms more per notice
  (``bench/plain_gate.py``);
- ``plain.policy = "warn"``: findings are recorded, nothing is held; the rows are plain
  English anyway;
- everything else is the shipped default: ``delivery.batch_size = 200``,
  ``smtp.max_messages_per_session = 50`` (a new SMTP connection every 50 notices),
  JSON logs (to a file here, to journald in production), SQLite in WAL mode.

The pipeline also runs on 2,000 rows first (same config, a fresh state) so the peak RSS of the
two sizes shows whether memory grows with the input. Last, unless ``--no-profile``, an in-process
run on ``--profile-count`` rows under cProfile prints the top 15 functions by cumulative time.

The sink runs in this benchmark's own process (a thread; the main thread only waits for the
child), so this process's CPU time during a run is the sink's. With the child's CPU from
``wait4`` that gives the CPU one notice costs on the whole machine, notifier and sink, and the
ceiling it sets: ``cores / (cost per notice)`` notices per second with every core busy all the
time. No arrangement of threads or processes in notifier can beat that ceiling at that cost.

Goals (issue 9 item 1): pipeline >= 50 % of raw; >= 1,000 notices/s on 2 cores.

    .venv/bin/python bench/throughput.py [--count 10000] [--connections 1,2,3]
                                         [--profile-count 2000] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import smtplib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _support as bench
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.e2e.cli import CSV_HEADER, csv_row
from tests.smtp_server import SmtpTestServer

GOAL_SHARE_OF_RAW = 0.5
GOAL_NOTICES_PER_SECOND = 1000.0
SMALL_COUNT = 2000
FROM_ADDRESS = "it-helpdesk@example.org"
SUMMARIES = (
    "Printer on the second floor does not print",
    "Cannot open the shared calendar",
    "New laptop for a starter",
    "Password reset for the expenses site",
    "Meeting room screen shows nothing",
)
NOTES = (
    "We replaced the toner. It prints again.",
    "We gave you access to the calendar again.",
    "Your laptop is ready at the front desk.",
    "We reset your password. Please choose a new one when you sign in.",
    "We changed the cable. The screen works again.",
)


class SinkHandler:
    """Accepts everything and keeps (recipient, bytes); no parsing, so the sink stays cheap."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # list.append is atomic under the GIL: the reader only takes len() and copies.
        self.messages.append((envelope.rcpt_tos[0], bytes(envelope.original_content or b"")))
        return "250 2.0.0 OK queued"

    def reset(self) -> list[tuple[str, bytes]]:
        taken, self.messages = self.messages, []
        return taken


def write_export(path: Path, count: int, prefix: str) -> None:
    """One CSV with ``count`` resolved tickets, one requester each (export file format of e2e)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(CSV_HEADER)
        for n in range(count):
            out.write(
                csv_row(
                    f"{prefix}-{n}",
                    f"{prefix.lower()}-user{n:05d}@example.org",
                    name=f"User {n}",
                    summary=SUMMARIES[n % len(SUMMARIES)],
                    resolved=f"2026-11-27T{9 + n // 3600 % 10:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                    note=NOTES[n % len(NOTES)],
                )
            )


def write_config(
    directory: Path, sink: SmtpTestServer, exports: Path, connections: int = 1
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{directory / "state"}"
[smtp]
host = "{sink.host}"
port = {sink.port}
security = "plain"
from_address = "{FROM_ADDRESS}"
timeout = 10
[delivery]
rate_limit_per_minute = 1000000  # measure the pipeline, not its rate limit
connections = {connections}
[rules]
max_age = 0  # fixed resolved times in the rows; the backfill guard is not what is measured
[plain]
policy = "warn"  # record findings, hold nothing
[log]
format = "json"
[[exports]]
name = "desk"
path = "{exports}"
settle_seconds = 0
resolved_statuses = ["Resolved"]
[exports.columns]
ticket_id = "Key"
requester_email = "Email"
requester_name = "Name"
title = "Summary"
status = "Status"
resolved_at = "Resolved"
team = "Group"
resolution_note = "Note"
""",
        encoding="utf-8",
    )
    return config


def child_env() -> dict[str, str]:
    path = [str(bench.TREE), str(bench.ROOT), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
    }


@dataclass
class PipelineRun:
    count: int
    connections: int  # delivery.connections: SMTP sessions sending side by side
    wall_seconds: float
    startup_seconds: float  # the same command on an empty export folder
    cpu_user: float
    cpu_system: float
    peak_rss_kib: int
    exit_code: int
    delivered: int
    distinct_recipients: int
    phases: dict[str, float]
    sink_cpu: float  # CPU seconds of this benchmark's process (the sink) during the run

    @property
    def notifier_ms_per_notice(self) -> float:
        return 1000 * (self.cpu_user + self.cpu_system) / max(self.delivered, 1)

    @property
    def sink_ms_per_notice(self) -> float:
        return 1000 * self.sink_cpu / max(self.delivered, 1)

    def ceiling(self, cores: int) -> float:
        """Notices/s that ``cores`` could carry at this run's CPU cost per notice (notifier
        plus sink), every core busy the whole time: no layout of processes does better."""
        return 1000 * cores / (self.notifier_ms_per_notice + self.sink_ms_per_notice)

    @property
    def rate(self) -> float:
        return self.delivered / self.wall_seconds

    @property
    def rate_after_startup(self) -> float:
        return self.delivered / max(self.wall_seconds - self.startup_seconds, 1e-9)


# `notifier once` started through this, so that it reports its own peak RSS (VmHWM) when it
# exits: ru_maxrss from wait4 would also count this benchmark process, whose memory (thousands
# of captured messages by then) the child shares between fork and exec.
_NOTIFIER_REPORTING_PEAK_RSS = """
import atexit, os, re, runpy, sys
def report():
    status = open("/proc/self/status").read()
    peak = re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)
    open(os.environ["BENCH_PEAK_RSS_FILE"], "w").write(peak)
atexit.register(report)
sys.argv[0] = "notifier"
runpy.run_module("notifier", run_name="__main__")
"""


def run_once(config: Path, log: Path) -> tuple[float, int, Any, int]:
    """``notifier once``: wall seconds, exit code, the child's rusage and its peak RSS (KiB)."""
    peak_file = log.with_suffix(".peak-rss")
    env = {**child_env(), "BENCH_PEAK_RSS_FILE": str(peak_file)}
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", _NOTIFIER_REPORTING_PEAK_RSS, "once", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=bench.TREE,
            env=env,
        )
        # wait4: the kernel's CPU times of exactly this child.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, process.returncode, usage, int(peak_file.read_text())


def phases(log: Path) -> dict[str, float]:
    """From the JSON log: how long input (first to last queued) and delivery (sent) took."""
    stamps: dict[str, list[float]] = {"notice_queued": [], "notice_sent": []}
    for event in bench.events(log):
        name = event.get("event")
        if name in stamps:
            stamps[str(name)].append(bench.event_time(event))
    found: dict[str, float] = {}
    for name, values in stamps.items():
        if values:
            found[f"{name}_first_to_last_s"] = max(values) - min(values)
    if stamps["notice_queued"] and stamps["notice_sent"]:
        found["first_queued_to_last_sent_s"] = max(stamps["notice_sent"]) - min(
            stamps["notice_queued"]
        )
    return found


def run_pipeline(
    tmp: Path, sink: SmtpTestServer, handler: SinkHandler, count: int, connections: int = 1
) -> tuple[PipelineRun, list[tuple[str, bytes]]]:
    """``notifier once`` over ``count`` rows; the run and the messages the sink received."""
    work = Path(tempfile.mkdtemp(prefix=f"pipeline-{count}-{connections}-", dir=tmp))
    exports = work / "exports"
    exports.mkdir(parents=True)
    empty = work / "empty-exports"
    empty.mkdir()
    write_export(exports / "resolved.csv", count, f"T{count}")
    # Start-up alone: the same command, config and fresh state, on an empty folder.
    startup_wall, _, _, _ = run_once(
        write_config(work / "empty-run", sink, empty), work / "empty.log"
    )
    config = write_config(work, sink, exports, connections)
    handler.reset()
    log = work / "notifier.log"
    sink_cpu_before = bench.cpu_seconds(os.getpid())
    wall, code, usage, peak_rss_kib = run_once(config, log)
    sink_cpu = bench.cpu_seconds(os.getpid()) - sink_cpu_before
    received = handler.reset()
    if not received:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"pipeline of {count} delivered nothing (exit {code})\n{tail}")
    run = PipelineRun(
        count=count,
        connections=connections,
        wall_seconds=wall,
        startup_seconds=startup_wall,
        cpu_user=usage.ru_utime,
        cpu_system=usage.ru_stime,
        peak_rss_kib=peak_rss_kib,
        exit_code=code,
        delivered=len(received),
        distinct_recipients=len({rcpt.lower() for rcpt, _ in received}),
        phases=phases(log),
        sink_cpu=sink_cpu,
    )
    return run, received


# -- raw and naive clients: run as `throughput.py --client MODE`, in a process of their own -----


def send_over_one_session(host: str, port: int, messages: list[tuple[str, bytes]]) -> int:
    sent = 0
    with smtplib.SMTP(host, port, timeout=10) as conn:
        conn.ehlo()
        for rcpt, data in messages:
            # The same three commands notifier's SmtpSession issues per notice.
            conn.mail(FROM_ADDRESS)
            conn.rcpt(rcpt)
            code, _ = conn.data(data)
            sent += code == 250
    return sent


def client_main(mode: str, messages_file: Path, host: str, port: int) -> int:
    """Send every message of ``messages_file``; print {"seconds": ..., "sent": ...} as JSON."""
    # latin-1 maps bytes 0-255 to code points one to one: JSON carries the bytes unchanged.
    stored = json.loads(messages_file.read_text(encoding="utf-8"))
    messages = [(rcpt, text.encode("latin-1")) for rcpt, text in stored]
    sent = 0
    started = time.perf_counter()
    if mode == "raw":
        sent = send_over_one_session(host, port, messages)
    elif mode == "raw2":
        # Two sessions side by side (threads): what the sink takes from two connections.
        halves = [messages[0::2], messages[1::2]]
        with ThreadPoolExecutor(max_workers=2) as pool:
            sent = sum(pool.map(lambda half: send_over_one_session(host, port, half), halves))
    else:
        for rcpt, data in messages:
            with smtplib.SMTP(host, port, timeout=10) as conn:  # connect + EHLO + QUIT each
                refused = conn.sendmail(FROM_ADDRESS, [rcpt], data)
                sent += not refused
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "sent": sent}))
    return 0


def run_client(
    mode: str, messages_file: Path, sink: SmtpTestServer, handler: SinkHandler
) -> dict[str, Any]:
    handler.reset()
    sink_cpu_before = bench.cpu_seconds(os.getpid())
    answer = subprocess.run(
        [sys.executable, __file__, "--client", mode, "--messages", str(messages_file),
         "--host", sink.host, "--port", str(sink.port)],
        capture_output=True, text=True, timeout=540, check=True, env=child_env(),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    result["sink_cpu_seconds"] = bench.cpu_seconds(os.getpid()) - sink_cpu_before
    result["received"] = len(handler.reset())
    result["per_second"] = result["sent"] / result["seconds"]
    return result


# -- where the pipeline's time goes ---------------------------------------------------------------


def profile_pipeline(tmp: Path, sink: SmtpTestServer, count: int) -> dict[str, Any]:
    """One in-process pass over ``count`` rows under cProfile: the top 15 by cumulative time."""
    from notifier.runtime import bootstrap, logs
    from notifier.runtime.config import load_settings

    work = tmp / "profile"
    exports = work / "exports"
    exports.mkdir(parents=True)
    write_export(exports / "resolved.csv", count, "P")
    settings = load_settings(write_config(work, sink, exports))
    with (work / "notifier.log").open("w", encoding="utf-8") as log_stream:
        logs.configure(settings.log.level, settings.log.format, stream=log_stream)
        outbox = bootstrap.open_outbox(settings)
        try:
            service = bootstrap.build_service(settings, outbox)
            service.start()
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            report = service.run_pass()
            profiler.disable()
            seconds = time.perf_counter() - started
        finally:
            outbox.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(15)
    tottime = io.StringIO()
    pstats.Stats(profiler, stream=tottime).sort_stats("tottime").print_stats(15)
    return {
        "count": count,
        "sent": report.sent,
        "seconds_under_profiler": seconds,
        "top15_cumulative": text.getvalue(),
        "top15_tottime": tottime.getvalue(),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=10000, help="resolutions (10000)")
    parser.add_argument("--profile-count", type=int, default=2000, help="rows profiled (2000)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    parser.add_argument(
        "--connections",
        default="1,2,3",
        help="delivery.connections values to run the pipeline with, comma-separated (1,2,3)",
    )
    # Internal: the raw and naive clients run as this script in a process of their own.
    parser.add_argument("--client", choices=("raw", "raw2", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args.client, args.messages, args.host, args.port)

    connection_counts = sorted({int(n) for n in args.connections.split(",")})
    info = bench.machine()
    code = bench.code_version()
    print(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}, "
          f"load {info['loadavg_at_start']}")  # fmt: skip
    handler = SinkHandler()
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp_name:
        tmp = Path(tmp_name)
        sink = SmtpTestServer()
        sink.handler = handler  # read by start(): the controller serves this handler
        sink.start()
        try:
            print(f"pipeline: {SMALL_COUNT} rows (memory reference) ...", flush=True)
            small, _ = run_pipeline(tmp, sink, handler, SMALL_COUNT)
            runs: list[PipelineRun] = []
            captured: list[tuple[str, bytes]] = []
            for connections in connection_counts:
                print(f"pipeline: {args.count} rows, {connections} connection(s) ...", flush=True)
                run, received = run_pipeline(tmp, sink, handler, args.count, connections)
                runs.append(run)
                captured = captured or received
            # The raw and naive clients send the very bytes the pipeline delivered.
            messages_file = tmp / "messages.json"
            stored = [(rcpt, data.decode("latin-1")) for rcpt, data in captured]
            messages_file.write_text(json.dumps(stored), encoding="utf-8")
            print(f"raw: {len(captured)} messages over one session ...", flush=True)
            raw = run_client("raw", messages_file, sink, handler)
            print(f"raw: {len(captured)} messages over two sessions ...", flush=True)
            raw2 = run_client("raw2", messages_file, sink, handler)
            print(f"naive: {len(captured)} messages, one connection each ...", flush=True)
            naive = run_client("naive", messages_file, sink, handler)
            profile = None
            if not args.no_profile:
                print(f"profile: {args.profile_count} rows in process under cProfile ...")
                profile = profile_pipeline(tmp, sink, args.profile_count)
        finally:
            sink.stop()

    print()
    print(f"{'client':<40}{'msgs':>7}{'seconds':>9}{'msgs/s':>9}{'/raw':>7}")
    table: list[tuple[str, int, float, float]] = []
    for run in runs:
        table += [
            (f"pipeline, {run.connections} conn. (notifier once)", run.delivered,
             run.wall_seconds, run.rate),
            (f"pipeline, {run.connections} conn., minus start-up", run.delivered,
             run.wall_seconds - run.startup_seconds, run.rate_after_startup),
        ]  # fmt: skip
    table += [
        ("raw: one reused session", raw["sent"], raw["seconds"], raw["per_second"]),
        ("raw: two sessions side by side", raw2["sent"], raw2["seconds"], raw2["per_second"]),
        ("naive: a connection per message", naive["sent"], naive["seconds"], naive["per_second"]),
    ]
    for name, n, seconds, rate in table:
        print(f"{name:<40}{n:>7}{seconds:>9.2f}{rate:>9.0f}{rate / raw['per_second']:>7.2f}")
    print(f"raw/naive {raw['per_second'] / naive['per_second']:.2f}; "
          f"raw two sessions/one {raw2['per_second'] / raw['per_second']:.2f}")  # fmt: skip
    for run in runs:
        print(f"pipeline, {run.connections} conn.: start-up (empty export) "
              f"{run.startup_seconds:.2f} s; CPU user {run.cpu_user:.2f} s + system "
              f"{run.cpu_system:.2f} s = {(run.cpu_user + run.cpu_system) / run.wall_seconds:.2f} "
              f"cores; exit {run.exit_code}; {run.delivered} delivered to "
              f"{run.distinct_recipients} distinct recipients; phases (log): "
              f"{', '.join(f'{k} {v:.2f}' for k, v in run.phases.items())}")  # fmt: skip
    # Where the 1,000/s goal stands against the machine: the CPU every notice costs, measured.
    cores = info["nproc"] or 1
    print(f"raw loop: the sink uses {1000 * raw['sink_cpu_seconds'] / raw['sent']:.2f} ms CPU "
          f"per message (one session), {1000 * raw2['sink_cpu_seconds'] / raw2['sent']:.2f} ms "
          f"(two sessions)")  # fmt: skip
    for run in runs:
        print(f"CPU per notice, {run.connections} conn.: notifier "
              f"{run.notifier_ms_per_notice:.2f} ms + sink {run.sink_ms_per_notice:.2f} ms = "
              f"{run.notifier_ms_per_notice + run.sink_ms_per_notice:.2f} ms; {cores} cores "
              f"kept busy the whole time would carry at most {run.ceiling(cores):.0f}/s; "
              f"measured {run.rate:.0f}/s = {run.rate / run.ceiling(cores):.0%} of that "
              f"ceiling")  # fmt: skip
    big = runs[0]
    print(f"peak RSS: {small.peak_rss_kib / 1024:.1f} MiB at {small.count} rows, "
          f"{big.peak_rss_kib / 1024:.1f} MiB at {big.count} rows "
          f"(ratio {big.peak_rss_kib / small.peak_rss_kib:.2f} for {big.count / small.count:.0f}x "
          f"the rows)")  # fmt: skip
    if profile is not None:
        print(f"\nin-process pass over {profile['count']} rows under cProfile: "
              f"{profile['seconds_under_profiler']:.2f} s; top 15 by cumulative time:")  # fmt: skip
        print(profile["top15_cumulative"])
    goals = {}
    for run in runs:
        complete = run.delivered == run.count == run.distinct_recipients
        share = run.rate / raw["per_second"]
        goal_share = verdict(share >= GOAL_SHARE_OF_RAW and complete)
        goal_rate = verdict(run.rate >= GOAL_NOTICES_PER_SECOND and complete)
        goals[run.connections] = {"share_of_raw": share, "share_of_raw_verdict": goal_share,
                                  "notices_per_second": run.rate,
                                  "notices_per_second_verdict": goal_rate}  # fmt: skip
        print(f"goal, {run.connections} connection(s): pipeline >= {GOAL_SHARE_OF_RAW:.0%} of "
              f"raw: {goal_share} ({share:.1%}); >= {GOAL_NOTICES_PER_SECOND:,.0f} notices/s on "
              f"{info['nproc']} cores: {goal_rate} ({run.rate:.0f}/s)")  # fmt: skip

    def run_json(run: PipelineRun) -> dict[str, Any]:
        return {
            "count": run.count,
            "connections": run.connections,
            "delivered": run.delivered,
            "distinct_recipients": run.distinct_recipients,
            "exit_code": run.exit_code,
            "wall_seconds": run.wall_seconds,
            "startup_seconds": run.startup_seconds,
            "per_second": run.rate,
            "per_second_after_startup": run.rate_after_startup,
            "cpu_user_seconds": run.cpu_user,
            "cpu_system_seconds": run.cpu_system,
            "peak_rss_kib": run.peak_rss_kib,
            "phases": run.phases,
            "sink_cpu_seconds": run.sink_cpu,
            "cpu_ms_per_notice": {
                "notifier": run.notifier_ms_per_notice,
                "sink": run.sink_ms_per_notice,
            },
            "ceiling_per_second_all_cores_busy": run.ceiling(cores),
        }

    path = bench.write_result(
        "throughput.json",
        {
            "benchmark": "throughput",
            "date": bench.now_utc(),
            "machine": info,
            "code": code,
            "parameters": {
                "count": args.count,
                "connections": connection_counts,
                "rate_limit_per_minute": 1000000,
                "rules_max_age": 0,
                "plain_policy": "warn",
                "distinct_requesters": True,
                "batch_size": 200,
                "max_messages_per_session": 50,
            },
            "pipelines": [run_json(run) for run in runs],
            "pipeline_small": run_json(small),
            "raw": raw,
            "raw_two_sessions": raw2,
            "naive": naive,
            "ratio_raw_over_naive": raw["per_second"] / naive["per_second"],
            "profile": profile,
            "goal": {
                "share_of_raw_min": GOAL_SHARE_OF_RAW,
                "notices_per_second_min": GOAL_NOTICES_PER_SECOND,
                "by_connections": goals,
            },
        },
    )
    print(f"results: {path.relative_to(bench.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
