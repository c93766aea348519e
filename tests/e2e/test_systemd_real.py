"""The shipped unit under a real systemd 252 (tests/systemd_instance.py): installed the way
docs/operations.md tells an operator to, then started, reloaded, watched and stopped for real.

The package goes into a non-editable venv built from Debian's ``/usr/bin/python3`` in
``/opt/notifier/.venv`` (from wheels: the instance has no network of its own), the unit file is
``systemd/notifier.service`` byte for byte, the configuration is in ``/etc/notifier`` and the
SMTP password reaches the service only as a ``LoadCredential=`` credential. The SMTP sink is an
aiosmtpd on the instance's own loopback (implicit TLS, AUTH required), in its network namespace.

The instance is booted once for the module; each test restarts the service with the
configuration it needs. No instance (not root, no systemd, a boot that does not finish) is a
failure, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.e2e.cli import CSV_HEADER, ROOT, csv_row
from tests.e2e.daemon_support import in_order
from tests.smtp_server import ReceivedMessage, ServerBehaviour, SmtpTestServer
from tests.systemd_instance import SystemdInstance, booted

pytestmark = pytest.mark.slow

UNIT = "notifier.service"
VENV = "/opt/notifier/.venv"
WHEELS = "/root/notifier-wheels"  # inside the instance: what `pip wheel` built elsewhere
CONFIG = "/etc/notifier/config.toml"
EXPORTS = "/srv/helpdesk-exports"
SMTP_USER = "notifier"
PASSWORD = "only-via-LoadCredential-7f3a"
SLOW_RECIPIENT = "slow-sink@example.org"  # the sink holds this one's DATA answer
SINK_HOLDS_DATA = 4.0  # seconds
REFUSED_RECIPIENT = "gone@example.org"
DYNAMIC_UIDS = range(61184, 65520)  # systemd's range for DynamicUser= (61184-65519)
WATCHDOG_DROP_IN = "/etc/systemd/system/notifier.service.d/watchdog-test.conf"

# The operator's commands in docs/operations.md ("Install", "Running under systemd"). The test
# runs them as they are written (Host.documented), so the docs and the test cannot drift apart.
ENVIRONMENT = (
    "export NOTIFIER_CONFIG=/etc/notifier/config.toml CREDENTIALS_DIRECTORY=/etc/credstore"
)
INSTALL = (
    "/usr/bin/python3 -m venv /opt/notifier/.venv",
    f"/opt/notifier/.venv/bin/pip install --no-index --find-links {WHEELS} notifier",
    "install -d -m 755 /etc/notifier",
    "install -m 644 /opt/notifier/config.example.toml /etc/notifier/config.toml",
    "install -d -m 700 /etc/credstore",
    "install -m 600 /dev/stdin /etc/credstore/smtp-password",
    "install -m 644 smtp-ca.pem /etc/notifier/smtp-ca.pem",
)
CHECK = (
    "/opt/notifier/.venv/bin/notifier check-config",
    "/opt/notifier/.venv/bin/notifier check-config --connect",
)
SYSTEMD = (
    "cp /opt/notifier/systemd/notifier.service /etc/systemd/system/",
    "systemctl daemon-reload",
    "systemctl enable --now notifier",
    "systemctl status notifier",
    "systemctl reload notifier",
    "journalctl -u notifier -o json -p warning",
)
DOCUMENTED_COMMANDS = (*INSTALL, ENVIRONMENT, *CHECK, *SYSTEMD)


# -- the wheels (built on the host, installed inside without network) ------------------------


def debian_python_version() -> str:
    result = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail("/usr/bin/python3 is missing: apt-get install python3 python3-venv")
    return result.stdout.strip()


def pip(*args: str, timeout: float = 300) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"pip {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def build_wheels(into: Path) -> list[Path]:
    """notifier's wheel and its dependencies' for Debian's Python, as an operator would build
    them on a machine with network access (`pip wheel`). The dependencies are downloaded once
    per dependency list into ~/.cache; later runs are offline."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    python = debian_python_version()
    requirements = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    key = hashlib.sha256(json.dumps([python, sorted(requirements)]).encode()).hexdigest()[:16]
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache_home / "notifier-tests" / f"wheels-{key}"
    if not cache.is_dir():  # filled under another name, then renamed: never half there
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.part")
        shutil.rmtree(partial, ignore_errors=True)
        pip("download", "--quiet", "--only-binary", ":all:", "--python-version", python,
            "--dest", str(partial), *requirements)  # fmt: skip
        with suppress(OSError):  # another test run may have finished first: use either
            partial.rename(cache)
        shutil.rmtree(partial, ignore_errors=True)
    into.mkdir(parents=True, exist_ok=True)
    pip("wheel", "--quiet", "--no-deps", "--no-index", "--find-links", str(cache),
        "--wheel-dir", str(into), str(ROOT))  # fmt: skip
    return sorted(cache.glob("*.whl")) + sorted(into.glob("notifier-*.whl"))


