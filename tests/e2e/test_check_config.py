"""`notifier check-config` as an operator runs it before starting the service: one verdict that
is non-zero on any error, every problem listed (not only the first), and checks of what the
service will need at run time (the state directory, export paths, templates, secret files)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli import notifier


def write_config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\ndirectory = "{tmp_path / "state"}"\n{body}', encoding="utf-8")
    return config


def check(config: Path) -> tuple[int, str, str]:
    result = notifier("check-config", "--config", str(config))
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


EXPORT = """
[[exports]]
name = "desk"
path = "{path}"
preset = "jira"
"""


def test_a_good_configuration_is_ok(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    code, out, err = check(write_config(tmp_path, EXPORT.format(path=tmp_path / "exports")))
    assert code == 0, err
    assert out.startswith("configuration OK")


def test_a_template_error_is_not_followed_by_ok(tmp_path: Path) -> None:
    """It printed the template error, then "configuration OK", then exited 78."""
    templates = tmp_path / "templates" / "default"
    templates.mkdir(parents=True)
    (templates / "resolved.subject.j2").write_text("Done: {{ ticket.title }")
    (templates / "resolved.txt.j2").write_text("Hello")
    code, out, err = check(
        write_config(tmp_path, f'[templates]\ndirectory = "{tmp_path / "templates"}"\n')
    )
    assert code == 78
    assert "configuration OK" not in out + err
    assert "resolved.subject.j2" in err and "not OK" in out + err


def test_a_missing_export_path_is_an_error(tmp_path: Path) -> None:
    """It passed: the first poll at run time was the first to notice."""
    code, out, err = check(write_config(tmp_path, EXPORT.format(path=tmp_path / "nope")))
    assert code == 78, out
    assert "configuration OK" not in out
    assert "exports.desk.path" in err and "does not exist" in err


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    """A missing secret file and a missing export path and a state directory that cannot be
    created: three lines, one verdict naming the count."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    body = EXPORT.format(path=tmp_path / "nope") + (
        '[smtp]\nusername = "robot"\npassword_file = "missing-secret"\n'
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\ndirectory = "{blocker / "state"}"\n{body}', encoding="utf-8")
    code, out, err = check(config)
    assert code == 78, out
    assert "exports.desk.path" in err
    assert "smtp.password_file" in err and "missing-secret" in err
    assert "state.directory" in err
    assert "3 error(s)" in out + err
