"""A real ``systemd --system`` for tests, as PID 1 of new namespaces, without a VM.

The method (see the project's notes on systemd in namespaces): a cgroup of our own under the
cgroup2 mount; ``unshare`` into new PID, mount, network, UTS, IPC and cgroup namespaces; there
a small shell script (``_STAGE2``) mounts an overlay of ``/`` whose upper layer is a tmpfs (so
nothing the instance writes reaches the host, and it all vanishes with the namespace), gives
it fresh ``/proc``, ``/sys``, ``/dev`` and cgroup2 mounts, masks the units this image enables
for other purposes, ``pivot_root``\\ s into it and hands over to ``/lib/systemd/systemd``.

Commands run inside with ``nsenter`` (:meth:`SystemdInstance.run`, ``systemctl``,
``journalctl``); files go in through ``install``/``tar`` in the instance (an overlay must not
be written to from beneath). :meth:`SystemdInstance.in_network` runs a function in a thread
that joined the instance's network namespace, so a test server started there (an aiosmtpd)
listens on the instance's own loopback: traffic never leaves the namespaces.

Teardown kills the whole PID namespace (``systemd``'s poweroff signal, then SIGKILL), which
drops its mounts, and removes the cgroups. If the test process itself dies, the kernel kills
``unshare`` (parent-death signal) and ``unshare --kill-child`` kills the instance.

Needs root, util-linux (``unshare``, ``nsenter``) and Debian's ``systemd``. Anything missing
or an instance that does not come up is a test failure with the reason and the console
output, never a skip.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SYSTEMD = Path("/lib/systemd/systemd")
BOOT_TIMEOUT = 60.0  # a loaded 2-core CI machine: about 4 s when idle
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
# Inside the instance only: a clean environment, nothing of the test process's own.
INSIDE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
    "TERM": "dumb",
}
_CLONE_NEWNET = 0x40000000
CGROUP_PREFIX = "notifier-test-"  # then the test process's PID: stale ones can be swept

# PID 1 of the new namespaces until it execs systemd. $1: a scratch directory (host path).
_STAGE2 = r"""
set -eu
scratch=$1
mount --make-rprivate /
# The overlay's upper layer in memory: nothing reaches the host's disk, all of it goes away
# with this mount namespace.
mount -t tmpfs -o mode=0700,size=2g notifier-systemd-test "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay overlay \
    -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/root"
root=$scratch/root

mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"          # no host sysctl changes
mount -t sysfs -o ro sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"     # rooted at our cgroup (cgroup namespace)
mount -t tmpfs -o mode=0755,size=16m,nosuid,noexec tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"

# Units this image enables for other purposes (Dovecot, PostgreSQL, timers, gettys...) stay
# off: mask everything enabled in /etc, and the consoles a container would get.
units=$root/etc/systemd/system
for wanted in "$units"/*.wants/*; do
    [ -e "$wanted" ] || [ -L "$wanted" ] || continue
    ln -sfn /dev/null "$units/${wanted##*/}"
done
for unit in getty.target console-getty.service systemd-networkd.service \
        systemd-resolved.service systemd-timesyncd.service; do
    ln -sfn /dev/null "$units/$unit"
done
: > "$root/etc/machine-id"
: > "$root/etc/fstab"   # the overlay is the root; the host's disks are not the instance's