# -- the service inside the instance ---------------------------------------------------------


def config_text(
    port: int,
    *,
    from_address: str = "it-helpdesk@example.org",
    extra: str = "",
    auth: bool = True,
) -> str:
    login = f'username = "{SMTP_USER}"\npassword_credential = "smtp-password"\n' if auth else ""
    return f"""\
# /etc/notifier/config.toml as an operator would write it for this test's sink.
[smtp]
host = "127.0.0.1"
port = {port}
security = "tls"
ca_file = "/etc/notifier/smtp-ca.pem"
{login}from_address = "{from_address}"
timeout = 15

[delivery]
rate_limit_per_minute = 100000
retry_initial = "1s"
retry_max = "2s"
{extra}
[run]
poll_interval = "1s"

[rules]
max_age = 0   # the sample rows carry fixed dates

[[exports]]
name = "desk"
path = "{EXPORTS}"
settle_seconds = 0
resolved_statuses = ["Resolved", "Closed"]
[exports.columns]
ticket_id = "Key"
requester_email = "Email"
requester_name = "Name"
title = "Summary"
status = "Status"
resolved_at = "Resolved"
team = "Group"
resolution_note = "Note"
updated_at = "Updated"
"""


@dataclass
class Host:
    """The booted instance with notifier installed, and the SMTP sink inside it."""

    instance: SystemdInstance
    sink: SmtpTestServer

    def documented(
        self, command: str, *, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one of docs/operations.md's commands as written: as root, in /root (where the
        operator copied the wheels and the CA), after the documented ``export``."""
        assert command in DOCUMENTED_COMMANDS, command
        return self.instance.run(
            "sh", "-c", f"cd /root && {ENVIRONMENT} && {command}",
            input=input, check=check, timeout=240,
            # The host's pip configuration (mirrors, constraints) is not the server's.
            env={"PIP_CONFIG_FILE": "/dev/null"},
        )  # fmt: skip

    def write_config(self, **kwargs: Any) -> None:
        self.instance.write_file(CONFIG, config_text(self.sink.port, **kwargs), 0o644)

    def drop_export(self, name: str, rows: str) -> None:
        """A finished export file (written under a temporary name, then renamed into place)."""
        self.instance.write_file(f"{EXPORTS}/.{name}.part", CSV_HEADER + rows, 0o644)
        self.instance.run("mv", f"{EXPORTS}/.{name}.part", f"{EXPORTS}/{name}")

    def restart(self) -> str:
        """(Re)start the service; return the new invocation id (it keys its journal lines)."""
        self.instance.systemctl("restart", UNIT, timeout=120)
        return self.instance.show(UNIT, "InvocationID")["InvocationID"]

    def main_pid(self) -> int:
        return int(self.instance.show(UNIT, "MainPID")["MainPID"])

    def events(self, invocation: str, *journal_args: str) -> list[dict[str, Any]]:
        """notifier's JSON events of one invocation, each with journald's PRIORITY added."""
        found = []
        for entry in self.instance.journal("-u", "notifier", *journal_args):
            message = entry.get("MESSAGE")
            if entry.get("_SYSTEMD_INVOCATION_ID") != invocation or not isinstance(message, str):
                continue
            if message.startswith("{"):
                found.append({**json.loads(message), "PRIORITY": entry.get("PRIORITY")})
        return found

    def wait_for_event(self, invocation: str, event: str, timeout: float = 30) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events(invocation) if e["event"] == event), None)

        return self.instance.wait_for(found, timeout, f"{event} in the journal", interval=0.3)

    def delivered_to(self, recipient: str) -> list[ReceivedMessage]:
        return [m for m in self.sink.messages if recipient in m.rcpt_tos]

    def wait_delivered(self, recipient: str, timeout: float = 30) -> ReceivedMessage:
        found = self.instance.wait_for(
            lambda: self.delivered_to(recipient), timeout, f"a notice to {recipient}"
        )
        return found[0]


def install(host: Host, wheels: list[Path], ca_file: Path) -> None:
    """docs/operations.md's install and check commands, as root inside the instance."""
    instance = host.instance
    # What a checkout of the project brings (git clone ... /opt/notifier): the unit and the
    # example configuration; and what the operator copied to /root: the wheels, the CA.
    instance.copy_in([ROOT / "systemd" / "notifier.service"], "/opt/notifier/systemd")
    instance.copy_in([ROOT / "config.example.toml"], "/opt/notifier")
    instance.copy_in(wheels, WHEELS)
    instance.copy_in([ca_file], "/root")
    for command in INSTALL:
        secret = PASSWORD + "\n" if "/dev/stdin" in command else None
        host.documented(command, input=secret)
    host.write_config()  # "then edit it"
    instance.run("install", "-d", "-m", "755", EXPORTS)
    for command in CHECK:
        host.documented(command)
    host.documented("cp /opt/notifier/systemd/notifier.service /etc/systemd/system/")
    host.documented("systemctl daemon-reload")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, trustme_ca: trustme.CA) -> Iterator[Host]:
    work = tmp_path_factory.mktemp("systemd")
    wheels = build_wheels(work / "wheels")
    sink = SmtpTestServer(
        security="tls",
        auth=(SMTP_USER, PASSWORD),
        behaviour=ServerBehaviour(
            slow_messages={SLOW_RECIPIENT.encode(): SINK_HOLDS_DATA},
            refuse_recipients={REFUSED_RECIPIENT: "550 5.1.1 no such user here"},
        ),
        ca=trustme_ca,
        tmp_dir=work,
    )
    with booted(work) as instance:
        instance.in_network(sink.start)  # listens on the instance's 127.0.0.1
        try:
            ca_file = work / "smtp-ca.pem"
            trustme_ca.cert_pem.write_to_path(str(ca_file))
            host = Host(instance, sink)
            install(host, wheels, ca_file)
            yield host
        finally:
            sink.stop()


