"""The plain-language policies end to end: hold, release and cancel through SMTP, and rewrite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row, notifier, write_config
from tests.smtp_server import SmtpServerFactory

JARGON = "Flushed the DNS cache and re-provisioned your VPN profile, see KB0012345."


def audit(config: Path, *args: str) -> list[dict[str, object]]:
    result = notifier("audit", "--config", str(config), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    records: list[dict[str, object]] = json.loads(result.stdout)
    return records


def test_hold_then_release_sends_and_cancel_drops_with_audit_rows(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """With policy hold, jargon notes are held; release sends one, cancel drops the other."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", note=JARGON)
        + csv_row("HD-2", "bob@example.org", note=JARGON)
        + csv_row("HD-3", "cat@example.org", note="Your printer works again."),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports, extra='\n[plain]\npolicy = "hold"\n')
    first = notifier("once", "--config", str(config))
    assert first.returncode == 1  # held notices need attention
    assert [m.rcpt_tos[0] for m in server.messages] == ["cat@example.org"]

    listing = notifier("held", "--config", str(config))
    assert listing.returncode == 0
    keys = [line for line in listing.stdout.splitlines() if line.startswith("desk:")]
    assert len(keys) == 2 and "KB0012345" in listing.stdout

    held = audit(config, "--status", "held")
    assert {r["ticket_id"] for r in held} == {"HD-1", "HD-2"}
    assert all("plain-language gate" in str(r["reason"]) for r in held)
    assert all(json.loads(str(r["findings"])) for r in held)  # findings kept with the notice

    hd1 = next(k for k in keys if ":HD-1:" in k)
    hd2 = next(k for k in keys if ":HD-2:" in k)
    assert notifier("release", "--config", str(config), hd1, "--note", "checked").returncode == 0
    assert notifier("cancel", "--config", str(config), hd2).returncode == 0
    assert notifier("release", "--config", str(config), hd2).returncode == 1  # not held any more
    second = notifier("once", "--config", str(config))
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["ann@example.org", "cat@example.org"]

    assert [r["outcome"] for r in audit(config, "--ticket", "HD-1")] == ["held", "released", "sent"]
    assert [r["outcome"] for r in audit(config, "--ticket", "HD-2")] == ["held", "cancelled"]
    assert "checked" in str(audit(config, "--ticket", "HD-1")[1]["reason"])


def test_rewrite_replaces_safe_terms_and_sends(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Policy rewrite: a safe glossary term is replaced and the notice goes out in plain words."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", note="We rebooted your laptop."),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports, extra='\n[plain]\npolicy = "rewrite"\n')
    result = notifier("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    (message,) = server.messages
    body = message.message.get_body(("plain",)).get_content()
    assert "restarted your laptop" in body and "reboot" not in body.lower()
    (queued,) = audit(config, "--status", "queued")
    assert "rewritten" in str(queued["reason"])


def test_the_html_part_is_checked_left_out_under_rewrite_and_holds_under_hold(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A team's HTML template says what its text template does not: under rewrite the notice goes
    out as plain text only, with the reason recorded; under hold it is held."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    html = templates / "service-desk" / "resolved.html.j2"
    html.write_text(
        html.read_text(encoding="utf-8").replace(
            "</body>", "<p>We flushed the DNS cache on the proxy for you.</p>\n</body>"
        ),
        encoding="utf-8",
    )
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", group="Service Desk"), encoding="utf-8"
    )
    teams = (
        f'\n[templates]\ndirectory = "{templates}"\n'
        '[teams.service-desk]\nmatch = { team = ["Service Desk"] }\n'
    )
    config = write_config(tmp_path, server, exports, extra=teams + '[plain]\npolicy = "rewrite"\n')
    result = notifier("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    (message,) = server.messages
    assert not message.message.is_multipart()  # plain text only
    assert "DNS" not in message.message.get_content()
    queued, sent = audit(config, "--ticket", "HD-1")
    assert (queued["outcome"], sent["outcome"]) == ("queued", "sent")
    assert "HTML part left out" in str(queued["reason"])
    findings = json.loads(str(queued["findings"]))
    assert any(f["part"] == "html" and "DNS cache" in f["text"] for f in findings)

    held_dir = tmp_path / "hold"
    held_dir.mkdir()
    (held_dir / "exports").mkdir()
    (held_dir / "exports" / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-2", "bob@example.org", group="Service Desk"), encoding="utf-8"
    )
    config = write_config(
        held_dir, server, held_dir / "exports", extra=teams + '[plain]\npolicy = "hold"\n'
    )
    assert notifier("once", "--config", str(config)).returncode == 1  # held: needs attention
    assert len(server.messages) == 1
    (held,) = audit(config, "--status", "held")
    assert "DNS cache" in str(held["reason"])


def test_releasing_a_notice_held_for_a_template_error_checks_its_new_words(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Nobody has read the words a fixed template renders: if the gate would hold them,
    release refuses unless --force, and says why."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "ops").mkdir()
    text = templates / "ops" / "resolved.txt.j2"
    text.write_text("Hello {{ requester.nmae }}\n", encoding="utf-8")  # a typo: held
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org", group="Ops", note=JARGON),
        encoding="utf-8",
    )
    extra = (
        f'\n[templates]\ndirectory = "{templates}"\n'
        '[teams.ops]\nmatch = { team = ["Ops"] }\n[plain]\npolicy = "hold"\n'
    )
    config = write_config(tmp_path, server, exports, extra=extra)
    assert notifier("once", "--config", str(config)).returncode == 1
    (held,) = audit(config, "--status", "held")
    assert "template error" in str(held["reason"])
    key = str(held["resolution_key"])

    text.write_text("Hello {{ requester.name }},\n\n{{ ticket.resolution_note }}\n", "utf-8")
    refused = notifier("release", "--config", str(config), key)
    assert refused.returncode == 1 and "would be held" in refused.stderr
    assert "Traceback" not in refused.stderr
    forced = notifier("release", "--config", str(config), key, "--force", "--note", "ok")
    assert forced.returncode == 0, forced.stderr
    assert notifier("once", "--config", str(config)).returncode == 0
    (message,) = server.messages
    assert "DNS" in message.message.get_content()  # the words the reviewer let through
