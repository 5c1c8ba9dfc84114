"""The Review's Apply and other runs of the real program at the same time: nothing of either is lost.

The rule (ARCHITECTURE.md, `WizardSession.finish`): no lock while the person reads the Review; from
the confirmation to the last write the wizard holds the locks `generate` and `fix` take, and first
checks that every file is still what the Review's diffs were made from. Another run is a real
`mailcow-wizard generate` or `fix` in its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.conf import read_existing_conf
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, plan_fix
from mailcow_wizard.host import Host
from mailcow_wizard.tui import session as session_module
from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from tests.conftest import MAILCOW_FIXTURES
from tests.ui.test_flow import ENV, SIZE, next_enabled, on_step, text_of, wait_for

REPO = Path(__file__).resolve().parents[2]
OVERRIDE = "docker-compose.override.yml"


def run_wizard(*args: str, wait: str = "30") -> subprocess.CompletedProcess[str]:
    """The real program in a process of its own, as a person or a script would run it."""
    env = dict(os.environ, PYTHONPATH=str(REPO), MAILCOW_WIZARD_LOCK_WAIT=wait)
    return subprocess.run([sys.executable, "-m", "mailcow_wizard", *args], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A --root tree with a checkout whose mailcow.conf the real `generate` wrote."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text("MemTotal: 8000000 kB\nMemFree: 4000000 kB\nMemAvailable: 4000000 kB\n"
                                       "SwapTotal: 1000000 kB\nSwapFree: 1000000 kB\n")
    (root / "etc").mkdir()
    (root / "etc/timezone").write_text("UTC\n")
    mdir = root / "opt/mailcow-dockerized"
    mdir.mkdir(parents=True)
    compose = MAILCOW_FIXTURES / "current" / "docker-compose.yml"
    (mdir / "docker-compose.yml").write_bytes(compose.read_bytes())
    out = run_wizard("generate", "--root", str(root), "--mailcow-dir", str(mdir), "--hostname",
                     "mail.example.org", "--timezone", "UTC")
    assert out.returncode == 0, out.stderr
    return root, mdir


def _session(root: Path, mdir: Path) -> WizardSession:
    """The wizard on that tree, with SMTP moved to 2525 and the MTU fix planned (as on their steps)."""
    ctx = Context(host=Host(root, live=False), mailcow_dir=mdir,
                  conf=read_existing_conf(mdir / "mailcow.conf"))
    s = WizardSession(ctx, environ=ENV, read_only=False)
    s.ensure_loaded()
    s.set_value("SMTP_PORT", "2525")
    plan = plan_fix("mtu", ctx, FixOptions(mtu=1400))
    assert plan.applicable, plan.render()
    s.plan_to_apply(session_module._fix_view("mtu", plan))
    return s


async def _confirm(pilot, app: WizardApp) -> None:
    await wait_for(pilot, lambda: app.session.review_plan is not None and next_enabled(app), "the review")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: app.screen.id == "apply-dialog", "the confirmation")
    await pilot.press("y")


def _conf(mdir: Path) -> str:
    return (mdir / "mailcow.conf").read_text()


async def test_a_generate_run_between_review_and_apply_is_kept_and_nothing_is_applied(tree) -> None:
    root, mdir = tree
    s = _session(root, mdir)
    app = WizardApp(s, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: s.review_plan is not None and next_enabled(app), "the review")
        assert "+SMTP_PORT=2525" in text_of(app, "#review-diff")

        # The person reads the Review; meanwhile a script sets another value with the real program.
        other = run_wizard("generate", "--root", str(root), "--mailcow-dir", str(mdir),
                           "--set", "IMAP_PORT=1143")
        assert other.returncode == 0, other.stderr
        assert "\nIMAP_PORT=1143\n" in _conf(mdir)

        await _confirm(pilot, app)
        await wait_for(pilot, lambda: "Not applied" in text_of(app, "#review-target") and next_enabled(app),
                       "the refusal and the new review")
        said = text_of(app, "#review-target")
        assert f"another program changed {mdir / 'mailcow.conf'}" in said.replace("\n", " ")
        # Nothing of the wizard's plan was carried out, nothing of the other run was lost.
        assert not (mdir / OVERRIDE).exists()
        assert "\nIMAP_PORT=1143\n" in _conf(mdir) and "\nSMTP_PORT=2525\n" not in _conf(mdir)
        # The new Review is made from the file as it is: the other run's value is not undone.
        diff = text_of(app, "#review-diff")
        assert "+SMTP_PORT=2525" in diff and "IMAP_PORT" not in diff

        await _confirm(pilot, app)
        await wait_for(pilot, on_step(app, "done"), "the Done step")
    final = _conf(mdir)
    assert "\nIMAP_PORT=1143\n" in final and "\nSMTP_PORT=2525\n" in final
    assert "mtu: 1400" in (mdir / OVERRIDE).read_text()
    assert any("\nIMAP_PORT=1143\n" in b.read_text() for b in mdir.glob("mailcow.conf.bak-*"))


async def test_generate_and_fix_during_apply_wait_for_the_wizard_and_are_refused(tree) -> None:
    root, mdir = tree
    s = _session(root, mdir)
    others: list[subprocess.CompletedProcess[str]] = []
    confirmed = s.finish

    def finish(progress=None):
        def step(line: str) -> None:
            if line.startswith("Writing mailcow.conf"):  # the fixes are applied, mailcow.conf is next
                others.append(run_wizard("generate", "--root", str(root), "--mailcow-dir", str(mdir),
                                         "--set", "POP_PORT=1110", wait="0.5"))
                others.append(run_wizard("fix", "mtu", "--mtu", "1300", "--yes", "--root", str(root),
                                         "--mailcow-dir", str(mdir), wait="0.5"))
            if progress:
                progress(line)
        return confirmed(step)

    s.finish = finish  # type: ignore[method-assign]
    app = WizardApp(s, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await _confirm(pilot, app)
        await wait_for(pilot, on_step(app, "done"), "the Done step", timeout=60)
    assert len(others) == 2
    for other in others:
        # Each was refused before it changed anything, naming the wizard as the holder.
        assert other.returncode == 2, (other.stdout, other.stderr)
        assert f"in use by another mailcow-wizard run (pid {os.getpid()}" in other.stderr, other.stderr
    final = _conf(mdir)
    assert "\nSMTP_PORT=2525\n" in final and "POP_PORT=1110" not in final
    assert "mtu: 1400" in (mdir / OVERRIDE).read_text()
    assert not list(mdir.glob(f"{OVERRIDE}.bak-*"))  # the fix never wrote, so nothing to keep


async def test_a_fix_run_between_review_and_apply_is_kept_and_the_fix_planned_again(tree) -> None:
    root, mdir = tree
    s = _session(root, mdir)
    app = WizardApp(s, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: s.review_plan is not None and next_enabled(app), "the review")
        other = run_wizard("fix", "mtu", "--mtu", "1300", "--yes", "--root", str(root),
                           "--mailcow-dir", str(mdir))
        assert "Result of fix 'mtu': applied" in other.stdout, other.stdout + other.stderr
        await _confirm(pilot, app)
        await wait_for(pilot, lambda: "Not applied" in text_of(app, "#review-target"), "the refusal")
        # A fix's file is named as the host knows it (its path below --root).
        said = text_of(app, "#review-target").replace("\n", " ")
        assert f"another program changed /opt/mailcow-dockerized/{OVERRIDE}" in said
        # The MTU fix was planned again from the file as it is now (here it cannot be: no interface
        # under this root to take the MTU from, so it is no longer planned).
        assert "mtu" not in s.planned_fixes
    assert "mtu: 1300" in (mdir / OVERRIDE).read_text()
    assert "\nSMTP_PORT=2525\n" not in _conf(mdir)