@pytest.fixture
def host(request: pytest.FixtureRequest, installed: Host) -> Iterator[Host]:
    """The module's instance, for one test; the service's journal is printed if it fails."""
    failed_before = request.session.testsfailed
    yield installed
    if request.session.testsfailed > failed_before:
        tail = installed.instance.run(
            "journalctl", "--no-pager", "-u", "notifier", "-n", "80", "-o", "short-monotonic",
            check=False,
        )  # fmt: skip
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"journal of notifier.service:\n{tail.stdout}")
            if installed.instance.failed_at_boot:
                reporter.write_line(f"units failed at boot:\n{installed.instance.failed_at_boot}")


def in_service(host: Host, pid: int, script: str, *, uid: int | None = None) -> str:
    """Run a shell script in the service's own mount namespace (what it sees), as root or as
    ``uid``; return what it printed."""
    identity = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid else []
    return host.instance.run(
        "nsenter", "-t", str(pid), "--mount", "--", *identity, "/bin/sh", "-c", script
    ).stdout


WRITE_PROBE = """
for dir in "$@"; do
    if out=$(touch "$dir/.probe" 2>&1); then echo "$dir: written"; rm -f "$dir/.probe"
    else echo "$dir: ${out##*: }"; fi
done
"""


def probe_writes(host: Host, pid: int, dirs: list[str], uid: int | None = None) -> dict[str, str]:
    script = f"set -- {' '.join(dirs)}\n{WRITE_PROBE}"
    out = in_service(host, pid, script, uid=uid)
    return dict(line.split(": ", 1) for line in out.splitlines())


