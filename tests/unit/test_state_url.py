"""`[state] url`: what is refused at load, and what libpq is given (TLS verified by default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.core.errors import ConfigError
from notifier.runtime.config import load_settings
from notifier.store.postgres.address import conninfo, where


def load(tmp_path: Path, state: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(f"[state]\n{state}\n", encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ('url = "mysql://db/notifier"', "a PostgreSQL URL"),
        ('url = "postgresql://n:secret@db/notifier"', "a password in the URL is refused"),
        ('url = "postgresql://n@db"', "name the database"),
        ('ca_file = "/etc/ca.pem"', "set url too"),
        ('url = "postgresql://n@db/x"\nlease = "1s"', "at least 3 s"),
        (
            'url = "postgresql://n@db/x"\npassword_file = "/a"\npassword_credential = "b"',
            "only one",
        ),
    ],
)
def test_a_wrong_state_setting_is_refused_at_load_with_its_reason(
    tmp_path: Path, state: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        load(tmp_path, state)


def test_a_remote_database_gets_verified_tls_unless_the_url_says_otherwise() -> None:
    remote = conninfo("postgresql://n@db1:5432,db2:5433/state?target_session_attrs=read-write")
    assert "sslmode=verify-full" in remote and "target_session_attrs=read-write" in remote
    assert "sslmode=require" in conninfo("postgresql://n@db1/state?sslmode=require")
    assert "sslmode" not in conninfo("postgresql://n@127.0.0.1:5432/state")
    with_ca = conninfo("postgresql://n@127.0.0.1/state", Path("/etc/ca.pem"))
    assert "sslmode=verify-full" in with_ca and "sslrootcert=/etc/ca.pem" in with_ca


def test_messages_name_the_database_and_never_its_password() -> None:
    assert where("postgresql://n:pw@db1:5432,db2:5433/state") == (
        "postgresql://n@db1:5432,db2:5433/state"
    )
    assert where("postgresql://n@db/state") == "postgresql://n@db/state"
