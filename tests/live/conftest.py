"""Fixtures that start real helpdesk systems on loopback, each in a temporary directory.

A system that cannot be installed or started fails its tests; it never skips them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import pytest

from tests.dovecot import DovecotServer
from tests.live.django_helpdesk import DjangoHelpdesk
from tests.live.mailhop import MailHop
from tests.live.redmine import Redmine
from tests.live.request_tracker import RequestTracker
from tests.live.roundup import RoundupTracker


class _System(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_System)


@dataclass(frozen=True)
class Live(Generic[_S]):
    """A running helpdesk, everything it sent (``mail``), and the mailbox notifier watches."""

    system: _S
    mail: MailHop
    dovecot: DovecotServer


@contextlib.contextmanager
def _running(
    dovecot: DovecotServer, mailbox: str | None, build: Callable[[int], _S]
) -> Iterator[Live[_S]]:
    """The system ``build(smtp_port)`` makes, mailing through a hop into ``dovecot`` (only the
    mail for ``mailbox``, or with None all of it); both stopped however the test ends."""
    hop = MailHop(dovecot, mailbox).start()
    try:
        system = build(hop.port)
        try:
            system.start()
            yield Live(system, hop, dovecot)
        finally:
            system.stop()
    finally:
        hop.stop()


# The watched mailbox (the Dovecot user's INBOX) and the helpdesk's own address.
MAILBOX = "it-notifier@example.org"
HELPDESK = "helpdesk@example.org"


@pytest.fixture
def django_helpdesk(tmp_path: Path, dovecot: DovecotServer) -> Iterator[Live[DjangoHelpdesk]]:
    """A running django-helpdesk whose queue copies every mail to the watched mailbox."""
    with _running(
        dovecot,
        MAILBOX,
        lambda port: DjangoHelpdesk(
            tmp_path / "django-helpdesk", smtp_port=port, queue_address=HELPDESK, copies_to=MAILBOX
        ),
    ) as live:
        yield live


@pytest.fixture
def roundup_tracker(dovecot: DovecotServer) -> Iterator[Live[RoundupTracker]]:
    """A running Roundup tracker whose outgoing mail is journaled into the watched mailbox."""
    with _running(dovecot, None, lambda port: RoundupTracker(smtp_port=port)) as live:
        yield live


@pytest.fixture
def request_tracker(tmp_path: Path, dovecot: DovecotServer) -> Iterator[Live[RequestTracker]]:
    """A running Request Tracker 5 whose outgoing mail is journaled into the watched mailbox."""
    with _running(
        dovecot, None, lambda port: RequestTracker(tmp_path / "rt", smtp_port=port)
    ) as live:
        yield live


@pytest.fixture
def redmine(tmp_path: Path, dovecot: DovecotServer) -> Iterator[Live[Redmine]]:
    """A running Redmine 5 whose outgoing mail is journaled into the watched mailbox."""
    with _running(
        dovecot, None, lambda port: Redmine(tmp_path / "redmine", smtp_port=port)
    ) as live:
        yield live
