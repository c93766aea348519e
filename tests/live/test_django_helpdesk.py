"""A real django-helpdesk resolves tickets; notifier reads its own mails and tells the requester.

The helpdesk (tests/live/django_helpdesk.py) is driven through its web forms by a technician;
its queue copies every mail it sends (new ticket, update, resolution) to the mailbox notifier
watches, in the real Dovecot. notifier reads that mailbox with the ``django-helpdesk`` preset.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.conftest import HELPDESK, MAILBOX, Live
from tests.live.django_helpdesk import DjangoHelpdesk
from tests.live.running import once, write_config
from tests.smtp_server import SmtpServerFactory

pytestmark = pytest.mark.live

REQUESTER = "anna.schmidt@example.org"


def test_a_resolved_ticket_tells_its_requester_once_in_plain_words(
    tmp_path: Path, django_helpdesk: Live[DjangoHelpdesk], smtp_server: SmtpServerFactory
) -> None:
    desk, mail = django_helpdesk.system, django_helpdesk.mail
    sink = smtp_server()
    config = write_config(
        tmp_path, django_helpdesk.dovecot, sink, preset="django-helpdesk",
        never_notify=(MAILBOX, HELPDESK),
    )  # fmt: skip
    once(config)  # notifier starts watching before the ticket exists, as in production

    ticket = desk.open_ticket(
        "Printer on floor 2 is jammed", "The printer shows a paper jam.", REQUESTER
    )
    mail.wait_for(2)  # "(Opened)" to the requester, and its copy to the mailbox
    events = once(config)
    assert sink.messages == [], "a new ticket is not a resolution"
    assert any(e["event"] == "input_ignored" for e in events), events

    desk.resolve(ticket, "I cleared the paper jam and the printer works again.")
    sent = mail.wait_for(4)
    resolved = [s for s in sent if b"(Resolved)" in s.raw and MAILBOX in s.recipients]
    assert resolved, "the helpdesk sent no resolved copy to the mailbox"
    once(config)
    notices = sink.messages
    assert [m.rcpt_tos for m in notices] == [(REQUESTER,)]
    notice = notices[0].message
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    words = body.get_content()
    assert "I cleared the paper jam and the printer works again." in words
    assert f"support-{ticket}" in words  # the helpdesk's own reference, for a reply
    assert str(notice["Subject"]) == "Done: Printer on floor 2 is jammed"
    assert str(notice["To"]) == f"Anna Schmidt <{REQUESTER}>"
    assert notice["References"], "the notice is threaded with the ticket"

    once(config)  # the same mail read again: no second notice
    assert len(sink.messages) == 1


def test_updates_tell_nobody_and_a_second_resolution_is_a_second_notice(
    tmp_path: Path, django_helpdesk: Live[DjangoHelpdesk], smtp_server: SmtpServerFactory
) -> None:
    desk, mail = django_helpdesk.system, django_helpdesk.mail
    sink = smtp_server()
    config = write_config(
        tmp_path, django_helpdesk.dovecot, sink, preset="django-helpdesk",
        never_notify=(MAILBOX, HELPDESK),
    )  # fmt: skip
    once(config)

    ticket = desk.open_ticket("No sound in the meeting room", "The speakers are silent.", REQUESTER)
    desk.update(ticket, "I am on my way to the meeting room.")
    mail.wait_for(4)
    once(config)
    assert sink.messages == [], "an update is not a resolution"

    desk.resolve(ticket, "The speakers were switched off. They work again.")
    mail.wait_for(6)
    once(config)
    assert len(sink.messages) == 1

    desk.update(ticket, "Sorry, the sound is gone again.", status="reopened")
    desk.resolve(ticket, "I replaced the cable. The speakers work again.")
    mail.wait_for(10)
    once(config)
    assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER,), (REQUESTER,)]
    assert sink.messages[0].message["Message-ID"] != sink.messages[1].message["Message-ID"]
