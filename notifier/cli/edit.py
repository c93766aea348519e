"""The reviewer of held notices: what ``notifier held`` shows, and ``notifier edit KEY``.

``held`` shows each held notice's words with what holds it marked (»…«). ``edit`` gives the
reviewer the words in a plain file (``Subject:`` line, a blank line, the text), through
``$VISUAL``/``$EDITOR`` or ``--file``; the team's plain-language gate checks the new words
(still blocked: refused with the findings, unless ``--force``), and the caller records them
with who edited (``$SUDO_USER``, else the Unix user). The notice stays held: ``release`` sends it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from notifier.cli.auditview import framed
from notifier.core.errors import NotifierError
from notifier.core.marks import strip_marks
from notifier.core.printable import printable
from notifier.core.queue import HeldNotice
from notifier.core.review import ReviewedFinding, describe_finding, mark_findings
from notifier.runtime.config import Settings

# An editor is a person at work: an hour, then the edit is given up (nothing changes).
EDIT_TIMEOUT_SECONDS = 3600
MAX_EDIT_BYTES = 256 * 1024  # a notice's words; a larger file is not a notice
_SUBJECT = re.compile(r"subject:[ \t]*", re.IGNORECASE)


# -- notifier held -------------------------------------------------------------------------------


def format_held(item: HeldNotice) -> str:
    """One held notice for a reviewer: where it stands, its words marked, its findings."""
    key = printable(item.resolution_key)
    lines = [
        key,
        f"  ticket {printable(item.ticket_id)} ({printable(item.source)}, team "
        f"{printable(item.team)}) to {printable(item.requester)}, held since "
        f"{item.held_since:%Y-%m-%d %H:%M} UTC",
        f"  reason: {printable(item.reason)}",
    ]
    if not (item.subject or item.text):
        lines += [
            "  (not rendered: nothing to read yet; fix the cause, then `notifier release "
            f"{key}` renders it again)",
        ]
        return "\n".join(lines)
    subject = mark_findings(item.subject, item.findings, "subject")
    text = mark_findings(item.text, item.findings, "text")
    lines += ["", f"  Subject: {printable(subject)}"]
    lines += ["  " + line for line in framed(text).split("\n")]
    if item.findings:
        ordered = sorted(item.findings, key=lambda f: f.get("severity") != "block")
        lines += ["", "  findings (»…« marks the words that hold it):"]
        lines += [f"  - {_finding_line(finding)}" for finding in ordered]
    lines += [
        "",
        f"  correct the words: notifier edit {key}; send: notifier release {key}; "
        f"drop: notifier cancel {key}",
    ]
    return "\n".join(lines)


def _finding_line(finding: dict[str, object]) -> str:
    part = finding.get("part")
    where = f" ({printable(part)})" if part in ("subject", "html") else ""
    return (
        f"[{printable(finding.get('severity'))}] {printable(finding.get('kind'))} "
        f"{printable(repr(finding.get('text')))}{where}: {printable(finding.get('suggestion'))}"
    )


# -- notifier edit -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditedWords:
    subject: str
    text: str
    findings: tuple[ReviewedFinding, ...]
    editor: str  # the Unix user who edited

    @property
    def findings_json(self) -> str:
        return json.dumps([f.as_dict() for f in self.findings]) if self.findings else ""

    @property
    def blocking(self) -> int:
        return sum(f.severity == "block" for f in self.findings)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"note: {describe_finding(f)}" for f in self.findings if f.severity != "block")

    def note(self, note: str, *, forced: bool) -> str:
        parts = [f"words edited by {self.editor}"]
        if forced and self.blocking:
            parts.append(f"--force: accepted with {self.blocking} blocking finding(s)")
        if note:
            parts.append(note)
        return "; ".join(parts)


def reviewer_name() -> str:
    """Who is editing: the user behind sudo, else the Unix user (for the audit trail)."""
    sudo = os.environ.get("SUDO_USER", "").strip()
    if sudo:
        return sudo
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container, a dynamic user)
        return f"uid {os.getuid()}"


def edit_words(
    settings: Settings, held: HeldNotice, *, from_file: Path | None, force: bool
) -> EditedWords | None:
    """The reviewer's new words, checked; None when they did not change.

    Raises NotifierError when there is nothing to edit, the editor fails, the file is not a
    notice, or the gate would still hold the words (unless ``force``).
    """
    key = held.resolution_key
    if not (held.subject or held.text):
        raise NotifierError(
            f"{key}: not rendered, so there are no words to edit (held for: {held.reason}); "
            "fix the cause and release it"
        )
    current = f"Subject: {held.subject}\n\n{held.text}"
    kept: Path | None = None
    if from_file is not None:
        content = _read(from_file)
    else:
        kept = _scratch_file(key, current)
        try:
            _run_editor(kept)
            content = _read(kept)
        except BaseException:
            kept.unlink(missing_ok=True)
            raise
    try:
        subject, text = parse_words(content, from_file or kept)
        if (subject, text) == (held.subject, held.text):
            return None
        edited = EditedWords(subject, text, _check(settings, held, subject, text), reviewer_name())
        if edited.blocking and not force and _holds(settings, held.team):
            shown = "; ".join(describe_finding(f) for f in edited.findings if f.severity == "block")
            where = ""
            if kept is not None:  # the reviewer's work is not lost
                where = f". Your words are kept in {kept}: notifier edit {key} --file {kept}"
                kept = None
            raise NotifierError(
                f"{key}: the new words would still be held: {shown}. Change them, or accept "
                f"them with --force{where}"
            )
        return edited
    finally:
        if kept is not None:
            kept.unlink(missing_ok=True)


def parse_words(content: str, origin: Path | None) -> tuple[str, str]:
    """``Subject: ...``, a blank line, the text: the file format of ``notifier edit``."""
    content = strip_marks(content.replace("\r\n", "\n"))
    first, _, rest = content.partition("\n")
    found = _SUBJECT.match(first)
    if found is None:
        raise NotifierError(
            f"{origin}: the first line must be 'Subject: ...', then a blank line and the text"
        )
    subject = first[found.end() :].strip()
    text = rest[1:] if rest.startswith("\n") else rest
    text = text.rstrip() + "\n" if text.strip() else ""
    if not subject or not text:
        raise NotifierError(f"{origin}: a notice needs a subject and some text; nothing changed")
    return subject, text


def _check(
    settings: Settings, held: HeldNotice, subject: str, text: str
) -> tuple[ReviewedFinding, ...]:
    """The team's gate on the reviewer's words; the ticket id stays allowed, as templates
    allow it (``allow_jargon``)."""
    from notifier.core.compose import profile_for
    from notifier.runtime import bootstrap

    gate = profile_for(held.team, bootstrap.build_team_profiles(settings)).gate
    language = held.language or "en"
    found: list[ReviewedFinding] = []
    for part, words in (("subject", subject), ("text", text)):
        allowed = _occurrences(words, held.ticket_id)
        for finding in gate.analyze(words, language=language, protected=allowed).findings:
            found.append(
                ReviewedFinding(
                    part=part,
                    origin="reviewer",
                    kind=finding.kind,
                    text=finding.text,
                    start=finding.start,
                    end=finding.end,
                    suggestion=finding.suggestion,
                    severity=finding.severity,
                )
            )
    return tuple(found)


def _holds(settings: Settings, team: str) -> bool:
    """Whether the team's policy holds blocked words (``warn`` sends them anyway)."""
    from notifier.core.compose import profile_for
    from notifier.runtime import bootstrap

    policy = profile_for(team, bootstrap.build_team_profiles(settings)).plain_policy
    return policy in ("hold", "rewrite")


