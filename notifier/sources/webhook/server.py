"""The webhook listener: waitress serving the :class:`~receiver.Receiver` under limits.

waitress (Pylons) was chosen over uvicorn, hypercorn and cheroot because it reads each request
whole in one I/O thread before a worker sees it, so a thousand slow clients cost sockets and
small buffers, not threads; it is synchronous WSGI, like the rest of the daemon (no event loop
to run beside it); and it caps the header size, the body size (413), the open connections and
idle time itself. It has no deadline for a whole request, which a client trickling one byte
every few seconds would exploit: :class:`_DeadlineServer` adds one in waitress's own
maintenance pass (the channel's ``request_started``), so header and body together must arrive
within ``request_timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import structlog
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from notifier.core.errors import ConfigError
from notifier.sources.webhook.receiver import Receiver

log = structlog.get_logger("notifier.webhook")

_REASONS = {
    200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    413: "Content Too Large", 503: "Service Unavailable",
}  # fmt: skip


@dataclass(frozen=True)
class ListenLimits:
    """What one client may cost: see docs/webhooks.md, "Limits"."""

    max_clients: int = 1000  # open connections; past it, new ones wait in the backlog
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    idle_timeout: timedelta = timedelta(seconds=10)  # no byte received for this long: closed
    request_timeout: timedelta = timedelta(seconds=30)  # headers and body within this
    threads: int = 4  # requests handled at once (each waits for its commit)


class _Channel(HTTPChannel):
    """A connection that remembers when its request in progress began."""

    request_started: float | None = None

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.time()  # waitress's maintenance clock
        return bool(super().received(data))


class _DeadlineServer(TcpWSGIServer):
    channel_class = _Channel
    request_timeout = 30.0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # type: ignore[arg-type]  # the stubs say int; it is time.time()
        cutoff = now - self.request_timeout
        channels: dict[int, Any] = self.active_channels  # type: ignore[assignment]  # stubs
        for channel in list(channels.values()):
            started = getattr(channel, "request_started", None)
            if channel.request is not None and started is not None and started < cutoff:
                channel.will_close = True  # closed by waitress's loop: no answer is owed


class _WaitressToLog(logging.Handler):
    """waitress's own warnings (the connection limit reached, a socket error) as JSON log
    events like every other line; its "task queue depth" notes are normal under load."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "waitress.queue":
            return
        level = "error" if record.levelno >= logging.ERROR else "warning"
        getattr(log, level)("webhooks_server", message=record.getMessage()[:500])


def _route_waitress_logs() -> None:
    waitress = logging.getLogger("waitress")
    if not any(isinstance(h, _WaitressToLog) for h in waitress.handlers):
        waitress.addHandler(_WaitressToLog(logging.WARNING))
    waitress.propagate = False


class WebhookServer:
    """Serves ``receiver`` on ``host:port`` in a thread of its own; :meth:`use` swaps in the
    receiver of a reloaded configuration; :meth:`close` stops it."""

    def __init__(self, host: str, port: int, receiver: Receiver, limits: ListenLimits) -> None:
        self._receiver = receiver
        self.limits = limits
        _route_waitress_logs()
        adjustments = Adjustments(
            host=host,
            port=port,
            threads=limits.threads,
            connection_limit=limits.max_clients,
            channel_timeout=int(max(1, limits.idle_timeout.total_seconds())),
            cleanup_interval=1,
            max_request_header_size=limits.max_header_bytes,
            max_request_body_size=max(limits.max_body_bytes, receiver.max_body),
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            ident="notifier",
            expose_tracebacks=False,
        )
        try:
            self._server = _DeadlineServer(self._app, adj=adjustments)
        except OSError as exc:
            raise ConfigError(
                f"webhooks.listen: cannot listen on {host}:{port}: {exc.strerror}"
            ) from exc
        self._server.request_timeout = limits.request_timeout.total_seconds()
        bound: Any = self._server  # the stubs lack what waitress sets in __init__
        self.host, self.port = str(bound.effective_host), int(bound.effective_port)
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> WebhookServer:
        self._thread.start()
        log.info("webhooks_listening", host=self.host, port=self.port)
        return self

    def use(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def close(self) -> None:
        """Finish the requests in hand, then close every connection and end the loop.

        The workers stop first (a request being answered still gets its answer); then the
        loop thread itself closes the listening socket, every connection and its own wake-up
        pipe, and ends: closing them from another thread would race its ``poll()``.
        """
        server: Any = self._server  # the stubs lack the attributes waitress sets
        server.task_dispatcher.shutdown(timeout=5)
        if not self._thread.is_alive():
            wasyncore.close_all(server._map)
            return
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            log.error("webhooks_stopped", error="the listener's loop did not end in 10 s")

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception as exc:  # the loop must not die unseen
            log.error("webhooks_stopped", error=f"{type(exc).__name__}: {exc}")

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        answer = self._receiver.answer(
            str(environ.get("REQUEST_METHOD", "")),
            str(environ.get("PATH_INFO", "")),
            headers,
            query,
            body,
            str(environ.get("REMOTE_ADDR", "")),
        )
        payload = answer.encoded()
        start_response(
            f"{answer.status} {_REASONS.get(answer.status, 'Error')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                *answer.headers,
            ],
        )
        return [payload]
