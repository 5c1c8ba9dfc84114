"""The whole wizard on the real guest, as a person runs it: `ssh -t` in a tmux pane of 80x24 on this
machine, keys typed with send-keys, screens read with capture-pane, through to a written mailcow.conf
in a real mailcow checkout, with the NTP and port fixes applied from the screens. Then the guest's own
tools say whether they took effect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.tmuxpane import EXIT_RE, TmuxPane, tmux_available, unique_name
from tests.vm.machine import Guest
from tests.vm.test_fixes_vm import listeners, ntp_synchronized
from tests.vm.test_more_vm import CHECKOUT

SLOW = 120.0
"""An emulated guest draws and checks slowly: every wait allows this many seconds."""


@pytest.fixture
def pane() -> Iterator[TmuxPane]:
    if not tmux_available():
        pytest.skip("tmux is not installed (Debian: apt-get install tmux)")
    p = TmuxPane(unique_name("testvm"), 80, 24)
    try:
        yield p
    finally:
        p.kill()


def on_step(title: str, *also: str):
    def test(screen: str) -> bool:
        return (re.search(rf"Step \d+ of \d+: {re.escape(title)}", screen) is not None
                and all(a in screen for a in also))

    test.__name__ = f"step {title} {also}"
    return test


def planned(screen: str) -> bool:
    return re.search(r"X\S?\s*Apply when I confirm the Review", screen) is not None


def next_step(pane: TmuxPane, now: str) -> None:
    """Ctrl+N until the step titled `now` is left (a key pressed while the emulated guest was still
    busy may not count); bounded."""
    for _ in range(4):
        pane.send("C-n")
        try:
            pane.wait_for(lambda s: not on_step(now)(s), 30)
            return
        except Exception:  # noqa: BLE001 - still on the step: press again
            continue
    pane.wait_for(lambda s: not on_step(now)(s), 30)


def go_to(pane: TmuxPane, title: str) -> None:
    """Ctrl+N through the steps (whichever this host has) until the one titled `title`."""
    for _ in range(8):
        now = re.search(r"Step \d+ of \d+: (.+?)\s*$", pane.capture(), re.M)
        if now is None or now.group(1) == title:
            break
        next_step(pane, now.group(1))
    pane.wait_for(on_step(title), SLOW)


def choose(pane: TmuxPane, label: str) -> None:
    """In the focused radio set, select the choice whose line contains `label`."""
    for _ in range(5):
        pane.send("Enter")
        try:
            pane.wait_for(lambda s: any("●" in ln and label in ln for ln in s.splitlines()), 10)
            return
        except Exception:  # noqa: BLE001 - the highlight was on another choice: move and retry
            pane.send("Up")
    pane.wait_for(lambda s: any("●" in ln and label in ln for ln in s.splitlines()), 10)


def test_the_wizard_over_ssh_writes_mailcow_conf_and_applies_fixes(
        vm: Guest, pane: TmuxPane, mailcow_src_current: Path) -> None:
    vm.put_tree(mailcow_src_current, CHECKOUT)
    remote = f"cd {CHECKOUT} && exec mailcow-wizard"
    pane.start([*vm.ssh_argv(tty=True), remote], {"TERM": "xterm-256color"}, report_exit=True)

    pane.wait_for(on_step("Welcome"), SLOW)
    pane.wait_for(CHECKOUT, SLOW)
    next_step(pane, "Welcome")

    screen = pane.wait_for(lambda s: on_step("System checks")(s) and " fail," in s, SLOW * 2)
    assert "exim4" in screen
    go_to(pane, "Port conflicts")  # past Network & DNS, which sends nothing unless asked to

    screen = pane.wait_for(on_step("Port conflicts", "exim4.service"), SLOW)
    assert "nginx" in screen
    pane.send("Tab")
    choose(pane, "Stop and disable exim4.service")
    pane.send("BTab", "Home", "Down", "Tab")
    choose(pane, "Stop and disable nginx.service")
    pane.wait_for("All conflicts resolved", SLOW)
    next_step(pane, "Port conflicts")

    pane.wait_for(on_step("Ports"), SLOW)
    next_step(pane, "Ports")
    pane.wait_for(lambda s: on_step("Clock (NTP)", "timesyncd.conf")(s) and planned(s), SLOW)
    go_to(pane, "Configuration")
    pane.wait_for(on_step("Configuration", "MAILCOW_HOSTNAME"), SLOW)
    pane.type("mx1.example.org")
    pane.wait_for(lambda s: "mx1.example.org" in s and "is required" not in s, SLOW)
    next_step(pane, "Configuration")

    pane.wait_for(on_step("Review", "Synchronise the clock"), SLOW)
    pane.send("C-n")
    pane.wait_for("Make these changes now?", SLOW)
    pane.send("y")
    pane.wait_for(on_step("Done", "Written"), SLOW * 3)
    pane.send("C-n")
    final = pane.wait_for(lambda s: EXIT_RE.search(s) is not None, SLOW)
    assert EXIT_RE.search(final).group(1) == "0", final

    conf = vm.sh(f"stat -c %a {CHECKOUT}/mailcow.conf && cat {CHECKOUT}/mailcow.conf").stdout
    assert conf.startswith("600\n") and "MAILCOW_HOSTNAME=mx1.example.org\n" in conf
    assert ntp_synchronized(vm) == "yes"
    assert listeners(vm, 25) == [] and listeners(vm, 80) == []
    assert vm.sh(f"cd {CHECKOUT} && mailcow-wizard check --only ntp,ports", check=False).returncode == 0
