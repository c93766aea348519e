"""One pass of the pipeline: poll sources -> decide -> enqueue -> deliver due notices.

``notifier once`` runs one pass; the daemon loop (``notifier run``) runs passes until it is told
to stop. Nothing here knows which source a resolution came from or how mail is sent.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from notifier.clock import Clock
from notifier.compose import TeamProfile, compose, profile_for
from notifier.errors import NotifierError, StateError, TemplateError
from notifier.model import Checkpoint, Ignored, InputProblem, Resolution, State
from notifier.outbox import Outbox, QueuedNotice
from notifier.policy import RetryPolicy, after_attempt
from notifier.ports import Sender, SendSession, Source
from notifier.render import Renderer
from notifier.review import Review
from notifier.rules import TeamRoute, route

log = structlog.get_logger()

# Input is committed in chunks: one transaction per row would make big exports crawl, one per
# file would hold a write lock for minutes. A crash re-reads the unfinished file; keys dedupe.
COMMIT_EVERY = 500


@dataclass
class PassReport:
    """What one pass did, for the exit status of ``notifier once`` and the pass log line."""

    seen: int = 0
    queued: int = 0
    already_known: int = 0
    held: int = 0
    rejected: int = 0
    ignored: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    source_errors: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.failed or self.rejected or self.held or self.source_errors)


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    batch_size: int = 200
    rate_limit_per_minute: int = 120


def _findings_summary(checked: Review) -> str:
    """The audit reason of a notice sent despite findings (policy warn) or after a rewrite."""
    parts = []
    if checked.rewritten:
        parts.append("plain-language gate: rewritten with safe replacements")
    if checked.findings:
        kinds = sorted({f.kind for f in checked.findings})
        parts.append(f"plain-language findings: {len(checked.findings)} ({', '.join(kinds)})")
    return "; ".join(parts)


class Service:
    def __init__(
        self,
        *,
        sources: Sequence[Source],
        outbox: Outbox,
        renderer: Renderer,
        routes: Sequence[TeamRoute],
        teams: Mapping[str, TeamProfile],
        sender: Sender,
        policy: RetryPolicy,
        limits: DeliveryLimits,
        domain: str,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.sources = list(sources)
        self.outbox = outbox
        self.renderer = renderer
        self.routes = list(routes)
        self.teams = dict(teams)
        self.sender = sender
        self.policy = policy
        self.limits = limits
        self.domain = domain
        self.clock = clock
        self.rng = rng or random.Random()  # jitter, not security

    def start(self) -> int:
        """Recover notices a crash left half-sent; call once before the first pass."""
        return self.outbox.recover_interrupted(self.clock())

    def run_pass(self, stop: threading.Event | None = None) -> PassReport:
        report = PassReport()
        self.poll_sources(report, stop)
        self.deliver_due(report, stop)
        log.info(
            "pass_finished",
            seen=report.seen,
            queued=report.queued,
            already_known=report.already_known,
            held=report.held,
            rejected=report.rejected,
            ignored=report.ignored,
            sent=report.sent,
            deferred=report.deferred,
            failed=report.failed,
            source_errors=len(report.source_errors),
        )
        return report

    # -- input -------------------------------------------------------------------------------

    def poll_sources(self, report: PassReport, stop: threading.Event | None = None) -> None:
        for source in self.sources:
            if stop is not None and stop.is_set():
                return
            try:
                self._poll_one(source, report, stop)
                source.committed()
            except StateError:
                raise
            except Exception as exc:  # one broken source must not stop the others
                reason = (
                    str(exc) if isinstance(exc, NotifierError) else f"{type(exc).__name__}: {exc}"
                )
                report.source_errors.append(f"{source.name}: {reason}")
                log.error("source_error", source=source.name, error=reason)

    def _poll_one(self, source: Source, report: PassReport, stop: threading.Event | None) -> None:
        pending = 0
        now = self.clock()
        events = source.poll(now)
        while True:
            with self.outbox.transaction():
                for event in events:
                    if isinstance(event, Resolution):
                        report.seen += 1
                        self._accept(event, report, now)
                    elif isinstance(event, InputProblem):
                        report.rejected += 1
                        self.outbox.reject(event, now)
                    elif isinstance(event, Ignored):
                        report.ignored += 1
                        self.outbox.ignore(event, now)
                    elif isinstance(event, Checkpoint):
                        # Committed with the events before it: progress and outcomes never part.
                        self.outbox.save_checkpoint(event, now)
                    pending += 1
                    if pending >= COMMIT_EVERY:
                        break
                else:
                    return
            pending = 0
            if stop is not None and stop.is_set():
                return

    def _accept(self, resolution: Resolution, report: PassReport, now: datetime) -> None:
        team_name = route(resolution, self.routes)
        profile = profile_for(team_name, self.teams)
        try:
            composed = compose(resolution, profile, self.renderer, domain=self.domain)
        except TemplateError as exc:
            if self.outbox.add(
                resolution,
                team=team_name,
                state=State.HELD,
                reason=f"template error: {exc}",
                now=now,
            ):
                report.held += 1
            else:
                report.already_known += 1
            return
        checked = composed.review
        findings = (
            json.dumps([f.as_dict() for f in checked.findings], ensure_ascii=False)
            if checked.findings
            else ""
        )
        held = bool(checked.hold_reason)
        reason = checked.hold_reason or _findings_summary(checked)
        if self.outbox.add(
            resolution,
            team=team_name,
            state=State.HELD if held else State.QUEUED,
            reason=reason,
            now=now,
            notice=composed.notice,
            findings=findings,
        ):
            if held:
                report.held += 1
            else:
                report.queued += 1
        else:
            report.already_known += 1

    # -- delivery ----------------------------------------------------------------------------

    def deliver_due(self, report: PassReport, stop: threading.Event | None = None) -> None:
        """Send everything due, within the rate limit; stop between messages when told to."""
        while not (stop is not None and stop.is_set()):
            now = self.clock()
            budget = self.limits.rate_limit_per_minute - self.outbox.attempts_since(
                now - timedelta(minutes=1)
            )
            claimed = self.outbox.claim_due(now, min(self.limits.batch_size, budget))
            if not claimed:
                return
            with self.sender.session() as session:
                for index, item in enumerate(claimed):
                    if stop is not None and stop.is_set():
                        self.outbox.unclaim([c.notice.resolution_key for c in claimed[index:]])
                        return
                    try:
                        self._attempt(session, item, report)
                    except StateError:
                        # The result could not be stored. Hand back what was not attempted;
                        # the daemon recovers the 'sending' row before its next pass.
                        with contextlib.suppress(StateError):
                            self.outbox.unclaim(
                                [c.notice.resolution_key for c in claimed[index + 1 :]]
                            )
                        raise

    def _attempt(self, session: SendSession, item: QueuedNotice, report: PassReport) -> None:
        """Send one claimed notice and record how it went."""
        result = session.send(item.notice)
        moment = self.clock()
        decision = after_attempt(
            self.policy,
            result,
            queued_at=item.queued_at,
            now=moment,
            attempt=item.notice.attempt,
            rng=self.rng,
        )
        self.outbox.record_attempt(item, result, decision, moment)
        if decision.state is State.SENT:
            report.sent += 1
        elif decision.state is State.DEFERRED:
            report.deferred += 1
        else:
            report.failed += 1

    def next_wake(self, poll_interval: timedelta) -> timedelta:
        """How long the daemon may sleep: until the next poll or the next due notice."""
        now = self.clock()
        due = self.outbox.next_due_at()
        wait = poll_interval
        if due is not None:
            wait = min(wait, max(due - now, timedelta(0)))
            window_start = now - timedelta(minutes=1)
            if self.outbox.attempts_since(window_start) >= self.limits.rate_limit_per_minute:
                # Rate-limited: sleep until the oldest attempt in the window leaves it.
                oldest = self.outbox.oldest_attempt_since(window_start) or now
                wait = max(wait, oldest + timedelta(minutes=1) - now)
        return max(wait, timedelta(milliseconds=50))
