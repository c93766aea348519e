"""Health: what ``notifier status`` shows and the metrics endpoint exports.

Two places hold it:

* the **status file** ``<state.directory>/status.json``, written atomically by the daemon after
  every pass (and on start, reload and stop): per source the last successful poll and the last
  error, the last pass's counts, the last reload. Only the daemon knows these; it keeps them out
  of the database so that reading them never competes with the outbox's write lock.
* the **state database**, read here through a connection of our own opened read-only: queue
  depth per state, the oldest notice still waiting, dead letters, and audit counts per source,
  team and outcome for the metrics.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from notifier.core.clock import stamp_or_none, to_stamp
from notifier.core.queue import QueueSnapshot

STATUS_NAME = "status.json"
STATUS_VERSION = 1


def _stamp(moment: datetime | None) -> str | None:
    return to_stamp(moment) if moment is not None else None


# -- the status file (written by the daemon) -------------------------------------------------------


@dataclass
class SourceHealth:
    """One source as the daemon last saw it."""

    last_success_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    failing: bool = False  # the latest attempt failed (or the source is backing off after one)

    def as_json(self) -> dict[str, Any]:
        return {
            "last_success_at": _stamp(self.last_success_at),
            "last_error": self.last_error,
            "last_error_at": _stamp(self.last_error_at),
            "failing": self.failing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceHealth:
        return cls(
            last_success_at=stamp_or_none(data.get("last_success_at")),
            last_error=str(data.get("last_error") or ""),
            last_error_at=stamp_or_none(data.get("last_error_at")),
            failing=bool(data.get("failing", False)),
        )


@dataclass
class LoginHealth:
    """One OAuth2 token provider (an IMAP, SMTP or API login) as the daemon last saw it."""

    renewals: int = 0
    renewed_at: datetime | None = None
    valid_until: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None

    @property
    def failing(self) -> bool:
        return bool(self.last_error)

    def as_json(self) -> dict[str, Any]:
        return {
            "renewals": self.renewals,
            "renewed_at": _stamp(self.renewed_at),
            "valid_until": _stamp(self.valid_until),
            "last_error": self.last_error,
            "last_error_at": _stamp(self.last_error_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoginHealth:
        return cls(
            renewals=int(data.get("renewals") or 0),
            renewed_at=stamp_or_none(data.get("renewed_at")),
            valid_until=stamp_or_none(data.get("valid_until")),
            last_error=str(data.get("last_error") or ""),
            last_error_at=stamp_or_none(data.get("last_error_at")),
        )


@dataclass
class DaemonStatus:
    """The content of ``status.json``."""

    pid: int = 0
    state: str = "starting"  # starting, running, degraded, stopped
    summary: str = ""  # the same words as systemd's STATUS=
    started_at: datetime | None = None
    updated_at: datetime | None = None
    last_pass_at: datetime | None = None
    last_pass: dict[str, int] = field(default_factory=dict)
    sources: dict[str, SourceHealth] = field(default_factory=dict)
    logins: dict[str, LoginHealth] = field(default_factory=dict)  # OAuth2 token providers
    last_reload_at: datetime | None = None
    last_reload_result: str = ""  # ok, rejected
    last_reload_error: str = ""
    written_by: str = "run"  # or "once": one pass, no daemon

    def as_json(self) -> dict[str, Any]:
        return {
            "version": STATUS_VERSION,
            "pid": self.pid,
            "state": self.state,
            "summary": self.summary,
            "started_at": _stamp(self.started_at),
            "updated_at": _stamp(self.updated_at),
            "last_pass_at": _stamp(self.last_pass_at),
            "last_pass": dict(self.last_pass),
            "sources": {name: health.as_json() for name, health in sorted(self.sources.items())},
            "logins": {name: login.as_json() for name, login in sorted(self.logins.items())},
            "last_reload_at": _stamp(self.last_reload_at),
            "last_reload_result": self.last_reload_result,
            "last_reload_error": self.last_reload_error,
            "written_by": self.written_by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DaemonStatus:
        sources = data.get("sources") or {}
        return cls(
            pid=int(data.get("pid") or 0),
            state=str(data.get("state") or ""),
            summary=str(data.get("summary") or ""),
            started_at=stamp_or_none(data.get("started_at")),
            updated_at=stamp_or_none(data.get("updated_at")),
            last_pass_at=stamp_or_none(data.get("last_pass_at")),
            last_pass={str(k): int(v) for k, v in (data.get("last_pass") or {}).items()},
            sources={
                str(name): SourceHealth.from_json(value)
                for name, value in sources.items()
                if isinstance(value, Mapping)
            },
            logins={
                str(name): LoginHealth.from_json(value)
                for name, value in (data.get("logins") or {}).items()
                if isinstance(value, Mapping)
            },
            last_reload_at=stamp_or_none(data.get("last_reload_at")),
            last_reload_result=str(data.get("last_reload_result") or ""),
            last_reload_error=str(data.get("last_reload_error") or ""),
            written_by=str(data.get("written_by") or "run"),
        )


def read_status(directory: Path) -> DaemonStatus | None:
    """The daemon's last status file, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads((directory / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return DaemonStatus.from_json(data) if isinstance(data, dict) else None


def write_status(directory: Path, status: DaemonStatus) -> None:
    """Replace ``status.json`` atomically: a reader sees the old file or the new one, whole."""
    text = json.dumps(status.as_json(), indent=2, ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).replace(directory / STATUS_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def source_outcome(name: str, source: object, errors: Sequence[str]) -> tuple[str, str]:
    """How ``source`` fared in a pass: ``("ok", "")``, ``("error", reason)`` or ``("backoff", "")``.

    A pass reports a failed source as ``"<name>: <reason>"``. A source backing off after an error
    (an IMAP server that was down) is skipped silently by the pass: it did not reach its server,
    so that pass is no successful poll.
    """
    prefix = f"{name}: "
    for error in errors:
        if error.startswith(prefix):
            return "error", error[len(prefix) :]
    if getattr(source, "retry_at", None) is not None:
        return "backoff", ""
    return "ok", ""


def note_pass(
    known: Mapping[str, SourceHealth],
    sources: Sequence[Any],
    errors: Sequence[str],
    now: datetime,
    *,
    complete: bool,
) -> dict[str, SourceHealth]:
    """Each source's health after a pass (``complete``: it was not cut short by a stop)."""
    health = {source.name: known.get(source.name, SourceHealth()) for source in sources}
    for source in sources:
        entry = health[source.name]
        outcome, reason = source_outcome(source.name, source, errors)
        if outcome == "error":
            entry.last_error, entry.last_error_at, entry.failing = reason, now, True
        elif outcome == "backoff":
            entry.failing = True
        elif complete:  # an interrupted pass may not have reached every source
            entry.last_success_at, entry.failing = now, False
    return health


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the state database, read-only -----------------------------------------------------------------


def snapshot_as_json(snapshot: QueueSnapshot) -> dict[str, Any]:
    def plain(value: object) -> object:
        if value is None:
            return None
        data = asdict(value)  # type: ignore[call-overload]
        return {k: _stamp(v) if isinstance(v, datetime) else v for k, v in data.items()}

    return {
        "counts": snapshot.counts,
        "waiting": snapshot.waiting,
        "oldest_waiting": plain(snapshot.oldest_waiting),
        "dead_letters": snapshot.dead_letters,
        "dead_letters_last_24h": snapshot.dead_letters_recent,
        "latest_dead_letter": plain(snapshot.latest_dead_letter),
    }
