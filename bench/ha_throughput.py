"""Throughput of 1, 2 and 4 instances on one PostgreSQL state, beside one on SQLite and beside
the raw SMTP limit, all measured in this one run.

One aiosmtpd sink on 127.0.0.1 (``throughput.SinkHandler``: it only keeps what it received),
one PostgreSQL server from Debian's package (``tests/postgres.py``, **fsync on**, as SQLite's
``synchronous = FULL`` is), and:

1. **sqlite**: one ``notifier run`` on a SQLite state over one CSV export of ``--count``
   resolved tickets;
2. **postgres xN**: N ``notifier run`` daemons sharing one fresh PostgreSQL database and the
   same export folder: one of them reads the export (it holds the source's lease), every one
   claims and sends (``FOR UPDATE SKIP LOCKED``);
3. **raw**: a minimal smtplib loop sending the very bytes delivered, over one session, and
   over two side by side (``throughput.py``'s clients): the most the sink takes.

Each run starts its daemons on an empty export folder, waits until every one of them has
finished its first pass, then drops the export in and measures from that moment until the sink
holds every message (so start-up is not counted; the pipeline's own start-up cost is in
``throughput.py``). The machine's CPU is shared by everything here: the daemons, PostgreSQL and
the sink. The CPU seconds of each (notifier, the server's processes, the sink) during the run
show where the time went, and ``cores / CPU per notice`` the ceiling no arrangement of
instances can beat on this machine at that cost.

Configuration as ``throughput.py``'s (no rate limit, no backfill guard, one requester per row,
``plain.policy = "warn"``), with ``delivery.connections = 2`` per instance (``--connections``).

The profile (a further run of two instances, not counted in the table): py-spy samples each
daemon (``_profile.py``: the Python work by layer, and where the delivery sessions' time goes)
while ``WaitSampler`` reads what the database's sessions are doing.

Goal (issue 21): two instances >= 1,000 notices/s on this 2-core machine, or a profile that
shows where the limit is.

    .venv/bin/python bench/ha_throughput.py [--count 5000] [--instances 1,2,4] [--connections 2]
                                            [--no-profile]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _support as bench
import psycopg
import throughput
from _profile import Profile, Sampler, render, render_sessions, sessions, summarise

from tests.postgres import PostgresServer
from tests.smtp_server import SmtpTestServer
from tests.store_backends import new_database

GOAL_NOTICES_PER_SECOND = 1000.0
GOAL_INSTANCES = 2


def server_cpu(server: PostgresServer) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster and every backend it started."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            if pid == postmaster or int(fields[1]) == postmaster:
                total += bench.cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
    return total


class WaitSampler:
    """What the instances' database sessions are doing, from ``pg_stat_activity`` every 10 ms:
    the database side of the profile (running a statement, waiting for a lock, flushing WAL
    at commit, or waiting for notifier inside or between transactions)."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        self.states: Counter[str] = Counter()
        self._url, self._database = server.url_for("postgres"), database
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> WaitSampler:
        self._thread.start()
        return self

    def stop(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.states

    def _sample(self) -> None:
        with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as db:
            while not self._stop.wait(0.01):
                rows = db.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (self._database,),
                ).fetchall()  # fmt: skip
                for state, kind, event in rows:
                    self.states[self._label(state, kind, event)] += 1

    @staticmethod
    def _label(state: str | None, kind: str | None, event: str | None) -> str:
        if state == "idle":
            return "idle between transactions"
        if state == "idle in transaction":
            return "in a transaction, waiting for notifier's next statement"
        if kind is None:
            return "running a statement"
        if kind == "Lock":
            return "waiting for a row lock (the chain's head)"
        if event in ("WALSync", "WALWrite") or (kind == "LWLock" and event == "WALWrite"):
            return "flushing WAL at commit (fsync)"
        return f"{state}: {kind} {event}"


def instance_config(
    work: Path, name: str, sink: SmtpTestServer, exports: Path, state: str, connections: int
) -> Path:
    config = throughput.write_config(work / name, sink, exports, connections=connections)
    text = config.read_text(encoding="utf-8")
    # Every instance looks for due notices (and the reader for new input) each second.
    text = text.replace("[smtp]", f'{state}\n[run]\npoll_interval = "1s"\n[smtp]', 1)
    config.write_text(text, encoding="utf-8")
    return config


