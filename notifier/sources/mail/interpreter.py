"""Which interpreter reads one ``[[imap]]`` block's mail: folder, match rules or a preset."""

from __future__ import annotations

from collections.abc import Sequence

from notifier.core.errors import ConfigError
from notifier.sources.mail.presets import PRESETS
from notifier.sources.mail.rules import FolderInterpreter, Interpreter, MatchInterpreter, MatchRule

MODES = ("folder", "match", "preset")


def build_interpreter(
    mode: str,
    *,
    preset: str | None = None,
    rules: Sequence[MatchRule] = (),
    requester_header: str | None = None,
    not_requesters: Sequence[str] = (),
) -> Interpreter:
    """The interpreter for one ``[[imap]]`` block; ConfigError names the bad mode or preset."""
    if mode == "folder":
        return FolderInterpreter(
            requester_header=requester_header, not_requesters=tuple(not_requesters)
        )
    if mode == "match":
        if not rules:
            raise ConfigError("imap.rules: mode = 'match' needs at least one [[imap.rules]] entry")
        return MatchInterpreter(
            rules=tuple(rules),
            requester_header=requester_header,
            not_requesters=tuple(not_requesters),
        )
    if mode == "preset":
        if not preset:
            raise ConfigError(
                f"imap.preset: mode = 'preset' needs a preset, one of {', '.join(sorted(PRESETS))}"
            )
        try:
            return PRESETS[preset]
        except KeyError:
            raise ConfigError(
                f"imap.preset: unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}"
            ) from None
    raise ConfigError(f"imap.mode: unknown mode {mode!r}; use one of {', '.join(MODES)}")
