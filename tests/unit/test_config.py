"""Configuration: the example loads, typos name the key, env overrides, secrets stay secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notifier.cli.main import main
from notifier.core.errors import ConfigError
from notifier.runtime.config import EX_CONFIG, load_settings

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_with_every_section() -> None:
    """config.example.toml is valid and exercises every section it documents."""
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.smtp.host == "mail.example.org"
    assert settings.smtp.password_credential == "smtp-password"
    assert settings.teams["network"].match == {"team": ["Network", "Network Operations"]}
    assert settings.exports[0].preset == "jira"
    assert settings.delivery.give_up_after.days == 3


def test_every_settings_key_is_documented_in_the_example() -> None:
    """Each key of every section appears in config.example.toml (set or commented out)."""
    from notifier.runtime.config import (
        ApiSettings,
        ExportSettings,
        ImapRuleSettings,
        ImapSettings,
        Settings,
        TeamSettings,
        WebhookSettings,
    )

    text = (ROOT / "config.example.toml").read_text()
    missing = []
    for section, model in Settings.model_fields.items():
        annotation = model.annotation
        fields = getattr(annotation, "model_fields", {})
        if section == "teams":
            fields = TeamSettings.model_fields
        if section == "exports":
            fields = ExportSettings.model_fields
        if section == "imap":
            fields = {**ImapSettings.model_fields, **ImapRuleSettings.model_fields}
        if section == "webhook":
            fields = WebhookSettings.model_fields
        if section == "api":
            fields = ApiSettings.model_fields
        missing += [
            f"{section}.{key}"
            for key in fields
            if not re.search(rf"^(# )?{key} =|^\[\[?{section}\.{key}\]", text, re.MULTILINE)
        ]
    assert missing == []


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A typo is an error that names the section and the key, never silently ignored."""
    path = write(tmp_path, "[smtp]\nhots = 'x'\n")
    with pytest.raises(ConfigError, match=r"smtp\.hots: unknown key"):
        load_settings(path)


def test_unknown_key_in_export_list_is_named(tmp_path: Path) -> None:
    """Keys inside [[exports]] are checked too, with the list index in the name."""
    path = write(tmp_path, "[[exports]]\nname='a'\npath='x'\npreset_name='jira'\n")
    with pytest.raises(ConfigError, match=r"exports\.0\.preset_name: unknown key"):
        load_settings(path)


def test_bad_toml_names_the_file_and_line(tmp_path: Path) -> None:
    """A TOML syntax error says which file and where."""
    path = write(tmp_path, "[smtp]\nhost = \n")
    with pytest.raises(ConfigError, match=r"config\.toml: not valid TOML: .*line 2"):
        load_settings(path)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOTIFIER_<SECTION>__<KEY> wins over the file and keeps the file's other keys."""
    path = write(tmp_path, "[smtp]\nhost = 'file.example.org'\nport = 2525\n")
    monkeypatch.setenv("NOTIFIER_SMTP__HOST", "env.example.org")
    settings = load_settings(path)
    assert (settings.smtp.host, settings.smtp.port) == ("env.example.org", 2525)


def test_plaintext_password_refused_unless_insisted(tmp_path: Path) -> None:
    """A password written in the TOML is refused, unless allow_plaintext_password is set."""
    with pytest.raises(ConfigError, match="plain-text 'password' is refused"):
        load_settings(write(tmp_path, "[smtp]\nusername='u'\npassword='hunter2'\n"))
    settings = load_settings(
        write(tmp_path, "[smtp]\nusername='u'\npassword='hunter2'\nallow_plaintext_password=true\n")
    )
    assert settings.smtp.resolve_password() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_password_from_file_and_from_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """password_file is read relative to the config; password_credential from $CREDENTIALS_DIRECTORY."""
    (tmp_path / "pw").write_text("s3cret\n")
    settings = load_settings(write(tmp_path, "[smtp]\nusername='u'\npassword_file='pw'\n"))
    assert settings.smtp.resolve_password() == "s3cret"

    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "smtp-password").write_text("from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(
        write(tmp_path, "[smtp]\nusername='u'\npassword_credential='smtp-password'\n")
    )
    assert settings.smtp.resolve_password() == "from-systemd"


def test_missing_password_file_names_the_key(tmp_path: Path) -> None:
    """An unreadable secret file is a ConfigError naming the key and the path."""
    settings = load_settings(write(tmp_path, "[smtp]\nusername='u'\npassword_file='nope'\n"))
    with pytest.raises(ConfigError, match=r"smtp\.password_file: cannot read .*nope"):
        settings.smtp.resolve_password()


def test_config_error_exits_78_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line turns a config error into exit status 78 and one line on stderr."""
    path = write(tmp_path, "[delivery]\ngive_up_after = 'soon'\n")
    assert main(["check-config", "--config", str(path)]) == EX_CONFIG
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "delivery.give_up_after" in err and "'soon' is not a duration" in err


def test_missing_named_config_file_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`notifier once --config MISSING` says the file is missing and exits 78."""
    assert main(["once", "--config", str(tmp_path / "missing.toml")]) == EX_CONFIG
    assert "configuration file not found" in capsys.readouterr().err


