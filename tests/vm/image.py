"""The Debian 12 guest the VM tests run in: its recipe, its build from Debian's mirror, its cache.

The image is built from nothing with debootstrap (from the mirror the machine's own apt sources name),
made into a disk without loop mounts (`mkfs.ext4 -d`, `qemu-img convert`), booted once and saved as a
running machine (a migration stream in a file) that each test restores in a second or two instead of
booting for half a minute. Everything lives in one cache directory keyed by a hash of this file (the
recipe), the package's runtime dependencies and qemu's version: a change to any of them builds a new
image, an unchanged recipe is reused, and an empty cache is always rebuilt from nothing. The package
under test is not part of the image: it is copied in per test session (conftest.py).

The guest: systemd as PID 1, sshd (root, by key only), systemd-timesyncd installed but switched off (so
the clock check fails until the NTP fix runs), exim4 started by its SysV init script (127.0.0.1:25 and
[::1]:25), nginx on :80, no swap, ifupdown with a static address on eth0, ufw installed but inactive,
Debian's docker.io (20.10) installed but not started, and a venv at /opt/mailcow-wizard holding the
package's dependencies (built here through chroot, as pip inside an emulated guest takes minutes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE_ROOT = Path(os.environ.get("MCW_VM_CACHE", "/var/cache/mailcow-wizard-vm"))
"""Where built images are kept (one directory per recipe hash); MCW_VM_CACHE moves it."""

SUITE = "bookworm"
PACKAGES = (
    "linux-image-amd64", "initramfs-tools", "systemd-sysv", "dbus", "udev", "kmod", "netbase",
    "openssh-server", "python3", "python3-venv", "systemd-timesyncd", "iproute2", "ifupdown", "procps",
    "exim4-daemon-light", "nginx-light", "ufw", "docker.io",
)
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "ext4")
"""The initramfs holds only what finds the root disk (6-7 MB instead of ~30: a faster emulated boot)."""
OFF_AT_BOOT = ("systemd-timesyncd.service", "docker.service", "docker.socket", "containerd.service",
               "apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer",
               "fstrim.timer", "e2scrub_reap.service")
"""Not started at boot: the clock stays unsynchronised, Docker waits for its scenario, no background work."""
MEMORY_MIB = 1024
DISK_SIZE = "8G"
KERNEL_ARGS = ("root=/dev/vda rw console=ttyS0 net.ifnames=0 "
               "modprobe.blacklist=floppy,pcspkr,ata_piix,ata_generic,pata_acpi,kvm_amd,kvm_intel,kvm")
"""eth0 as on most servers; drivers for hardware the emulated PC has but the tests never use stay out."""
GUEST_ADDRESS = "10.0.2.15/24"
GATEWAY = "10.0.2.2"
"""qemu's user-mode network: the gateway is the loopback of the network namespace qemu runs in."""
VENV = "/opt/mailcow-wizard"
HOST_KEY_ALIAS = "mcw-vm"

GUEST_FILES = {
    "/etc/hostname": "mcw-guest\n",
    "/etc/hosts": "127.0.0.1 localhost\n127.0.1.1 mcw-guest\n::1 localhost ip6-localhost ip6-loopback\n",
    "/etc/fstab": "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n",
    "/etc/resolv.conf": f"nameserver {GATEWAY}\n",
    "/etc/network/interfaces": (
        "auto lo\niface lo inet loopback\n\n"
        f"auto eth0\niface eth0 inet static\n    address {GUEST_ADDRESS}\n    gateway {GATEWAY}\n\n"
        "source /etc/network/interfaces.d/*\n"),
    "/etc/ssh/sshd_config.d/mcw-vm.conf": (
        "UseDNS no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"),
    "/etc/initramfs-tools/conf.d/mcw-vm": "MODULES=list\n",
    "/usr/share/initramfs-tools/modules.d/mcw-vm": "\n".join(INITRAMFS_MODULES) + "\n",
    "/etc/systemd/journald.conf.d/mcw-vm.conf": "[Journal]\nStorage=volatile\n",
}


