"""Benchmark: finding listeners in-process vs `ss`, and the whole `mailcow-wizard check --json`.

Run from the repository: `.venv/bin/python benchmarks/bench_check.py` (root sees every owner; as
another user the figures are still measured). Everything is measured side by side in one run:

1. port detection in-process (netlink sock_diag + fd-count-ordered inode scan) vs `ss -Htlnp`
   as a subprocess, on a quiet machine and with 10,000 established loopback connections held open
   by a helper process this script forks (127.0.0.1 only; closed and the helper killed at the end);
2. the whole `mailcow-wizard check --json` process vs one `ss -tlpn` with the same connections;
3. peak RSS of `check --json` (os.wait4 rusage of that child).

Goals (issue 2): >= 50x faster than ss with 10k connections and < 3 ms; whole check < half of one
ss call; quiet check < 150 ms median; check RSS < 30 MiB. Options: --conns N, --runs N, and
--wizard PATH to time another install's console script (a regular, non-editable `pip install .` in a
scratch venv: the editable install of a development checkout adds a path finder to every start), and
--baseline PATH to time another install's `check --json` against it, runs interleaved, as a ratio (how
a change moved the quiet check: build both installs the same way).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailcow_wizard.host import Host  # noqa: E402
from mailcow_wizard.mailcow import published_ports  # noqa: E402
from mailcow_wizard.probes import ports as P  # noqa: E402

WIZARD = Path(sys.executable).parent / "mailcow-wizard"
MAX_CONNS = 20000
"""Upper bound on --conns: each connection costs two file descriptors and an ephemeral port."""


def median_ms(func: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        func()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run_child(argv: Sequence[str]) -> tuple[float, int, int, str]:
    """(wall seconds, exit code, peak RSS in KiB, stderr tail) of one subprocess."""
    env = dict(os.environ, NO_COLOR="1", LC_ALL="C")
    # A user's install has its bytecode cached; a developer shell with PYTHONDONTWRITEBYTECODE would
    # make every run compile the whole package from source (and measure that instead).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, cwd="/tmp")
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, proc.returncode, usage.ru_maxrss, err.decode(errors="replace")[-300:]


SPREAD: dict[str, tuple[float, float]] = {}
"""(min, max) wall ms of each command timed by median_child, by its argv."""


def median_child(argv: Sequence[str], runs: int) -> tuple[float, int, int, str]:
    """Median wall ms, last exit code, max peak RSS KiB, last stderr tail."""
    run_child(argv)  # warm the page cache
    results = [run_child(argv) for _ in range(runs)]
    walls = [r[0] * 1000 for r in results]
    SPREAD[" ".join(argv)] = (min(walls), max(walls))
    return (statistics.median(walls), results[-1][1], max(r[2] for r in results), results[-1][3])


OWN_RSS = """
import resource, sys
from mailcow_wizard.cli import main
rc = main(["check", "--json"])
sys.stderr.write(f"MCW_RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
sys.exit(rc)
"""


def own_rss(python: Path) -> int:
    """Peak RSS (KiB) of the check's own Python process, without the commands it runs."""
    _, _, _, err = run_child([str(python), "-c", OWN_RSS])
    for line in err.splitlines():
        if line.startswith("MCW_RSS_KIB="):
            return int(line.split("=", 1)[1])
    return -1


def per_check_ms() -> list[tuple[str, float, str]]:
    """Each check run once in this process (first use includes its imports): where the time goes."""
    from mailcow_wizard.checks import CHECKS, run_check
    from mailcow_wizard.commands.options import make_context

    ctx = make_context(None, None)
    out = []
    for spec in CHECKS:
        t = time.perf_counter()
        f = run_check(spec, ctx)
        out.append((spec.id, (time.perf_counter() - t) * 1000, str(f.status)))
    return out


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _child(work: Callable[[], None], w: int) -> None:
    """In a forked child: do the work, report `ok` (or the error) on the pipe, wait to be killed."""
    try:
        work()
        os.write(w, b"ok")
        signal.pause()
    except BaseException as exc:  # noqa: BLE001 - tell the parent, never run its code
        os.write(w, f"error {exc}".encode()[:200])
    finally:
        os._exit(0)


def start_busy_helpers(conns: int) -> tuple[list[int], int]:
    """Fork a server holding `conns` accepted loopback connections and a client holding the other ends.

    Two processes keep each under RLIMIT_NOFILE's usual hard limit (both ends in one process would
    need 2 x conns descriptors). Returns ([pids], port of the server's listener); both wait until
    they are killed, and the kernel closes every socket when they exit.
    """
    raise_nofile(conns + 64)
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4096)
    port = lst.getsockname()[1]
    held: list[socket.socket] = []

    def serve() -> None:
        for _ in range(conns):
            held.append(lst.accept()[0])

    def connect() -> None:
        lst.close()
        for _ in range(conns):
            held.append(socket.create_connection(("127.0.0.1", port)))

    pids, pipes = [], []
    for work in (serve, connect):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(work, w)
        os.close(w)
        pids.append(pid)
        pipes.append(r)
    lst.close()
    answers = []
    for r in pipes:
        answers.append(os.read(r, 256).decode())
        os.close(r)
    if any(a != "ok" for a in answers):
        for pid in pids:
            stop(pid)
        raise SystemExit(f"could not open {conns} loopback connections: {answers}")
    return pids, port


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def established() -> int:
    """Established TCP sockets in this namespace (from sock_diag's cheap /proc summary)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            parts = line.split()
            return int(parts[parts.index("inuse") + 1])
    return -1


def ratio(a: float, b: float) -> str:
    return f"{a / b:7.1f}x" if b > 0 else "    n/a"


def compare(baseline: Path, wizard: Path, runs: int) -> int:
    """`check --json` of two installs, alternating run by run so both see the same machine load."""
    argvs = {"baseline": [str(baseline), "check", "--json"], "this": [str(wizard), "check", "--json"]}
    walls: dict[str, list[float]] = {k: [] for k in argvs}
    rss: dict[str, int] = {k: 0 for k in argvs}
    for argv in argvs.values():
        run_child(argv)  # warm the page cache
    for _ in range(runs):
        for key, argv in argvs.items():
            wall, rc, peak, err = run_child(argv)
            if rc not in (0, 1):
                raise SystemExit(f"{key}: check --json exited {rc}: {err.strip()}")
            walls[key].append(wall * 1000)
            rss[key] = max(rss[key], peak)
    print(f"check --json, {runs} runs each, interleaved (median, min-max ms; peak RSS)")
    for key in argvs:
        w = walls[key]
        print(f"  {key:<9} {statistics.median(w):7.1f}  ({min(w):.1f}-{max(w):.1f})  "
              f"{rss[key] / 1024:.1f} MiB  {argvs[key][0]}")
    ratio_ = statistics.median(walls["this"]) / statistics.median(walls["baseline"])
    print(f"  this / baseline: {ratio_:.2f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=10000, help="loopback connections to hold (default 10000)")
    ap.add_argument("--runs", type=int, default=15, help="subprocess runs per measurement (default 15)")
    ap.add_argument("--wizard", type=Path, default=WIZARD,
                    help=f"the mailcow-wizard console script to time (default {WIZARD})")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another install's console script: its check --json against --wizard's, interleaved")
    args = ap.parse_args()
    if args.baseline is not None:
        return compare(args.baseline.absolute(), args.wizard.absolute(), args.runs)
    wizard = args.wizard.absolute()
    if not wizard.is_file():
        raise SystemExit(f"no console script at {wizard}")
    python = wizard.parent / "python"
    conns = max(0, min(args.conns, MAX_CONNS))
    ss = shutil.which("ss")
    host = Host()
    mailcow_ports = {port for _, port in published_ports({}).values()}

    # listeners this script owns (a small process) besides the busy helper's
    mine = []
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.bind((addr, 0))
            s.listen()
            mine.append(s)
        except OSError:
            pass

    print(f"mailcow-wizard benchmark: {os.cpu_count()} CPUs, kernel {os.uname().release}, "
          f"uid {os.geteuid()}, python {sys.version.split()[0]}")
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    startup = median_child([str(python), "-c", "pass"], 15)[0]
    print(f"timing: {wizard} (its python's start-up alone, `-c pass`: {startup:.1f} ms median)\n")

    results: dict[str, dict[str, float]] = {}
    helpers: list[int] = []
    try:
        for phase in ("quiet", "busy"):
            if phase == "busy":
                if conns == 0:
                    break
                t = time.perf_counter()
                helpers, hub_port = start_busy_helpers(conns)
                print(f"opened {conns} loopback connections in {time.perf_counter() - t:.1f} s "
                      f"(helper pids {helpers}, {established()} TCP sockets in use)\n")
                owned = {s.getsockname()[1] for s in mine} | {hub_port}
            else:
                owned = {s.getsockname()[1] for s in mine}
            r: dict[str, float] = {}
            found = P.find_listeners(host, owned)
            assert all(lst.owner_known for lst in found) or os.geteuid() != 0, found
            r["netlink only"] = median_ms(P.netlink_listeners, 200)
            r["in-process, mailcow ports"] = median_ms(lambda: P.find_listeners(host, mailcow_ports), 200)
            r["in-process, owned listeners"] = median_ms(lambda: P.find_listeners(host, owned), 100)  # noqa: B023
            r["in-process, every listener"] = median_ms(lambda: P.find_listeners(host), 30)
            if ss:
                r["ss -Htlnp"] = median_child([ss, "-Htlnp"], args.runs)[0]
            check_argv = [str(wizard), "check", "--json"]
            wall, rc, rss, err = median_child(check_argv, args.runs)
            r["check --json"] = wall
            r["check rss KiB"] = rss
            r["check exit"] = rc
            r["check own rss KiB"] = own_rss(python)
            if rc not in (0, 1):
                print(f"  ! check --json exited {rc}: {err.strip()}")
            if ss:
                r["ss -tlpn"] = median_child([ss, "-tlpn"], args.runs)[0]
            results[phase] = r
            print(f"[{phase}] median wall time, ms")
            for k, v in r.items():
                if k.endswith("KiB") or k.endswith("exit"):
                    continue
                print(f"  {k:<30} {v:9.3f}")
            lo, hi = SPREAD[" ".join(check_argv)]
            print(f"  {'  check --json min / max':<30} {lo:9.3f} / {hi:.3f}  ({args.runs} runs)")
            print(f"  {'check --json peak RSS':<30} {r['check rss KiB'] / 1024:9.1f} MiB  (exit {rc}; the "
                  "largest of it and the commands it ran, as wait4/time -v report it)")
            print(f"  {'  of which the Python process':<30} {r['check own rss KiB'] / 1024:9.1f} MiB")
            if ss:
                for what in ("owned listeners", "mailcow ports", "every listener"):
                    print(f"  {'ss -Htlnp / in-process (' + what + ')':<42} "
                          f"{ratio(r['ss -Htlnp'], r['in-process, ' + what])}")
                print(f"  {'check --json / ss -tlpn':<42} {r['check --json'] / r['ss -tlpn']:7.2f}")
            print()
    finally:
        for pid in helpers:
            stop(pid)
        for s in mine:
            s.close()

    print("each check once, in-process (first call includes the module's imports), quiet machine, ms")
    for cid, ms, status in per_check_ms():
        print(f"  {cid:<16} {ms:8.1f}  {status}")
    print()

    busy, quiet = results.get("busy"), results["quiet"]
    print("goals")
    goals: list[tuple[str, bool]] = []
    if busy and ss:
        det = busy["in-process, owned listeners"]
        goals.append((f">= 50x faster than ss -Htlnp with {conns} conns "
                      f"({ratio(busy['ss -Htlnp'], det).strip()})", busy["ss -Htlnp"] / det >= 50))
        goals.append((f"in-process detection < 3 ms with {conns} conns ({det:.3f} ms)", det < 3))
        goals.append((f"check --json < half of one ss -tlpn ({busy['check --json']:.1f} vs "
                      f"{busy['ss -tlpn']:.1f} ms)", busy["check --json"] < busy["ss -tlpn"] / 2))
    quiet_check = quiet["check --json"]
    goals.append((f"quiet check --json < 150 ms ({quiet_check:.1f} ms)", quiet_check < 150))
    peak = max(r["check rss KiB"] for r in results.values()) / 1024
    own = max(r["check own rss KiB"] for r in results.values()) / 1024
    goals.append((f"check --json peak RSS < 30 MiB ({peak:.1f} MiB with the commands it runs, "
                  f"{own:.1f} MiB for the Python process)", peak < 30))
    for text, ok in goals:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
