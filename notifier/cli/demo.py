"""``notifier demo``: the real pipeline on shipped sample exports, with no configuration.

It starts an SMTP server (aiosmtpd) on 127.0.0.1, uses a temporary state directory, reads the
sample exports under ``examples/exports`` with their products' presets, runs one pass and prints
what the server received and the audit trail. Nothing leaves this machine.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from notifier.cli.auditview import format_records
from notifier.core.audit import AuditQuery
from notifier.core.printable import say
from notifier.runtime import bootstrap, logs
from notifier.runtime.config import Settings

# (source name, file pattern under examples/exports, preset)
DEMO_EXPORTS = (
    ("jira", "jira-*.csv", "jira"),
    ("servicenow", "servicenow-*.json", "servicenow"),
    ("zendesk", "zendesk-*.csv", "zendesk"),
)


class _Collector:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK: queued by the notifier demo server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_settings(state_directory: Path, smtp_port: int) -> Settings:
    examples = bootstrap.bundled_path("examples") / "exports"
    return Settings.model_validate(
        {
            "state": {"directory": state_directory},
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "plain",
                "from_address": "it-helpdesk@example.org",
                "from_name": "IT Help Desk",
                "timeout": 10,
            },
            # Route tickets to the example teams shipped in templates/ by their group column.
            "teams": {
                "network": {"match": {"team": ["Network"]}, "display_name": "The Network Team"},
                "service-desk": {"match": {"team": ["Service Desk", "IT Support"]}},
                "accounts": {"match": {"team": ["File shares", "Accounts"]}},
                "default": {"reply_to": "it-helpdesk@example.org"},
            },
            "exports": [
                {
                    "name": name,
                    "path": str(examples / pattern),
                    "preset": preset,
                    "settle_seconds": 0,
                }
                for name, pattern, preset in DEMO_EXPORTS
            ],
            "log": {"level": "warning"},
            # The samples carry fixed dates; without this the backfill guard would suppress them.
            "rules": {"max_age": 0},
        }
    )


def run(*, keep: bool = False) -> int:
    from aiosmtpd.controller import Controller

    logs.configure("warning", "console", stream=sys.stderr)
    state_directory = Path(tempfile.mkdtemp(prefix="notifier-demo-"))
    collector = _Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = demo_settings(state_directory, port)
        with bootstrap.open_outbox(settings) as outbox:
            service = bootstrap.build_service(settings, outbox)
            service.start()
            report = service.run_pass()
            records = outbox.audit_records(AuditQuery())
    finally:
        controller.stop()
        if not keep:
            shutil.rmtree(state_directory, ignore_errors=True)

    say(
        f"notifier demo: read the sample exports in {bootstrap.bundled_path('examples') / 'exports'}"
    )
    say(
        f"and sent {len(collector.messages)} notice(s) to a local SMTP server on 127.0.0.1:{port}.\n"
    )
    for number, message in enumerate(collector.messages, start=1):
        say(f"=== delivered message {number} " + "=" * 50)
        for header in (
            "From",
            "To",
            "Reply-To",
            "Subject",
            "Message-ID",
            "References",
            "Auto-Submitted",
        ):
            if message[header]:
                say(f"{header}: {message[header]}")
        body = message.get_body(preferencelist=("plain",))
        say()
        say(body.get_content().rstrip() if body is not None else "(no text part)")
        say()
    say("=== audit trail " + "=" * 58)
    say(format_records(records, "table"))
    held = [r for r in records if r.outcome == "held"]
    if held:
        say(
            f"\n{len(held)} notice(s) held by the plain-language gate: the technician's note was "
            "full of IT jargon.\nIn production, `notifier held` lists them, and `notifier release` "
            "or `notifier cancel` decides."
        )
    if keep:
        say(
            f"\nstate kept in {state_directory} (try: notifier audit with state.directory set there)"
        )
    say(
        f"\nseen {report.seen}, queued {report.queued}, sent {report.sent}, "
        f"rejected {report.rejected}, held {report.held}, failed {report.failed}"
    )
    return 0 if report.sent and not report.failed else 1