# -- the tests -------------------------------------------------------------------------------


def test_the_commands_run_here_are_the_documented_ones() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [command for command in DOCUMENTED_COMMANDS if command not in operations]
    assert not missing, f"docs/operations.md lacks: {missing}"
    unit = (ROOT / "systemd" / "notifier.service").read_text(encoding="utf-8")
    assert f"ExecStart={VENV}/bin/notifier run --config {CONFIG}" in unit


def test_start_is_ready_as_a_dynamic_user_in_the_sandbox_with_the_credential(host: Host) -> None:
    instance = host.instance
    unit_text = instance.run("cat", f"/etc/systemd/system/{UNIT}").stdout
    assert unit_text == (ROOT / "systemd" / UNIT).read_text(encoding="utf-8")  # unchanged
    venv_python = instance.run("readlink", "-f", f"{VENV}/bin/python3").stdout.strip()
    assert not venv_python.startswith(("/root", "/home")), venv_python  # ProtectHome hides those
    pip_show = instance.run(f"{VENV}/bin/pip", "show", "-f", "notifier", check=False).stdout
    assert "Editable project location" not in pip_show  # the service runs what was installed

    host.drop_export("first.csv", csv_row("HD-100", "ann@example.org"))
    started = time.monotonic()
    host.documented("systemctl enable --now notifier")
    took = time.monotonic() - started
    # Type=notify: `start` returned after READY=1, so the first pass already sent the notice.
    assert host.delivered_to("ann@example.org"), (
        f"nothing delivered when start returned ({took:.1f} s)"
    )
    status = host.documented("systemctl status notifier", check=False).stdout
    assert "active (running)" in status, status
    assert 'Status: "running: 1 source(s) OK' in status, status

    # Through the sandbox to the sink, which takes mail only after AUTH with PASSWORD.
    message = host.wait_delivered("ann@example.org")
    assert message.rcpt_tos == ("ann@example.org",)
    assert message.message["From"].addresses[0].addr_spec == "it-helpdesk@example.org"

    pid = host.main_pid()
    uid = int(
        re.findall(r"^Uid:\s+(\d+)", instance.run("cat", f"/proc/{pid}/status").stdout, re.M)[0]
    )
    assert uid in DYNAMIC_UIDS, uid
    static_uids = {
        line.split(":")[2] for line in instance.run("cat", "/etc/passwd").stdout.splitlines()
    }
    assert str(uid) not in static_uids  # allocated for the service, no account of its own

    # What the service may write: its state directory (and its private /tmp, gone at stop).
    elsewhere = ["/etc", "/etc/notifier", "/opt/notifier/.venv", "/var/lib", "/usr/local", EXPORTS]
    as_service = probe_writes(host, pid, ["/var/lib/notifier", *elsewhere], uid=uid)
    assert as_service.pop("/var/lib/notifier") == "written", as_service
    assert "written" not in as_service.values(), as_service
    # Not only file modes: to root in the service's mount namespace the system is read-only.
    # (Not /etc/notifier: systemd 252 bind-mounts ConfigurationDirectory= writable, so there
    # only its modes keep the service out.)
    as_root = probe_writes(host, pid, [d for d in elsewhere if d != "/etc/notifier"])
    assert set(as_root.values()) == {"Read-only file system"}, as_root
    assert in_service(host, pid, "ls -A /root /home") == "/home:\n\n/root:\n"  # hidden
    hidden = in_service(host, pid, "ls /root 2>&1 || true", uid=uid)
    assert "Permission denied" in hidden, hidden
    state = instance.run(
        "stat", "-c", "%u %a", "/var/lib/private/notifier/notifier.sqlite3"
    ).stdout.split()
    assert state == [str(uid), "600"], state

    # LoadCredential: the password is there for the service's user only (the sink's AUTH
    # accepted it above: there is no other copy the service could read).
    environ = instance.run("cat", f"/proc/{pid}/environ").stdout.split("\0")
    directory = next(v.split("=", 1)[1] for v in environ if v.startswith("CREDENTIALS_DIRECTORY="))
    credential = f"{directory}/smtp-password"
    assert in_service(host, pid, f"cat {credential}", uid=uid).rstrip("\n") == PASSWORD
    other = in_service(host, pid, f"cat {credential} 2>&1 || true", uid=65534)
    assert "Permission denied" in other, other


