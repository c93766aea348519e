"""The optional Prometheus endpoint of ``notifier run --metrics 127.0.0.1:9464``.

Metrics live in a registry of their own (not prometheus-client's global one) and are updated by
the daemon's main loop after each pass; the HTTP server thread only reads them. The endpoint
listens on loopback only: put a reverse proxy in front if another host must scrape it.

Exported (``docs/operations.md`` has example alerts):

====================================================  =======  ================================
``notifier_info{version}``                            gauge    always 1
``notifier_passes_total``                             counter  passes run
``notifier_pass_duration_seconds``                    summary  time per pass
``notifier_last_pass_timestamp_seconds``              gauge    end of the last pass (Unix time)
``notifier_source_polls_total{source,result}``        counter  ``ok`` or ``error`` per pass
``notifier_source_up{source}``                        gauge    1 when the last poll reached it
``notifier_source_last_success_timestamp_seconds``    gauge    per ``source``
``notifier_decisions_total{source,team,outcome}``     counter  audit rows (sent, failed, ...)
``notifier_notices{state}``                           gauge    queue depth per state
``notifier_oldest_waiting_notice_age_seconds``        gauge    0 when nothing waits
``notifier_dead_letters_last_24h``                    gauge    notices that failed for good
``notifier_reloads_total{result}``                    counter  ``ok`` or ``rejected``
====================================================  =======  ================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary, start_http_server

from notifier import __version__
from notifier.core.errors import ConfigError
from notifier.core.queue import QueueSnapshot
from notifier.runtime.health import SourceHealth

DEFAULT_PORT = 9464  # when --metrics gives only an address
STATES = ("queued", "sending", "deferred", "sent", "failed", "held", "suppressed", "cancelled")


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:9464``, ``[::1]:9464``, ``localhost:9464`` or a bare port; loopback only."""
    value = text.strip()
    host, port_text = "127.0.0.1", value
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in value:
        host, _, port_text = value.rpartition(":")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"--metrics: {text!r}: the port must be a number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"--metrics: {text!r}: {port} is not a TCP port")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise ConfigError(f"--metrics: {text!r}: {host!r} is not an IP address") from None
    if not loopback:
        raise ConfigError(
            f"--metrics: {text!r}: listen on loopback only (127.0.0.1 or ::1); "
            "put a reverse proxy in front to scrape from elsewhere"
        )
    return host, port


class Metrics:
    """The gauges and counters; :meth:`serve` exposes them over HTTP."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        info = Gauge("notifier_info", "notifier is running", ["version"], registry=r)
        info.labels(version=__version__).set(1)
        self.passes = Counter("notifier_passes", "Passes run", registry=r)
        self.pass_seconds = Summary(
            "notifier_pass_duration_seconds", "Time one pass took", registry=r
        )
        self.last_pass = Gauge(
            "notifier_last_pass_timestamp_seconds", "When the last pass ended", registry=r
        )
        self.polls = Counter(
            "notifier_source_polls", "Source polls by result", ["source", "result"], registry=r
        )
        self.source_up = Gauge(
            "notifier_source_up", "1 when the last poll reached the source", ["source"], registry=r
        )
        self.source_success = Gauge(
            "notifier_source_last_success_timestamp_seconds",
            "When the source was last polled without error",
            ["source"],
            registry=r,
        )
        self.decisions = Counter(
            "notifier_decisions",
            "Audit records since start, by source, team and outcome",
            ["source", "team", "outcome"],
            registry=r,
        )
        self.notices = Gauge("notifier_notices", "Notices per state", ["state"], registry=r)
        self.oldest_waiting = Gauge(
            "notifier_oldest_waiting_notice_age_seconds",
            "Age of the oldest notice not sent yet (0 when none waits)",
            registry=r,
        )
        self.dead_recent = Gauge(
            "notifier_dead_letters_last_24h", "Notices that failed for good in 24 h", registry=r
        )
        self.reloads = Counter("notifier_reloads", "Reloads by result", ["result"], registry=r)
        self._server: Any = None
        self._known_sources: set[str] = set()

    def serve(self, host: str, port: int) -> None:
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"--metrics: cannot listen on {host}:{port}: {exc.strerror}") from exc

    @property
    def port(self) -> int:
        return int(self._server.server_port) if self._server is not None else 0

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def observe_sources(self, sources: Mapping[str, SourceHealth], polled: Sequence[str]) -> None:
        """After a pass: ``polled`` names the sources of the running configuration."""
        for name in set(self._known_sources) - set(polled):  # removed by a reload
            for metric in (self.source_up, self.source_success):
                metric.remove(name)
        self._known_sources = set(polled)
        for name in polled:
            health = sources.get(name, SourceHealth())
            self.polls.labels(source=name, result="error" if health.failing else "ok").inc()
            self.source_up.labels(source=name).set(0 if health.failing else 1)
            if health.last_success_at is not None:
                self.source_success.labels(source=name).set(health.last_success_at.timestamp())

    def observe_pass(
        self,
        duration: float,
        ended: datetime,
        snapshot: QueueSnapshot | None,
        decisions: Mapping[tuple[str, str, str], int],
    ) -> None:
        self.passes.inc()
        self.pass_seconds.observe(duration)
        self.last_pass.set(ended.timestamp())
        for (source, team, outcome), count in decisions.items():
            self.decisions.labels(source=source, team=team, outcome=outcome).inc(count)
        if snapshot is None:
            return
        for state in sorted(set(STATES) | set(snapshot.counts)):
            self.notices.labels(state=state).set(snapshot.counts.get(state, 0))
        oldest = snapshot.oldest_waiting
        self.oldest_waiting.set(
            max((ended - oldest.queued_at).total_seconds(), 0.0) if oldest else 0.0
        )
        self.dead_recent.set(snapshot.dead_letters_recent)

    def observe_reload(self, ok: bool) -> None:
        self.reloads.labels(result="ok" if ok else "rejected").inc()
