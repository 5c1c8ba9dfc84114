"""A real unprivileged process (nobody) races symlinks against root's writes, hundreds of times.

The checkout belongs to nobody (as a deploy user's checkout might); root writes mailcow.conf and the
override there. The attacker swaps every temp and backup name it sees for a symlink to a root-owned
file outside, and plants links at the next backup names. That file must never change: not its
content, owner, or mode. Every backup that exists must be a regular file with complete old content.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailcow_wizard.conf import write as conf_write
from mailcow_wizard.conf.write import ConfError, plan_conf, write_conf
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, apply, plan_fix
from mailcow_wizard.host import Host
from tests.security.conftest import NOBODY, make_checkout, make_root, needs_root

pytestmark = needs_root

ATTACKER = r"""
import os, sys, time
d, target, stop = sys.argv[1], sys.argv[2], sys.argv[3]
n = swaps = 0
while not os.path.exists(stop):
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for name in names:
        if ".tmp-" in name or ".bak-" in name:
            tmp = os.path.join(d, "x%d-%d" % (os.getpid(), n)); n += 1
            try:
                os.symlink(target, tmp)
                os.rename(tmp, os.path.join(d, name))
                swaps += 1
            except OSError:
                try: os.unlink(tmp)
                except OSError: pass
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for base in ("mailcow.conf", "docker-compose.override.yml"):
        for k in ("", "-1", "-2"):
            try: os.symlink(target, os.path.join(d, "%s.bak-%s%s" % (base, stamp, k)))
            except OSError: pass
print(swaps)
"""


def _foreign(tmp_path: Path) -> tuple[Path, tuple[bytes, int, int, int]]:
    f = tmp_path / "foreign"
    f.write_bytes(b"root's own file\n")
    f.chmod(0o600)
    st = f.stat()
    return f, (f.read_bytes(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def _state(f: Path) -> tuple[bytes, int, int, int]:
    st = f.stat()
    return f.read_bytes(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


class Attacker:
    """The racing process, run as nobody until `stop()`; `swaps` is how many links it put in place."""

    def __init__(self, d: Path, target: Path):
        self.flag = d.parent / f"stop-{os.getpid()}"
        argv = ["/usr/bin/python3", "-c", ATTACKER, str(d), str(target), str(self.flag)]
        self.proc = subprocess.Popen(argv, user=NOBODY, group=NOBODY, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        time.sleep(0.3)

    def stop(self) -> int:
        self.flag.touch()
        try:
            out = self.proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out = self.proc.communicate()[0]
        assert out.strip().isdigit(), (out, self.proc.returncode)
        return int(out)


def _check_backups(d: Path, target: Path) -> int:
    """Every backup name is the attacker's link or a complete, regular copy; returns the copies."""
    copies = 0
    for p in d.iterdir():
        if ".bak-" not in p.name:
            continue
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            assert os.readlink(p) == str(target)  # a link the attacker made itself
            continue
        assert stat.S_ISREG(st.st_mode) and st.st_size > 0, p
        copies += 1
    return copies


TRIES = 300
"""Root writes raced by the attacker at least."""
MIN_WINS = 20
"""Writes that must get through the race, so the test also proves the writing path (not only refusals)."""
MAX_TRIES = 5000

def test_nobody_racing_root_generate_never_touches_a_foreign_file(world: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf_write, "find_compose", lambda *a, **k: None)
    foreign, before = _foreign(world)
    root = make_root(world / "root")
    d = make_checkout(world / "m")
    host = Host(root, live=False)
    first = plan_conf(d, host, answers={"MAILCOW_HOSTNAME": "mail.example.org", "TZ": "UTC"},
                      local=None, compose=None)
    write_conf(first)
    os.chown(d, NOBODY, NOBODY)
    os.chown(d / "mailcow.conf", NOBODY, NOBODY)
    attacker = Attacker(d, foreign)
    written = refused = 0
    reasons: dict[str, int] = {}
    try:
        for i in range(MAX_TRIES):
            if i >= TRIES and written >= MIN_WINS:
                break
            if (d / "mailcow.conf").is_symlink():  # the owner of the directory may do that; start again
                (d / "mailcow.conf").unlink()
                (d / "mailcow.conf").write_bytes(first.new_bytes)
                os.chown(d / "mailcow.conf", NOBODY, NOBODY)
            p = plan_conf(d, host, answers={"SMTP_PORT": str(2000 + i)}, local=None, compose=None)
            try:
                write_conf(p)
                written += 1
            except ConfError as exc:
                refused += 1
                reasons[str(exc)[-60:]] = reasons.get(str(exc)[-60:], 0) + 1
                # Refused before the rename ("nothing written", a link in the way), or after it: the
                # directory's owner swapped the name just after our whole file got it.
                assert any(why in str(exc) for why in ("nothing written", "symbolic link",
                                                       "replaced by another process right after")), exc
            assert _state(foreign) == before
    finally:
        swaps = attacker.stop()
    assert _state(foreign) == before
    # How many writes win against the racing process depends on scheduling (on a quiet machine the
    # attacker can win 284 of 300): the run goes on past 300 tries until MIN_WINS writes got through, so
    # the write path itself is exercised; each try wrote whole or was refused, the foreign file untouched.
    assert swaps > 0 and written >= MIN_WINS, (written, refused, swaps, reasons)
    _check_backups(d, foreign)  # the owner of the directory may replace backups; none is partial
    st = (d / "mailcow.conf").lstat()
    if stat.S_ISREG(st.st_mode):
        assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600
    print(f"generate: {written} written, {refused} refused, attacker swaps: {swaps}", file=sys.stderr)


def test_nobody_racing_root_fix_mtu_never_touches_a_foreign_file(world: Path) -> None:
    foreign, before = _foreign(world)
    root = make_root(world / "root")
    d = make_checkout(world / "m")
    override = d / "docker-compose.override.yml"
    override.write_text("services: {}\n")
    os.chown(d, NOBODY, NOBODY)
    os.chown(override, NOBODY, NOBODY)
    ctx = Context(Host(root, live=False), d)
    attacker = Attacker(d, foreign)
    done = failed = 0
    try:
        for i in range(MAX_TRIES):
            if i >= TRIES and done >= MIN_WINS:
                break
            if override.is_symlink():
                override.unlink()
                override.write_text("services: {}\n")
                os.chown(override, NOBODY, NOBODY)
            plan = plan_fix("mtu", ctx, FixOptions(mtu=1300 + (i % 100)))
            if not plan.applicable:
                continue
            result = apply(plan, ctx.host, log=False, privileged=True)
            if result.ok:
                done += 1
            else:
                failed += 1
                # The directory's owner can always make a write fail; it must fail as a refusal.
                assert "could not write" in result.render() or "could not read" in result.render()
            assert _state(foreign) == before
    finally:
        swaps = attacker.stop()
    assert _state(foreign) == before
    assert swaps > 0 and done >= MIN_WINS, (done, failed, swaps)
    print(f"fix mtu: {done} applied, {failed} refused, attacker swaps: {swaps}", file=sys.stderr)
    _check_backups(d, foreign)  # the owner of the directory may replace backups; none is partial
