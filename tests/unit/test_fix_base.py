"""apply/verify/log: interrupted fixes, no root, changed files, the log, and the bounded wait."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from mailcow_wizard import fsio
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import (
    Command,
    FileEdit,
    FixOptions,
    Outcome,
    Plan,
    StepState,
    apply,
    base,
    plan_fix,
)
from mailcow_wizard.host import FakeRunner, Host
from mailcow_wizard.model import Finding, Status

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"


def tree(case: str, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(CASES_DIR / case / "input", root)
    return root


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_failing_command_stops_and_reports_exactly(tmp_path: Path) -> None:
    """ntp: the file edit is done, `timedatectl` fails, the restart is never run."""
    root = tree("ntp-timesyncd-settings", tmp_path)
    runner = FakeRunner()
    runner.add(["timedatectl", "set-ntp", "true"], returncode=1,
               stderr="Failed to set ntp: NTP not supported")
    host = Host(root, runner=runner, live=False)
    ctx = Context(host, root / "opt/mailcow-dockerized")
    result = apply(plan_fix("ntp", ctx), host)
    assert result.outcome is Outcome.FAILED
    assert [r.state for r in result.steps] == [StepState.DONE, StepState.FAILED, StepState.NOT_RUN]
    assert "NTP not supported" in result.steps[1].message
    assert runner.calls == [("timedatectl", "set-ntp", "true")]  # the restart never ran
    expected = (CASES_DIR / "ntp-timesyncd-settings/expected/etc/systemd/timesyncd.conf").read_bytes()
    assert (root / "etc/systemd/timesyncd.conf").read_bytes() == expected  # as planned
    text = result.render()
    assert "Stopped at step 2 of 3; 1 step was done before it" in text
    assert "[not run] run `systemctl restart systemd-timesyncd`" in text


def test_swap_failure_before_fstab_leaves_fstab_as_it_was(tmp_path: Path) -> None:
    root = tree("swap-fstab", tmp_path)
    before = files(root)
    runner = FakeRunner()
    runner.add(["fallocate"])
    runner.add(["chmod"])
    runner.add(["mkswap"], returncode=1, stderr="mkswap: error: swap area needs to be at least 40 KiB")
    host = Host(root, runner=runner, live=False)
    result = apply(plan_fix("swap", Context(host, root)), host)
    assert result.outcome is Outcome.FAILED
    assert [r.state for r in result.steps] == [
        StepState.DONE, StepState.DONE, StepState.FAILED, StepState.NOT_RUN, StepState.NOT_RUN]
    assert [c[0] for c in runner.calls] == ["fallocate", "chmod", "mkswap"]
    assert files(root) == before  # fstab untouched, no backup made


def test_missing_program_is_a_failed_step(tmp_path: Path) -> None:
    root = tree("ntp-chrony", tmp_path)
    host = Host(root, runner=FakeRunner(), live=False)  # answers nothing: every program "missing"
    result = apply(plan_fix("ntp", Context(host, root)), host)
    assert result.outcome is Outcome.FAILED
    assert result.steps[1].message == "systemctl is not installed or could not be started"


def test_without_root_nothing_changes_and_commands_are_printed(tmp_path: Path) -> None:
    root = tree("swap-fstab", tmp_path)
    before = files(root)
    host = Host(root, live=False)
    plan = plan_fix("swap", Context(host, root))
    result = apply(plan, host, privileged=False)
    assert result.outcome is Outcome.NEEDS_ROOT
    assert files(root) == before
    assert all(r.state is StepState.NOT_RUN for r in result.steps)
    assert result.sudo_commands[0] == "sudo mailcow-wizard fix swap --yes"
    assert "sudo mkswap /swapfile" in result.sudo_commands
    assert "sudo swapon /swapfile" in result.render()


def test_live_host_without_root_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the live host (root /) a normal user gets NEEDS_ROOT; the planned file stays as it was."""
    target = tmp_path / "conf"
    target.write_text("old\n")
    monkeypatch.setattr(Host, "is_root", property(lambda self: False))
    host = Host("/", runner=FakeRunner())
    assert not base.may_change(host)
    edit = FileEdit(str(target), target, "old\n", "new\n", "test")
    result = apply(Plan("swap", "t", (edit, Command(("true",), "x"))), host)
    assert result.outcome is Outcome.NEEDS_ROOT
    assert target.read_text() == "old\n"
    assert host._runner.calls == []  # type: ignore[union-attr]


def test_file_changed_since_plan_is_not_overwritten(tmp_path: Path) -> None:
    root = tree("hetzner", tmp_path)
    host = Host(root, live=False)
    plan = plan_fix("hetzner-ipv6", Context(host, root))
    cfg = root / "etc/network/interfaces.d/50-cloud-init.cfg"
    cfg.write_text(cfg.read_text() + "# edited by someone else\n")
    changed = cfg.read_bytes()
    result = apply(plan, host)
    assert result.outcome is Outcome.FAILED
    assert "changed since the plan was made" in result.steps[0].message
    assert cfg.read_bytes() == changed
    assert not list(cfg.parent.glob("*.bak-*"))
    assert result.steps[1].state is StepState.NOT_RUN


