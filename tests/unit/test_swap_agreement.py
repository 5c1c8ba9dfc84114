"""One swap size: what `check swap` advises, what `fix swap` plans and what the wizard counts are the
same number, from the same rule (checks.resources.swap_size_mib); and inside a container the swap fix
says that the host decides about swap and is not pre-ticked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.checks.resources import GIB, swap_size_mib
from mailcow_wizard.cli import main
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import plan_fix
from mailcow_wizard.fixes.swap import planned_size_mib
from mailcow_wizard.host import Host
from mailcow_wizard.tui.session import WizardSession
from tests.conftest import HOSTS

WIZARD = Path(sys.executable).parent / "mailcow-wizard"
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}

# RAM (kB in /proc/meminfo) -> the size a person should read everywhere (worked out by hand from the
# rule: twice the RAM up to 2 GiB, else the RAM, at most 4 GiB, rounded up to 256 MiB, at least 512).
RAM_CASES = [
    (200_000, 512),        # 195 MiB of RAM: twice is 390, the floor is 512
    (1_000_000, 2048),     # 976 MiB: twice, rounded up to 2048
    (2_097_152, 4096),     # 2 GiB: twice
    (3_025_728, 3072),     # 2955 MiB (a "3 GiB" VPS): as much as the RAM, rounded up to 3072
    (3_880_000, 3840),     # 3789 MiB (a "4 GiB" VM): 3840
    (24_683_520, 4096),    # 24 GiB: at most 4 GiB
]


def tree(tmp_path: Path, kib: int, container: bool = False) -> Path:
    """A host tree with this much RAM, no swap, an ext4 root and an /etc/fstab."""
    root = tmp_path / f"root-{kib}-{int(container)}"
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "proc/meminfo").write_text(f"MemTotal: {kib} kB\nMemAvailable: {kib // 2} kB\n"
                                       "SwapTotal: 0 kB\nSwapFree: 0 kB\n")
    (root / "proc/mounts").write_text("/dev/vda1 / ext4 rw,relatime 0 0\n")
    (root / "proc/swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    (root / "etc/fstab").write_text("/dev/vda1 / ext4 defaults 0 1\n")
    if container:
        (root / ".dockerenv").write_text("")
    return root


def fallocate_size(text: str) -> int:
    """The size in MiB of the one `fallocate -l NM` command in a text (exactly one must be there)."""
    sizes = re.findall(r"fallocate -l (\d+)M /swapfile", text)
    assert len(sizes) == 1, text
    return int(sizes[0])


@pytest.mark.parametrize(("kib", "expected"), RAM_CASES)
def test_check_fix_and_wizard_name_one_size(tmp_path: Path, kib: int, expected: int) -> None:
    root = tree(tmp_path, kib)
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    session = WizardSession(ctx, read_only=False)
    finding = session.run_check("swap")
    assert fallocate_size(finding.remedy) == expected, "the check's remedy"
    assert f"{expected} MiB of swap" in finding.remedy
    plan = plan_fix("swap", ctx)
    assert planned_size_mib(plan) == expected, "the fix's plan"
    assert f"{expected} MiB of swap" in " ".join(plan.notes)
    view = session.plan_fix("swap")
    session.plan_on_first_visit(view)
    assert session.planned_swap_mib() == expected, "the wizard's swap step, and what Configuration counts"
    assert any(f"{expected} MiB of swap" in n for n in view.notes)


@pytest.mark.skipif(not WIZARD.exists(), reason="the mailcow-wizard console script is not installed")
@pytest.mark.parametrize(("kib", "expected"), [RAM_CASES[1], RAM_CASES[3], RAM_CASES[5]])
def test_the_real_cli_check_and_fix_agree(tmp_path: Path, kib: int, expected: int) -> None:
    root = tree(tmp_path, kib)
    check = subprocess.run([str(WIZARD), "check", "--root", str(root), "--only", "swap", "--json"],
                           capture_output=True, text=True, env=ENV, timeout=60)
    assert check.returncode == 0, check.stderr  # a warning is not a failure
    remedy = json.loads(check.stdout)["checks"][0]["remedy"]
    fix = subprocess.run([str(WIZARD), "fix", "swap", "--root", str(root), "--dry-run"],
                         capture_output=True, text=True, env=ENV, timeout=60)
    assert fix.returncode == 0, fix.stderr
    assert fallocate_size(remedy) == fallocate_size(fix.stdout) == expected
    assert "Caution" not in fix.stdout, "not a container: nothing to warn about"


@pytest.mark.parametrize(("ram_gib", "free_gib", "expected"), [
    (1, 100, 2048), (4, 100, 4096), (8, 6, 3072), (8, 10, 4096), (16, 41, 4096), (2, 1, 512),
    (2, 0.9, None), (3.7, None, 3840),
])
def test_free_disk_caps_the_size_for_check_and_fix_alike(ram_gib: float, free_gib: float | None,
                                                         expected: int | None) -> None:
    """The rule on its own, with the disk: 20 GiB stay free for Docker (half of a small disk)."""
    from mailcow_wizard.checks.resources import swap_remedy
    from mailcow_wizard.probes.resources import MemInfo, SwapPlace

    free = None if free_gib is None else int(free_gib * GIB)
    ram = int(ram_gib * GIB)
    assert swap_size_mib(ram, free) == expected
    remedy = swap_remedy(MemInfo(ram, ram, 0, 0), SwapPlace("/swapfile", free, "ext4"))
    if expected is None:
        assert "not enough free disk space" in remedy and "fallocate" not in remedy
    else:
        assert fallocate_size(remedy) == expected
        assert ("free disk allows" in remedy) == (expected < (swap_size_mib(ram, None) or 0))


def test_dd_where_fallocate_makes_no_valid_swap(tmp_path: Path) -> None:
    """On a file system that takes no fallocate'd swap file, check and fix both write it with dd, and
    the wizard still reads the planned size."""
    root = tree(tmp_path, 1_000_000)
    (root / "proc/mounts").write_text("overlay / overlay rw 0 0\n")
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    remedy = WizardSession(ctx).run_check("swap").remedy
    plan = plan_fix("swap", ctx)
    assert "dd if=/dev/zero of=/swapfile bs=1M count=2048" in remedy
    assert plan.commands[0].shell == "dd if=/dev/zero of=/swapfile bs=1M count=2048"
    assert planned_size_mib(plan) == 2048


# -- in a container ----------------------------------------------------------------------------------

def test_swap_fix_in_a_container_cautions_and_is_not_preticked(tmp_path: Path) -> None:
    root = tree(tmp_path, 3_025_728, container=True)
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    session = WizardSession(ctx, read_only=False)
    assert session.run_check("virtualization").status.value == "fail"
    finding = session.run_check("swap")
    view = session.plan_fix("swap")
    assert view.can_apply and view.caution and "container" in view.caution and "host" in view.caution
    assert finding.remedy.endswith(f"\nCaution: {view.caution}"), "the check's advice cautions alike"
    session.plan_on_first_visit(view)
    assert "swap" not in session.planned_fixes, "pre-ticked in a container"
    # Ticked by the person after reading it: the Review's confirmation repeats the caution.
    session.plan_to_apply(view)
    assert any(line.startswith("caution (Create a swap file)") for line in session.change_list())


def test_swap_fix_on_a_vm_is_preticked_without_caution(tmp_path: Path) -> None:
    root = tree(tmp_path, 3_025_728)
    (root / "sys/class/dmi/id").mkdir(parents=True)
    (root / "sys/class/dmi/id/product_name").write_text("KVM\n")
    (root / "sys/class/dmi/id/sys_vendor").write_text("QEMU\n")
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    session = WizardSession(ctx, read_only=False)
    assert "Caution" not in session.run_check("swap").remedy
    view = session.plan_fix("swap")
    assert view.caution is None
    session.plan_on_first_visit(view)
    assert "swap" in session.planned_fixes


def test_fix_swap_in_a_container_says_so_before_asking(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """The CLI prints the caution after the plan, right above its question, and a "no" changes nothing."""
    root = tree(tmp_path, 3_025_728, container=True)
    asked: list[str] = []

    def answer(prompt: str = "") -> str:
        asked.append(capsys.readouterr().out + prompt)
        return "n"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", answer)
    monkeypatch.setenv("MAILCOW_WIZARD_LOG", str(tmp_path / "log"))
    assert main(["fix", "swap", "--root", str(root)]) == 3
    shown = asked[0]
    caution = shown.index("Caution: this machine is a container (Docker)")
    assert "cannot switch swap on" in shown and "the host" in shown
    assert shown.index("swapon /swapfile") < caution < shown.index("Apply these changes?")
    assert (root / "etc/fstab").read_text() == "/dev/vda1 / ext4 defaults 0 1\n"


@pytest.mark.skipif(not WIZARD.exists(), reason="the mailcow-wizard console script is not installed")
def test_the_real_cli_in_the_container_fixture_cautions() -> None:
    root = HOSTS / "docker-container"
    fix = subprocess.run([str(WIZARD), "fix", "swap", "--root", str(root), "--dry-run"],
                         capture_output=True, text=True, env=ENV, timeout=60)
    assert fix.returncode == 0, fix.stderr
    assert "Caution: this machine is a container (Docker)" in fix.stdout
    check = subprocess.run([str(WIZARD), "check", "--root", str(root), "--only", "swap", "--json"],
                           capture_output=True, text=True, env=ENV, timeout=60)
    remedy = json.loads(check.stdout)["checks"][0]["remedy"]
    assert "Caution: this machine is a container (Docker)" in remedy
    # No /proc/mounts in that tree, so the file system is unknown: both write the file with dd.
    sizes = [re.findall(r"dd if=/dev/zero of=/swapfile bs=1M count=(\d+)", t) for t in (remedy, fix.stdout)]
    assert sizes[0] == sizes[1] == ["4096"], sizes

