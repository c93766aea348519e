"""``notifier reread SOURCE [--since TIME]``: have a source read its input again on the next pass.

After an upgrade or a configuration fix, input that was read (and perhaps rejected) can be run
through again. Re-reading is safe: every resolution has a key and the outbox keeps one notice
per key, so what was already seen is counted as ``already_known`` and not sent twice.

The command changes the state database, so it takes the state directory's lock (see
:class:`notifier.store.sqlite.lock.StateLock`): it changes nothing while ``notifier run`` or ``once``
holds it, and a daemon starting meanwhile is refused until this command ends. On a state
several instances share (PostgreSQL) the instances keep running: the command takes the
source's lease from the one reading it for its duration (``bootstrap.source_taken_over``),
so what that instance was reading meanwhile is not kept and cannot undo the change.

- An export source: the checkpoints of its files are dropped (of the files whose version that
  was read was modified at or after TIME, or of all), and so is the memory of their reported
  problems: the next pass reads those files from the start and records their problems again.
- An IMAP source: its folder's UID mark is set back to just before the first message the
  server dates on or after TIME's day (IMAP ``SEARCH SINCE``), or before the first message of
  the folder. Messages moved out of the folder (``after = "move"``) are not there to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from notifier.core.errors import NotifierError, StateError
from notifier.core.model import Checkpoint
from notifier.core.ports import StateStore
from notifier.core.printable import printable, say
from notifier.runtime.config import ImapSettings, Settings
from notifier.sources.export.source import REPORTED, FileMark, display


def reread(settings: Settings, name: str, since: datetime | None, now: datetime) -> int:
    """Clear what ``name`` remembers of its input (since ``since``); print what is read again."""
    export = next((e for e in settings.exports if e.name == name), None)
    box = next((b for b in settings.imap if b.name == name), None)
    if export is None and box is None:
        known = [e.name for e in settings.exports] + [b.name for b in settings.imap]
        raise NotifierError(
            f"reread: no source named {name!r}; sources: {', '.join(known) or '(none)'}"
        )
    from notifier.runtime import bootstrap

    try:
        outbox = bootstrap.open_outbox(settings, exclusive=True)
    except StateError as exc:
        raise NotifierError(f"reread {name}: nothing was changed: {exc}") from None
    with outbox:
        try:
            with bootstrap.source_taken_over(settings, outbox, name) as reader:
                if box is not None:
                    lines = _reread_imap(settings, box, outbox, since, now)
                else:
                    lines = _reread_export(outbox, name, since)
        except StateError as exc:
            raise NotifierError(f"reread {name}: nothing was changed: {exc}") from None
        if reader is not None:
            lines.append(
                f"{name}: instance {reader} was reading it; it reads it again once it has "
                "taken the lease back (its next renewal)"
            )
    for line in lines:
        say(printable(line))
    return 0


def _reread_export(outbox: StateStore, name: str, since: datetime | None) -> list[str]:
    checkpoints = outbox.source_checkpoints(name)
    files: list[str] = []
    for key, value in checkpoints.items():
        if key.startswith(REPORTED):
            continue
        mark = FileMark.parse(value)
        if since is None or mark is None or mark.mtime_ns >= since.timestamp() * 1e9:
            files.append(key)
    shown = {display(path) for path in files}
    reported = [k for k, v in checkpoints.items() if k.startswith(REPORTED) and v in shown]
    outbox.forget_checkpoints(name, files + reported)
    when = f" modified since {since:%Y-%m-%d %H:%M %Z}" if since else ""
    if not files:
        return [f"{name}: no file{when} was read; nothing to read again"]
    return [
        f"{name}: the next pass reads {len(files)} file(s){when} again from the start "
        "(resolutions already known are not sent twice; their problems are recorded again):",
        *(f"  {display(path)}" for path in sorted(files)),
    ]


def _reread_imap(
    settings: Settings, box: ImapSettings, outbox: StateStore, since: datetime | None, now: datetime
) -> list[str]:
    from notifier.runtime import bootstrap
    from notifier.sources.mail.connection import NETWORK_ERRORS, connect

    source = bootstrap.build_imap_source(settings, box, outbox)
    key = f"folder:{box.folder}"  # ImapSource's progress mark: "<uidvalidity>:<last uid>"
    try:
        client = connect(source.options)
        try:
            info = client.select_folder(box.folder, readonly=True)
            uids: Sequence[int] = client.search(["SINCE", since.date()] if since else ["ALL"])
        finally:
            client.shutdown()
    except NETWORK_ERRORS as exc:
        raise NotifierError(f"reread {box.name}: cannot read {box.folder!r}: {exc}") from None
    uidvalidity = int(info[b"UIDVALIDITY"])
    which = f"dated {since:%Y-%m-%d} or later" if since else "in the folder"
    if not uids:
        return [f"{box.name}: no message {which} in {box.folder!r}; nothing to read again"]
    first = min(uids)
    outbox.save_checkpoint(Checkpoint(box.name, key, f"{uidvalidity}:{first - 1}"), now)
    return [
        f"{box.name}: the next pass reads every message of {box.folder!r} from UID {first} on "
        f"again ({len(uids)} {which}; resolutions already known are not sent twice)"
    ]
