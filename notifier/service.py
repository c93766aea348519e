"""One pass of the pipeline: poll sources -> decide -> enqueue -> deliver due notices.

``notifier once`` runs one pass; the daemon loop (``notifier run``) runs passes until it is told
to stop. Nothing here knows which source a resolution came from or how mail is sent.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import structlog

from notifier.core.clock import CLOCK_TOLERANCE, Clock
from notifier.core.compose import DigestHeld, TeamProfile, compose, compose_digest, profile_for
from notifier.core.errors import (
    FaultStreak,
    NotifierError,
    SendInterrupted,
    StateError,
    TemplateError,
)
from notifier.core.hold import decide_reopen
from notifier.core.model import (
    Checkpoint,
    Ignored,
    InputProblem,
    Notice,
    Reopened,
    Resolution,
    SourceEvent,
    State,
)
from notifier.core.policy import RetryPolicy, after_attempt
from notifier.core.ports import Roles, Sender, SendSession, Source, StateStore
from notifier.core.queue import KnownCopy, QueuedNotice
from notifier.core.render import Renderer
from notifier.core.review import Review
from notifier.core.roles import SoleInstance
from notifier.core.rules import TeamRoute, evaluate, route

log = structlog.get_logger()

# Input is committed in chunks: one transaction per row would make big exports crawl, one per
# file would hold a write lock for minutes. A crash re-reads the unfinished file; keys dedupe.
COMMIT_EVERY = 500


class LeaseTaken(Exception):
    """Another instance took a source's lease while this one read it: the chunk rolls back."""


@dataclass
class PassReport:
    """What one pass did, for the exit status of ``notifier once`` and the pass log line."""

    seen: int = 0
    queued: int = 0
    already_known: int = 0
    held: int = 0
    rejected: int = 0
    ignored: int = 0
    suppressed: int = 0
    cancelled: int = 0
    postponed: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    recovered: int = 0  # claims of an instance that stopped, sent again by this one
    source_errors: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.failed or self.rejected or self.held or self.source_errors)


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    batch_size: int = 200
    rate_limit_per_minute: int = 120
    per_recipient: int = 3  # notices per requester per period; more due at once: a digest
    recipient_period: timedelta = timedelta(hours=1)
    connections: int = 1  # SMTP sessions sending one batch side by side


def _findings_summary(checked: Review) -> str:
    """The audit reason of a notice sent despite findings (policy warn) or after a rewrite."""
    parts = []
    if checked.rewritten:
        parts.append("plain-language gate: rewritten with safe replacements")
    if checked.html_left_out:
        parts.append("HTML part left out: plain text only")
    if checked.findings:
        kinds = sorted({f.kind for f in checked.findings})
        parts.append(f"plain-language findings: {len(checked.findings)} ({', '.join(kinds)})")
    return "; ".join(parts)