def test_reload_takes_a_good_configuration_and_rejects_a_broken_one(host: Host) -> None:
    host.write_config()
    invocation = host.restart()
    pid = host.main_pid()

    host.write_config(from_address="service-desk@example.org")
    host.documented("systemctl reload notifier")
    host.wait_for_event(invocation, "reload_finished")
    host.drop_export("after-reload.csv", csv_row("HD-200", "bea@example.org"))
    assert (
        host.wait_delivered("bea@example.org").message["From"].addresses[0].addr_spec
        == "service-desk@example.org"
    )

    host.write_config(from_address="service-desk@example.org", extra='give_up_after = "whenever"\n')
    host.documented("systemctl reload notifier")
    rejected = host.wait_for_event(invocation, "reload_rejected")
    assert "give_up_after" in rejected["error"], rejected
    host.drop_export("after-broken.csv", csv_row("HD-201", "cem@example.org"))
    # The configuration from before the broken one goes on: same process, same settings.
    assert (
        host.wait_delivered("cem@example.org").message["From"].addresses[0].addr_spec
        == "service-desk@example.org"
    )
    state = host.instance.show(UNIT, "ActiveState", "SubState", "MainPID", "NRestarts")
    assert state == {
        "ActiveState": "active",
        "SubState": "running",
        "MainPID": str(pid),
        "NRestarts": "0",
    }
    status = host.documented("systemctl status notifier", check=False).stdout
    assert "active (running)" in status


def test_a_relay_without_auth_needs_no_credential_file(host: Host) -> None:
    """Issue 16 defect 7: with `LoadCredential=smtp-password:/etc/notifier/smtp-password` a
    missing file stopped the unit from starting (status 243/CREDENTIALS), though a relay
    without AUTH needs no password. The unit now loads the credential from the credential
    store (/etc/credstore), which is optional: without the file the service starts."""
    instance = host.instance
    instance.run("mv", "/etc/credstore/smtp-password", "/root/smtp-password.away")
    try:
        host.write_config(auth=False)
        host.restart()
        state = instance.show(UNIT, "ActiveState", "SubState", "Result")
        assert state["ActiveState"] == "active" and state["SubState"] == "running", state
    finally:
        instance.run("mv", "/root/smtp-password.away", "/etc/credstore/smtp-password")
        host.write_config()
        host.restart()


def test_the_watchdog_restarts_a_stopped_process(host: Host) -> None:
    instance = host.instance
    host.write_config()
    instance.write_file(WATCHDOG_DROP_IN, "[Service]\nWatchdogSec=4s\nRestartSec=1s\n")
    try:
        instance.systemctl("daemon-reload")
        invocation = host.restart()
        assert instance.show(UNIT, "WatchdogUSec")["WatchdogUSec"] == "4s"
        pid = host.main_pid()
        stopped_at = time.monotonic()
        instance.run("kill", "-STOP", str(pid))

        def restarted() -> dict[str, str] | None:
            state = instance.show(UNIT, "ActiveState", "SubState", "MainPID", "NRestarts")
            running = state["SubState"] == "running" and state["MainPID"] not in ("0", str(pid))
            return state if running else None

        state = instance.wait_for(restarted, 40, "a restart after the watchdog timeout", 0.3)
        assert int(state["NRestarts"]) >= 1, state
        took = time.monotonic() - stopped_at
        # notifier feeds the watchdog every 2 s (half of WatchdogSec): it fires 2-4 s after.
        assert took >= 2, f"restarted {took:.1f} s after SIGSTOP: before the watchdog could fire"
        said = instance.run("journalctl", "--no-pager", "-u", "notifier", "-o", "cat").stdout
        assert "Watchdog timeout" in said, said[-2000:]
        host.drop_export("after-watchdog.csv", csv_row("HD-300", "dia@example.org"))
        host.wait_delivered("dia@example.org")
        assert invocation != instance.show(UNIT, "InvocationID")["InvocationID"]
    finally:
        instance.run("rm", "-f", WATCHDOG_DROP_IN)
        instance.systemctl("daemon-reload")