def run_instances(
    work: Path,
    sink: SmtpTestServer,
    handler: throughput.SinkHandler,
    count: int,
    states: list[str],
    server: PostgresServer | None,
    *,
    connections: int,
    profiled: str | None = None,
) -> dict[str, Any]:
    """``len(states)`` daemons, one per ``[state]`` text; how fast they delivered ``count``.
    ``profiled`` (the database's name): py-spy samples every daemon while they deliver
    (``_profile.py``), and ``WaitSampler`` the database's sessions."""
    exports = work / "exports"
    exports.mkdir(parents=True)
    staged = work / "staged.csv"
    throughput.write_export(staged, count, f"T{len(states)}")
    handler.reset()
    processes, logs = [], []
    for n, state in enumerate(states):
        log = work / f"instance-{n}.log"
        processes.append(
            bench.start_notifier(
                instance_config(work, f"i{n}", sink, exports, state, connections), log
            )
        )
        logs.append(log)
    try:
        for process, log in zip(processes, logs, strict=True):
            bench.wait_for(
                lambda log=log: any(e.get("event") == "pass_finished" for e in bench.events(log)),
                120, "the first pass", log, process,
            )  # fmt: skip
        cpu_before = [bench.cpu_seconds(p.pid) for p in processes]
        server_before = server_cpu(server) if server is not None else 0.0
        sink_before = bench.cpu_seconds(os.getpid())
        samplers = [
            Sampler(p.pid, work / f"instance-{n}-{kind}.stacks", wall=kind == "wall").start()
            for n, p in enumerate(processes if profiled else [])
            for kind in ("gil", "wall")
        ]
        waits = WaitSampler(server, profiled).start() if profiled and server else None
        started = time.perf_counter()
        staged.rename(exports / "resolved.csv")
        bench.wait_for(lambda: len(handler.messages) >= count, 600, "every message",
                       logs[0], processes[0])  # fmt: skip
        seconds = time.perf_counter() - started
        stacks = [sampler.stop() for sampler in samplers]
        profile = (
            {"python": summarise(*stacks[::2]), "sessions": sessions(*stacks[1::2]),
             "database": waits.stop() if waits else Counter()}
            if profiled else None
        )  # fmt: skip
        notifier_cpu = sum(
            bench.cpu_seconds(p.pid) - before
            for p, before in zip(processes, cpu_before, strict=True)
        )
        database_cpu = (server_cpu(server) - server_before) if server is not None else 0.0
        sink_cpu = bench.cpu_seconds(os.getpid()) - sink_before
    finally:
        for process in processes:
            bench.stop_notifier(process)
    received = handler.reset()
    sent_by = [sum(e.get("event") == "notice_sent" for e in bench.events(log)) for log in logs]
    cpu = notifier_cpu + database_cpu + sink_cpu
    return {
        "instances": len(states),
        "messages": len(received),
        "distinct_recipients": len({rcpt.lower() for rcpt, _ in received}),
        "seconds": seconds,
        "per_second": len(received) / seconds,
        "sent_by_instance": sent_by,
        "cpu_seconds": {"notifier": notifier_cpu, "postgres": database_cpu, "sink": sink_cpu},
        "cpu_ms_per_notice": 1000 * cpu / max(len(received), 1),
        "ceiling_per_second": (os.cpu_count() or 1) * len(received) / max(cpu, 1e-9),
        "_received": received,
        "_profile": profile,
    }