cd "$root"
pivot_root . .
umount -l .
cd /
# systemd makes / shared only when the kernel started it; without this the credentials mount
# made for LoadCredential= never reaches the service (it sees an empty directory).
mount --make-rshared /
exec env -i container=unshare /lib/systemd/systemd --system --unit=multi-user.target
"""


class InstanceError(AssertionError):
    """The instance could not be booted, reached, or a command in it failed."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _cgroup2_mount() -> Path:
    found = subprocess.run(
        ["findmnt", "-rn", "-t", "cgroup2", "-o", "TARGET"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.split()
    if not found:
        raise InstanceError("no cgroup2 file system is mounted: systemd cannot run here")
    return Path(found[0])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(word) for word in text.split()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _kill_cgroup(path: Path) -> None:
    """SIGKILL every process in a cgroup and below (cgroup v2's cgroup.kill)."""
    with suppress(OSError):
        (path / "cgroup.kill").write_text("1", encoding="ascii")


def _sweep_stale_cgroups(mount: Path) -> None:
    """Remove what an earlier test process that was killed outright left behind."""
    for stale in mount.glob(f"{CGROUP_PREFIX}*"):
        owner = stale.name.removeprefix(CGROUP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _kill_cgroup(stale)
            _remove_cgroup_tree(stale, time.monotonic() + 5)


def _remove_cgroup_tree(path: Path, deadline: float) -> None:
    """rmdir a cgroup and every cgroup below it, deepest first (the kernel wants them empty)."""
    while path.is_dir():
        leftovers = sorted(
            (p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        )
        for directory in [*leftovers, path]:
            with suppress(OSError):
                directory.rmdir()
        if not path.is_dir() or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # processes still exiting


class SystemdInstance:
    """One booted ``systemd --system`` in its own namespaces. Use :func:`booted`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.console = workdir / "console.log"  # what systemd printed while booting and after
        self.pid = 0  # systemd's PID as the host sees it
        self.failed_at_boot = ""  # units of the image that failed while booting (diagnostics)
        self._unshare: subprocess.Popen[bytes] | None = None
        self._cgroup: Path | None = None
        self._scratch: Path | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def boot(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Start the instance and wait (at most ``timeout``) until it runs its default target."""
        if os.geteuid() != 0:
            raise InstanceError("a systemd instance needs root (namespaces, mounts, cgroups)")
        for tool in ("unshare", "nsenter", "setpriv", "findmnt", "pivot_root"):
            if shutil.which(tool) is None:
                raise InstanceError(f"{tool} is missing (Debian's util-linux)")
        if not SYSTEMD.is_file():
            raise InstanceError(f"{SYSTEMD} is missing: apt-get install systemd")
        deadline = time.monotonic() + timeout
        mount = _cgroup2_mount()
        _sweep_stale_cgroups(mount)
        self._cgroup = mount / f"{CGROUP_PREFIX}{os.getpid()}-{id(self):x}"
        self._cgroup.mkdir()
        self._scratch = Path(tempfile.mkdtemp(prefix="systemd-root-", dir=self.workdir))
        stage2 = self.workdir / "stage2.sh"
        stage2.write_text(_STAGE2, encoding="utf-8")
        # Our own cgroup first, so the new cgroup namespace is rooted there. If the test process
        # dies, unshare gets SIGKILL (parent-death signal) and --kill-child ends the instance.
        launch = (
            'echo $$ > "$1/cgroup.procs" && exec unshare --fork --kill-child=SIGKILL '
            "--pid --mount --net --uts --ipc --cgroup --propagation private "
            '/bin/sh "$2" "$3"'
        )
        argv = ["setpriv", "--pdeathsig", "KILL", "/bin/sh", "-c", launch, "sh"]
        with self.console.open("ab") as console:
            self._unshare = subprocess.Popen(
                [*argv, str(self._cgroup), str(stage2), str(self._scratch)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env={"PATH": INSIDE_ENV["PATH"]},
            )
        self.pid = self._wait_for_systemd(deadline)
        self._wait_until_running(deadline)

    def _wait_for_systemd(self, deadline: float) -> int:
        assert self._unshare is not None
        while time.monotonic() < deadline:
            if self._unshare.poll() is not None:
                raise InstanceError(
                    f"the instance exited with status {self._unshare.returncode} before "
                    f"systemd started:\n{self.console_text()}"
                )
            for child in _children(self._unshare.pid):
                if _comm(child) == "systemd":
                    return child
            time.sleep(0.05)
        raise InstanceError(f"systemd did not start within the deadline:\n{self.console_text()}")

    def _wait_until_running(self, deadline: float) -> None:
        state = ""
        while time.monotonic() < deadline:
            result = self.run(
                "systemctl",
                "is-system-running",
                check=False,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            state = result.stdout.strip()
            if state == "running":
                return
            if state == "degraded":  # a unit of the image failed: the manager itself is up
                self.failed_at_boot = self.systemctl("--failed", "--no-legend", check=False)
                return
            time.sleep(0.2)
        raise InstanceError(
            f"the instance did not reach 'running' within the deadline (last state {state!r}):\n"
            f"{self.console_text()}\n{self.run('systemctl', 'list-jobs', check=False).stdout}"
        )

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Power off (then kill) the whole PID namespace, and remove its cgroups. Idempotent."""
        deadline = time.monotonic() + timeout
        process = self._unshare
        if process is not None and process.poll() is None and self.pid:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGRTMIN + 4)  # systemd: poweroff
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()) / 2)
        if process is not None and process.poll() is None:
            # PID 1 gone: the kernel kills the rest of its namespace. unshare's own death
            # kills PID 1 (--kill-child); cgroup.kill reaches anything else in our cgroups.
            for pid in (self.pid, process.pid):
                if pid > 0:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            if self._cgroup is not None:
                _kill_cgroup(self._cgroup)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
        if self._cgroup is not None:
            _kill_cgroup(self._cgroup)  # nothing should be left; if something is, end it
            _remove_cgroup_tree(self._cgroup, deadline)
            if self._cgroup.is_dir():
                raise InstanceError(f"could not remove the cgroup {self._cgroup}")
            self._cgroup = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)  # the tmpfs went with the namespace
            self._scratch = None
        if process is not None and process.poll() is None:
            raise InstanceError(f"the instance (unshare pid {process.pid}) did not end")

    def console_text(self, limit: int = 6000) -> str:
        try:
            return self.console.read_text(encoding="utf-8", errors="replace")[-limit:]
        except OSError:
            return ""

    # -- inside the instance ------------------------------------------------------------------

    def run(
        self,
        *argv: str,
        input: bytes | str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the instance (all its namespaces, its root) as root, with a
        clean environment (``INSIDE_ENV``, plus ``env``)."""
        if not self.pid:
            raise InstanceError("the instance is not running")
        data = input.encode() if isinstance(input, str) else input
        try:
            raw = subprocess.run(
                ["nsenter", "-t", str(self.pid), "-a", "--", *argv],
                input=data,
                capture_output=True,
                timeout=timeout,
                env={**INSIDE_ENV, **(env or {})},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise InstanceError(f"{' '.join(argv)}: no answer within {timeout:g} s") from exc
        result = subprocess.CompletedProcess(
            raw.args,
            raw.returncode,
            raw.stdout.decode("utf-8", "replace"),
            raw.stderr.decode("utf-8", "replace"),
        )
        if check and result.returncode != 0:
            raise InstanceError(
                f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def systemctl(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> str:
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout).stdout

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        """``systemctl show -p ...`` as a dict."""
        out = self.systemctl("show", unit, *(f"--property={name}" for name in properties))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args: str) -> list[dict[str, Any]]:
        """Journal entries as journald's JSON objects (``journalctl -o json ARGS``)."""
        self.run("journalctl", "--sync", check=False)  # what the service wrote is in the files
        out = self.run("journalctl", "--no-pager", "-o", "json", *args, check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace a file inside the instance (parents created), like ``install -D``."""
        self.run("install", "-D", "-m", f"{mode:o}", "/dev/stdin", path, input=content)

    def copy_in(self, sources: Sequence[Path], destination: str) -> None:
        """Copy host files (by name, no directories) into a directory inside the instance."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for source in sources:
                archive.add(source, arcname=source.name, recursive=False)
        self.run("mkdir", "-p", destination)
        self.run("tar", "-x", "-C", destination, "-f", "-", input=buffer.getvalue())

    def wait_for(
        self, condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
    ) -> T:
        """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise InstanceError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(interval)

    def in_network(self, work: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``work`` in a thread inside the instance's network namespace; return its result.

        Threads ``work`` starts stay in that namespace (a server's loop thread), and sockets
        it creates belong to it for good, whichever thread later uses them.
        """
        box: list[T] = []
        errors: list[BaseException] = []
        namespace = Path(f"/proc/{self.pid}/ns/net")

        def enter_and_work() -> None:
            try:
                with namespace.open("rb") as handle:
                    if _libc().setns(handle.fileno(), _CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({namespace}): {os.strerror(err)}")
                box.append(work())
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=enter_and_work, name="in-systemd-netns", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise InstanceError(f"work in the instance's network namespace took over {timeout:g} s")
        if errors:
            raise errors[0]
        return box[0]


@contextmanager
def booted(workdir: Path, timeout: float = BOOT_TIMEOUT) -> Iterator[SystemdInstance]:
    """A running instance for the ``with`` block; torn down afterwards, whatever happened."""
    instance = SystemdInstance(workdir)
    try:
        instance.boot(timeout)
        yield instance
    finally:
        instance.shutdown()
