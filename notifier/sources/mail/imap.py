"""The IMAP source: a mailbox folder where resolutions show up as mail.

Two connections per watched folder:

* the **poll connection**, used by :meth:`ImapSource.poll` in every pass: ``UID SEARCH
  last+1:*`` (dropping UIDs <= last, since the server always returns the last one), sizes
  first, then ``BODY.PEEK[]`` in size-bounded chunks so ``\\Seen`` is never touched;
* the **watch connection**, held by :class:`IdleWatcher` in a thread: it sits in IDLE and only
  rings the daemon's doorbell when the server announces new mail. It never reads messages, so
  the safety poll of every pass and IDLE cannot disagree about what was processed.

Progress is a :class:`~notifier.core.model.Checkpoint` ``folder:<name>`` = ``<uidvalidity>:<uid>``
yielded after each message, so it commits in the same transaction as the notice queued for that
message. Each message's Message-ID is remembered too (``msgid:<id>``): when UIDVALIDITY changes
the folder is rescanned and messages already processed are recognised by Message-ID (and their
resolutions by resolution key). After-processing (a keyword or a move) happens only once the
pass has committed, and the local state stays the truth whatever it does.
"""

from __future__ import annotations

import contextlib
import imaplib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from notifier.core.errors import FaultStreak, InputError, SourceError, StateError
from notifier.core.model import Checkpoint, Ignored, InputProblem, Reopened, Resolution, SourceEvent
from notifier.core.ports import SourceState
from notifier.sources.mail.connection import (
    FETCH_BYTES,
    NETWORK_ERRORS,
    ImapOptions,
    connect,
    describe_error,
    not_understood,
)
from notifier.sources.mail.idle import IdleWatcher
from notifier.sources.mail.language import COMMON_LANGUAGES, remembering, with_language
from notifier.sources.mail.noise import address_problem, noise_reason
from notifier.sources.mail.parse import parse_mail
from notifier.sources.mail.rules import Interpreter
from notifier.sources.mail.types import MailLimits, NotAResolution, ParsedMail, TicketFacts

log = structlog.get_logger()


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderPolicy:
    """What to read in a folder and what to do with a message once it was processed."""

    folder: str = "INBOX"
    original_folders: tuple[str, ...] = ()  # also searched for the original request
    backfill_since: date | None = None
    after: Literal["nothing", "flag", "move"] = "nothing"
    flag: str = "$Notified"
    move_to: str | None = None
    fetch_chunk: int = 100
    limits: MailLimits = field(default_factory=MailLimits)
    own_addresses: tuple[str, ...] = ()
    trusted_senders: tuple[str, ...] = ()
    languages: tuple[str, ...] = COMMON_LANGUAGES  # candidates for a text's language


