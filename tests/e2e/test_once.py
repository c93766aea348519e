"""`notifier once` end to end: exports in, notices out through a real SMTP server, all audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli import CSV_HEADER, csv_row, notifier, secret_forms, write_config
from tests.smtp_server import SmtpServerFactory


def test_second_run_sends_nothing_and_a_reopened_ticket_sends_one_more(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Re-reading the same exports is safe; a ticket resolved again (new time) gets one more notice."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "monday.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", summary="Printer jams")
        + csv_row("HD-2", "bob@example.org", summary="New laptop")
        + csv_row("HD-3", "cat@example.org", status="In Progress", resolved=""),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)

    first = notifier("once", "--config", str(config))
    assert first.returncode == 0, first.stderr + first.stdout
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["ann@example.org", "bob@example.org"]

    # The next export repeats HD-1 and HD-2 unchanged, and HD-2 was reopened and resolved again.
    (exports / "tuesday.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", summary="Printer jams")
        + csv_row("HD-2", "bob@example.org", summary="New laptop")
        + csv_row("HD-2", "bob@example.org", summary="New laptop", resolved="2026-11-28T10:00:00Z"),
        encoding="utf-8",
    )
    second = notifier("once", "--config", str(config))
    assert second.returncode == 0, second.stderr + second.stdout
    third = notifier("once", "--config", str(config))
    assert third.returncode == 0, third.stderr + third.stdout
    recipients = [m.rcpt_tos[0] for m in server.messages]
    assert sorted(recipients) == ["ann@example.org", "bob@example.org", "bob@example.org"]
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(set(ids)) == 3  # a new resolution is a new notice with its own Message-ID


def test_malformed_rows_are_reported_with_file_and_line_and_good_rows_delivered(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A broken row gives file:line and a reason, is audited, and never blocks the good rows."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "mixed.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org")
        + csv_row("HD-2", "not-an-address")
        + '"HD-3","cat@example.org","cut off here"\r\n'
        + csv_row("HD-4", "dan@example.org", resolved="the day before yesterday")
        + csv_row("HD-5", "eve@example.org"),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1  # something needs attention
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["ann@example.org", "eve@example.org"]

    audit = notifier("audit", "--config", str(config), "--status", "rejected", "--format", "json")
    rejected = json.loads(audit.stdout)
    origins = {record["origin"].rsplit("/", 1)[-1]: record["reason"] for record in rejected}
    assert set(origins) >= {"mixed.csv:3", "mixed.csv:5"}, origins
    assert "not-an-address" in origins["mixed.csv:3"]
    assert "the day before yesterday" in origins["mixed.csv:5"]
    assert any("mixed.csv:4" in o for o in origins), origins  # the truncated row
    # ... and the same problems were logged as JSON events naming file and line.
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(
        e["event"] == "input_rejected" and e["origin"].endswith("mixed.csv:3") for e in events
    )


def test_audit_shows_the_whole_history_of_one_ticket(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """`notifier audit --ticket X --format json` lists queued, deferred and sent for that ticket."""
    from tests.smtp_server import ServerBehaviour

    server = smtp_server(behaviour=ServerBehaviour(defer_first=1))
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-9", "ann@example.org") + csv_row("HD-10", "bob@example.org"),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports)
    first = notifier("once", "--config", str(config))
    assert first.returncode == 75, first.stdout + first.stderr  # deferred only: try again later
    import time

    time.sleep(2.1)  # retry_max is 2s in this config
    second = notifier("once", "--config", str(config))
    assert second.returncode == 0, second.stdout + second.stderr

    history = json.loads(
        notifier("audit", "--config", str(config), "--ticket", "HD-9", "--format", "json").stdout
    )
    assert [record["outcome"] for record in history] == ["queued", "deferred", "sent"]
    assert history[1]["smtp_code"] == 451 and "Greylisted" in history[1]["smtp_reply"]
    assert {record["message_id"] for record in history} == {history[0]["message_id"]}
    assert all(record["ticket_id"] == "HD-9" for record in history)
    table = notifier("audit", "--config", str(config), "--ticket", "HD-9").stdout
    assert "deferred" in table and "451" in table


def test_header_injection_through_ticket_data_adds_no_header(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """CR/LF and encoded words in a title or name never become headers at the server."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "evil.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", summary="Hi\r\nBcc: victim@example.com")
        + csv_row(
            "HD-2",
            "bob@example.org",
            name="=?utf-8?q?Bob=0D=0AX-Injected:_yes?=",
            summary="=?utf-8?q?x=0D=0ABcc:_victim@example.com?=",
        ),
        encoding="utf-8",
    )
    config = write_config(tmp_path, server, exports, extra='\n[plain]\npolicy = "warn"\n')
    assert notifier("once", "--config", str(config)).returncode == 0
    assert len(server.messages) == 2
    for received in server.messages:
        names = {name.lower() for name in received.header_names}
        assert "bcc" not in names and "x-injected" not in names
        assert received.rcpt_tos == (received.message["To"].addresses[0].addr_spec,)


