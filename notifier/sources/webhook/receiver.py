"""One webhook request in, one answer out: the check, the size cap, the durable commit.

The answer to an accepted event (200) is given only after the event is committed to the state
store: a crash before that leaves the sender without a 2xx, and its retry is received once. An
event that passes the check but cannot be used (not JSON, no ticket id, a bad address) is
committed all the same, so the source records it as rejected input with its reason, and is
answered 200 with ``"status": "rejected"``: a retry would not make it usable, and the products'
circuit breakers (Zendesk's trips at 70% errors in 5 minutes) must not pause the good events
over one bad one. Refusals (401: unsigned, badly signed, stale) are logged at most once per
interval per path, with the client address and the count, never the body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from notifier.core.clock import Clock
from notifier.core.errors import StateError
from notifier.core.model import InputProblem, Reopened, Resolution
from notifier.core.ports import WebhookInbox
from notifier.sources.webhook.auth import Request, refusal
from notifier.sources.webhook.events import event_id_of, verdict_of
from notifier.sources.webhook.presets.preset import WebhookPreset

log = structlog.get_logger("notifier.webhook")

RETRY_AFTER_SECONDS = 30  # when the state store cannot take the event now
UNKNOWN_PATHS = "(unknown paths)"  # the refusal log's one entry for every path not configured


@dataclass(frozen=True)
class Endpoint:
    """One ``[[webhook]]`` source as the receiver serves it."""

    source: str
    path: str
    preset: WebhookPreset
    secret: bytes
    window: timedelta
    max_body: int


@dataclass(frozen=True)
class Answer:
    status: int
    body: Mapping[str, str]
    headers: tuple[tuple[str, str], ...] = ()

    def encoded(self) -> bytes:
        return json.dumps(dict(self.body)).encode()


@dataclass
class _Refusals:
    """Refusals of one path since the last one logged."""

    logged_at: float = float("-inf")
    count: int = 0
    clients: set[str] = field(default_factory=set)


class RefusalLog:
    """``webhook_refused`` at most once per ``interval`` per path, with how many were not
    logged since and from which clients (the first ten)."""

    def __init__(self, interval: timedelta, monotonic: Callable[[], float] = time.monotonic):
        self.interval = interval.total_seconds()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._paths: dict[str, _Refusals] = {}

    def refused(self, path: str, client: str, status: int, reason: str) -> None:
        now = self._monotonic()
        with self._lock:
            seen = self._paths.setdefault(path, _Refusals())
            if now - seen.logged_at < self.interval:
                seen.count += 1
                if len(seen.clients) < 10:
                    seen.clients.add(client)
                return
            suppressed, others = seen.count, sorted(seen.clients)
            self._paths[path] = _Refusals(logged_at=now)
        log.warning(
            "webhook_refused", path=path, client=client, status=status, reason=reason,
            refused_since_last=suppressed, clients_since_last=others,
        )  # fmt: skip


class Receiver:
    """Answers requests for its endpoints; ``wake`` is called after an event is committed."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        inbox: WebhookInbox,
        *,
        clock: Clock,
        wake: Callable[[], None],
        refusals: RefusalLog,
    ) -> None:
        self._by_path = {endpoint.path: endpoint for endpoint in endpoints}
        self._inbox = inbox
        self._clock = clock
        self._wake = wake
        self.refusals = refusals

    @property
    def max_body(self) -> int:
        return max((e.max_body for e in self._by_path.values()), default=0)

    def answer(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        client: str,
    ) -> Answer:
        endpoint = self._by_path.get(path.rstrip("/") or "/")
        if endpoint is None:
            # One log bucket for every unknown path: a scanner's paths must not grow it.
            self.refusals.refused(UNKNOWN_PATHS, client, 404, f"no webhook source at {path[:80]!r}")
            return Answer(404, {"status": "refused", "reason": "no webhook source at this path"})
        if method != "POST":
            answer = Answer(405, {"status": "refused", "reason": "use POST"}, (("Allow", "POST"),))
            self.refusals.refused(path, client, 405, f"method {method[:10]}")
            return answer
        if len(body) > endpoint.max_body:
            return self._refuse(path, client, 413, f"the body is over {endpoint.max_body:,} bytes")
        now = self._clock()
        why = refusal(
            endpoint.preset.check, endpoint.secret, Request(headers, query, body), now,
            endpoint.window,
        )  # fmt: skip
        if why is not None:
            return self._refuse(path, client, 401, why)
        return self._receive(endpoint, headers, body, now)

    def _refuse(self, path: str, client: str, status: int, reason: str) -> Answer:
        self.refusals.refused(path, client, status, reason)
        return Answer(status, {"status": "refused", "reason": reason})

    def _receive(
        self, endpoint: Endpoint, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Answer:
        event_id = event_id_of(endpoint.preset, headers, body)
        text = body.decode("utf-8", "replace")
        verdict = verdict_of(
            endpoint.preset, text, source=endpoint.source, origin=f"webhook event {event_id}",
            received_at=now,
        )  # fmt: skip
        try:
            new = self._inbox.receive(endpoint.source, event_id, now, text)
        except StateError as exc:
            log.error("webhook_not_committed", source=endpoint.source, error=str(exc))
            return Answer(
                503,
                {"status": "retry", "reason": "the event could not be stored; retry later"},
                (("Retry-After", str(RETRY_AFTER_SECONDS)),),
            )
        if not new:
            log.info("webhook_duplicate", source=endpoint.source, event_id=event_id)
            return Answer(200, {"status": "duplicate", "event_id": event_id})
        self._wake()
        if isinstance(verdict, InputProblem):
            return Answer(
                200, {"status": "rejected", "event_id": event_id, "reason": verdict.reason}
            )
        kind = "resolved" if isinstance(verdict, Resolution) else "update"
        if isinstance(verdict, Reopened) and verdict.announced:
            kind = "reopened"
        return Answer(200, {"status": "accepted", "event_id": event_id, "ticket": kind})