def _span(period: timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


# What one message carries: the claimed notices it covers, and the digest when there are several.
Unit = tuple[list[QueuedNotice], Notice | None]


def _keys(batches: list[Unit]) -> list[str]:
    return [item.notice.resolution_key for members, _ in batches for item in members]


class _Run:
    """The messages of a batch to one requester, sent in order over one session."""

    __slots__ = ("units",)

    def __init__(self, unit: Unit) -> None:
        self.units: deque[Unit] = deque([unit])


class _Units:
    """A batch's messages, handed out in order to one or more sending sessions (threads).

    The messages to one requester stay together and go out over one session, one after the
    other: sending over several connections does not reorder them.
    """

    def __init__(self, units: list[Unit], stop: threading.Event | None) -> None:
        self._runs: list[_Run] = []  # consecutive units to the same requester
        for unit in units:
            if self._runs and _requester(self._runs[-1].units[0]) == _requester(unit):
                self._runs[-1].units.append(unit)
            else:
                self._runs.append(_Run(unit))
        self._next_run = 0
        self._stop = stop
        self._abandoned = False
        self._lock = threading.Lock()

    @property
    def runs(self) -> int:
        return len(self._runs)

    def take(self, run: _Run | None) -> tuple[_Run | None, Unit | None]:
        """The next unit of the caller's ``run``, or of the next run when that one is done.

        Returns the run the unit came from, for the caller's next call; (run, None) when there
        is nothing more to send or the sessions are stopping.
        """
        with self._lock:
            if self._abandoned or (self._stop is not None and self._stop.is_set()):
                return run, None
            if run is None or not run.units:
                if self._next_run >= len(self._runs):
                    return run, None
                run = self._runs[self._next_run]
                self._next_run += 1
            return run, run.units.popleft()

    def give_back(self, run: _Run, unit: Unit) -> None:
        """``unit`` of ``run`` was not attempted after all: it counts as untried."""
        with self._lock:
            run.units.appendleft(unit)

    def abandon(self) -> None:
        """No more units for anyone (a session failed in a way the batch cannot survive)."""
        with self._lock:
            self._abandoned = True

    def untried(self) -> list[Unit]:
        """Every unit no session has taken: the runs not started and the rest of those that were."""
        with self._lock:
            return [unit for run in self._runs for unit in run.units]


class _Reopens:
    """The dated reopens one source yielded in this pass, by ticket, so that a resolution read
    after its reopen is judged as if read in order. Bounded: past the cap, no more are kept."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._by_ticket: dict[str, list[Reopened]] = {}
        self._count = 0

    def remember(self, event: Reopened) -> None:
        if event.seen_at is not None and self._count < self.LIMIT:
            self._by_ticket.setdefault(event.ticket_id, []).append(event)
            self._count += 1

    def of(self, ticket_id: str) -> list[Reopened]:
        return self._by_ticket.get(ticket_id, [])


def _requester(unit: Unit) -> str:
    return unit[0][0].notice.to_email.lower()


def _run_lanes(lane: Callable[[], None], lanes: int, work: _Units) -> None:
    """Run ``lane`` once, or in ``lanes`` threads; return when every one has finished."""
    if lanes <= 1:
        lane()
        return
    threads = [threading.Thread(target=lane, name=f"smtp-session-{n}") for n in range(lanes)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        # This thread was interrupted while waiting. The lanes finish and record the message
        # each is sending and take no more; only then may the caller touch the outbox again.
        work.abandon()
        for thread in threads:
            thread.join()
        raise


class Service:
    def __init__(
        self,
        *,
        sources: Sequence[Source],
        outbox: StateStore,
        renderer: Renderer,
        routes: Sequence[TeamRoute],
        teams: Mapping[str, TeamProfile],
        sender: Sender,
        policy: RetryPolicy,
        limits: DeliveryLimits,
        domain: str,
        clock: Clock,
        rng: random.Random | None = None,
        backfill_since: Mapping[str, date] | None = None,
        helpdesks: Mapping[str, str] | None = None,
        same_within: timedelta = timedelta(minutes=2),
        roles: Roles | None = None,
    ) -> None:
        self.sources = list(sources)
        # Among instances sharing a state: which sources this one reads, whether it may send.
        self.roles: Roles = roles or SoleInstance()
        # Sources that read one helpdesk (its mail, its webhooks, its exports): a resolution
        # one of them read is the same as another's of that ticket resolved within
        # ``same_within`` (docs/webhooks.md, "One helpdesk, several sources").
        self.helpdesks = dict(helpdesks or {})
        self.same_within = same_within
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
        # Per source: resolutions since this day (UTC) pass the age check whatever max_age says.
        self.backfill_since = {
            name: datetime.combine(day, time(0), UTC)
            for name, day in (backfill_since or {}).items()
        }
        self._tally = threading.Lock()
        self._compose_faults = FaultStreak("composing notices")

    def start(self) -> int:
        """Recover notices a crash left half-sent; call once before the first pass."""
        return self.outbox.recover_interrupted(self.clock())

    def run_pass(self, stop: threading.Event | None = None) -> PassReport:
        report = PassReport()
        if self.roles.shared:  # an instance that stopped left its claims: any of us sends them
            report.recovered = self.outbox.recover_interrupted(self.clock())
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
            suppressed=report.suppressed,
            cancelled=report.cancelled,
            postponed=report.postponed,
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
            if not self.roles.may_read(source.name):
                continue  # another instance holds its lease
            try:
                self._poll_one(source, report, stop)
                source.committed()
            except LeaseTaken:
                # Not acknowledged at the source: the lease's next holder reads it again.
                log.warning(
                    "source_lease_taken", source=source.name,
                    detail="another instance took this source's lease (notifier reread?) "
                    "while it was read: what was read since the last commit is not kept",
                )  # fmt: skip
            except StateError:
                raise
            except Exception as exc:  # one broken source must not stop the others
                reason = (
                    str(exc) if isinstance(exc, NotifierError) else f"{type(exc).__name__}: {exc}"
                )
                report.source_errors.append(f"{source.name}: {reason}")
                log.error("source_error", source=source.name, error=reason)

    def _poll_one(self, source: Source, report: PassReport, stop: threading.Event | None) -> None:
        self._compose_faults.reset()
        now = self.clock()
        waiting: set[str] = set()
        for name in self._same_helpdesk(source.name):
            waiting |= self.outbox.waiting_tickets(name)
        opened = _Reopens()
        events = source.poll(now)
        while True:
            # The source is read outside the transaction: its network and file waits must not
            # hold the state's write lock, which the webhook receipts wait for. A source that
            # fails part-way loses this chunk, as a rolled-back transaction did: its faults
            # may be notifier's (a run of them stops the pass), and a retry reads it again.
            batch = list(itertools.islice(events, COMMIT_EVERY))
            if batch:
                with self.outbox.transaction():
                    for event in batch:
                        self._handle(event, report, now, waiting, opened)
                    # Last, so the lease stays locked only for the commit: if it was taken
                    # over while this chunk was read, the chunk rolls back, checkpoint and all.
                    if self.roles.shared and not self.outbox.holds_lease(source.name):
                        raise LeaseTaken(source.name)
            if len(batch) < COMMIT_EVERY or (stop is not None and stop.is_set()):
                return
            if not self.roles.may_read(source.name):
                return  # the lease lapsed: the next holder reads on from the checkpoint

    def _handle(
        self,
        event: SourceEvent,
        report: PassReport,
        now: datetime,
        waiting: set[str],
        opened: _Reopens,
    ) -> None:
        if isinstance(event, Resolution):
            report.seen += 1
            self._accept(event, report, now, waiting, opened)
        elif isinstance(event, Reopened):
            opened.remember(event)
            self._reopened(event, report, now, waiting)
        elif isinstance(event, InputProblem):
            report.rejected += 1
            self.outbox.reject(event, now, team=self._team_of(event))
        elif isinstance(event, Ignored):
            report.ignored += 1
            self.outbox.ignore(event, now)
        elif isinstance(event, Checkpoint):
            # Committed with the events before it: progress and outcomes never part.
            self.outbox.save_checkpoint(event, now)

    def _same_helpdesk(self, source: str) -> list[str]:
        """``source`` and the other sources of its helpdesk: a reopen or a newer resolution
        seen by one of them acts on a notice another one queued."""
        helpdesk = self.helpdesks.get(source)
        if not helpdesk:
            return [source]
        return [source, *(s for s, h in self.helpdesks.items() if h == helpdesk and s != source)]

    def _twin(self, resolution: Resolution) -> KnownCopy | None:
        """The same resolution read before by another source of this source's helpdesk: that
        ticket's resolution nearest in time, within ``same_within``; None when there is none."""
        others = self._same_helpdesk(resolution.source)[1:]
        if not others or resolution.resolved_at is None:
            return None
        at = resolution.resolved_at
        # A cancelled notice was a resolution undone by a reopen: a later one is new. Among
        # the rest, the copy naming the same requester, then the nearest in time.
        near = [
            copy
            for copy in self.outbox.known_for_ticket(others, resolution.ticket_id)
            if copy.resolved_at is not None
            and abs(copy.resolved_at - at) <= self.same_within
            and copy.state != State.CANCELLED.value
        ]
        same = resolution.requester_email.lower()
        return min(
            near,
            key=lambda c: (c.requester_email.lower() != same, abs((c.resolved_at or at) - at)),
            default=None,
        )

    def _other_copy(
        self,
        resolution: Resolution,
        copy: KnownCopy,
        report: PassReport,
        now: datetime,
        *,
        twin: bool = False,
    ) -> None:
        """Another copy of a resolution already read (a watcher's and the requester's copy of
        one mail share its key; a helpdesk's webhook and its mail are ``twin``s): the first
        read decides. A twin is recorded; a copy that names someone else is recorded and
        logged, never dropped in silence: a wrong first copy must be seen to be fixed."""
        same_person = resolution.requester_email.lower() == copy.requester_email.lower()
        first = copy.origin or "origin not recorded"
        if twin and same_person:
            apart = abs((resolution.resolved_at or now) - (copy.resolved_at or now))
            reason = (
                f"the same resolution as {copy.key}, read first from source {copy.source} "
                f"({first}), resolved {apart.total_seconds():.0f} s apart: no second notice"
            )
            report.ignored += 1
            self.outbox.ignore(
                Ignored(resolution.source, resolution.origin, reason, resolution.ticket_id), now
            )
            return
        if same_person:
            return
        reason = (
            f"another copy of resolution {copy.key or resolution.key} names "
            f"{resolution.requester_email}; the notice goes to {copy.requester_email}, as the "
            f"copy read first ({first}) says: check which is the requester"
        )
        report.ignored += 1
        self.outbox.ignore(
            Ignored(resolution.source, resolution.origin, reason, resolution.ticket_id), now
        )
        log.warning(
            "copy_conflict",
            resolution_key=copy.key or resolution.key,
            origin=resolution.origin,
            first_origin=copy.origin,
        )

    def _team_of(self, problem: InputProblem) -> str:
        """The team a rejected ticket would have gone to ("" when no ticket could be read):
        `notifier report` counts the people never told for that team."""
        if not problem.ticket_id:
            return ""
        readable = Resolution(
            source=problem.source, ticket_id=problem.ticket_id, requester_email="",
            team_hint=problem.team_hint, fields=problem.fields,
        )  # fmt: skip
        return route(readable, self.routes)

    def _accept(
        self,
        resolution: Resolution,
        report: PassReport,
        now: datetime,
        waiting: set[str],
        opened: _Reopens | None = None,
    ) -> None:
        copy = self.outbox.known(resolution.key)
        if copy is not None:
            report.already_known += 1  # re-reading input is always safe, and cheap
            self._other_copy(resolution, copy, report, now)
            return
        twin = self._twin(resolution)
        if twin is not None:
            report.already_known += 1
            self._other_copy(resolution, twin, report, now, twin=True)
            return
        team_name = route(resolution, self.routes)
        profile = profile_for(team_name, self.teams)
        evaluation = evaluate(
            resolution,
            team_name,
            profile.rules,
            now,
            backfill_since=self.backfill_since.get(resolution.source),
        )
        # Plain dicts, the same keys and order as the Step fields (asdict deep-copies: slower).
        trace = [
            {"rule": step.rule, "verdict": step.verdict, "detail": step.detail}
            for step in evaluation.steps
        ]
        suppressed = evaluation.suppressed_by
        if suppressed is not None:
            self.outbox.add(
                resolution,
                team=team_name,
                state=State.SUPPRESSED,
                reason=f"rule {suppressed.rule}: {suppressed.detail}",
                now=now,
                explain=json.dumps({"rules": trace}),
            )
            report.suppressed += 1
            self._supersede(resolution, report, now, waiting)
            return
        try:
            composed = compose(resolution, profile, self.renderer, domain=self.domain)
        except Exception as exc:
            # A template error, or a fault while checking this ticket's words: this notice is
            # held (`notifier held`, the audit trail), the rest of the input goes on.
            if isinstance(exc, TemplateError):
                reason, explained = f"template error: {exc}", {"template_error": str(exc)}
            else:
                self._compose_faults.record(exc)  # a run of them stops the pass instead
                reason = f"could not be composed ({type(exc).__name__}: {exc})"
                explained = {"compose_error": reason}
                log.error("compose_failed", resolution_key=resolution.key, error=reason)
            self.outbox.add(
                resolution,
                team=team_name,
                state=State.HELD,
                reason=reason,
                now=now,
                explain=json.dumps({"rules": trace, **explained}),
            )
            report.held += 1
            self._supersede(resolution, report, now, waiting)
            waiting.add(resolution.ticket_id)
            self._reopened_before(resolution, team_name, report, now, opened)
            return
        self._compose_faults.reset()
        checked = composed.review
        findings = (
            json.dumps([f.as_dict() for f in checked.findings], ensure_ascii=False)
            if checked.findings
            else ""
        )
        held = bool(checked.hold_reason)
        explain = {
            "rules": trace,
            "plain": {
                "policy": profile.plain_policy,
                "rewritten": checked.rewritten,
                "html_left_out": checked.html_left_out,
                # Of the parts sent: an HTML part left out blocks nothing.
                "blocking": sum(
                    f.severity == "block"
                    for f in checked.findings
                    if not (f.part == "html" and checked.html_left_out)
                ),
                "findings": len(checked.findings),
                "hold_reason": checked.hold_reason,
            },
        }
        self.outbox.add(
            resolution,
            team=team_name,
            state=State.HELD if held else State.QUEUED,
            reason=checked.hold_reason or _findings_summary(checked),
            now=now,
            notice=composed.notice,
            findings=findings,
            due_at=evaluation.due_at,
            explain=json.dumps(explain, ensure_ascii=False),
        )
        if held:
            report.held += 1
        else:
            report.queued += 1
        self._supersede(resolution, report, now, waiting)
        waiting.add(resolution.ticket_id)
        self._reopened_before(resolution, team_name, report, now, opened)

    def _reopened_before(
        self,
        resolution: Resolution,
        team: str,
        report: PassReport,
        now: datetime,
        opened: _Reopens | None,
    ) -> None:
        """A reopen read earlier in this pass (an export listed newest first) but dated inside
        this resolution's hold window cancels its notice, as if read in order. Only with both
        times known: an open row before a resolution of unknown time is a log read in order."""
        if opened is None or resolution.resolved_at is None:
            return
        delay = profile_for(team, self.teams).rules.delay
        for event in opened.of(resolution.ticket_id):
            decision = decide_reopen(resolution.resolved_at, event.seen_at, delay)
            if decision.verdict == "cancel":
                reason = f"{decision.reason} ({event.origin}: {event.status})"
                report.cancelled += len(self.outbox.cancel_notices([resolution.key], now, reason))
                return

    def _supersede(
        self, resolution: Resolution, report: PassReport, now: datetime, waiting: set[str]
    ) -> None:
        """A newer resolution of a ticket replaces its notice still waiting (queued or held),
        whatever becomes of the new one: the requester never hears of an outdated resolution."""
        if resolution.ticket_id not in waiting:
            return
        for name in self._same_helpdesk(resolution.source):
            replaced = self.outbox.cancel_waiting(
                name,
                resolution.ticket_id,
                now,
                f"replaced by a newer resolution of the same ticket ({resolution.key})",
                keep=resolution.key,
                resolved_before=resolution.resolved_at,
            )
            report.cancelled += len(replaced)

    def _reopened(
        self, event: Reopened, report: PassReport, now: datetime, waiting: set[str]
    ) -> None:
        """A ticket is open again: a notice still waiting for it is cancelled if the reopen
        came before the notice was due, by the events' own times (see notifier.core.hold)."""
        # An export row must say when it was open: an older open row read again (a file that
        # grew, an older snapshot) is not a reopen. A reopen notification always is.
        if not (event.announced or event.seen_at is not None):
            return
        notes: list[str] = []
        notices = (
            [
                notice
                for name in self._same_helpdesk(event.source)
                for notice in self.outbox.waiting_notices(name, event.ticket_id)
            ]
            if event.ticket_id in waiting
            else []
        )
        for notice in notices:
            delay = profile_for(notice.team, self.teams).rules.delay
            decision = decide_reopen(notice.resolved_at, event.seen_at, delay)
            if decision.verdict == "cancel":
                reason = f"{decision.reason} ({event.origin}: {event.status})"
                cancelled = self.outbox.cancel_notices([notice.resolution_key], now, reason)
                report.cancelled += len(cancelled)
            elif decision.verdict == "keep" or event.announced:
                notes.append(decision.reason)
        if event.announced and not notices:
            notes.append("no notice was waiting")
        for note in notes:
            report.ignored += 1
            self.outbox.ignore(
                Ignored(event.source, event.origin, f"reopened: {event.status}; {note}"), now
            )

    # -- delivery ----------------------------------------------------------------------------

    def deliver_due(self, report: PassReport, stop: threading.Event | None = None) -> None:
        """Send everything due, within the rate limit; stop between messages when told to."""
        while not (stop is not None and stop.is_set()) and self.roles.may_send():
            now = self.clock()
            budget = self.limits.rate_limit_per_minute - self.outbox.attempts_since(
                now - timedelta(minutes=1), until=now + CLOCK_TOLERANCE
            )
            claimed = self.outbox.claim_due(
                now,
                min(self.limits.batch_size, budget),
                retry_horizon=now + self.policy.maximum + CLOCK_TOLERANCE,
            )
            if not claimed:
                return
            batches = self._per_recipient(claimed, now, report)
            if not self._send_batch(batches, report, stop):
                return

    def _send_batch(
        self, batches: list[Unit], report: PassReport, stop: threading.Event | None
    ) -> bool:
        """Send one claimed batch over up to ``limits.connections`` SMTP sessions at once.

        Each session records a result (committed) before it sends its next message, so a crash
        leaves at most one accepted but unrecorded message per session: the duplicate window.
        What was not attempted (told to stop, or a result could not be stored) is handed back;
        False when told to stop.
        """
        work = _Units(batches, stop)
        failures: list[BaseException] = []

        def lane() -> None:
            try:
                with self.sender.session(stop) as session:
                    run, unit = work.take(None)
                    while unit is not None and run is not None:
                        if not self.roles.may_send():  # its claims go to another instance
                            work.give_back(run, unit)
                            break
                        try:
                            self._attempt(session, *unit, report)
                        except SendInterrupted:  # a stop before it was handed over: untried
                            work.give_back(run, unit)
                            break
                        run, unit = work.take(run)
            except BaseException as exc:  # StateError above all: stop every lane, then raise
                work.abandon()
                failures.append(exc)

        try:
            _run_lanes(lane, min(self.limits.connections, work.runs), work)
        except BaseException:  # interrupted (Ctrl-C in `notifier once`): every lane has stopped
            with contextlib.suppress(StateError):
                self.outbox.unclaim(_keys(work.untried()))
            raise
        untried = work.untried()
        if failures:
            # The failed unit stays 'sending': the daemon recovers it before its next pass.
            with contextlib.suppress(StateError):
                self.outbox.unclaim(_keys(untried))
            raise failures[0]
        if untried:
            self.outbox.unclaim(_keys(untried))
        return not (stop is not None and stop.is_set())

    def _per_recipient(
        self, claimed: list[QueuedNotice], now: datetime, report: PassReport
    ) -> list[Unit]:
        """Apply the per-recipient limit: what goes out now, alone or combined in a digest.

        A requester who already had ``per_recipient`` notices in the period waits for the
        period to make room. When more notices are due for one requester than the room left,
        they go out as one digest ("3 of your requests are done").
        """
        groups: dict[str, list[QueuedNotice]] = {}
        for item in claimed:
            groups.setdefault(item.notice.to_email.lower(), []).append(item)
        period = self.limits.recipient_period
        batches: list[Unit] = []
        sent = self.outbox.sent_to_since_many(  # one query a batch
            list(groups), now - period, until=now + CLOCK_TOLERANCE
        )
        for requester, items in groups.items():
            count, oldest = sent[requester]
            room = self.limits.per_recipient - count
            if room <= 0:
                until = (oldest or now) + period
                self.outbox.postpone(
                    items,
                    until,
                    now,
                    # No address here: reasons are chained into the audit trail for good,
                    # and retention must be able to forget who the requester was.
                    f"per-recipient limit: {count} notice(s) to this requester in the last "
                    f"{_span(period)}; waits until {until:%Y-%m-%d %H:%M} UTC",
                )
                report.postponed += len(items)
            elif len(items) > room and len(items) >= 2:
                digest = self._digest(items)
                if digest is not None:
                    batches.append((items, digest))
                    continue
                # No digest possible: send what the limit allows, the rest waits its turn.
                batches += [([item], None) for item in items[:room]]
                until = (oldest or now) + period
                self.outbox.postpone(
                    items[room:],
                    until,
                    now,
                    f"per-recipient limit: no digest could be made; waits until "
                    f"{until:%Y-%m-%d %H:%M} UTC",
                )
                report.postponed += len(items) - room
            else:
                batches += [([item], None) for item in items]
        return batches

    def _digest(self, items: list[QueuedNotice]) -> Notice | None:
        resolutions = self.outbox.resolutions([item.notice.resolution_key for item in items])
        members = [
            resolutions[i.notice.resolution_key]
            for i in items
            if i.notice.resolution_key in resolutions
        ]
        if len(members) != len(items):
            return None
        profile = profile_for(items[0].notice.team, self.teams)
        try:
            return compose_digest(members, profile, self.renderer, domain=self.domain)
        except TemplateError as exc:
            log.warning("digest_template_error", team=profile.name, error=str(exc))
            return None
        except DigestHeld as exc:
            # The members were each checked (and rewritten) when queued: send those instead.
            log.info("digest_not_plain", team=profile.name, reason=str(exc))
            return None
        except Exception as exc:  # a fault in notifier: the batch is claimed, it must go on
            error = f"{type(exc).__name__}: {exc}"
            log.error("digest_failed", team=profile.name, error=error)
            return None

    def _attempt(
        self,
        session: SendSession,
        members: list[QueuedNotice],
        digest: Notice | None,
        report: PassReport,
    ) -> None:
        """Send one message (a notice, or a digest of several) and record how it went."""
        result = session.send(digest if digest is not None else members[0].notice)
        moment = self.clock()
        # One jitter for the whole message: the members of a digest that must be retried get
        # the same retry time (for the same attempt number) and are due again as one.
        jitter = self.rng.random()
        decisions = [
            (
                item,
                after_attempt(
                    self.policy,
                    result,
                    queued_at=item.queued_at,
                    now=moment,
                    attempt=item.notice.attempt,
                    rng=random.Random(jitter),
                ),
            )
            for item in members
        ]

        def record() -> None:
            for item, decision in decisions:
                self.outbox.record_attempt(item, result, decision, moment, digest=digest)

        # Committed before this session sends again; shared with other sessions' results.
        self.outbox.together(record)
        with self._tally:  # sessions may run in threads of their own
            for _, decision in decisions:
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
            window_start, window_end = now - timedelta(minutes=1), now + CLOCK_TOLERANCE
            recent = self.outbox.attempts_since(window_start, until=window_end)
            if recent >= self.limits.rate_limit_per_minute:
                # Rate-limited: sleep until the oldest attempt in the window leaves it (at most
                # a minute and CLOCK_TOLERANCE: the window is bounded on both sides).
                oldest = self.outbox.oldest_attempt_since(window_start, until=window_end) or now
                wait = max(wait, oldest + timedelta(minutes=1) - now)
        return max(wait, timedelta(milliseconds=50))