def test_stop_during_a_transaction_delivers_once_and_exits_0(host: Host) -> None:
    host.write_config()
    invocation = host.restart()
    host.drop_export("slow.csv", csv_row("HD-400", SLOW_RECIPIENT))
    host.instance.wait_for(lambda: host.sink.handler.in_data > 0, 30, "the slow DATA in flight")

    started = time.monotonic()
    host.instance.systemctl("stop", "notifier", timeout=90)
    took = time.monotonic() - started
    # It waited for the sink's answer (held SINK_HOLDS_DATA s), well within TimeoutStopSec.
    assert 1.0 < took < SINK_HOLDS_DATA + 10, f"stop took {took:.1f} s"
    result = host.instance.show(UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    # ExecMainCode 1 is CLD_EXITED: it exited by itself, with status 0, not killed.
    assert result == {
        "ActiveState": "inactive",
        "Result": "success",
        "ExecMainCode": "1",
        "ExecMainStatus": "0",
    }
    # The sink records a message only once it answered: the transaction was finished...
    assert len(host.delivered_to(SLOW_RECIPIENT)) == 1
    said = [f"{e['event']} {e.get('ticket_id', '')}".strip() for e in host.events(invocation)]
    # ... and recorded before the exit (stop_requested is logged once the loop gets to it).
    assert in_order(said, ["notice_sent HD-400", "stop_requested", "daemon_stopped"]), said
    assert said[-1] == "daemon_stopped", said

    # Recorded as sent: the next start neither recovers nor sends it again.
    again = host.restart()
    host.drop_export("after-stop.csv", csv_row("HD-401", "eda@example.org"))
    host.wait_delivered("eda@example.org")
    assert len(host.delivered_to(SLOW_RECIPIENT)) == 1
    assert not [e for e in host.events(again) if e["event"] == "notice_recovered"]


def test_journal_priorities_let_warnings_and_errors_be_filtered(host: Host) -> None:
    host.write_config()
    invocation = host.restart()
    host.drop_export(
        "mixed.csv",
        csv_row("HD-500", "fay@example.org")
        + csv_row("HD-501", "not-an-address")  # rejected input: a warning
        + csv_row("HD-502", REFUSED_RECIPIENT),  # refused for good: an error
    )
    host.wait_delivered("fay@example.org")
    host.wait_for_event(invocation, "notice_failed")
    host.write_config(extra='give_up_after = "whenever"\n')
    host.documented("systemctl reload notifier")
    host.wait_for_event(invocation, "reload_rejected")

    everything = host.events(invocation)
    assert {"notice_sent", "input_rejected", "notice_failed", "reload_rejected"} <= {
        e["event"] for e in everything
    }
    expected = {"debug": "7", "info": "6", "warning": "4", "error": "3"}
    wrong = [
        (e["event"], e["level"], e["PRIORITY"])
        for e in everything
        if e["PRIORITY"] != expected[e["level"]]
    ]
    assert not wrong, wrong

    # What an operator types: only warnings and errors, every one of them.
    host.instance.run("journalctl", "--sync")
    out = host.documented("journalctl -u notifier -o json -p warning").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    mine = [
        e
        for e in entries
        if e.get("_SYSTEMD_INVOCATION_ID") == invocation
        and str(e.get("MESSAGE", "")).startswith("{")
    ]
    filtered = [json.loads(e["MESSAGE"]) for e in mine]
    assert {e["event"] for e in filtered} >= {"input_rejected", "notice_failed", "reload_rejected"}
    assert {e["level"] for e in filtered} <= {"warning", "error"}, filtered
    serious = [e["event"] for e in everything if e["level"] in ("warning", "error")]
    assert sorted(e["event"] for e in filtered) == sorted(serious)
