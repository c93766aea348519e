"""`notifier send-test`: one sample notice through the configured SMTP server, the server's
answer printed, nothing recorded in the state."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.cli.main import main
from tests.smtp_server import ServerBehaviour, SmtpServerFactory, SmtpTestServer


def write_config(tmp_path: Path, server: SmtpTestServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "{server.host}"
port = {server.port}
security = "tls"
ca_file = "{server.ca_file}"
timeout = "5s"
from_address = "it-helpdesk@example.org"
from_name = "IT Help Desk"
[teams.network]
display_name = "Network Team"
""",
        encoding="utf-8",
    )
    return config


def test_sends_one_rendered_sample_and_prints_the_answer(
    tmp_path: Path, smtp_server: SmtpServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sample is rendered with the team's templates, goes to --to only, and the 250 reply
    is printed; no state database is created."""
    server = smtp_server(security="tls")
    config = write_config(tmp_path, server)
    code = main(
        ["send-test", "--config", str(config), "--to", "admin@example.org", "--team", "network"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "sent: 127.0.0.1" in out and "250 2.0.0 OK queued" in out
    (received,) = server.wait_for_messages(1)
    assert received.rcpt_tos == ("admin@example.org",)
    message = received.message
    assert message["To"].addresses[0].addr_spec == "admin@example.org"
    assert message["Message-ID"] in out
    assert "Network Team" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert not (tmp_path / "state").exists()


def test_a_refusal_is_printed_and_exits_one(
    tmp_path: Path, smtp_server: SmtpServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's refusal (550) is shown as it was said, and the exit status is 1."""
    server = smtp_server(
        security="tls", behaviour=ServerBehaviour(data_reply="550 5.7.1 Rejected as spam")
    )
    code = main(["send-test", "--config", str(write_config(tmp_path, server)), "--to", "a@b.org"])
    captured = capsys.readouterr()
    assert code == 1
    assert "refused for good" in captured.err and "550 5.7.1 Rejected as spam" in captured.err


def test_unknown_team_and_bad_address_are_clear_errors(
    tmp_path: Path, smtp_server: SmtpServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A team with neither templates nor settings, or an address that is not one: exit 1 with
    a one-line reason, nothing sent."""
    server = smtp_server(security="tls")
    config = str(write_config(tmp_path, server))
    assert main(["send-test", "--config", config, "--to", "a@b.org", "--team", "nope"]) == 1
    assert "--team: no team 'nope'" in capsys.readouterr().err
    assert main(["send-test", "--config", config, "--to", "not an address"]) == 1
    assert "--to" in capsys.readouterr().err
    assert server.connections == 0
