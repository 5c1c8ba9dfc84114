"""Benchmark: what the `check` path's start-up choices save, each measured against its alternative.

Run from the repository: `.venv/bin/python -m benchmarks.bench_imports [--runs N]`. Every figure is the
median CPU time (user + system) of N fresh interpreters (bytecode cached, as in a user's install) minus
the median of a bare `python -c pass` measured in the same run, interleaved, so a busy machine shifts
both alike:

1. forty classes as `dataclasses.dataclass` vs as `fastrecord.record` (why the check path has records);
2. importing psutil, distro, subprocess and the fix machinery (why `check` imports them lazily or not);
3. starting systemd-detect-virt and the Compose plugin (why the probes read files instead), where the
   machine has them.

The README's "Speed and memory" section quotes these figures; source comments only say why.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLASSES = 40
"""About as many record classes as `check --json` defines."""

_BODY = "    a: int\n    b: str = ''\n    c: list = {factory}\n"


def _classes(decorator: str, factory: str) -> str:
    body = _BODY.format(factory=factory)
    return "".join(f"@{decorator}\nclass C{i}:\n{body}\n" for i in range(CLASSES))


SNIPPETS: dict[str, str] = {
    "bare": "pass",
    "dataclasses x40": "from __future__ import annotations\nfrom dataclasses import dataclass, field\n"
                       + _classes("dataclass(frozen=True)", "field(default_factory=list)"),
    "fastrecord x40": "from __future__ import annotations\n"
                      "from mailcow_wizard.fastrecord import field, record\n"
                      + _classes("record(frozen=True)", "field(default_factory=list)"),
    "import psutil": "import psutil",
    "import distro": "import distro",
    "import subprocess": "import subprocess",
    "import the fix machinery": "import mailcow_wizard.fixes",
}


def run_once(argv: Sequence[str]) -> float:
    """CPU seconds (user + system) of one child: on a shared machine, waiting for a core is not cost."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here; keeps Popen from waiting again
    return usage.ru_utime + usage.ru_stime


def commands() -> dict[str, list[str]]:
    """Every measured argv: the Python snippets, and the programs this machine has."""
    out = {name: [sys.executable, "-c", code] for name, code in SNIPPETS.items()}
    virt = shutil.which("systemd-detect-virt")
    if virt:
        out["run systemd-detect-virt"] = [virt]
    for plugin_dir in ("/usr/local/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins",
                       "/usr/lib/docker/cli-plugins"):
        plugin = Path(plugin_dir) / "docker-compose"
        if plugin.is_file():
            out["run docker compose version"] = [str(plugin), "version", "--short"]
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=21, help="fresh interpreters per figure (default 21)")
    args = ap.parse_args()
    argvs = commands()
    for argv in argvs.values():  # warm the bytecode and the page cache
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(args.runs):
        for name, argv in argvs.items():  # interleaved: load changes hit every figure alike
            times[name].append(run_once(argv))
    median = {name: statistics.median(t) * 1000 for name, t in times.items()}
    bare = median["bare"]
    print(f"bare python -c pass: {bare:.1f} ms (median of {args.runs})")
    for name, ms in median.items():
        if name == "bare":
            continue
        extra = ms - bare if name in SNIPPETS else ms
        what = "more than bare" if name in SNIPPETS else "whole process"
        print(f"{name:<28} {extra:6.1f} ms {what}")
    dc, rec = median["dataclasses x40"] - bare, median["fastrecord x40"] - bare
    print(f"records vs dataclasses for {CLASSES} classes: {rec:.1f} vs {dc:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
