"""What ``check-config`` checks beyond parsing: that the service will be able to do its job.

Each check looks at one thing the running service needs (its state directory, each export
path, the templates, each secret file, an interpreter systemd will let it run) and reports a
:class:`Finding` instead of raising, so an operator sees every problem in one run. Nothing is
created or changed: a state directory that does not exist yet is judged by whether it could be.
"""

from __future__ import annotations

import functools
import glob
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from notifier.core.errors import ConfigError, NotifierError
from notifier.runtime.config import OAuth2Settings, Settings

__all__ = ["Finding", "check_runtime_needs"]

# Directories the shipped unit hides (ProtectHome=yes); an interpreter there cannot start.
_HIDDEN_BY_PROTECT_HOME = (Path("/root"), Path("/home"), Path("/run/user"))


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Literal["error", "warning"]
    where: str  # the config key or thing concerned: "exports.desk.path"; "" when in message
    message: str

    def __str__(self) -> str:
        return (
            f"{self.severity}: {self.where}: {self.message}"
            if self.where
            else (f"{self.severity}: {self.message}")
        )


def check_runtime_needs(settings: Settings, template_problems: list[str]) -> list[Finding]:
    """Every problem found, errors and warnings, in config order."""
    findings = [Finding("error", "templates", problem) for problem in template_problems]
    findings += _state_directory(settings.state.directory)
    for export in settings.exports:
        findings += _export_path(f"exports.{export.name}.path", export.path)
    findings += _secrets(settings)
    findings += _interpreter(Path(sys.executable))
    return findings


def _state_directory(directory: Path) -> list[Finding]:
    where = "state.directory"
    if directory.exists():
        if not directory.is_dir():
            return [Finding("error", where, f"{directory} is not a directory")]
        if not os.access(directory, os.W_OK | os.X_OK):
            return [Finding("error", where, f"{directory} is not writable by this user")]
        return []
    # It is created at start: its nearest existing parent must let us.
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return [Finding("error", where, f"cannot create {directory}: {parent} is not a directory")]
    if not os.access(parent, os.W_OK | os.X_OK):
        return [Finding("error", where, f"cannot create {directory}: {parent} is not writable")]
    return []


def _export_path(where: str, pattern: str) -> list[Finding]:
    path = Path(pattern)
    if glob.has_magic(pattern):
        folder = path.parent
        while glob.has_magic(str(folder)):
            folder = folder.parent
        if not folder.is_dir():
            return [Finding("error", where, f"{folder} (the folder of {pattern!r}) does not exist")]
        if not glob.glob(pattern):  # noqa: PTH207 - absolute patterns
            return [Finding("warning", where, f"{pattern!r} matches no file yet")]
        return []
    if not path.exists():
        return [Finding("error", where, f"{pattern} does not exist")]
    wanted = os.R_OK | os.X_OK if path.is_dir() else os.R_OK
    if not os.access(path, wanted):
        return [Finding("error", where, f"{pattern} is not readable by this user")]
    return []


def _grant_secret(grant: OAuth2Settings, key: str) -> None:
    if grant.provider == "google":
        grant.resolve_service_account(key)
    else:
        grant.resolve_secret(key)


def _token_file(path: Path, key: str) -> None:
    from notifier.oauth2 import TokenError, TokenFile

    try:
        TokenFile(path).token()
    except TokenError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def _secrets(settings: Settings) -> list[Finding]:
    reads: list[Callable[[], object]] = []
    if settings.smtp.username and settings.smtp.oauth2 is None:
        reads.append(settings.smtp.resolve_password)
    for box in settings.imap:
        reads.append(functools.partial(box.resolve_password, f"imap.{box.name}"))
        if box.oauth2 is not None:
            reads.append(functools.partial(_grant_secret, box.oauth2, f"imap.{box.name}.oauth2"))
        if box.oauth2_token_file is not None:
            key = f"imap.{box.name}.oauth2_token_file"
            reads.append(functools.partial(_token_file, box.oauth2_token_file, key))
    if settings.smtp.oauth2 is not None:
        reads.append(functools.partial(_grant_secret, settings.smtp.oauth2, "smtp.oauth2"))
    findings = []
    for read in reads:
        try:
            read()
        except NotifierError as exc:  # its text names the key and the file
            findings.append(Finding("error", "", str(exc)))
    return findings


def _interpreter(executable: Path) -> list[Finding]:
    real = executable.resolve()
    for hidden in _HIDDEN_BY_PROTECT_HOME:
        if real.is_relative_to(hidden):
            return [
                Finding(
                    "warning",
                    "interpreter",
                    f"{real} is under {hidden}, which the shipped unit hides (ProtectHome=yes): "
                    "systemd would fail with 203/EXEC; install as docs/operations.md says",
                )
            ]
    return []
