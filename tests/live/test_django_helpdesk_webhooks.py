"""A real django-helpdesk pushes its webhooks to ``notifier run`` and mails the same events:
each resolution is told once, by whichever arrives first, the other recorded as the same.

The site POSTs to notifier's listener at every follow-up (``HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS``;
django-helpdesk signs nothing, so the URL carries the secret); its queue also copies every mail
to the watched mailbox. Both sources name ``helpdesk = "desk"``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.e2e.cli import notifier, start_notifier
from tests.e2e.daemon_support import events, wait_until
from tests.live.conftest import HELPDESK, MAILBOX, Live
from tests.live.django_helpdesk import DjangoHelpdesk
from tests.live.running import write_config
from tests.smtp_server import SmtpServerFactory, free_port

pytestmark = pytest.mark.live

REQUESTER = "anna.schmidt@example.org"
TOKEN = "desk-webhook-token-5f1e"


def audit_reasons(config: Path) -> list[str]:
    trail = notifier("audit", "--config", str(config), "--format", "json")
    return [str(row["reason"]) for row in json.loads(trail.stdout)]


def test_webhooks_and_mail_of_one_helpdesk_tell_each_resolution_once(
    tmp_path: Path, django_helpdesk: Live[DjangoHelpdesk], smtp_server: SmtpServerFactory
) -> None:
    desk, mail = django_helpdesk.system, django_helpdesk.mail
    sink = smtp_server()
    port = free_port()
    (tmp_path / "webhook-token").write_text(TOKEN)
    config = write_config(
        tmp_path, django_helpdesk.dovecot, sink, preset="django-helpdesk",
        never_notify=(MAILBOX, HELPDESK),
        extra=f"""
helpdesk = "desk"
[webhooks]
listen = "127.0.0.1:{port}"
[[webhook]]
name = "desk-hooks"
helpdesk = "desk"
preset = "django-helpdesk"
secret_file = "webhook-token"
""",
    )  # fmt: skip
    log = tmp_path / "run.log"
    daemon = start_notifier("run", "--config", str(config), log=log)
    try:
        wait_until(lambda: any(e["event"] == "daemon_started" for e in events(log)), 30, "start")
        desk.send_webhooks_to(f"http://127.0.0.1:{port}/webhooks/desk-hooks?token={TOKEN}")

        ticket = desk.open_ticket("Laptop does not charge", "My laptop does not charge.", REQUESTER)
        mail.wait_for(2)
        desk.resolve(ticket, "I replaced the charger. Your laptop charges again.")
        wait_until(lambda: len(sink.messages) == 1, 30, "the notice")
        mail.wait_for(4)  # the (Resolved) mails, read by the IMAP source too
        wait_until(
            lambda: any("the same resolution as" in r for r in audit_reasons(config)), 30,
            "the mail recorded as the same resolution",
        )  # fmt: skip
        notice = sink.messages[0]
        assert notice.rcpt_tos == (REQUESTER,)
        body = notice.message.get_body(preferencelist=("plain",))
        assert body is not None and "I replaced the charger." in body.get_content()

        desk.update(ticket, "It stopped charging again.", status="reopened")
        desk.resolve(ticket, "I replaced the power socket. It charges now.")
        wait_until(lambda: len(sink.messages) == 2, 30, "the second notice")
        mail.wait_for(8)
        wait_until(
            lambda: sum("the same resolution as" in r for r in audit_reasons(config)) >= 2, 30,
            "the second resolution's mail recorded as the same",
        )  # fmt: skip
        assert [m.rcpt_tos for m in sink.messages] == [(REQUESTER,), (REQUESTER,)]
        ids = {m.message["Message-ID"] for m in sink.messages}
        assert len(ids) == 2
        refused = [e for e in events(log) if e["event"] == "webhook_refused"]
        assert refused == []
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0, log.read_text()[-3000:]