def _occurrences(words: str, value: str) -> tuple[tuple[int, int], ...]:
    if not value:
        return ()
    return tuple((m.start(), m.end()) for m in re.finditer(re.escape(value), words))


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_EDIT_BYTES + 1)
    except OSError as exc:
        raise NotifierError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_EDIT_BYTES:
        raise NotifierError(f"{path}: more than {MAX_EDIT_BYTES // 1024} KiB; not a notice")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotifierError(f"{path}: not UTF-8 text; nothing changed") from None


def _scratch_file(key: str, words: str) -> Path:
    """The words in a private file (mode 0600) for the editor."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", key)[:60]
    descriptor, name = tempfile.mkstemp(prefix=f"notifier-edit-{safe}-", suffix=".txt")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(words)
    return Path(name)


def _run_editor(path: Path) -> None:
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = [*shlex.split(command), str(path)]
        finished = subprocess.run(argv, timeout=EDIT_TIMEOUT_SECONDS, check=False)
    except (OSError, ValueError) as exc:
        raise NotifierError(
            f"cannot start the editor {command!r} ($VISUAL/$EDITOR): {exc}; or use --file"
        ) from None
    except subprocess.TimeoutExpired:
        raise NotifierError(
            f"the editor did not finish within {EDIT_TIMEOUT_SECONDS // 60} minutes; "
            "nothing changed"
        ) from None
    if finished.returncode != 0:
        with contextlib.suppress(OSError):
            path.unlink()
        raise NotifierError(
            f"the editor {command!r} exited with status {finished.returncode}; nothing changed"
        )