def profile_json(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    python: Profile = profile["python"]

    def shares(counts: Counter[str], top: int | None = None) -> dict[str, float]:
        total = max(sum(counts.values()), 1)
        return {name: n / total for name, n in counts.most_common(top)}

    return {
        "python_samples": python.samples,
        "python_by_layer": shares(python.by_layer),
        "python_by_function": shares(python.by_function, 25),
        "sessions": shares(profile["sessions"]),
        "database_sessions": shares(profile["database"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=5000, help="resolutions per run (5000)")
    parser.add_argument("--instances", default="1,2,4", help="instance counts (1,2,4)")
    parser.add_argument("--connections", type=int, default=2,
                        help="delivery.connections of each instance (2)")  # fmt: skip
    parser.add_argument(
        "--no-profile", action="store_true",
        help=f"skip the extra run of {GOAL_INSTANCES} instances sampled by py-spy",
    )  # fmt: skip
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.instances.split(",")})
    info = bench.machine()
    code = bench.code_version()
    print(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}, "
          f"load {info['loadavg_at_start']}")  # fmt: skip
    handler = throughput.SinkHandler()
    server = PostgresServer(durable=True).start()
    runs: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-ha-") as tmp_name:
        tmp = Path(tmp_name)
        secret = tmp / "db-password"
        secret.write_text(server.password, encoding="utf-8")
        sink = SmtpTestServer()
        sink.handler = handler
        sink.start()
        try:
            print(f"sqlite: 1 instance, {args.count} rows ...", flush=True)
            runs.append({"backend": "sqlite", **run_instances(
                tmp / "sqlite", sink, handler, args.count, [""], None,
                connections=args.connections)})  # fmt: skip
            sampled_runs = [] if args.no_profile else [GOAL_INSTANCES]
            for n, sampled in [*((n, False) for n in counts), *((n, True) for n in sampled_runs)]:
                url = new_database(server, with_password=False)
                database = url.rsplit("/", 1)[1]
                state = f'url = "{url}"\npassword_file = "{secret}"\ninstance_name = "bench"'
                what = " sampled by py-spy (not counted)" if sampled else ""
                print(f"postgres: {n} instance(s){what}, {args.count} rows ...", flush=True)
                states = [state.replace('"bench"', f'"bench-{k}"') for k in range(n)]
                run = run_instances(
                    tmp / f"postgres-{n}{'-profiled' if sampled else ''}",
                    sink,
                    handler,
                    args.count,
                    states,
                    server,
                    connections=args.connections,
                    profiled=database if sampled else None,
                )
                if sampled:
                    profile = run["_profile"]
                else:
                    runs.append({"backend": "postgres", **run})  # fmt: skip
            captured = runs[0]["_received"]
            messages_file = tmp / "messages.json"
            stored = [(rcpt, data.decode("latin-1")) for rcpt, data in captured]
            messages_file.write_text(json.dumps(stored), encoding="utf-8")
            print(f"raw: {len(captured)} messages over one and two sessions ...", flush=True)
            raw = throughput.run_client("raw", messages_file, sink, handler)
            raw2 = throughput.run_client("raw2", messages_file, sink, handler)
        finally:
            sink.stop()
            server.stop()
    for run in runs:
        del run["_received"], run["_profile"]

    limit = max(raw["per_second"], raw2["per_second"])
    print()
    print(f"{'client':<26}{'msgs':>7}{'seconds':>9}{'msgs/s':>9}{'/raw':>7}"
          f"{'cpu ms/notice':>15}{'  notifier/postgres/sink cpu s':>31}")  # fmt: skip
    for label, result in (("raw, 1 session", raw), ("raw, 2 sessions", raw2)):
        print(f"{label:<26}{result['sent']:>7}{result['seconds']:>9.2f}"
              f"{result['per_second']:>9.0f}{result['per_second'] / limit:>7.2f}")  # fmt: skip
    for run in runs:
        label = f"{run['backend']} x{run['instances']}"
        cpu = run["cpu_seconds"]
        print(f"{label:<26}{run['messages']:>7}{run['seconds']:>9.2f}{run['per_second']:>9.0f}"
              f"{run['per_second'] / limit:>7.2f}{run['cpu_ms_per_notice']:>15.2f}"
              f"{cpu['notifier']:>13.1f}/{cpu['postgres']:.1f}/{cpu['sink']:.1f}")  # fmt: skip
    two = next(
        (r for r in runs if r["backend"] == "postgres" and r["instances"] == GOAL_INSTANCES), None
    )
    ok = two is not None and two["per_second"] >= GOAL_NOTICES_PER_SECOND
    print()
    for run in runs:
        print(f"{run['backend']} x{run['instances']}: sent per instance {run['sent_by_instance']}; "
              f"ceiling at this CPU cost {run['ceiling_per_second']:.0f}/s")  # fmt: skip
    if profile is not None:
        print(f"\nprofile of postgres x{GOAL_INSTANCES} (both instances' samples together):")
        print(render(profile["python"]))
        print(render_sessions(profile["sessions"]))
        database = profile["database"]
        print(f"{sum(database.values())} samples of the database's sessions (pg_stat_activity):")
        for name, n in database.most_common():
            print(f"  {100 * n / max(sum(database.values()), 1):5.1f} %  {name}")
    print(f"goal: {GOAL_INSTANCES} instances >= {GOAL_NOTICES_PER_SECOND:.0f} notices/s on "
          f"PostgreSQL: {'PASS' if ok else 'MISS'}")  # fmt: skip
    result_file = bench.write_result(
        "ha_throughput.json",
        {"date": bench.now_utc(), "machine": info, "code": code, "count": args.count,
         "connections": args.connections,
         "raw": raw, "raw2": raw2, "runs": runs, "profile": profile_json(profile),
         "goal": {"instances": GOAL_INSTANCES, "per_second": GOAL_NOTICES_PER_SECOND,
                  "pass": ok}},
    )  # fmt: skip
    print(f"written: {result_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