def test_refused_symlink_edit_leaves_nothing_behind(tmp_path: Path) -> None:
    real = tmp_path / "real.conf"
    real.write_text("old\n")
    link = tmp_path / "etc" / "linked.conf"
    link.parent.mkdir()
    link.symlink_to(real)
    with pytest.raises(fsio.Refused, match="symbolic link"):
        base.file_edit_at(link, "/etc/linked.conf", "new\n", "test")
    # A link planted after the plan was made is refused by the write itself.
    link.unlink()
    link.write_text("old\n")
    edit = base.file_edit_at(link, "/etc/linked.conf", "new\n", "test")
    link.unlink()
    link.symlink_to(real)
    result = apply(Plan("swap", "t", (edit,)), Host(tmp_path, live=False), log=False, privileged=True)
    assert result.outcome is Outcome.FAILED
    assert "symbolic link" in result.steps[0].message and result.steps[0].backup is None
    assert sorted(p.name for p in link.parent.iterdir()) == ["linked.conf"]  # no stray .bak
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc", "real.conf"]
    assert real.read_text() == "old\n" and link.is_symlink()


def test_failed_write_drops_its_unused_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "fstab"
    target.write_text("old\n")

    def full(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsio.os, "rename", full)
    edit = base.file_edit_at(target, "/etc/fstab", "new\n", "test")
    result = apply(Plan("swap", "t", (edit,)), Host(tmp_path, live=False), log=False, privileged=True)
    assert result.outcome is Outcome.FAILED and "No space left" in result.steps[0].message
    assert [p.name for p in tmp_path.iterdir()] == ["fstab"] and target.read_text() == "old\n"


def test_plan_is_pure(tmp_path: Path) -> None:
    for case, fix in (("hetzner", "hetzner-ipv6"), ("swap-fstab", "swap"), ("ntp-missing", "ntp"),
                      ("mtu-override", "mtu")):
        root = tmp_path / case
        shutil.copytree(CASES_DIR / case / "input", root)
        before = files(root)
        host = Host(root, live=False)
        plan = plan_fix(fix, Context(host, root / "opt/mailcow-dockerized"))
        assert plan.applicable
        assert files(root) == before


def test_backup_name_counts_up(tmp_path: Path) -> None:
    f = tmp_path / "fstab"
    f.write_text("x")
    now = datetime(2024, 1, 2, 3, 4, 5)
    assert fsio.backup_name(f, now).name == "fstab.bak-20240102-030405"
    b1 = fsio.backup_copy(f, now=now)
    b2 = fsio.backup_copy(f, now=now)
    assert (b1.name, b2.name) == ("fstab.bak-20240102-030405", "fstab.bak-20240102-030405-1")


def test_new_file_diff_and_no_trailing_newline() -> None:
    e = FileEdit("/etc/x", Path("/nonexistent"), None, "a\nb", "t")
    d = e.diff()
    assert d.startswith("--- /dev/null\n+++ b/etc/x\n")
    assert d.endswith("+b\n\\ No newline at end of file\n")


def test_log_records_plan_and_result(tmp_path: Path) -> None:
    root = tree("hetzner", tmp_path)
    host = Host(root, live=False)
    result = apply(plan_fix("hetzner-ipv6", Context(host, root)), host)
    log = Path(os.environ["MAILCOW_WIZARD_LOG"])
    assert result.log_path == str(log)
    text = log.read_text()
    assert "fix hetzner-ipv6" in text and "+auto eth0\n" in text
    assert "Result of fix 'hetzner-ipv6': applied" in text


def test_log_path_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILCOW_WIZARD_LOG")
    assert base.log_path(Host(tmp_path, live=False)) == tmp_path.resolve() / "var/log/mailcow-wizard.log"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert base.log_path(Host()) == Path("/var/log/mailcow-wizard.log")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert base.log_path(Host()) == tmp_path / "state/mailcow-wizard/mailcow-wizard.log"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert base.log_path(Host()) == tmp_path / "home/.local/state/mailcow-wizard/mailcow-wizard.log"


def test_unwritable_log_does_not_fail_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("MAILCOW_WIZARD_LOG", str(tmp_path / "file" / "log"))
    root = tree("hetzner", tmp_path)
    host = Host(root, live=False)
    result = apply(plan_fix("hetzner-ipv6", Context(host, root)), host)
    assert result.outcome is Outcome.APPLIED and result.log_path is None and result.log_error


def test_verify_waits_a_bounded_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Status] = []
    states = iter([Status.FAIL, Status.FAIL, Status.PASS])

    def fake_run_check(spec, ctx):  # noqa: ANN001
        s = next(states)
        seen.append(s)
        return Finding("ntp", s, str(s))

    monkeypatch.setattr("mailcow_wizard.checks.run_check", fake_run_check)
    t = [0.0]
    result = base.verify("ntp", Context(Host(tmp_path, live=False), tmp_path), wait=30, interval=2,
                         sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0])
    assert result.passed and result.waited == 4.0 and len(seen) == 3

    monkeypatch.setattr("mailcow_wizard.checks.run_check",
                        lambda spec, ctx: Finding("ntp", Status.FAIL, "no"))
    t[0] = 0.0
    result = base.verify("ntp", Context(Host(tmp_path, live=False), tmp_path), wait=10, interval=2,
                         sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0])
    assert not result.passed and result.waited <= 10


def test_every_check_has_a_fix_or_guidance() -> None:
    from mailcow_wizard.checks import CHECK_IDS
    from mailcow_wizard.fixes import FIXES

    assert sorted(FIXES) == sorted(CHECK_IDS)


def test_manual_and_blocked_plans_apply_nothing(tmp_path: Path) -> None:
    host = Host(tmp_path, live=False)
    assert apply(Plan("ram", "t", automatic=False, manual="m"), host).outcome is Outcome.MANUAL
    assert apply(Plan("ntp", "t", blocked="why"), host).outcome is Outcome.BLOCKED
    assert apply(Plan("ntp", "t"), host).outcome is Outcome.NOTHING_TO_DO
    assert FixOptions().swap_file == "/swapfile"
