"""Build the real service around one IMAP folder source, the way bootstrap wires it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notifier.runtime import bootstrap
from notifier.runtime.config import Settings
from notifier.service import Service
from notifier.store.sqlite.outbox import Outbox
from tests.dovecot import DovecotServer
from tests.smtp_server import SmtpTestServer


def imap_settings(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp: SmtpTestServer,
    plain_policy: str = "warn",
    top: dict[str, Any] | None = None,
    **imap: Any,
) -> Settings:
    """These tests are about mail handling: the plain-language gate only warns here."""
    box: dict[str, Any] = {
        "name": "mail",
        "host": dovecot.host,
        "port": dovecot.port,
        "security": "plain",
        "username": dovecot.user,
        "password": dovecot.password,
        "allow_plaintext_password": True,
        "timeout": 10,
        "folder": "Resolved",
        "original_folders": ["INBOX"],
        "mode": "folder",
        "idle": False,
    }
    box.update(imap)
    document: dict[str, Any] = {
        "state": {"directory": tmp_path / "state"},
        "smtp": {
            "host": smtp.host,
            "port": smtp.port,
            "security": "plain",
            "from_address": "it-helpdesk@example.org",
            "timeout": 5,
        },
        "delivery": {"rate_limit_per_minute": 100000},
        "plain": {"policy": plain_policy},
        "rules": {"max_age": 0},  # samples carry fixed dates; the guard is tested elsewhere
        "imap": [box],
    }
    document.update(top or {})  # more top-level sections, e.g. teams
    return Settings.model_validate(document)


class Harness:
    """A service over a shared outbox; ``restart()`` builds fresh sources, as a new process would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = Outbox.open(settings.state.directory)
        self.service = self._build()

    def _build(self) -> Service:
        service = bootstrap.build_service(self.settings, self.outbox)
        service.start()
        return service

    @property
    def source(self) -> Any:
        return self.service.sources[0]

    def restart(self) -> None:
        for source in self.service.sources:
            source.close()
        self.service = self._build()

    def close(self) -> None:
        for source in self.service.sources:
            source.close()
        self.outbox.close()


def multi_imap_settings(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp: SmtpTestServer,
    blocks: list[dict[str, Any]],
    plain_policy: str = "warn",
    top: dict[str, Any] | None = None,
) -> Settings:
    """Like :func:`imap_settings`, with one ``[[imap]]`` block per entry of ``blocks`` (each
    given the same defaults, then its own keys: at least ``name`` and ``folder``)."""
    document = imap_settings(tmp_path, dovecot, smtp, plain_policy, top).model_dump()
    default = document["imap"][0]
    document["imap"] = [{**default, **block} for block in blocks]
    return Settings.model_validate(document)
