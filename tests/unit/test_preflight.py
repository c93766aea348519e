"""The run-time checks behind `check-config` that the e2e tests cannot reach as root."""

from __future__ import annotations

from pathlib import Path

from notifier.cli import preflight


def test_an_interpreter_under_a_home_directory_is_a_warning() -> None:
    """The shipped unit's ProtectHome=yes hides /root and /home: systemd fails with 203/EXEC."""
    (finding,) = preflight._interpreter(Path("/root/.pyenv/versions/3.11.7/bin/python3.11"))
    assert finding.severity == "warning" and "ProtectHome=yes" in finding.message
    assert preflight._interpreter(Path("/usr/bin/python3")) == []


def test_a_glob_needs_its_folder_and_warns_while_it_matches_nothing(tmp_path: Path) -> None:
    (missing,) = preflight._export_path("exports.x.path", str(tmp_path / "nope" / "*.csv"))
    assert missing.severity == "error" and "does not exist" in missing.message
    (empty,) = preflight._export_path("exports.x.path", str(tmp_path / "*.csv"))
    assert empty.severity == "warning" and "matches no file yet" in empty.message
    (tmp_path / "a.csv").write_text("Key\n")
    assert preflight._export_path("exports.x.path", str(tmp_path / "*.csv")) == []
