"""Startup benchmark: `mailcow-wizard --demo` against a minimal Textual app, side by side in tmux.

For each app it measures the time from starting the program in a tmux pane to the first screen that
shows its marker text, and the peak resident memory (VmHWM) once that screen is drawn. The two apps
run interleaved (order alternating) in the same run, several times each; medians and their ratios
are printed. The budget is 1.3x the minimal app for both.

    .venv/bin/python -m benchmarks.bench_startup [--reps 7] [--marker TEXT] [--json]

Exit code 0 when both ratios are within the budget, 1 when one is over, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.minimal_app import MARKER as MINIMAL_MARKER
from benchmarks.tmuxpane import TmuxError, TmuxPane, tmux_available, unique_name, vm_hwm_kib

REPO = Path(__file__).resolve().parent.parent
BUDGET = 1.3
WIZARD_MARKER = "Welcome"
"""Text the wizard's first screen shows (its title); override with --marker."""


@dataclass
class Sample:
    seconds: float
    peak_kib: int


def _wizard_argv() -> list[str]:
    exe = Path(sys.executable).with_name("mailcow-wizard")
    return [str(exe) if exe.exists() else "mailcow-wizard", "--demo"]


def _minimal_argv() -> list[str]:
    return [sys.executable, str(REPO / "benchmarks" / "minimal_app.py")]


def measure(pane: TmuxPane, argv: list[str], marker: str, env: dict[str, str], settle: float) -> Sample:
    """Run argv in the pane; time to the marker on screen; VmHWM after `settle` seconds of idling."""
    t0 = time.perf_counter()
    pane.respawn(argv, env)
    pane.wait_for(marker, timeout=30.0, interval=0.002)
    elapsed = time.perf_counter() - t0
    pid = pane.pane_pid()
    time.sleep(settle)  # let the first frame's work finish so the peak covers it
    peak = vm_hwm_kib(pid)
    if peak is None:
        raise TmuxError(f"{argv[0]} exited right after drawing its first screen:\n{pane.capture()}")
    return Sample(elapsed, peak)


def compile_package() -> None:
    """Write the wizard's bytecode, as pip does when it installs a wheel.

    Textual's bytecode was written when it was installed; an editable checkout's is written only on
    first import, and never with PYTHONDONTWRITEBYTECODE set (tmux passes the environment on). Without
    this the wizard would compile its own modules on every start, and only the wizard would.
    """
    import compileall

    compileall.compile_dir(str(REPO / "mailcow_wizard"), quiet=1)


def run(reps: int, marker: str, settle: float, width: int, height: int) -> dict[str, object]:
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    # Demo copies go to a temporary directory: keep them inside ours and remove them at the end.
    env = {"TMPDIR": str(work), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    pane = TmuxPane(unique_name("bench"), width, height)
    apps = {"minimal": (_minimal_argv(), MINIMAL_MARKER), "wizard": (_wizard_argv(), marker)}
    samples: dict[str, list[Sample]] = {name: [] for name in apps}
    try:
        pane.start(None, env)
        # One warm-up each: the first run pays for cold file caches and .pyc writing.
        for argv, mark in apps.values():
            measure(pane, argv, mark, env, settle)
        for i in range(reps):
            order = list(apps) if i % 2 == 0 else list(reversed(apps))
            for name in order:
                argv, mark = apps[name]
                samples[name].append(measure(pane, argv, mark, env, settle))
    finally:
        pane.kill()
        shutil.rmtree(work, ignore_errors=True)
    med = {name: {"seconds": statistics.median(s.seconds for s in ss),
                  "peak_mib": statistics.median(s.peak_kib for s in ss) / 1024}
           for name, ss in samples.items()}
    return {
        "reps": reps,
        "terminal": f"{width}x{height}",
        "median": med,
        "samples": {name: [(round(s.seconds, 4), s.peak_kib) for s in ss] for name, ss in samples.items()},
        "ratio": {
            "time": med["wizard"]["seconds"] / med["minimal"]["seconds"],
            "peak_rss": med["wizard"]["peak_mib"] / med["minimal"]["peak_mib"],
        },
        "budget": BUDGET,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="measured runs per app (default 7)")
    parser.add_argument("--marker", default=WIZARD_MARKER, help="text of the wizard's first screen")
    parser.add_argument("--settle", type=float, default=0.3, help="idle seconds before reading VmHWM")
    parser.add_argument("--size", default="80x24", help="terminal size WxH (default 80x24)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not tmux_available():
        print("bench_startup: tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    width, _, height = args.size.partition("x")
    try:
        result = run(args.reps, args.marker, args.settle, int(width), int(height))
    except TmuxError as exc:
        print(f"bench_startup: {exc}", file=sys.stderr)
        return 2
    ratio = result["ratio"]
    assert isinstance(ratio, dict)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        med = result["median"]
        assert isinstance(med, dict)
        print(f"startup to first screen in tmux {result['terminal']}, median of {args.reps} interleaved runs "
              f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
        print(f"{'':24}{'first screen':>14}{'peak RSS':>12}")
        for name, label in (("minimal", "minimal Textual app"), ("wizard", "mailcow-wizard --demo")):
            print(f"{label:24}{med[name]['seconds'] * 1000:>11.0f} ms{med[name]['peak_mib']:>8.1f} MiB")
        print(f"{'ratio (budget 1.3x)':24}{ratio['time']:>13.2f}x{ratio['peak_rss']:>11.2f}x")
    return 0 if ratio["time"] <= BUDGET and ratio["peak_rss"] <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
