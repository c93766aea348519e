"""Each helpdesk preset, with a message in that product's real default format, through Dovecot."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import pytest

from notifier.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

PRESETS = Path(__file__).resolve().parents[1] / "data" / "mail" / "presets"
SAMPLES = sorted(PRESETS.glob("*.eml"))
# The requester's own mail, for products whose notifications only point at it (Zammad).
ORIGINALS = PRESETS / "originals"
REASON_WORD = {"updated": "update", "reopened": "reopened"}


def sender_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    address: Address = message["From"].addresses[0]
    return address.addr_spec


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_preset_sample_through_a_real_mailbox(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory, sample: Path
) -> None:
    """A resolved notification gives exactly one notice; an update or reopen gives none."""
    # <preset>[-<variant>]-<kind>.eml, for example freescout-named-resolved.eml
    preset, kind = sample.stem.split("-", 1)[0], sample.stem.rsplit("-", 1)[1]
    raw = sample.read_bytes()
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(
        imap_settings(
            tmp_path, dovecot, sink, mode="preset", preset=preset, trusted_senders=[sender_of(raw)]
        )
    )
    try:
        harness.service.run_pass()
        original = ORIGINALS / f"{preset}.eml"
        requester = "jane.doe@example.org"  # every sample's requester, but where an original
        if original.exists():  # mail in the mailbox names her
            dovecot.append("INBOX", original.read_bytes())
            requester = sender_of(original.read_bytes())
        dovecot.append("Resolved", raw)
        report = harness.service.run_pass()
        records = harness.outbox.audit_records(AuditQuery(source="mail"))
        if kind == "resolved":
            assert report.sent == 1, [(r.outcome, r.reason) for r in records]
            (message,) = sink.messages
            assert message.message["Auto-Submitted"] == "auto-generated"
            assert message.rcpt_tos == (requester,)
        else:
            assert report.sent == 0 and sink.messages == []
            (record,) = records
            assert record.outcome == "ignored" and REASON_WORD[kind] in record.reason
    finally:
        harness.close()


def test_every_preset_has_resolved_and_non_resolved_samples() -> None:
    """No preset ships without a resolved sample and an update or reopen sample."""
    from notifier.sources.mailpresets import PRESETS as NAMES

    stems = {s.stem for s in SAMPLES}
    for name in NAMES:
        assert f"{name}-resolved" in stems, name
        assert {f"{name}-updated", f"{name}-reopened"} & stems, name


GLPI = (PRESETS / "glpi-resolved.eml").read_bytes()


def glpi_ticket(number: int) -> bytes:
    """The GLPI sample for another ticket, with a Message-ID of its own."""
    return GLPI.replace(b"#0000317", f"#{number:07d}".encode()).replace(
        b"Message-ID: <", f"Message-ID: <t{number}-".encode()
    )


def interpret_failing(
    monkeypatch: pytest.MonkeyPatch, when: Callable[[Any], bool], error: Exception
) -> None:
    """Reading a mail with a preset fails with ``error`` for the mails ``when`` picks."""
    from notifier.sources.mailpresets import PresetInterpreter

    real = PresetInterpreter.interpret

    def interpret(self: PresetInterpreter, mail: Any, find: Any) -> Any:
        if when(mail):
            raise error
        return real(self, mail, find)

    monkeypatch.setattr(PresetInterpreter, "interpret", interpret)


def glpi_harness(tmp_path: Path, dovecot: DovecotServer, sink: SmtpTestServer) -> Harness:
    """The service over a 'Resolved' folder read with the GLPI preset."""
    dovecot.create_folder("Resolved")
    return Harness(
        imap_settings(
            tmp_path, dovecot, sink, mode="preset", preset="glpi",
            trusted_senders=[sender_of(GLPI)],
        )
    )  # fmt: skip


def test_a_fault_reading_one_mail_records_it_and_the_folder_goes_on(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SmtpServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug meeting one odd mail (not bad input the reader foresaw) is recorded as rejected
    with the error; the mail after it is still delivered, and the next pass does not retry it."""
    interpret_failing(
        monkeypatch,
        lambda mail: "GLPI #0000317" in mail.subject,
        IndexError("list index out of range"),
    )
    harness = glpi_harness(tmp_path, dovecot, smtp_server())
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", GLPI)
        dovecot.append("Resolved", glpi_ticket(318))
        report = harness.service.run_pass()
        assert (report.rejected, report.sent, report.source_errors) == (1, 1, [])
        (rejected,) = harness.outbox.audit_records(AuditQuery(outcome="rejected"))
        assert "could not be interpreted (IndexError: list index out of range)" in rejected.reason
        assert "uid" in rejected.origin
        again = harness.service.run_pass()
        assert (again.rejected, again.sent, again.seen) == (0, 0, 0)
    finally:
        harness.close()


def test_the_same_fault_mail_after_mail_stops_the_pass_and_loses_nothing(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SmtpServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fault that meets every mail is notifier's: after three in a row the pass stops (source
    error, retried) and no mail is recorded as rejected; once fixed, every mail is read."""
    broken = {"yes": True}
    interpret_failing(monkeypatch, lambda _: broken["yes"], LookupError("word list missing"))
    harness = glpi_harness(tmp_path, dovecot, smtp_server())
    try:
        harness.service.run_pass()
        for ticket in range(400, 404):
            dovecot.append("Resolved", glpi_ticket(ticket))
        report = harness.service.run_pass()
        assert len(report.source_errors) == 1 and "3 items in a row" in report.source_errors[0]
        assert harness.outbox.audit_records(AuditQuery(outcome="rejected")) == []
        broken["yes"] = False
        time.sleep(2.2)  # the source backs off 2 s after one failed pass
        again = harness.service.run_pass()
        assert (again.sent, again.rejected, again.source_errors) == (4, 0, [])
    finally:
        harness.close()