def test_bad_from_address_is_refused_at_load(tmp_path: Path) -> None:
    """A From address that is not one would make every notice a dead letter: refuse it early."""
    with pytest.raises(ConfigError, match=r"smtp: .*from_address"):
        load_settings(write(tmp_path, "[smtp]\nfrom_address = 'helpdesk at example'\n"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NOTIFIER_FOO__BAR", "unknown section 'foo'"),
        ("NOTIFIER_SMTP_HOST", "unknown section 'smtp_host'"),
        ("NOTIFIER_SMTP__HOTS", "unknown key smtp.hots"),
    ],
)
def test_unknown_environment_keys_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    """A NOTIFIER_* variable that is no setting is a typo: an error naming it, not ignored."""
    monkeypatch.setenv(name, "x")
    with pytest.raises(ConfigError, match=f"{name}: {message}"):
        load_settings(write(tmp_path, ""))


def test_undecodable_environment_list_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """NOTIFIER_EXPORTS must be JSON; anything else exits 78 with one line naming it."""
    monkeypatch.setenv("NOTIFIER_EXPORTS", "notjson")
    assert main(["check-config", "--config", str(write(tmp_path, ""))]) == EX_CONFIG
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "exports" in err and "environment" in err


def test_zero_poll_interval_is_refused(tmp_path: Path) -> None:
    """A poll interval under a second would spin the daemon."""
    with pytest.raises(ConfigError, match=r"run\.poll_interval: must be at least 1s"):
        load_settings(write(tmp_path, "[run]\npoll_interval = 0\n"))


def test_missing_ca_file_fails_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unusable smtp.ca_file is a configuration error at start, not a crash at first send."""
    path = write(tmp_path, "[smtp]\nca_file = 'missing.pem'\n")
    assert main(["check-config", "--config", str(path)]) == EX_CONFIG
    assert "smtp.ca_file: cannot load" in capsys.readouterr().err


def test_a_team_reply_to_holding_an_address_list_is_a_config_error(tmp_path: Path) -> None:
    """Found at start, not at the first send, where it would dead-letter every notice."""
    path = write(tmp_path, '[teams.net]\nreply_to = "desk@example.org,evil@example.com"\n')
    with pytest.raises(ConfigError, match=r"teams\.net\.reply_to: .* is an address list"):
        load_settings(path)
    assert load_settings(write(tmp_path, '[teams.net]\nreply_to = "desk@example.org"\n'))


EXPORTS_TWO = """
[[exports]]
name = "jira"
path = "/srv/jira"
preset = "jira"
[[exports]]
name = "glpi"
path = "/srv/glpi"
preset = "glpi"
settle_seconds = 5
"""


def test_an_environment_variable_overrides_one_key_of_a_listed_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NOTIFIER_EXPORTS__1__PATH changes that export's path and nothing else (it was refused:
    pydantic-settings took it as the whole list, "exports: Input should be a valid list")."""
    monkeypatch.setenv("NOTIFIER_EXPORTS__1__PATH", "/data/glpi")
    monkeypatch.setenv("NOTIFIER_EXPORTS__1__SETTLE_SECONDS", "2.5")
    settings = load_settings(write(tmp_path, EXPORTS_TWO))
    assert [e.path for e in settings.exports] == ["/srv/jira", "/data/glpi"]
    assert settings.exports[1].settle_seconds == 2.5 and settings.exports[1].preset == "glpi"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NOTIFIER_EXPORTS__2__PATH", "no exports entry 2 in the file"),
        ("NOTIFIER_EXPORTS__0__PAHT", "unknown key exports.paht"),
        ("NOTIFIER_IMAP__0__HOST", "no imap entry 0 in the file"),
    ],
)
def test_an_environment_override_of_a_missing_entry_or_key_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv(name, "x")
    with pytest.raises(ConfigError, match=f"environment: {name}: {message}"):
        load_settings(write(tmp_path, EXPORTS_TWO))


def test_a_roundup_query_that_sets_notifiers_own_terms_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reader sets ``activity`` and the ``@`` controls; a query that does too would change
    what a page is, so it is refused naming the key."""
    (tmp_path / "token").write_text("jwt")
    path = write(
        tmp_path,
        f'[state]\ndirectory = "{tmp_path / "state"}"\n[[api]]\nname = "tracker"\n'
        'product = "roundup"\nurl = "https://roundup.example.org/tracker"\n'
        'token_file = "token"\nquery = "keyword=network&@page_size=5"\n',
    )
    assert main(["check-config", "--config", str(path)]) == EX_CONFIG
    assert "api.tracker.query: Roundup query term '@page_size'" in capsys.readouterr().err
