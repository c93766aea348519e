"""The requester's language, through a real Dovecot, the real service and the SMTP sink.

Folder mode: the requester's own mail is in INBOX, the technician's answer in Resolved. The
notice must be written in the requester's language (headers first, then the text), and the
plain-language gate must judge it with that language's word lists, not with English ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from notifier.core.audit import AuditQuery
from tests.dovecot import DovecotServer
from tests.integration.imap_service import Harness, imap_settings
from tests.smtp_server import SmtpServerFactory


def request(
    n: int, subject: str, body: str, requester: str, headers: dict[str, str] | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = f"{requester.split('@')[0].title()} <{requester}>"
    message["To"] = "helpdesk@example.org"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 27, 8, 0, n, tzinfo=UTC))
    message["Message-ID"] = f"<lang-request-{n}@example.org>"
    message.set_content(body + "\n")
    for name, value in (headers or {}).items():  # after set_content, which clears Content-*
        message[name] = value
    return message.as_bytes()


def reply(n: int, subject: str, note: str, requester: str, quote_header: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Tom Tech <tom.tech@example.org>"
    message["To"] = requester
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 27, 10, 0, n, tzinfo=UTC))
    message["Message-ID"] = f"<lang-reply-{n}@example.org>"
    message["In-Reply-To"] = f"<lang-request-{n}@example.org>"
    message["References"] = f"<lang-request-{n}@example.org>"
    message.set_content(f"{note}\n\n{quote_header}\n> ...\n")
    return message.as_bytes()


@pytest.fixture
def harness(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServerFactory
) -> Iterator[Harness]:
    sink = smtp_server()
    dovecot.create_folder("Resolved")
    made = Harness(imap_settings(tmp_path, dovecot, sink, plain_policy="hold"))
    made.sink = sink  # type: ignore[attr-defined]
    made.service.run_pass()  # first start: the folder's end is remembered
    yield made
    made.close()


def sent_to(harness: Harness) -> dict[str, tuple[str, str]]:
    """Recipient -> (subject, plain text) of what the sink received."""
    found = {}
    for received in harness.sink.messages:  # type: ignore[attr-defined]
        body = received.message.get_body(("plain",)).get_content()
        found[received.rcpt_tos[0]] = (str(received.message["Subject"]), body)
    return found


# Requests and answers a French, German and Spanish office would write; the notes are long
# enough (over 12 words) for the unfamiliar-word share to be able to block.
REPLIES = {
    "fr": (
        "claire@example.org",
        "L'imprimante du deuxième étage n'imprime plus",
        "Bonjour, l'imprimante du deuxième étage n'imprime plus depuis ce matin. Merci.",
        "Bonjour Claire,\n\nLe bac à papier était coincé. Nous l'avons remis en place et "
        "nous avons imprimé une page de test. Vous pouvez de nouveau imprimer depuis votre "
        "poste.\n\nCordialement,\nTom",
        "Le jeu. 27 nov. 2026 à 09:00, Claire <claire@example.org> a écrit :",
        ("C'est fait : L'imprimante du deuxième étage n'imprime plus", "Bonjour Claire"),
    ),
    "de": (
        "jonas@example.org",
        "Drucker im zweiten Stock druckt nicht",
        "Hallo, der Drucker im zweiten Stock druckt seit heute Morgen nicht mehr. Danke.",
        "Hallo Jonas,\n\ndas Papierfach hatte sich verklemmt. Wir haben es wieder richtig "
        "eingesetzt und eine Testseite gedruckt. Sie können jetzt wieder von Ihrem Rechner "
        "aus drucken.\n\nViele Grüße\nTom",
        "Am 27.11.2026 um 09:00 schrieb Jonas <jonas@example.org>:",
        ("Erledigt: Drucker im zweiten Stock druckt nicht", "Hallo Jonas"),
    ),
    "es": (
        "lucia@example.org",
        "La impresora de la segunda planta no imprime",
        "Hola, la impresora de la segunda planta no imprime desde esta mañana. Gracias.",
        "Hola Lucía:\n\nLa bandeja del papel estaba atascada. La hemos vuelto a colocar y "
        "hemos impreso una página de prueba. Ya puede volver a imprimir desde su "
        "ordenador.\n\nSaludos,\nTom",
        "El jue, 27 nov 2026 a las 9:00, Lucía (<lucia@example.org>) escribió:",
        ("Hecho: La impresora de la segunda planta no imprime", "Hola Lucia"),
    ),
}


def test_french_german_spanish_replies_get_their_templates_and_are_not_held(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """No language header anywhere: the text says French, German, Spanish. Each notice comes
    in its language's template and passes the gate (policy hold) on that language's lists."""
    for n, (requester, title, body, note, quote, _) in enumerate(REPLIES.values(), start=1):
        dovecot.append("INBOX", request(n, title, body, requester))
        dovecot.append("Resolved", reply(n, f"RE: {title}", note, requester, quote))
    report = harness.service.run_pass()
    held = [h.reason for h in harness.outbox.held()]
    assert held == [] and report.sent == 3, held
    sent = sent_to(harness)
    for requester, _, _, _, _, (subject, greeting) in REPLIES.values():
        got_subject, text = sent[requester]
        assert got_subject == subject
        assert text.startswith(greeting.split()[0]), text
        assert "Hello" not in text and "Your request" not in text


def test_content_language_of_the_request_wins_over_the_text(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """The requester's mail says Content-Language: de-DE; the title and note read as English
    to an identifier. The header is the requester's own statement: the notice is German."""
    dovecot.append(
        "INBOX",
        request(
            7, "Outlook password prompt", "Outlook asks for my password all the time.",
            "mia@example.org", {"Content-Language": "de-DE"},
        ),
    )  # fmt: skip
    dovecot.append(
        "Resolved",
        reply(
            7, "RE: Outlook password prompt", "We cleared the saved password in Outlook.",
            "mia@example.org", "On Thu, Mia wrote:",
        ),
    )  # fmt: skip
    harness.service.run_pass()
    (subject, text) = sent_to(harness)["mia@example.org"]
    assert subject == "Erledigt: Outlook password prompt"
    assert text.startswith("Hallo")


def test_russian_reply_without_templates_uses_the_default_and_detectors_only(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """No Russian templates ship: the notice uses the default language's template, the gate
    runs its detectors only (no English word list on Russian words), says so, and sends."""
    note = (
        "Здравствуйте, Ольга!\n\nЛоток для бумаги застрял. Мы поставили его на место и "
        "напечатали пробную страницу. Теперь вы снова можете печатать со своего компьютера."
    )
    dovecot.append(
        "INBOX",
        request(
            9, "Принтер на втором этаже не печатает", "Принтер не печатает с утра.",
            "olga@example.org",
        ),
    )  # fmt: skip
    dovecot.append(
        "Resolved",
        reply(
            9, "RE: Принтер на втором этаже не печатает", note, "olga@example.org",
            "27 нояб. 2026 г., в 09:00, Ольга <olga@example.org> написал(а):",
        ),
    )  # fmt: skip
    report = harness.service.run_pass()
    assert [h.reason for h in harness.outbox.held()] == [] and report.sent == 1
    (subject, text) = sent_to(harness)["olga@example.org"]
    assert subject == "Done: Принтер на втором этаже не печатает"
    assert "Мы поставили его на место" in text
    (queued,) = harness.outbox.audit_records(AuditQuery(outcome="queued"))
    findings = json.loads(queued.findings)
    notes = [f for f in findings if f["kind"] == "detectors_only"]
    assert notes and "ru" in notes[0]["suggestion"], findings
