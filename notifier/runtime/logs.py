"""structlog set-up: JSON lines on stdout for journald, readable lines on a terminal.

When stdout is the journal, each line starts with its level's syslog priority (``<4>`` for a
warning): journald takes it as the entry's PRIORITY (``SyslogLevelPrefix=``, on by default) and
strips it, so ``journalctl -p warning`` shows exactly the warnings and errors. Anywhere else the
line is left as it is, so piping it to ``jq`` keeps working.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from notifier.core.printable import json_text, printable_block
from notifier.store import mirror

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# syslog(3) priorities, the numbers journald reads from a "<N>" line prefix.
_SYSLOG_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
# Belt and braces: no code path logs a secret, and this processor blanks one if a future one does.
_SECRET_WORDS = ("password", "token", "secret", "credential")


@functools.lru_cache(maxsize=512)
def _is_secret_name(key: str) -> bool:
    # Event keys are a small fixed set: decided once per name, not once per log line.
    return any(word in key.lower() for word in _SECRET_WORDS)


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _is_secret_name(key):
            event[key] = "[redacted]"
    return event


# A logger bound to the configuration configure() set last: structlog's lazy proxy (what
# get_logger() returns) builds a new bound logger for every event, a third of what an event costs.
def _console_renderer() -> structlog.typing.Processor:
    """Readable lines for a terminal: values quoted (``repr``), and the whole line made
    printable, so ticket data in a field can neither forge a line nor drive the terminal."""
    console = structlog.dev.ConsoleRenderer(colors=False, repr_native_str=True)

    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        return printable_block(str(console(logger, name, event)))

    return render


def _is_journal(stream: TextIO) -> bool:
    """Whether ``stream`` is the journal stream systemd connected ($JOURNAL_STREAM, "dev:ino").

    Compared with the file itself, not merely present: a child process or an operator's
    redirect inherits the variable, but not the file it names.
    """
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        stat = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no descriptor (StringIO), or closed
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


def _with_priority(renderer: structlog.typing.Processor) -> structlog.typing.Processor:
    """The renderer's text, each line prefixed with the event's syslog priority for journald
    (journald makes one entry per line: a console traceback stays at the event's priority)."""

    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        prefix = f"<{_SYSLOG_PRIORITIES.get(str(event.get('level', name)), 6)}>"
        text = str(renderer(logger, name, event))  # both renderers here return str
        return "\n".join(prefix + line for line in text.split("\n"))

    return render


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog once per process; ``fmt`` is auto, json or console."""
    output = stream or sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not output.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=json_text) if use_json else _console_renderer()
    )
    if _is_journal(output):
        renderer = _with_priority(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(output),
        cache_logger_on_first_use=False,
    )
    mirror.use_logger(structlog.get_logger().bind())
