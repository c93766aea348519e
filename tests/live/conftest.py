"""Fixtures that start real helpdesk systems on loopback, each in a temporary directory.

A system that cannot be installed or started fails its tests; it never skips them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

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


@contextlib.contextmanager
def _served(system: _S, hop: MailHop) -> Iterator[_S]:
    """``system`` started, and stopped with its mail hop however the test ends."""
    try:
        system.start()
        yield system
    finally:
        system.stop()
        hop.stop()


# The watched mailbox (the Dovecot user's INBOX) and the helpdesk's own address.
MAILBOX = "it-notifier@example.org"
HELPDESK = "helpdesk@example.org"


@dataclass(frozen=True)
class LiveHelpdesk:
    helpdesk: DjangoHelpdesk
    mail: MailHop  # everything the helpdesk sent; copies to MAILBOX are in Dovecot
    dovecot: DovecotServer


@pytest.fixture
def django_helpdesk(tmp_path: Path, dovecot: DovecotServer) -> Iterator[LiveHelpdesk]:
    """A running django-helpdesk whose queue copies every mail to the watched mailbox."""
    hop = MailHop(dovecot, MAILBOX).start()
    desk = DjangoHelpdesk(
        tmp_path / "django-helpdesk", smtp_port=hop.port, queue_address=HELPDESK, copies_to=MAILBOX
    )
    with _served(desk, hop):
        yield LiveHelpdesk(desk, hop, dovecot)


@dataclass(frozen=True)
class LiveRoundup:
    tracker: RoundupTracker
    mail: MailHop  # everything the tracker sent, journaled into the watched INBOX
    dovecot: DovecotServer


@pytest.fixture
def roundup_tracker(dovecot: DovecotServer) -> Iterator[LiveRoundup]:
    """A running Roundup tracker whose outgoing mail is journaled into the watched mailbox."""
    hop = MailHop(dovecot, None).start()
    with _served(RoundupTracker(smtp_port=hop.port), hop) as tracker:
        yield LiveRoundup(tracker, hop, dovecot)


@dataclass(frozen=True)
class LiveRequestTracker:
    rt: RequestTracker
    mail: MailHop  # everything RT sent, journaled into the watched INBOX
    dovecot: DovecotServer


@pytest.fixture
def request_tracker(tmp_path: Path, dovecot: DovecotServer) -> Iterator[LiveRequestTracker]:
    """A running Request Tracker 5 whose outgoing mail is journaled into the watched mailbox."""
    hop = MailHop(dovecot, None).start()
    with _served(RequestTracker(tmp_path / "rt", smtp_port=hop.port), hop) as rt:
        yield LiveRequestTracker(rt, hop, dovecot)


@dataclass(frozen=True)
class LiveRedmine:
    redmine: Redmine
    mail: MailHop  # everything Redmine sent, journaled into the watched INBOX
    dovecot: DovecotServer


@pytest.fixture
def redmine(tmp_path: Path, dovecot: DovecotServer) -> Iterator[LiveRedmine]:
    """A running Redmine 5 whose outgoing mail is journaled into the watched mailbox."""
    hop = MailHop(dovecot, None).start()
    with _served(Redmine(tmp_path / "redmine", smtp_port=hop.port), hop) as instance:
        yield LiveRedmine(instance, hop, dovecot)