class ImapSource:
    """One watched folder. ``poll`` reads what is new; :class:`IdleWatcher` says when to."""

    def __init__(
        self,
        name: str,
        options: ImapOptions,
        policy: FolderPolicy,
        interpreter: Interpreter,
        state: SourceState,
        *,
        idle: bool = True,
        idle_renew: timedelta = timedelta(minutes=9),
        reconnect_max: timedelta = timedelta(minutes=5),
    ) -> None:
        self.name = name
        self.options = options
        self.policy = policy
        self.interpreter = interpreter
        self.state = state
        self.idle = idle
        self.idle_renew = idle_renew
        self.reconnect_max = reconnect_max
        self.bodies_fetched = 0  # for tests and benchmarks: how many message bodies we read
        self._client: IMAPClient | None = None
        self._failures = 0
        self._retry_at: datetime | None = None
        self._processed: list[tuple[int, int]] = []  # (uidvalidity, uid) awaiting after-action
        self._watcher: IdleWatcher | None = None
        self._faults = FaultStreak(f"{name}: reading mail in {policy.folder!r}")

    @property
    def _mark_key(self) -> str:
        return f"folder:{self.policy.folder}"

    # -- the pass ----------------------------------------------------------------------------

    def poll(self, now: datetime) -> Iterator[SourceEvent]:
        if self._retry_at is not None and now < self._retry_at:
            return  # backing off after an error; the error was logged when it happened
        self._faults.reset()
        try:
            client = self._connection()
            yield from self._read_new(client, now)
        except NETWORK_ERRORS as exc:
            raise self._broken(now, describe_error(exc)) from exc
        except SourceError:
            self._failures += 1
            self._retry_at = now + min(timedelta(seconds=2**self._failures), self.reconnect_max)
            raise
        except StateError:
            raise
        except Exception as exc:  # a garbled answer: the server's fault, handled as one
            raise self._broken(now, not_understood(exc)) from exc
        self._failures = 0
        self._retry_at = None

    def _broken(self, now: datetime, what: str) -> SourceError:
        """The connection failed or made no sense: drop it and back off before the next try."""
        self._drop_connection()
        self._failures += 1
        delay = min(timedelta(seconds=2**self._failures), self.reconnect_max)
        self._retry_at = now + delay
        return SourceError(
            f"IMAP {self.options.server} folder {self.policy.folder!r}: {what}; "
            f"retrying in {delay.total_seconds():.0f} s"
        )

    def committed(self) -> None:
        """Called once everything this pass yielded is committed: do the after-action now."""
        if not self._processed or self.policy.after == "nothing" or self._client is None:
            self._processed.clear()
            return
        # Only UIDs of the folder's current UIDVALIDITY: older ones may name other messages now.
        current = self._processed[-1][0]
        uids = [uid for validity, uid in self._processed if validity == current]
        self._processed.clear()
        try:
            self._after_action(self._client, uids)
        except StateError:
            raise
        except Exception as exc:  # a network error or a garbled answer
            # The local state is the truth: a failed flag or move loses nothing.
            log.warning("imap_after_action_failed", source=self.name, error=describe_error(exc))
            self._drop_connection()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self._drop_connection()

    def watch(self, wake: threading.Event) -> None:
        """Start the IDLE watcher thread (when configured) that sets ``wake`` on new mail."""
        if self.idle and self._watcher is None:
            self._watcher = IdleWatcher(self, wake)
            self._watcher.start()

    def connection_restored(self) -> None:
        """The watcher reached the server again: stop backing off, the next pass may connect."""
        self._retry_at = None

    @property
    def retry_at(self) -> datetime | None:
        """While backing off after an error, when the next poll will really try (health uses it:
        a pass that skipped this source did not reach the server)."""
        return self._retry_at

    def _connection(self) -> IMAPClient:
        if self._client is not None:
            try:
                self._client.noop()  # a server restart leaves a dead connection behind
            except NETWORK_ERRORS:
                self._drop_connection()
        if self._client is None:
            self._client = connect(self.options)
            log.info("imap_connected", source=self.name, server=self.options.server)
        return self._client

    def _drop_connection(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _read_new(self, client: IMAPClient, now: datetime) -> Iterator[SourceEvent]:
        folder = self.policy.folder
        info = client.select_folder(folder, readonly=self.policy.after == "nothing")
        uidvalidity = int(info[b"UIDVALIDITY"])
        mark = self.state.checkpoint(self.name, self._mark_key)
        rescan = False
        if mark is None:
            if self.policy.backfill_since is None:
                last = _last_uid(client, info)
                log.info("imap_first_start", source=self.name, folder=folder, from_uid=last + 1)
                yield Checkpoint(self.name, self._mark_key, f"{uidvalidity}:{last}")
                return
            uids = client.search(["SINCE", self.policy.backfill_since])
        else:
            known_validity, _, last_text = mark.partition(":")
            last = int(last_text)
            if int(known_validity) != uidvalidity:
                log.warning(
                    "imap_uidvalidity_changed",
                    source=self.name,
                    folder=folder,
                    old=int(known_validity),
                    new=uidvalidity,
                )
                rescan = True
                criteria: list[Any] = ["ALL"]
                if self.policy.backfill_since is not None:
                    criteria = ["SINCE", self.policy.backfill_since]
                uids = client.search(criteria)
            else:
                uids = [uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last]
        for chunk in _chunks(sorted(uids), self.policy.fetch_chunk):
            yield from self._read_chunk(client, chunk, uidvalidity, rescan=rescan)

    def _read_chunk(
        self, client: IMAPClient, chunk: Sequence[int], uidvalidity: int, *, rescan: bool
    ) -> Iterator[SourceEvent]:
        items: list[Any] = [b"RFC822.SIZE"]
        if rescan:
            items.append(b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        meta = client.fetch(chunk, items)
        wanted: list[tuple[int, int]] = []
        skipped: dict[int, SourceEvent | None] = {}
        for uid in chunk:
            data = meta.get(uid, {})
            size = int(data.get(b"RFC822.SIZE", 0))
            origin = f"{self.policy.folder} uid {uid}"
            if rescan and self._already_processed(data):
                skipped[uid] = None
            elif size > self.policy.limits.max_bytes:
                skipped[uid] = InputProblem(
                    self.name,
                    origin,
                    f"message is {size / 1048576:.1f} MB, over the "
                    f"{self.policy.limits.max_bytes / 1048576:.1f} MB limit; not fetched",
                )
            else:
                wanted.append((uid, size))
        # Events go out in UID order, so the progress mark only ever moves forward.
        groups = iter(_size_groups(wanted, FETCH_BYTES))
        bodies: dict[int, Any] = {}
        for uid in chunk:
            origin = f"{self.policy.folder} uid {uid}"
            if uid in skipped:
                event = skipped[uid]
                if event is not None:
                    yield event
                yield self._progress(uidvalidity, uid)
                continue
            if uid not in bodies:  # the next size group starts with this UID
                group = next(groups, None)
                if group is not None:
                    bodies.update(client.fetch(group, [b"BODY.PEEK[]"]))
            raw = bodies.pop(uid, {}).get(b"BODY[]")
            self.bodies_fetched += 1
            if raw is None:
                yield InputProblem(self.name, origin, "the server returned no body")
            else:
                yield from self._handle(client, raw, origin)
            yield self._progress(uidvalidity, uid)

    def _progress(self, uidvalidity: int, uid: int) -> Checkpoint:
        self._processed.append((uidvalidity, uid))
        return Checkpoint(self.name, self._mark_key, f"{uidvalidity}:{uid}")

    def _already_processed(self, data: dict[bytes, Any]) -> bool:
        header = b""
        for key, value in data.items():
            if key.startswith(b"BODY[HEADER.FIELDS") and isinstance(value, bytes):
                header = value
        message_id = _message_id_from_header(header)
        return (
            bool(message_id) and self.state.checkpoint(self.name, f"msgid:{message_id}") is not None
        )

    def _handle(self, client: IMAPClient, raw: bytes, origin: str) -> Iterator[SourceEvent]:
        """One message to events. Bad mail is recorded with its UID; it never stops the pass."""
        try:
            mail = parse_mail(raw, origin=origin, limits=self.policy.limits)
        except InputError as exc:
            yield InputProblem(self.name, origin, exc.reason)
            return
        if mail.message_id:
            yield Checkpoint(self.name, f"msgid:{mail.message_id}", origin)
        find = remembering(self._finder(client))

        def read() -> str | TicketFacts | NotAResolution:
            """Why this mail is noise, or what it says about a ticket."""
            noise = noise_reason(
                mail,
                own_addresses=self.policy.own_addresses,
                trusted_senders=self.policy.trusted_senders,
            )
            return noise if noise is not None else self.interpreter.interpret(mail, find)

        try:
            verdict = read()
        except InputError as exc:
            # "invalid address in To" says more than "no requester address" that follows it.
            broken = address_problem(mail)
            yield InputProblem(
                self.name, origin, f"{broken}: {exc.reason}" if broken else exc.reason,
                ticket_id=exc.ticket_id, team_hint=exc.team_hint,
                fields={"folder": self.policy.folder, "subject": mail.subject, **exc.fields},
            )  # fmt: skip
            return
        except (SourceError, IMAPClientError, imaplib.IMAP4.error, OSError):
            raise  # the server or the connection failed looking up the thread: retried
        except Exception as exc:
            # A fault in reading this mail must not stop the folder at it, pass after pass;
            # a run of them is notifier's fault, and stops the pass instead.
            self._faults.record(exc)
            problem = f"could not be interpreted ({type(exc).__name__}: {exc})"
            yield InputProblem(self.name, origin, problem)
            return
        self._faults.reset()
        if isinstance(verdict, str):
            yield Ignored(self.name, origin, verdict)
            return
        if isinstance(verdict, NotAResolution) and verdict.kind == "reopened" and verdict.ticket_id:
            yield Reopened(
                self.name, verdict.ticket_id, origin, verdict.reason, announced=True,
                seen_at=verdict.at or mail.date,
            )  # fmt: skip
            return
        if isinstance(verdict, NotAResolution):
            reason = f"{verdict.kind}: {verdict.reason}"
            yield Ignored(self.name, origin, reason, verdict.ticket_id)
            return
        verdict = with_language(verdict, mail, find, self.policy.languages)
        fields = {"folder": self.policy.folder, "subject": mail.subject, **verdict.fields}
        try:
            yield Resolution(
                source=self.name,
                ticket_id=verdict.ticket_id,
                requester_email=verdict.requester_email,
                requester_name=verdict.requester_name,
                title=verdict.title,
                status=verdict.status,
                resolved_at=verdict.resolved_at or mail.date,
                team_hint=verdict.team,
                resolution_note=verdict.resolution_note,
                language=verdict.language,
                original_message_id=verdict.original_message_id,
                origin=origin,
                fields=fields,
            )
        except ValueError as exc:
            yield InputProblem(self.name, origin, str(exc))

    def _finder(self, client: IMAPClient) -> Callable[[str], ParsedMail | None]:
        """Look up an earlier message by Message-ID: the watched folder, then the others."""

        def find(message_id: str) -> ParsedMail | None:
            if not message_id or any(c in message_id for c in '"\\\r\n'):
                return None
            folders = [self.policy.folder, *self.policy.original_folders]
            found: ParsedMail | None = None
            for folder in folders:
                if folder != self.policy.folder:
                    client.select_folder(folder, readonly=True)
                try:
                    uids = client.search(["HEADER", "Message-ID", message_id])
                    raw = None
                    if uids:
                        raw = self._original_body(client, folder, uids[0])
                        if raw is not None:
                            with contextlib.suppress(InputError):
                                found = parse_mail(
                                    raw, origin=f"{folder} uid {uids[0]}", limits=self.policy.limits
                                )
                except (IMAPClientError, imaplib.IMAP4.error, OSError):
                    raise
                except Exception as exc:  # an odd answer from the server: not this mail's fault
                    raise SourceError(
                        f"{self.name}: looking up {message_id} in {folder}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                finally:
                    # The rest of the pass reads the watched folder: back to it, whatever happened.
                    if folder != self.policy.folder:
                        client.select_folder(
                            self.policy.folder, readonly=self.policy.after == "nothing"
                        )
                if found is not None:
                    return found
            return None

        return find

    def _original_body(self, client: IMAPClient, folder: str, uid: int) -> bytes | None:
        """The original request's body, unless it is over the message size cap.

        The size is asked first (as for the watched folder), so a huge original is never
        read into memory; the resolution then goes on as if the original were not found."""
        size = int(client.fetch([uid], [b"RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE", 0))
        if size > self.policy.limits.max_bytes:
            log.warning(
                "imap_original_too_large",
                source=self.name,
                folder=folder,
                uid=uid,
                size=size,
                limit=self.policy.limits.max_bytes,
            )
            return None
        raw = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        return raw if isinstance(raw, bytes) else None

    def _after_action(self, client: IMAPClient, uids: list[int]) -> None:
        info = client.select_folder(self.policy.folder, readonly=False)
        if self.policy.after == "flag":
            permanent = info.get(b"PERMANENTFLAGS", ())
            flag = self.policy.flag.encode()
            if b"\\*" in permanent or flag in permanent:
                client.add_flags(uids, [flag], silent=True)
            else:
                log.warning(
                    "imap_flag_not_allowed", source=self.name, flag=self.policy.flag,
                    permanent_flags=[f.decode() for f in permanent],
                )  # fmt: skip
        elif self.policy.after == "move" and self.policy.move_to:
            if not client.folder_exists(self.policy.move_to):
                client.create_folder(self.policy.move_to)
            if client.has_capability("MOVE"):
                client.move(uids, self.policy.move_to)
            else:
                client.copy(uids, self.policy.move_to)
                client.delete_messages(uids, silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)


def _last_uid(client: IMAPClient, info: dict[bytes, Any]) -> int:
    uidnext = info.get(b"UIDNEXT")
    if uidnext:
        return int(uidnext) - 1
    uids = client.search(["ALL"])
    return max(uids) if uids else 0


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _size_groups(items: Sequence[tuple[int, int]], budget: int) -> Iterator[list[int]]:
    group: list[int] = []
    total = 0
    for uid, size in items:
        if group and total + size > budget:
            yield group
            group, total = [], 0
        group.append(uid)
        total += size
    if group:
        yield group


def _message_id_from_header(header: bytes) -> str:
    text = header.decode("ascii", "replace")
    _, _, value = text.partition(":")
    value = " ".join(value.split())
    start, end = value.find("<"), value.find(">")
    return value[start : end + 1] if 0 <= start < end else ""
