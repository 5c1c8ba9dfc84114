"""`fix` on the real machine: without systemd it explains itself; without root it changes nothing.

Both runs use the installed console script against the live host (no --root). Neither can change the
machine: the ntp fix is blocked where systemd does not run, and the unprivileged user cannot write
system files even if the program tried (which the test would then see as a changed /etc/fstab).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from tests.system.conftest import WIZARD, UserInstall, run, wizard_env

pytestmark = pytest.mark.system


def digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def test_ntp_without_systemd_explains_instead_of_failing(tmp_path: Path) -> None:
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("this machine runs systemd; the no-systemd path is covered by the unit tests")
    before = digest("/etc/systemd/timesyncd.conf")
    proc = run([str(WIZARD), "fix", "ntp", "--yes"], check=False,
               env=wizard_env(MAILCOW_WIZARD_LOG=str(tmp_path / "log")))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "systemd is not running on this system" in proc.stdout
    assert "nothing was changed" in proc.stderr
    assert digest("/etc/systemd/timesyncd.conf") == before
    assert "Cannot be applied here" in (tmp_path / "log").read_text()


def test_swap_without_root_prints_sudo_commands(nobody_install: UserInstall) -> None:
    swaps = Path("/proc/swaps").read_text().splitlines()[1:]
    if Path("/swapfile").exists() or any(line.split() for line in swaps):
        pytest.skip("this machine already has swap or a /swapfile; the fix would plan nothing")
    before = digest("/etc/fstab")
    logdir = tempfile.mkdtemp(prefix="mcw-log-")
    os.chmod(logdir, 0o777)
    try:
        proc = run(nobody_install.argv("fix", "swap", "--yes"), check=False,
                   env=wizard_env(MAILCOW_WIZARD_LOG=f"{logdir}/log", HOME=logdir))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "Traceback" not in out
        assert "needs root. Nothing was changed." in proc.stdout
        assert "sudo mailcow-wizard fix swap --yes" in proc.stdout
        assert "sudo mkswap /swapfile" in proc.stdout and "sudo swapon /swapfile" in proc.stdout
        assert digest("/etc/fstab") == before
        assert not Path("/swapfile").exists()
        assert "Result of fix 'swap': needs root" in Path(logdir, "log").read_text()
    finally:
        for f in Path(logdir).iterdir():
            f.unlink()
        os.rmdir(logdir)
