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
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.errors import StateError
from notifier.store.sqlite.outbox import DATABASE_NAME

STATUS_NAME = "status.json"
STATUS_VERSION = 1
# Notices waiting to go out: new, or deferred for a retry.
WAITING_STATES = ("queued", "deferred", "sending")


def _stamp(moment: datetime | None) -> str | None:
    return to_stamp(moment) if moment is not None else None


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return from_stamp(text)
    except ValueError:
        return None


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
            last_success_at=_moment(data.get("last_success_at")),
            last_error=str(data.get("last_error") or ""),
            last_error_at=_moment(data.get("last_error_at")),
            failing=bool(data.get("failing", False)),
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
            started_at=_moment(data.get("started_at")),
            updated_at=_moment(data.get("updated_at")),
            last_pass_at=_moment(data.get("last_pass_at")),
            last_pass={str(k): int(v) for k, v in (data.get("last_pass") or {}).items()},
            sources={
                str(name): SourceHealth.from_json(value)
                for name, value in sources.items()
                if isinstance(value, Mapping)
            },
            last_reload_at=_moment(data.get("last_reload_at")),
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


@dataclass(frozen=True, slots=True)
class WaitingNotice:
    """The oldest notice that has not gone out yet."""

    resolution_key: str
    ticket_id: str
    source: str
    team: str
    state: str
    queued_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_reply: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    resolution_key: str
    ticket_id: str
    source: str
    team: str
    requester: str
    failed_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    counts: dict[str, int]
    oldest_waiting: WaitingNotice | None
    dead_letters: int
    dead_letters_recent: int  # failed within ``recent`` of ``now``
    latest_dead_letter: DeadLetter | None

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(state, 0) for state in WAITING_STATES)


class StateReader:
    """Read-only questions about the state database, on a connection of its own.

    Opened with ``mode=ro``: it never migrates, never writes, never takes the daemon's lock.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / DATABASE_NAME
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.exists():
                raise StateError(f"{self.path}: no state database here yet (has notifier run?)")
            try:
                self._db = sqlite3.connect(
                    f"file:{pathname2url(str(self.path))}?mode=ro",
                    uri=True,
                    timeout=10,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise StateError(f"{self.path}: cannot open read-only: {exc}") from exc
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> StateReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the state database: {exc}") from exc

    def queue(self, now: datetime, recent: timedelta = timedelta(hours=24)) -> QueueSnapshot:
        counts = {
            str(state): int(count)
            for state, count in self._query(
                "SELECT state, count(*) FROM notices GROUP BY state ORDER BY state"
            )
        }
        rows = self._query(
            "SELECT resolution_key, ticket_id, source, team, state, queued_at, attempts, "
            "next_attempt_at, last_reply FROM notices WHERE state IN (?, ?, ?) "
            "ORDER BY queued_at LIMIT 1",
            WAITING_STATES,
        )
        oldest = None
        if rows:
            key, ticket, source, team, state, queued, attempts, next_at, reply = rows[0]
            oldest = WaitingNotice(
                str(key), str(ticket), str(source), str(team), str(state),
                from_stamp(str(queued)), int(attempts), _moment(next_at), str(reply or ""),
            )  # fmt: skip
        ((recent_count,),) = self._query(
            "SELECT count(*) FROM notices WHERE state = 'failed' AND updated_at >= ?",
            (to_stamp(now - recent),),
        )
        latest = None
        rows = self._query(
            "SELECT resolution_key, ticket_id, source, team, requester_email, updated_at, reason "
            "FROM notices WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 1"
        )
        if rows:
            key, ticket, source, team, requester, updated, reason = rows[0]
            latest = DeadLetter(
                str(key), str(ticket), str(source), str(team), str(requester),
                from_stamp(str(updated)), str(reason or ""),
            )  # fmt: skip
        return QueueSnapshot(
            counts=counts,
            oldest_waiting=oldest,
            dead_letters=counts.get("failed", 0),
            dead_letters_recent=int(recent_count),
            latest_dead_letter=latest,
        )

    def last_audit_id(self) -> int:
        ((last,),) = self._query("SELECT coalesce(max(id), 0) FROM audit")
        return int(last)

    def audit_counts_since(self, after_id: int) -> tuple[dict[tuple[str, str, str], int], int]:
        """Audit rows after ``after_id`` counted per (source, team, outcome); and the new last id."""
        counts: dict[tuple[str, str, str], int] = {}
        last = after_id
        for source, team, outcome, count, top in self._query(
            "SELECT source, team, outcome, count(*), max(id) FROM audit WHERE id > ? "
            "GROUP BY source, team, outcome",
            (after_id,),
        ):
            counts[(str(source), str(team), str(outcome))] = int(count)
            last = max(last, int(top))
        return counts, last


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
