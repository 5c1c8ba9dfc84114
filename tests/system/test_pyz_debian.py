"""dist/mailcow-wizard.pyz with the python3 of real Debian 11 (bullseye, 3.9) and Debian 13 (trixie, 3.13).

The trees are minimal debootstrap installs (python3 and what it needs: no pip, no venv), made by
`scripts/debian-tree SUITE` when the session first needs them (a few minutes each) and kept under
$MAILCOW_WIZARD_TREES (default /var/cache/mailcow-wizard-trees) for later runs. Each command runs as
`chroot TREE python3 /x/mailcow-wizard.pyz ...` inside its own mount namespace with the tree's /proc
mounted, so the mount ends with the process. In each tree: `check --json` gives valid JSON with the
documented exit code, `generate --dry-run` works on a copy of a real mailcow checkout (MAILCOW_SRC), and
`--demo` draws its first screen in tmux.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.tmuxpane import TmuxPane, tmux_available, unique_name
from tests.conftest import copy_checkout
from tests.system.conftest import REPO

pytestmark = pytest.mark.system

PYZ = Path(os.environ.get("MAILCOW_WIZARD_PYZ") or REPO / "dist" / "mailcow-wizard.pyz")
TREES = Path(os.environ.get("MAILCOW_WIZARD_TREES") or "/var/cache/mailcow-wizard-trees")
SUITES = {"bullseye": (3, 9), "trixie": (3, 13)}
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TERM": "xterm-256color"}

# Mount the tree's /proc inside a private mount namespace, then become the tree's python3.
ENTER = 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'


@pytest.fixture(scope="session")
def debian_trees() -> dict[str, Path]:
    """Each suite's tree, made by scripts/debian-tree (debootstrap, minutes) unless it is cached."""
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, chroot and mounting /proc)")
    for tool in ("unshare", "chroot", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-test-deps installs it)")
    trees = {}
    for suite in SUITES:
        made = subprocess.run([str(REPO / "scripts" / "debian-tree"), suite], capture_output=True,
                              text=True, timeout=1800, check=False,
                              env={**os.environ, "MAILCOW_WIZARD_TREES": str(TREES)})
        if made.returncode != 0:
            pytest.fail(f"scripts/debian-tree {suite} failed: {made.stderr.strip()[-800:]}")
        trees[suite] = Path(made.stdout.strip().splitlines()[-1])
    return trees


@dataclass
class Tree:
    """A Debian tree with this run's own directory /x-... holding a copy of the pyz and a HOME."""

    root: Path
    inside: str

    @property
    def here(self) -> Path:
        return self.root / self.inside.lstrip("/")

    def argv(self, *args: str) -> list[str]:
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", ENTER, str(self.root),
                "env", "-i", *(f"{k}={v}" for k, v in ENV.items()), f"HOME={self.inside}/home", *args]

    def pyz(self, *args: str) -> list[str]:
        return self.argv("python3", f"{self.inside}/mailcow-wizard.pyz", *args)

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc


@pytest.fixture(params=list(SUITES))
def tree(request: pytest.FixtureRequest, debian_trees: dict[str, Path]) -> Iterator[Tree]:
    root = debian_trees[request.param]
    if not PYZ.is_file():
        pytest.skip(f"{PYZ} is not built (run scripts/build-pyz)")
    inside = f"/x-{os.getpid()}-{os.urandom(3).hex()}"
    t = Tree(root, inside)
    (t.here / "home").mkdir(parents=True)
    shutil.copy(PYZ, t.here / "mailcow-wizard.pyz")
    try:
        version = t.run(t.argv("python3", "-c", "import sys; print(*sys.version_info[:2])"))
        assert tuple(map(int, version.stdout.split())) == SUITES[request.param], version
        yield t
    finally:
        shutil.rmtree(t.here, ignore_errors=True)
        assert not os.path.ismount(root / "proc"), f"{root}/proc is still mounted"


def test_check_json_in_the_tree(tree: Tree) -> None:
    proc = tree.run(tree.pyz("check", "--json"))
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["version"] == 1
    ids = {c["id"] for c in doc["checks"]}
    assert {"arch", "ram", "os", "ports", "docker"} <= ids
    failed = any(c["status"] == "fail" for c in doc["checks"])
    assert proc.returncode == (1 if failed else 0)
    os_check = next(c for c in doc["checks"] if c["id"] == "os")
    assert "Debian" in os_check["summary"], os_check
    assert (tree.here / "home/.cache/mailcow-wizard").is_dir()


@pytest.mark.parametrize("generation", ["current", "2020"])
def test_generate_dry_run_on_a_real_checkout_in_the_tree(tree: Tree, generation: str,
                                                         request: pytest.FixtureRequest) -> None:
    real = request.getfixturevalue(f"mailcow_src_{generation}")
    checkout = copy_checkout(real, tree.here / "mailcow-dockerized")
    before = sorted(p.name for p in checkout.iterdir())
    proc = tree.run(tree.pyz("generate", "--dry-run", "--hostname", "mail.example.org", "--timezone", "UTC",
                             "--mailcow-dir", f"{tree.inside}/mailcow-dockerized"))
    assert proc.returncode == 0, proc.stderr
    assert "+MAILCOW_HOSTNAME=mail.example.org" in proc.stdout
    assert ("SKIP_SOLR" in proc.stdout) == (generation == "2020")
    assert "dry run: nothing written" in proc.stderr
    assert sorted(p.name for p in checkout.iterdir()) == before


def test_demo_draws_its_first_screen_in_tmux(tree: Tree) -> None:
    if not tmux_available():
        pytest.skip("tmux is not installed (Debian: apt-get install tmux)")
    pane = TmuxPane(unique_name("pyzdeb"), 80, 24)
    try:
        pane.start(tree.pyz("--demo"))
        screen = pane.wait_for(lambda s: re.search(r"Step 1 of \d+: Welcome", s) is not None, 90)
        assert "Traceback" not in screen
    finally:
        pane.kill()
