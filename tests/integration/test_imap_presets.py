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

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.smtp_server import SmtpServerFactory, SmtpTestServer
from tests.unit.test_mailpresets import preset_of

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
    preset, kind = preset_of(sample.name), sample.stem.rsplit("-", 1)[1]
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
    from notifier.sources.mail.presets import PRESETS as NAMES

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
    from notifier.sources.mail.presets import PresetInterpreter

    real = PresetInterpreter.decide

    def decide(self: PresetInterpreter, mail: Any, reading: Any, find: Any) -> Any:
        if when(mail):
            raise error
        return real(self, mail, reading, find)

    monkeypatch.setattr(PresetInterpreter, "decide", decide)


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


# --- one mailbox, many products (issue 15 item 4) -------------------------------------------

MIXED = [
    "rt-resolved.eml",
    "zammad-resolved.eml",
    "glpi-resolved.eml",
    "freescout-resolved.eml",
    "jsm-reopened.eml",
    "osticket-updated.eml",
    "servicenow-resolved.eml",
]
MIXED_SENT = {"rt", "zammad", "glpi", "freescout", "servicenow"}
# Zammad's customer is the sender of her original mail in INBOX; the others name Jane Doe.
MIXED_REQUESTERS = sorted(["jane.doe@example.org"] * 4 + ["jane.shared@example.org"])
LUNCH = (
    b"From: Sam Lee <sam.lee@example.org>\r\nTo: notifier@it.example.org\r\n"
    b"Subject: Lunch?\r\nMessage-ID: <lunch-1@example.org>\r\n"
    b"Date: Mon, 04 Mar 2024 12:00:00 +0000\r\n\r\nPizza at noon?\r\n"
)


def mixed_harness(
    tmp_path: Path, dovecot: DovecotServer, sink: SmtpTestServer, **imap: Any
) -> Harness:
    """One source over a 'Resolved' folder holding several products' notifications."""
    dovecot.create_folder("Resolved")
    raws = [(PRESETS / name).read_bytes() for name in MIXED]
    settings = imap_settings(
        tmp_path, dovecot, sink, trusted_senders=sorted({sender_of(raw) for raw in raws}), **imap
    )
    harness = Harness(settings)
    harness.service.run_pass()  # the first pass marks where reading starts
    dovecot.append("INBOX", (ORIGINALS / "zammad.eml").read_bytes())
    for raw in raws:
        dovecot.append("Resolved", raw)
    return harness


def queued_requesters(harness: Harness) -> list[str]:
    """Whom the notices read in the pass are for (several may share one digest mail)."""
    queued = harness.outbox.audit_records(AuditQuery(source="mail", outcome="queued"))
    return sorted(record.requester for record in queued)


def intake_rows(harness: Harness) -> dict[str, list[str]]:
    """Per mail (origin), the outcomes recorded when it was read."""
    rows: dict[str, list[str]] = {}
    for record in harness.outbox.audit_records(AuditQuery(source="mail")):
        if record.outcome in ("ignored", "rejected", "queued"):
            rows.setdefault(record.origin, []).append(record.outcome)
    return rows


@pytest.mark.parametrize("presets", ["auto", ["rt", "zammad", "glpi", "freescout", "jsm",
                                               "osticket", "servicenow"]])  # fmt: skip
def test_one_source_reads_several_products_once_each_and_moves_them(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory, presets: Any
) -> None:
    """One [[imap]] block, several products in one folder: each mail is fetched once, gets one
    audit row and the right preset; every mail the pass read is moved, which one block per
    preset could not do."""
    sink = smtp_server()
    harness = mixed_harness(
        tmp_path, dovecot, sink, mode="preset", presets=presets, after="move", move_to="Done"
    )
    try:
        dovecot.append("Resolved", LUNCH)
        report = harness.service.run_pass()
        assert harness.source.bodies_fetched == len(MIXED) + 1
        rows = intake_rows(harness)
        assert len(rows) == len(MIXED) + 1 and all(len(r) == 1 for r in rows.values()), rows
        assert report.sent == len(MIXED_SENT), rows
        assert queued_requesters(harness) == MIXED_REQUESTERS
        ignored = harness.outbox.audit_records(AuditQuery(source="mail", outcome="ignored"))
        reasons = sorted(r.reason for r in ignored)
        assert any(r.startswith("reopened") and "ITHELP-57" in r for r in reasons), reasons
        assert any(r.startswith("update") and "482913" in r for r in reasons), reasons
        assert any(r.startswith("no_match") for r in reasons), reasons
        assert dovecot.uids("Resolved") == []
        assert len(dovecot.uids("Done")) == len(MIXED) + 1
    finally:
        harness.close()


