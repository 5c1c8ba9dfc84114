"""Fixtures of the VM tests: the cached image, the package under test installed once, a guest per test.

Every test gets a guest restored from the same saved machine (the image with this checkout's package
installed), so no test sees another's changes. Tests here carry the `vm` marker (`-m vm` runs only
them, `-m "not vm"` leaves them out) and skip, with the reason, where qemu cannot run: not root, or the
programs scripts/install-test-deps installs are missing.

A plain `pytest` runs them wherever they can run: they are the only proof of the fixes on a real
systemd. They take about 25 minutes on a busy 2-core machine (one guest at a time), so
MCW_VM=0 leaves them out for a quicker run, and they then skip saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import image as recipe
from tests.vm.machine import TIMINGS, Guest, Restored, timed

NEEDED = ("qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "ssh", "dnsmasq", "chronyd",
          "unshare", "ip")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    left_out = os.environ.get("MCW_VM") == "0"
    later = pytest.mark.skip(reason="MCW_VM=0: the VM tests were left out on request (they take about "
                             "25 minutes on a busy 2-core machine)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.vm)
            if left_out:
                item.add_marker(later)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("VM timings (seconds)")
        for what, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:7.1f}  {what}")


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the VM tests need root (network namespaces, debootstrap, qemu in a namespace)"
    missing = [p for p in NEEDED if shutil.which(p) is None and not any(
        os.access(f"{d}/{p}", os.X_OK) for d in ("/usr/sbin", "/sbin"))]
    if missing:
        return (f"{', '.join(missing)} not installed (scripts/install-test-deps installs qemu-system-x86, "
                "qemu-utils, debootstrap, openssh-client, dnsmasq-base, chrony)")
    return None


@pytest.fixture(scope="session")
def vm_image() -> recipe.Image:
    why = _why_not()
    if why:
        pytest.skip(why)
    start = time.monotonic()
    img = recipe.ensure()
    took = time.monotonic() - start
    timed("image ready (" + ("built now" if took > 60 else "from the cache") + f", {img.accel})", took)
    return img


@pytest.fixture(scope="session")
def vm_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package under test, built from this checkout as a wheel."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                    "-w", str(out), str(recipe.REPO)], check=True, capture_output=True, timeout=300)
    return next(out.glob("mailcow_wizard-*.whl"))


@pytest.fixture(scope="session")
def vm_ready(vm_image: recipe.Image, vm_wheel: Path) -> Iterator[Restored]:
    """The image's saved machine with the wheel installed, saved again: what every test restores."""
    work = Path(tempfile.mkdtemp(prefix=f"mcw-vm-{os.getpid()}-", dir=recipe.CACHE_ROOT))
    try:
        with recipe.locked(recipe.CACHE_ROOT / "vm.lock"):
            start = time.monotonic()
            guest = Restored(vm_image, vm_image.booted_disk, vm_image.state, work).start()
            try:
                guest.put(vm_wheel.read_bytes(), f"/tmp/{vm_wheel.name}")
                guest.sh(f"{recipe.VENV}/bin/pip install -q --disable-pip-version-check --no-deps --no-index "
                         f"/tmp/{vm_wheel.name} && rm /tmp/{vm_wheel.name}", timeout=300)
                guest.save(work / "ready.state")
            finally:
                guest.close()
        timed("package installed and machine saved", time.monotonic() - start)
        yield Restored(vm_image, guest.disk, work / "ready.state", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def vm(vm_ready: Restored, request: pytest.FixtureRequest) -> Iterator[Guest]:
    """A guest of its own for one test, restored from the saved machine; stopped and removed after."""
    with recipe.locked(recipe.CACHE_ROOT / "vm.lock"):
        start = time.monotonic()  # not counting the wait for another run's guest
        guest = vm_ready.start()
        try:
            yield guest
        finally:
            guest.close()
            shutil.rmtree(guest.dir, ignore_errors=True)
    timed(f"scenario {request.node.name}", time.monotonic() - start)