def run(argv: Sequence[str], timeout: float = 900, log: Path | None = None, **kw: object
        ) -> subprocess.CompletedProcess:
    """Run a build command; a failure raises with the command's last words."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False, **kw)  # type: ignore[call-overload]
    if log is not None:
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return proc


def qemu_version() -> str:
    return run(["qemu-system-x86_64", "--version"]).stdout.splitlines()[0].strip()


def runtime_requirements() -> list[str]:
    """The package's runtime dependencies, as installed in this environment's metadata (3.9-safe)."""
    from importlib.metadata import requires

    return sorted(r for r in (requires("mailcow-wizard") or []) if "extra ==" not in r)


def mirror() -> str:
    """Debian's mirror as this machine's apt sources name it (deb822 or one-line form)."""
    texts = []
    for p in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if p.suffix in (".list", ".sources") or p.name == "sources.list":
            with contextlib.suppress(OSError):
                texts.append(p.read_text())
    for text in texts:
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "deb" and SUITE in words and "security" not in line:
                return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def recipe_key() -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update("\n".join(runtime_requirements()).encode())
    h.update(qemu_version().encode())
    from tests.vm.machine import hardware

    h.update(" ".join(hardware("kvm") + hardware("tcg")).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Image:
    """A built image: disks, kernel, the saved running machine, and the key and known host key for ssh."""

    dir: Path
    accel: str
    build_seconds: float
    cold_boot_seconds: float

    @property
    def base_disk(self) -> Path:
        return self.dir / "base.qcow2"

    @property
    def booted_disk(self) -> Path:
        """The disk as the saved machine left it (an overlay on base.qcow2); never written again."""
        return self.dir / "booted.qcow2"

    @property
    def state(self) -> Path:
        return self.dir / "booted.state"

    @property
    def kernel(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.dir / "initrd.img"

    @property
    def ssh_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (flock), held for the block: one builder, one VM at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(path: Path) -> Image | None:
    try:
        meta = json.loads((path / "image.json").read_text())
    except (OSError, ValueError):
        return None
    return Image(path, meta["accel"], meta["build_seconds"], meta["cold_boot_seconds"])


def ensure() -> Image:
    """The image for the current recipe: from the cache, else built now (under a lock)."""
    key = recipe_key()
    target = CACHE_ROOT / key
    image = load(target)
    if image is not None:
        return image
    with locked(CACHE_ROOT / "build.lock"):
        image = load(target)
        if image is not None:
            return image
        return build(target)


def build(target: Path) -> Image:
    """Build the image into `target` from nothing; a half-built directory never looks finished."""
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"{target.name}.build-", dir=CACHE_ROOT))
    log = work / "build.log"
    try:
        rootfs = work / "rootfs"
        _debootstrap(rootfs, log)
        _configure(rootfs, work, log)
        _make_disk(rootfs, work, log)
        shutil.rmtree(rootfs)
        from tests.vm.machine import boot_and_save

        accel, boot_seconds = boot_and_save(work)
        meta = {"accel": accel, "build_seconds": round(time.monotonic() - start, 1),
                "cold_boot_seconds": round(boot_seconds, 1), "qemu": qemu_version(),
                "requirements": runtime_requirements(), "mirror": mirror()}
        (work / "image.json").write_text(json.dumps(meta, indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        keep = CACHE_ROOT / "failed-build.log"
        with contextlib.suppress(OSError):
            shutil.copyfile(log, keep)
        shutil.rmtree(work, ignore_errors=True)
        raise
    image = load(target)
    assert image is not None
    return image


def _debootstrap(rootfs: Path, log: Path) -> None:
    """Download and unpack (with network), then configure every package with no network at all.

    The second stage runs in its own mount and network namespaces: whatever a maintainer script
    mounts or starts cannot touch this machine's mounts or ports, and everything goes with the namespace.
    """
    run(["debootstrap", "--foreign", "--variant=minbase", "--include=" + ",".join(PACKAGES),
         SUITE, str(rootfs), mirror()], timeout=1200, log=log)
    for path in ("/etc/initramfs-tools/conf.d/mcw-vm", "/usr/share/initramfs-tools/modules.d/mcw-vm"):
        _write(rootfs, path, GUEST_FILES[path])
    run(["unshare", "--mount", "--net", "--fork", "--propagation", "private",
         "chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"], timeout=1200, log=log)


def _write(rootfs: Path, path: str, text: str, mode: int = 0o644) -> None:
    p = rootfs / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink():
        p.unlink()
    p.write_text(text)
    p.chmod(mode)


def _chroot(rootfs: Path, script: str, log: Path, network: bool = False) -> None:
    """Run a shell script in the image with /dev and /proc, in a private mount namespace (and, unless
    `network`, a network namespace of its own)."""
    step = rootfs / "tmp/mcw-vm-step.sh"
    step.write_text(script + "\n")
    body = (f"set -e; mount --rbind /dev {rootfs}/dev; mount -t proc proc {rootfs}/proc; "
            f"chroot {rootfs} /bin/sh -e /tmp/mcw-vm-step.sh")
    run(["unshare", "--mount", *([] if network else ["--net"]), "--fork", "--propagation", "private",
         "sh", "-c", body], timeout=900, log=log)
    step.unlink()


def _configure(rootfs: Path, work: Path, log: Path) -> None:
    for path, text in GUEST_FILES.items():
        _write(rootfs, path, text)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mcw-vm", "-f", str(work / "id_ed25519")])
    _write(rootfs, "/root/.ssh/authorized_keys", (work / "id_ed25519.pub").read_text(), 0o600)
    (rootfs / "root/.ssh").chmod(0o700)
    host_key = (rootfs / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    (work / "known_hosts").write_text(f"{HOST_KEY_ALIAS} {host_key[0]} {host_key[1]}\n")
    units = " ".join(OFF_AT_BOOT)
    _chroot(rootfs, f"systemctl disable {units} >/dev/null 2>&1 || true; "
            "systemctl mask serial-getty@ttyS0.service >/dev/null 2>&1; "
            "rm -f /etc/machine-id; touch /etc/machine-id; apt-get clean", log)
    # The package's dependencies: wheels fetched here with this environment's pip (its index settings),
    # installed offline in the image's own python.
    wheels = rootfs / "tmp/wheels"
    wheels.mkdir(parents=True)
    pyver = run(["chroot", str(rootfs), "python3", "-c",
                 "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
    run([sys_python(), "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
         "--python-version", pyver, "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
         "-d", str(wheels), *runtime_requirements()], timeout=600, log=log)
    _chroot(rootfs, f"python3 -m venv {VENV}; "
            f"{VENV}/bin/pip install -q --disable-pip-version-check --no-index --find-links /tmp/wheels "
            f"{' '.join(shlex.quote(r) for r in runtime_requirements())}; rm -rf /tmp/wheels; "
            f"ln -s {VENV}/bin/mailcow-wizard /usr/local/bin/mailcow-wizard", log)
    boot = rootfs / "boot"
    shutil.copyfile(next(boot.glob("vmlinuz-*")), work / "vmlinuz")
    shutil.copyfile(next(boot.glob("initrd.img-*")), work / "initrd.img")


def sys_python() -> str:
    return sys.executable


def _make_disk(rootfs: Path, work: Path, log: Path) -> None:
    raw = work / "root.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "mcwroot", "-E", "root_owner=0:0", "-d", str(rootfs), str(raw),
         DISK_SIZE], log=log)
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "base.qcow2")], log=log)
    raw.unlink()


if __name__ == "__main__":
    built = ensure()
    print(json.dumps({"dir": str(built.dir), "accel": built.accel, "build_seconds": built.build_seconds,
                      "cold_boot_seconds": built.cold_boot_seconds}))
