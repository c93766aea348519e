"""The daemon's reload and watchdog, in process: a real outbox (SQLite), real templates and
configuration files, and a recording stand-in for the notify socket."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.core.errors import StateError
from notifier.runtime import bootstrap
from notifier.runtime.config import Settings, load_settings
from notifier.runtime.daemon import Daemon, Signals
from notifier.runtime.health import read_status
from notifier.runtime.sdnotify import Notifier
from notifier.store.sqlite.outbox import Outbox


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__("@recording")
        self.sent: list[tuple[float, tuple[str, ...]]] = []

    def notify(self, *fields: str) -> bool:
        self.sent.append((time.monotonic(), fields))
        return True


def write_config(tmp_path: Path, templates: Path, *, from_name: str = "IT Help Desk") -> Path:
    (tmp_path / "exports").mkdir(exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "127.0.0.1"
port = 2525
security = "plain"
from_name = "{from_name}"
[templates]
directory = "{templates}"
[run]
poll_interval = "1s"
[[exports]]
name = "desk"
path = "{tmp_path / "exports"}"
preset = "jira"
""",
        encoding="utf-8",
    )
    return config


def make_daemon(tmp_path: Path, config: Path, **kwargs: object) -> tuple[Daemon, Outbox]:
    settings = load_settings(config)
    outbox = bootstrap.open_outbox(settings)

    def load() -> Settings:
        return load_settings(config)

    daemon = Daemon(
        settings=settings,
        outbox=outbox,
        build=bootstrap.build_service,
        load=load,
        signals=Signals(),
        **kwargs,  # type: ignore[arg-type]
    )
    return daemon, outbox


def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(bootstrap.bundled_path("templates"), target)
    return target


def test_a_template_that_no_longer_compiles_rejects_the_reload_and_keeps_the_old_service(
    tmp_path: Path,
) -> None:
    """A syntax error in a team template at reload: the old service (and its templates) stays,
    the status file records the rejection with the file name, and READY=1 follows anyway."""
    templates = copy_templates(tmp_path)
    config = write_config(tmp_path, templates)
    recorder = RecordingNotifier()
    daemon, outbox = make_daemon(tmp_path, config, notifier=recorder)
    try:
        daemon.run_pass()
        daemon._ready = True  # as after the first pass of run()
        old = daemon.service
        (templates / "network" / "resolved.txt.j2").write_text("Hello {{ requester.name ", "utf-8")
        assert daemon.reload() is False
        assert daemon.service is old
        status = read_status(tmp_path / "state")
        assert status is not None and status.last_reload_result == "rejected"
        assert "network/resolved.txt.j2" in status.last_reload_error
        assert recorder.sent[-1][1][0] == "READY=1"
        assert "reload rejected" in recorder.sent[-1][1][1]
    finally:
        outbox.close()


def test_a_good_reload_swaps_the_service_and_keeps_the_state_lock(tmp_path: Path) -> None:
    """A valid new configuration: a new service with the new settings, the same open outbox
    (a second daemon still cannot take the state directory), the old sources closed."""
    templates = copy_templates(tmp_path)
    config = write_config(tmp_path, templates)
    daemon, outbox = make_daemon(tmp_path, config)
    try:
        old = daemon.service
        write_config(tmp_path, templates, from_name="Service Desk")
        assert daemon.reload() is True
        assert daemon.service is not old and daemon.service.outbox is outbox
        assert daemon.settings.smtp.from_name == "Service Desk"
        with pytest.raises(StateError, match="another notifier process"):
            Outbox.open(tmp_path / "state")
    finally:
        outbox.close()


def test_moving_the_state_directory_is_refused_until_a_restart(tmp_path: Path) -> None:
    """A reload cannot move the open state database: rejected, naming state.directory."""
    templates = copy_templates(tmp_path)
    config = write_config(tmp_path, templates)
    daemon, outbox = make_daemon(tmp_path, config)
    try:
        config.write_text(
            config.read_text().replace(str(tmp_path / "state"), str(tmp_path / "elsewhere")),
            "utf-8",
        )
        assert daemon.reload() is False
        status = read_status(tmp_path / "state")
        assert status is not None and "state.directory: changed" in status.last_reload_error
    finally:
        outbox.close()


def test_the_wait_between_passes_feeds_the_watchdog_at_half_its_interval(tmp_path: Path) -> None:
    """With a 0.4 s watchdog, a 1.2 s wait is cut into slices: WATCHDOG=1 about every 0.2 s,
    never a gap near the timeout."""
    templates = copy_templates(tmp_path)
    daemon, outbox = make_daemon(
        tmp_path,
        write_config(tmp_path, templates),
        notifier=(recorder := RecordingNotifier()),
        watchdog=timedelta(seconds=0.4),
    )
    try:
        daemon._ready = True
        started = time.monotonic()
        daemon._sleep(timedelta(seconds=1.2))
        elapsed = time.monotonic() - started
    finally:
        outbox.close()
    feeds = [at for at, fields in recorder.sent if fields == ("WATCHDOG=1",)]
    assert 1.1 < elapsed < 1.6
    assert 5 <= len(feeds) <= 7, feeds
    gaps = [b - a for a, b in zip([started, *feeds], feeds, strict=False)]
    assert max(gaps) < 0.3, gaps