def test_template_error_holds_only_that_teams_notices(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A team with a broken template has its notices held with the reason; others are sent."""
    import shutil

    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parents[2] / "templates", templates)
    (templates / "network").mkdir(exist_ok=True)
    (templates / "network" / "resolved.txt.j2").write_text("Hello {{ requester.nmae }}\n")
    (exports / "a.csv").write_text(
        CSV_HEADER
        + csv_row("HD-1", "ann@example.org", group="Network")
        + csv_row("HD-2", "bob@example.org"),
        encoding="utf-8",
    )
    config = write_config(
        tmp_path, server, exports,
        extra=f'\n[templates]\ndirectory = "{templates}"\n[teams.network]\nmatch = {{ team = ["network"] }}\n',
    )  # fmt: skip
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1
    assert [m.rcpt_tos[0] for m in server.messages] == ["bob@example.org"]
    held = json.loads(
        notifier("audit", "--config", str(config), "--status", "held", "--format", "json").stdout
    )
    assert [record["ticket_id"] for record in held] == ["HD-1"]
    assert "network/resolved.txt.j2:1" in held[0]["reason"] and "nmae" in held[0]["reason"]


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("correct-horse-battery-staple-7d1f", True),
        ("pässwörd-€-7d1f", True),
        ("wröng-pässwörd-€-7d1f", False),
    ],
    ids=["ascii", "non-ascii", "non-ascii-refused"],
)
def test_starttls_and_auth_from_a_password_file_never_leak_the_password(
    tmp_path: Path, smtp_server: SmtpServerFactory, password: str, accepted: bool
) -> None:
    """Verified STARTTLS with AUTH works from config, with a UTF-8 password too; a refused one
    (535) defers the notice with a clear reason. In every case no form of the password is in
    the output, the audit trail or the database bytes."""
    server = smtp_server(
        security="starttls", auth=("robot", password if accepted else "pässwörd-€-7d1f")
    )
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    (tmp_path / "smtp-password").write_text(password + "\n", encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    text = config.read_text().replace('security = "plain"', 'security = "starttls"')
    text = text.replace(
        "timeout = 5",
        f'timeout = 5\nusername = "robot"\npassword_file = "smtp-password"\nca_file = "{server.ca_file}"',
    )
    config.write_text(text)
    result = notifier("once", "--config", str(config))
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    audit = notifier("audit", "--config", str(config), "--format", "json").stdout
    if accepted:
        assert result.returncode == 0, output
        assert [m.rcpt_tos[0] for m in server.messages] == ["ann@example.org"]
    else:
        assert server.messages == []
        (record,) = [r for r in json.loads(audit) if r["outcome"] == "deferred"]
        assert record["smtp_code"] == 535, record
    state = tmp_path / "state"
    haystacks = [output.encode(), audit.encode()]
    haystacks += [path.read_bytes() for path in state.iterdir() if path.is_file()]
    for form in secret_forms(password, user="robot"):
        assert not any(form in haystack for haystack in haystacks), form


def test_untrusted_server_certificate_defers_with_a_clear_reason(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Without the CA, the server's certificate is refused; nothing is sent, the reason says why."""
    server = smtp_server(security="starttls")
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text(
        CSV_HEADER + csv_row("HD-1", "ann@example.org"), encoding="utf-8"
    )
    config = write_config(tmp_path, server, exports)
    config.write_text(config.read_text().replace('security = "plain"', 'security = "starttls"'))
    result = notifier("once", "--config", str(config))
    assert result.returncode == 75
    assert server.messages == []
    (deferred,) = json.loads(
        notifier(
            "audit", "--config", str(config), "--status", "deferred", "--format", "json"
        ).stdout
    )
    assert "certificate verify failed" in deferred["reason"]
    assert f"{server.host}:{server.port}" in deferred["reason"]


def test_a_notice_says_the_language_it_is_written_in(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Content-Language (RFC 3282) names the language the notice is written in: the French
    template for a French ticket, the default language for one without a template of its own
    (Italian here), so mail clients and screen readers read it right."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = CSV_HEADER.replace("\r\n", ",Language\r\n")
    rows += csv_row("HD-1", "ann@example.org", summary="Imprimante en panne").replace(
        "\r\n", ',"fr"\r\n'
    )
    rows += csv_row("HD-2", "bob@example.org", summary="Stampante guasta").replace(
        "\r\n", ',"it"\r\n'
    )
    (exports / "a.csv").write_text(rows, encoding="utf-8")
    config = write_config(tmp_path, server, exports)
    config.write_text(
        config.read_text().replace(
            'updated_at = "Updated"', 'updated_at = "Updated"\nlanguage = "Language"'
        )
    )
    result = notifier("once", "--config", str(config))
    assert result.returncode in (0, 1), result.stdout + result.stderr
    said = {m.rcpt_tos[0]: m.message["Content-Language"] for m in server.messages}
    assert said == {"ann@example.org": "fr", "bob@example.org": "en"}, result.stdout


def test_the_from_name_is_the_team_that_signs_the_notice(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """A team's display_name signs its notices; the From header said smtp.from_name ("IT Help
    Desk") all the same, so the network team's notice came from someone it did not name."""
    server = smtp_server()
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = csv_row("HD-1", "ann@example.org", group="Network")
    rows += csv_row("HD-2", "bob@example.org")
    (exports / "a.csv").write_text(CSV_HEADER + rows, encoding="utf-8")
    teams = '[teams.network]\nmatch = { team = ["Network"] }\ndisplay_name = "The Network Team"\n'
    config = write_config(tmp_path, server, exports, extra=teams)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    names = {m.rcpt_tos[0]: m.message["From"].addresses[0] for m in server.messages}
    network, default = names["ann@example.org"], names["bob@example.org"]
    assert network.display_name == "The Network Team"
    assert network.addr_spec == default.addr_spec == "it-helpdesk@example.org"
    body = next(m for m in server.messages if m.rcpt_tos[0] == "ann@example.org").message
    assert "The Network Team" in body.get_content()
    assert default.display_name == "IT Help Desk"
