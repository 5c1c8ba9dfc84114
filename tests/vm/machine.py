"""Running the guest: a network namespace of its own, qemu inside it, commands over one ssh connection.

Isolation: qemu runs in a fresh network namespace that has nothing but `lo`. Its user-mode network
forwards ssh from 127.0.0.1 of that namespace to the guest, and maps the guest's gateway (10.0.2.2)
to the namespace's loopback, where dnsmasq answers every name with the gateway and `chronyd -x` serves
NTP without touching this machine's clock. So the guest resolves pool.ntp.org, synchronises its clock
for real, and can reach nothing else: there is no route out of the namespace.

Everything started here (qemu, dnsmasq, chronyd, the ssh master) lives in that namespace; `close`
stops each by its pid, then any process left in the namespace, then deletes the namespace and its
/etc/netns directory. Only one guest runs at a time on a machine (a lock in the cache directory).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.vm import image as recipe

SSH_PORT = 2222
_counter = itertools.count()
TIMINGS: list[tuple[str, float]] = []
"""(what, seconds) measured during this run; printed at the end of the session."""


def timed(what: str, seconds: float) -> None:
    TIMINGS.append((what, round(seconds, 1)))


class VmError(RuntimeError):
    pass


def hardware(accel: str) -> list[str]:
    """The guest's virtual hardware. A saved machine restores only into the same, so this is part of
    the image's key. The NIC reports MTU 1450 to the guest, as on many cloud networks."""
    cpu = ["-cpu", "host"] if accel == "kvm" else []
    return ["-machine", f"pc,accel={accel}", *cpu, "-smp", "2", "-m", str(recipe.MEMORY_MIB),
            "-nodefaults", "-vga", "none", "-device", "virtio-net-pci,netdev=n0,host_mtu=1450,romfile=",
            "-device", "virtio-rng-pci"]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Sandbox:
    """A network namespace with only loopback, dnsmasq and chronyd in it."""

    def __init__(self, workdir: Path) -> None:
        self.name = f"mcwvm{os.getpid() % 100000}x{next(_counter)}"
        self.dir = workdir
        self.procs: list[subprocess.Popen] = []

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def start(self) -> None:
        recipe.run(["ip", "netns", "add", self.name])
        try:
            etc = Path("/etc/netns") / self.name
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
            recipe.run(["ip", "-n", self.name, "link", "set", "lo", "up"])
            self._spawn("dnsmasq", [
                "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root", "--pid-file=",
                f"--address=/#/{recipe.GATEWAY}"])
            conf = self.dir / "chrony.conf"
            conf.write_text("local stratum 8\nallow\nbindaddress 127.0.0.1\ncmdport 0\n"
                            f"pidfile {self.dir}/chronyd.pid\n")
            self._spawn("chronyd", ["chronyd", "-x", "-d", "-u", "root", "-f", str(conf)])
        except BaseException:
            self.close()
            raise

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = (self.dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(self.exec_argv(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        left = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True,
                              check=False).stdout.split()
        for pid in left:
            _kill(int(pid))
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        shutil.rmtree(Path("/etc/netns") / self.name, ignore_errors=True)


class Guest:
    """One qemu process running the image in a Sandbox, driven over ssh (one shared connection)."""

    def __init__(self, img: recipe.Image | None, workdir: Path, disk: Path, *, accel: str,
                 incoming: Path | None = None, files: Path | None = None) -> None:
        self.image = img
        self.files = files or (img.dir if img else workdir)
        """Where vmlinuz, initrd.img, id_ed25519 and known_hosts are."""
        self.dir = workdir
        self.disk = disk
        self.accel = accel
        self.incoming = incoming
        self.sandbox = Sandbox(workdir)
        self.qemu: subprocess.Popen | None = None
        self.qmp_path = workdir / "qmp.sock"
        self.serial = workdir / "console.log"
        self.control = workdir / "ssh.ctl"

    # -- lifecycle ---------------------------------------------------------------------------------

    def qemu_argv(self) -> list[str]:
        argv = [
            "qemu-system-x86_64", "-name", "mcw-guest", *hardware(self.accel), "-display", "none",
            "-serial", f"file:{self.serial}", "-kernel", str(self.files / "vmlinuz"),
            "-initrd", str(self.files / "initrd.img"), "-append", recipe.KERNEL_ARGS,
            "-drive", f"file={self.disk},if=virtio,format=qcow2,cache=unsafe,discard=unmap",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{SSH_PORT}-:22",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        if self.incoming is not None:
            argv += ["-incoming", f"exec:cat {shlex.quote(str(self.incoming))}"]
        return argv

    def start(self) -> None:
        self.sandbox.start()
        try:
            log = (self.dir / "qemu.log").open("ab")
            self.qemu = subprocess.Popen(self.sandbox.exec_argv(self.qemu_argv()), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the ssh master, qemu and the sandbox; idempotent, never raises for what is gone."""
        with contextlib.suppress(Exception):
            self._ssh_exit()
        if self.qemu is not None:
            if self.qemu.poll() is None:
                self.qemu.terminate()
                try:
                    self.qemu.wait(10)
                except subprocess.TimeoutExpired:
                    self.qemu.kill()
                    self.qemu.wait(10)
            self.qemu = None
        self.sandbox.close()

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = self.serial.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- ssh ---------------------------------------------------------------------------------------

    def ssh_argv(self, *extra: str, tty: bool = False) -> list[str]:
        return self.sandbox.exec_argv([
            "ssh", "-F", "none", "-i", str(self.files / "id_ed25519"), "-p", str(SSH_PORT),
            "-o", f"HostKeyAlias={recipe.HOST_KEY_ALIAS}",
            "-o", f"UserKnownHostsFile={self.files / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5",
            "-o", "ControlMaster=auto", "-o", f"ControlPath={self.control}", "-o", "ControlPersist=300",
            "-o", "LogLevel=ERROR", *(["-t"] if tty else ["-T"]), *extra, "root@127.0.0.1"])

    def sh(self, command: str, timeout: float = 120, check: bool = True,
           input: bytes | None = None) -> subprocess.CompletedProcess:
        """Run a shell command in the guest as root; text output; a failure raises with its words."""
        proc = subprocess.run([*self.ssh_argv(), command], capture_output=True, timeout=timeout,
                              input=input if input is not None else b"", check=False)
        out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                          proc.stderr.decode(errors="replace"))
        if check and proc.returncode != 0:
            raise VmError(f"in the guest: {command!r} exited {proc.returncode}:\n{out.stdout}\n{out.stderr}")
        return out

    def put(self, data: bytes, path: str, mode: str = "0644") -> None:
        q = shlex.quote(path)
        self.sh(f"mkdir -p $(dirname {q}) && cat > {q}.part && chmod {mode} {q}.part && mv {q}.part {q}",
                input=data)

    def put_tree(self, local: Path, remote_dir: str) -> None:
        """Copy a directory's contents into the guest (tar over the ssh connection)."""
        data = subprocess.run(["tar", "-C", str(local), "-cf", "-", "."], capture_output=True,
                              check=True).stdout
        self.sh(f"mkdir -p {shlex.quote(remote_dir)} && tar -C {shlex.quote(remote_dir)} -xf -",
                input=data, timeout=300)

    def _ssh_exit(self) -> None:
        if self.control.exists():
            subprocess.run([*self.ssh_argv("-O", "exit")], capture_output=True, timeout=10, check=False)
        with contextlib.suppress(FileNotFoundError):
            self.control.unlink()

    def wait_ssh(self, limit: float) -> float:
        """Seconds until the guest answers over ssh; VmError (with the console's last lines) after `limit`."""
        start = time.monotonic()
        while True:
            if self.qemu is not None and self.qemu.poll() is not None:
                raise VmError(f"qemu exited {self.qemu.returncode}: "
                              f"{(self.dir / 'qemu.log').read_text(errors='replace')[-2000:]}")
            proc = subprocess.run([*self.ssh_argv(), "true"], capture_output=True, timeout=30, check=False)
            if proc.returncode == 0:
                return time.monotonic() - start
            if time.monotonic() - start > limit:
                raise VmError(f"no ssh answer within {limit:.0f} s; console:\n{self.console_tail()}")
            time.sleep(0.5)

    def reconnect(self, limit: float = 90) -> None:
        """A new ssh connection (after something in the guest may have cut the old one)."""
        self._ssh_exit()
        self.wait_ssh(limit)

    def boot_id(self) -> str:
        return self.sh("cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self, limit: float = 240) -> float:
        """Reboot the guest and wait for it to answer again (a new boot id); returns the seconds taken."""
        before = self.boot_id()
        start = time.monotonic()
        self.sh("systemctl reboot", check=False, timeout=30)
        self._ssh_exit()
        while True:
            with contextlib.suppress(VmError, subprocess.TimeoutExpired):
                self.wait_ssh(limit)
                if self.boot_id() != before:
                    break
                self._ssh_exit()
            if time.monotonic() - start > limit:
                raise VmError(f"the guest did not come back within {limit:.0f} s:\n{self.console_tail()}")
            time.sleep(1)
        self.sh("systemctl is-system-running --wait", check=False, timeout=180)
        took = time.monotonic() - start
        timed("guest reboot", took)
        return took

    # -- QMP ---------------------------------------------------------------------------------------

    def qmp(self, *commands: tuple[str, dict]) -> list[dict]:
        """Run QMP commands in order on a fresh connection; returns their answers."""
        answers = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(str(self.qmp_path))
            f = s.makefile("rwb")
            json.loads(f.readline())
            for name, args in (("qmp_capabilities", {}), *commands):
                f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
                f.flush()
                while True:
                    msg = json.loads(f.readline())
                    if "return" in msg or "error" in msg:
                        break
                if "error" in msg:
                    raise VmError(f"QMP {name}: {msg['error']}")
                answers.append(msg["return"])
        return answers[1:]

    def save(self, state: Path) -> float:
        """Write the running machine to `state` (disk consistent with it) and stop qemu."""
        start = time.monotonic()
        self._ssh_exit()
        time.sleep(1)  # the guest's sshd ends the closed session before the machine is frozen
        tmp = state.with_name(state.name + ".part")
        self.qmp(("migrate-set-parameters", {"max-bandwidth": 8 << 30}),
                 ("migrate", {"uri": f"exec:cat > {shlex.quote(str(tmp))}"}))
        while True:
            status = self.qmp(("query-migrate", {}))[0].get("status")
            if status == "completed":
                break
            if status in ("failed", "cancelled"):
                raise VmError(f"saving the machine failed: {status}")
            time.sleep(0.2)
        self.qmp(("quit", {}))
        assert self.qemu is not None
        self.qemu.wait(30)
        self.qemu = None
        tmp.rename(state)
        return time.monotonic() - start


def overlay(backing: Path, path: Path) -> Path:
    """A qcow2 file whose reads fall through to `backing` and which takes every write."""
    recipe.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(backing), "-F", "qcow2", str(path)])
    return path


def _kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def _cold_boot(work: Path, accel: str, limit: float) -> tuple[Guest, float]:
    """Boot the image in `work` from its kernel; the guest is running and answering ssh on return."""
    run_dir = Path(tempfile.mkdtemp(prefix="boot-", dir=work))
    disk = work / "booted.qcow2"
    with contextlib.suppress(FileNotFoundError):
        disk.unlink()
    recipe.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", disk.name],
               cwd=str(work))
    guest = Guest(None, run_dir, disk, accel=accel, files=work)
    start = time.monotonic()
    guest.start()
    try:
        if accel == "kvm":
            # A KVM guest that cannot run here stops before the kernel's first line: give up early.
            while b"Linux version" not in _read(guest.serial):
                if time.monotonic() - start > 15:
                    raise VmError("KVM: no kernel output within 15 s")
                time.sleep(0.5)
        guest.wait_ssh(limit - (time.monotonic() - start))
    except BaseException:
        guest.close()
        raise
    return guest, time.monotonic() - start


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def boot_and_save(work: Path) -> tuple[str, float]:
    """First boot of a fresh image: KVM when a guest really boots there, else TCG (retried on a hang);
    then save the running machine as booted.qcow2 + booted.state. Returns (accel, boot seconds)."""
    forced = os.environ.get("MCW_VM_ACCEL")
    tries: list[tuple[str, float]] = []
    if forced in ("kvm", "tcg"):
        tries = [(forced, 180.0)] * (3 if forced == "tcg" else 1)
    else:
        if _kvm_usable():
            tries.append(("kvm", 90.0))
        tries += [("tcg", 120.0)] * 3
    errors = []
    with recipe.locked(recipe.CACHE_ROOT / "vm.lock"):
        for accel, limit in tries:
            try:
                guest, took = _cold_boot(work, accel, limit)
            except VmError as exc:
                errors.append(f"{accel}: {exc}")
                continue
            try:
                guest.sh("systemctl is-system-running --wait", check=False, timeout=300)
                guest.sh("sync; echo 3 > /proc/sys/vm/drop_caches")
                guest.save(work / "booted.state")
            finally:
                guest.close()
            timed(f"cold boot ({accel})", took)
            for run_dir in work.glob("boot-*"):
                shutil.rmtree(run_dir, ignore_errors=True)
            return accel, took
    raise VmError("the guest did not boot:\n" + "\n".join(errors))


class Restored:
    """Start a guest from a saved machine: an overlay on its disk, the state streamed in."""

    def __init__(self, img: recipe.Image, disk: Path, state: Path, workdir: Path) -> None:
        self.img, self.backing, self.state, self.dir = img, disk, state, workdir

    def start(self) -> Guest:
        run_dir = Path(tempfile.mkdtemp(prefix="guest-", dir=self.dir))
        disk = overlay(self.backing, run_dir / "disk.qcow2")
        guest = Guest(self.img, run_dir, disk, accel=self.img.accel, incoming=self.state)
        start = time.monotonic()
        guest.start()
        try:
            guest.wait_ssh(60)
        except BaseException:
            guest.close()
            raise
        timed("restore to ssh answer", time.monotonic() - start)
        return guest