def test_folder_mode_with_presets_reads_replies_and_notifications_in_one_folder(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """mode = "folder" plus presets: the products' notifications are read by their presets,
    a technician's own reply in the same folder is a resolution of the request it answers."""
    sink = smtp_server()
    harness = mixed_harness(tmp_path, dovecot, sink, mode="folder", presets="auto")
    try:
        reply = (
            b"From: Tom Tech <tom@it.example.org>\r\nTo: Sam Lee <sam.lee@example.org>\r\n"
            b"Subject: Re: Monitor flickers\r\nMessage-ID: <reply-9@it.example.org>\r\n"
            b"In-Reply-To: <sam-request-9@example.org>\r\n"
            b"Date: Mon, 04 Mar 2024 15:00:00 +0000\r\n\r\nI swapped the cable; it is fine now.\r\n"
        )
        dovecot.append("Resolved", reply)
        report = harness.service.run_pass()
        rows = intake_rows(harness)
        assert len(rows) == len(MIXED) + 1 and all(len(r) == 1 for r in rows.values()), rows
        assert report.sent == len(MIXED_SENT) + 1
        assert queued_requesters(harness) == sorted([*MIXED_REQUESTERS, "sam.lee@example.org"])
    finally:
        harness.close()


def test_an_invalid_address_is_named_in_the_input_problem(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """A reply whose To and From hold no valid address is rejected naming the invalid fields,
    not only 'no requester address' (issue 15 item 5)."""
    hostile = Path(__file__).resolve().parents[1] / "data" / "mail" / "hostile"
    dovecot.create_folder("Resolved")
    harness = Harness(imap_settings(tmp_path, dovecot, smtp_server()))
    try:
        harness.service.run_pass()
        raw = (hostile / "invalid_addresses.eml").read_bytes().replace(b"\n", b"\r\n")
        dovecot.append("Resolved", raw)
        harness.service.run_pass()
        (record,) = harness.outbox.audit_records(AuditQuery(outcome="rejected"))
        assert record.reason.startswith("invalid address in From, To: no requester address")
    finally:
        harness.close()


def test_a_watcher_copy_to_a_helpdesk_address_sends_nothing_and_is_recorded(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> None:
    """Jira's copy To "<requester address>" <notifier's own From>, the reporter named without an
    address: no notice to the helpdesk; an input problem names the ticket and the reason
    (issue 15 item 1)."""
    jira = (PRESETS / "jsm-resolved.eml").read_bytes()
    copy = jira.replace(
        b"To: Jane Doe <jane.doe@example.org>",
        b'To: "jane.doe@example.org" <it-helpdesk@example.org>',
    ).replace(b"Message-ID: <JIRA.", b"Message-ID: <copy.JIRA.")
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    harness = Harness(
        imap_settings(
            tmp_path,
            dovecot,
            sink,
            mode="preset",
            preset="jsm",
            trusted_senders=[sender_of(jira)],
        )
    )
    try:
        harness.service.run_pass()
        dovecot.append("Resolved", copy)
        report = harness.service.run_pass()
        assert (report.sent, sink.messages) == (0, [])
        (record,) = harness.outbox.audit_records(AuditQuery(outcome="rejected"))
        assert "ticket ITHELP-57: no requester address" in record.reason
        assert "it-helpdesk@example.org" in record.reason
    finally:
        harness.close()
