"""Every webhook preset, end to end: its product's payload (tests/data/webhooks), signed or
authenticated the way the product does it (computed here, not by notifier's code), posted to
the real listener, read by the pass and told to the requester over SMTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from notifier.core.audit import AuditQuery
from notifier.core.compose import TeamProfile
from notifier.core.policy import RetryPolicy
from notifier.core.render import Renderer
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.service import DeliveryLimits, Service
from notifier.sources.webhook.presets import PRESETS
from notifier.sources.webhook.receiver import Endpoint, Receiver, RefusalLog
from notifier.sources.webhook.server import ListenLimits, WebhookServer
from notifier.sources.webhook.source import WebhookSource
from notifier.store.sqlite.outbox import Outbox
from tests.smtp_server import SmtpServerFactory

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "webhooks"
SECRET = "preset-secret-7Qx"
NOW = datetime(2026, 12, 3, 10, 16, 0, tzinfo=UTC)

Signer = Callable[[bytes], tuple[dict[str, str], dict[str, str]]]  # body -> headers, query


def zendesk(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": "8350205582",
    }, {}


def hub(algorithm: str, id_header: str) -> Signer:
    def sign(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
        mac = hmac.new(SECRET.encode(), body, getattr(hashlib, algorithm)).hexdigest()
        return {"X-Hub-Signature": f"{algorithm}={mac}", id_header: "delivery-1"}, {}

    return sign


def glpi(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    stamp = str(int(NOW.timestamp()) - 3600)  # a retry from GLPI's queue, an hour later
    mac = hmac.new(SECRET.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return {"X-GLPI-signature": mac, "X-GLPI-timestamp": stamp}, {}


def basic(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    user_password = base64.b64encode(f"notifier:{SECRET}".encode()).decode()
    return {"Authorization": f"Basic {user_password}"}, {}


def bearer(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    return {"Authorization": f"Bearer {SECRET}"}, {}


def url_token(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    return {}, {"token": SECRET}


@dataclass(frozen=True)
class Case:
    preset: str
    sample: str
    sign: Signer
    secret: str
    requester: str
    ticket: str
    note: str


CASES = [
    Case("zendesk", "zendesk-solved.json", zendesk, SECRET, "lena.berg@example.org", "1234",
         "I reinstalled the printer for you."),
    Case("jira", "jira-issue-updated.json", hub("sha256", "X-Atlassian-Webhook-Identifier"),
         SECRET, "omar.haddad@example.org", "ITSD-42", "I renewed your VPN certificate."),
    Case("zammad", "zammad-closed.json", hub("sha1", "X-Zammad-Delivery"), SECRET,
         "emily.adams@example.org", "10081", "Outlook starts again."),
    Case("glpi", "glpi-ticket-solved.json", glpi, SECRET, "jane.doe@example.org", "42", ""),
    Case("freshdesk", "freshdesk-resolved.json", basic, f"notifier:{SECRET}",
         "sam.okafor@example.org", "5521", "Your new monitor is set up at desk 14."),
    Case("servicenow", "servicenow-resolved.json", bearer, SECRET, "mia.wong@example.org",
         "INC0010023", "I mapped the shared drive S: again."),
    Case("django-helpdesk", "django-helpdesk-resolved.json", url_token, SECRET,
         "anna.schmidt@example.org", "it-12", "I cleared the paper jam."),
]  # fmt: skip


def test_every_product_preset_has_a_case_here() -> None:
    assert sorted(case.preset for case in CASES) == sorted(PRESETS)


@dataclass
class Desk:
    service: Service
    outbox: Outbox
    url: str


@pytest.fixture
def desk(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServerFactory
) -> Iterator[tuple[Desk, Case]]:
    case: Case = request.param
    preset = PRESETS[case.preset]
    outbox = Outbox.open(tmp_path / "state")
    endpoint = Endpoint(
        "desk", "/webhooks/desk", preset, case.secret.encode(), timedelta(minutes=5), 1 << 20
    )
    receiver = Receiver(
        [endpoint], outbox, clock=lambda: NOW, wake=lambda: None,
        refusals=RefusalLog(timedelta(minutes=1)),
    )  # fmt: skip
    server = WebhookServer("127.0.0.1", 0, receiver, ListenLimits()).start()
    sink = smtp_server()
    service = Service(
        sources=[WebhookSource("desk", preset, outbox, outbox)],
        outbox=outbox,
        renderer=Renderer.load(ROOT / "templates"),
        routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=SmtpSender(
            SmtpOptions(
                host=sink.host,
                port=sink.port,
                security="plain",
                timeout=5,
                from_address="it@example.org",
            ),
            lambda: NOW,
        ),
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(),
        domain="example.org",
        clock=lambda: NOW,
        rng=random.Random(1),
    )
    service.sink = sink  # type: ignore[attr-defined]
    try:
        yield Desk(service, outbox, f"http://127.0.0.1:{server.port}/webhooks/desk"), case
    finally:
        server.close()
        outbox.close()


@pytest.mark.parametrize("desk", CASES, ids=[c.preset for c in CASES], indirect=True)
def test_a_products_resolved_event_tells_the_requester_and_a_forgery_is_refused(
    desk: tuple[Desk, Case],
) -> None:
    site, case = desk
    body = (DATA / case.sample).read_bytes()
    headers, query = case.sign(body)
    answer = httpx.post(site.url, content=body, headers=headers, params=query, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted" and answer.json()["ticket"] == "resolved"
    assert site.service.run_pass().sent == 1
    (message,) = site.service.sink.messages  # type: ignore[attr-defined]
    assert message.rcpt_tos == (case.requester,)
    text = message.message.get_body(preferencelist=("plain",))
    assert text is not None and case.note in text.get_content()
    (record,) = site.outbox.audit_records(AuditQuery(outcome="sent"))
    assert record.ticket_id == case.ticket

    tampered = body.replace(b"example.org", b"example.com", 1)
    forged = httpx.post(site.url, content=tampered, headers=headers, params=query, timeout=10)
    if case.preset in ("zendesk", "jira", "zammad", "glpi"):  # the products that sign
        assert forged.status_code == 401
    wrong = httpx.post(site.url, content=body, timeout=10)
    assert wrong.status_code == 401


def test_glpi_sends_every_update_of_a_solved_ticket_and_is_told_once_until_reopened(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """GLPI's webhook fires on every update and carries no solve time: solved, solved again
    (a follow-up on the solved ticket), closed -> one notice; reopened, solved -> a second."""
    import json

    preset = PRESETS["glpi"]
    outbox = Outbox.open(tmp_path / "state")
    sink = smtp_server()
    service = Service(
        sources=[WebhookSource("glpi", preset, outbox, outbox)], outbox=outbox,
        renderer=Renderer.load(ROOT / "templates"), routes=[],
        teams={"default": TeamProfile("default", "IT")},
        sender=SmtpSender(SmtpOptions(host=sink.host, port=sink.port, security="plain",
                                      timeout=5, from_address="it@example.org"), lambda: NOW),
        policy=RetryPolicy(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)),
        limits=DeliveryLimits(), domain="example.org", clock=lambda: NOW, rng=random.Random(1),
    )  # fmt: skip
    sample = json.loads((DATA / "glpi-ticket-solved.json").read_text())

    def update(n: int, status: int, minute: int) -> None:
        item = {**sample["item"], "status": {"id": status, "name": "x"},
                "date_mod": f"2026-12-03T10:{minute:02d}:00+00:00"}  # fmt: skip
        body = json.dumps({**sample, "item": item})
        assert outbox.receive("glpi", f"e{n}", NOW, body)

    try:
        update(1, 5, 15)  # solved
        update(2, 5, 20)  # a follow-up added to the solved ticket
        update(3, 6, 30)  # closed
        report = service.run_pass()
        assert (report.seen, report.sent, report.ignored) == (1, 1, 2)
        update(4, 2, 40)  # assigned again: reopened
        update(5, 5, 50)  # solved again
        report = service.run_pass()
        assert (report.seen, report.sent) == (1, 1)
        assert len(sink.messages) == 2
    finally:
        outbox.close()
