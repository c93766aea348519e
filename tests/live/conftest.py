"""Fixtures that start real helpdesk systems on loopback, each in a temporary directory.

A system that cannot be installed or started fails its tests; it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dovecot import DovecotServer
from tests.live.django_helpdesk import DjangoHelpdesk
from tests.live.mailhop import MailHop

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
    try:
        desk.start()
        yield LiveHelpdesk(desk, hop, dovecot)
    finally:
        desk.stop()
        hop.stop()
