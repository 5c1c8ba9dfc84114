"""The swap size against real free space: a tmpfs of a chosen size holds the host tree, read as a
running host (so statvfs measures that tmpfs), with the RAM a /proc/meminfo in it says. The check's
remedy, the fix's plan and the wizard's planned size must be the same number on every combination."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from mailcow_wizard.context import Context
from mailcow_wizard.fixes import plan_fix
from mailcow_wizard.fixes.swap import planned_size_mib
from mailcow_wizard.host import Host
from mailcow_wizard.tui.session import WizardSession
from tests.system.conftest import need_root

GIB_KIB = 1024 * 1024


@pytest.mark.parametrize(("ram_gib", "disk_mib", "expected"), [
    (8, 6_500, 3072),      # small disk: half of ~6.3 GiB, down to 256 MiB steps
    (8, 30_000, 4096),     # half of 29 GiB is more than the RAM rule's 4 GiB
    (2, 1_100, 512),       # half of 1.07 GiB: 512
    (1, 45_000, 2048),     # big disk: 20 GiB stay free, the RAM rule decides
    (16, 21_000, 4096),    # half of 20.5 GiB: 10 GiB of room, the 4 GiB cap decides
    (4, 900, None),        # not even 512 MiB fit: no size, check and fix say so
])
def test_check_fix_and_wizard_agree_on_real_free_space(ram_gib: int, disk_mib: int,
                                                       expected: int | None) -> None:
    need_root()
    with tempfile.TemporaryDirectory(prefix="mcw-swap-") as tmp:
        root = Path(tmp)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={disk_mib}m", "tmpfs", str(root)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        try:
            (root / "proc").mkdir()
            (root / "etc").mkdir()
            (root / "proc/meminfo").write_text(f"MemTotal: {ram_gib * GIB_KIB} kB\nSwapTotal: 0 kB\n")
            (root / "proc/mounts").write_text("/dev/vda1 / ext4 rw 0 0\n")
            (root / "etc/fstab").write_text("")
            ctx = Context(Host(root, live=True), root / "opt/mailcow-dockerized")
            session = WizardSession(ctx, read_only=False)
            remedy = session.run_check("swap").remedy
            plan = plan_fix("swap", ctx)
            view = session.plan_fix("swap")
            session.plan_on_first_visit(view)
            sizes = re.findall(r"fallocate -l (\d+)M /swapfile", remedy)
            if expected is None:
                assert "not enough free disk space" in remedy and not sizes
                assert plan.blocked and "not enough free disk space" in plan.blocked
                assert session.planned_swap_mib() is None
            else:
                assert sizes == [str(expected)], remedy
                assert planned_size_mib(plan) == expected, plan.render()
                assert session.planned_swap_mib() == expected
                assert "measured only on the running host" not in remedy, "free space is measured live"
        finally:
            subprocess.run(["umount", str(root)], check=True)
