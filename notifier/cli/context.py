"""What every command starts from: the configuration file it was pointed at, the settings
read from it, and the logging they ask for.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from notifier.core.errors import NotifierError
from notifier.core.model import ReceivedEvent
from notifier.runtime.config import DEFAULT_CONFIG_PATH, Settings, load_settings

EX_TEMPFAIL = 75


def config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """The path and whether the user named it (a named file must exist)."""
    if args.config is not None:
        return args.config, True
    if os.environ.get("NOTIFIER_CONFIG"):
        return Path(os.environ["NOTIFIER_CONFIG"]), True
    return DEFAULT_CONFIG_PATH, False


def settings_from(args: argparse.Namespace, *, required: bool) -> Settings:
    path, named = config_path(args)
    return load_settings(path, required=required or named)


def configure_logging(settings: Settings) -> None:
    from notifier.runtime import logs

    logs.configure(settings.log.level, settings.log.format)


def parse_moment(text: str | None, option: str) -> datetime | None:
    from notifier.core.durations import parse_duration

    if text is None:
        return None
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise NotifierError(
            f"{option}: {text!r} is neither an ISO date/time nor an age like 2h or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class NothingSeen:
    """Sources built only to check their settings or connections: no checkpoints read, no
    webhook event received or kept."""

    def checkpoint(self, source: str, key: str) -> str | None:
        return None

    def receive(self, source: str, event_id: str, received_at: datetime, body: str) -> bool:
        raise NotifierError("no state store: webhook events are received by `notifier run`")

    def received_after(self, source: str, after: int, limit: int) -> list[ReceivedEvent]:
        return []
