"""mailcow's own generate_config.sh beside `mailcow-wizard generate`, on two copies of a real checkout.

mailcow's script runs in an empty network namespace (`unshare -n`, so nothing leaves the machine) and a
private mount namespace with a scratch /etc/docker (so it cannot touch the host's daemon.json). Only
what cannot work here is stubbed, on PATH: `docker` (no engine here; it answers the version question)
and the `docker-compose` binary the 2020 script looks for. Then, for each real checkout:

- every file mailcow's script created exists after ours too;
- every key it wrote (active or commented out) is in our mailcow.conf;
- that checkout's own update migration, run by bash against our file, changes nothing;
- Docker Compose publishes the same ports from both files (where Compose is installed);
- bash reads every value of ours as we intend.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                       reason="needs root and unshare for an empty network namespace"),
]

HOST = "mail.example.org"
STUB_DOCKER = """#!/bin/sh
# Stands in for the docker CLI where no engine runs: answers the version questions only.
case "$*" in
  "version --format"*) echo 27.5.1 ;;
  "compose version --short") echo 2.26.1 ;;
  "compose version") echo "Docker Compose version v2.26.1" ;;
  compose*) exit 0 ;;
  "volume ls"*) exit 0 ;;
  *) exit 0 ;;
esac
"""
STUB_COMPOSE = "#!/bin/sh\necho 'docker-compose version 1.27.4'\n"


def _tree(d: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in d.rglob("*"):
        if p.is_symlink():
            out[str(p.relative_to(d))] = os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(d))] = p.read_bytes()
    return out


def _run_theirs(d: Path, stubs: Path) -> subprocess.CompletedProcess[str]:
    if not os.path.lexists(d / ".env"):
        os.symlink("mailcow.conf", d / ".env")
    script = ("set -e; mount -t tmpfs none /etc/docker 2>/dev/null || true; "
              f"cd {d}; exec bash ./generate_config.sh --dev </dev/null")
    env = {"PATH": f"{stubs}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "MAILCOW_HOSTNAME": HOST, "MAILCOW_TZ": "Europe/Berlin", "SKIP_CLAMD": "n", "HOME": str(d.parent),
           "LC_ALL": "C"}
    return subprocess.run(["unshare", "-n", "-m", "bash", "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)


def _run_ours(d: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailcow_wizard", "generate", "--mailcow-dir", str(d),
                           "--hostname", HOST, "--timezone", "Europe/Berlin", "--set", "SKIP_CLAMD=n"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def _keys(text: str) -> dict[str, bool]:
    """KEY -> set (True) or only commented out (False)."""
    out: dict[str, bool] = {}
    for m in re.finditer(r"^(#?)([A-Z][A-Z0-9_]*)=", text, re.M):
        out[m.group(2)] = out.get(m.group(2), False) or m.group(1) == ""
    return out


def _migrate(d: Path) -> str:
    """The update script's key migration only, as bash runs it, against d/mailcow.conf."""
    modules = d / "_modules" / "scripts"
    if (modules / "new_options.sh").is_file():
        script = ("docker() { :; }; source _modules/scripts/new_options.sh; "
                  "source _modules/scripts/migrate_options.sh; adapt_new_options; migrate_config_options")
    else:
        text = (d / "update.sh").read_text()
        m = re.search(r"^CONFIG_ARRAY=\(.*?^done$", text, re.S | re.M)
        assert m, "no option migration found in update.sh"
        script = m.group(0)
    out = subprocess.run(["bash", "-c", script], cwd=d, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _ports(d: Path, env_file: Path) -> object:
    out = subprocess.run(["docker", "compose", "--env-file", str(env_file), "-f",
                          str(d / "docker-compose.yml"), "config", "--format", "json"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"})
    assert out.returncode == 0, out.stderr[-2000:]
    services = json.loads(out.stdout)["services"]
    return {name: sorted((p.get("host_ip", ""), p.get("published"), p.get("target"), p.get("protocol"))
                         for p in svc.get("ports", []))
            for name, svc in services.items() if svc.get("ports")}


def _compare(src: Path, tmp_path: Path) -> None:
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    shutil.copytree(src, theirs, symlinks=True)
    shutil.copytree(src, ours, symlinks=True)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in (("docker", STUB_DOCKER), ("docker-compose", STUB_COMPOSE)):
        (stubs / name).write_text(body)
        (stubs / name).chmod(0o755)

    before = _tree(theirs)
    run = _run_theirs(theirs, stubs)
    assert (theirs / "mailcow.conf").is_file(), f"theirs failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    created = {p for p, body in _tree(theirs).items() if p not in before and not p.endswith("_backup")}
    assert {"mailcow.conf", "data/assets/ssl/cert.pem", "data/assets/ssl/key.pem",
            "data/assets/ssl/dhparams.pem",
            "data/conf/rspamd/override.d/worker-controller-password.inc"} <= created, created

    if os.path.lexists(ours / ".env"):
        os.unlink(ours / ".env")  # the tarball ships the link; a fresh clone has none
    done = _run_ours(ours)
    assert done.returncode == 0, done.stderr
    for name in ("cert.pem", "dhparams.pem", "worker-controller-password.inc", ".env -> mailcow.conf"):
        assert name in done.stdout, f"generate does not say it created {name}"
    missing = sorted(p for p in created if not os.path.lexists(ours / p))
    assert not missing, f"mailcow's generator makes these, ours does not: {missing}"
    assert os.readlink(ours / ".env") == "mailcow.conf"
    assert oct((ours / "data/assets/ssl/key.pem").stat().st_mode & 0o777) == "0o600"

    their_keys = _keys((theirs / "mailcow.conf").read_text())
    our_keys = _keys((ours / "mailcow.conf").read_text())
    absent = sorted(set(their_keys) - set(our_keys))
    assert not absent, f"keys mailcow writes that ours lacks: {absent}"
    active = {k for k, is_set in our_keys.items() if is_set}
    assert {k for k, is_set in their_keys.items() if is_set} <= active

    conf_before = (ours / "mailcow.conf").read_bytes()
    said = _migrate(ours)
    assert (ours / "mailcow.conf").read_bytes() == conf_before, f"the update migration changed ours:\n{said}"

    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        published = _ports(ours, ours / "mailcow.conf")
        assert published == _ports(theirs, theirs / "mailcow.conf")
        assert len(published.get("postfix-mailcow", [])) == 3 and published.get("nginx-mailcow")

    values = {}
    for line in (ours / "mailcow.conf").read_text().splitlines():
        m = re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2).strip("'")
    script = "set -a; source ./mailcow.conf; set +a; " + "; ".join(
        f'printf "%s=%s\\0" {k} "${{{k}}}"' for k in values)
    out = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=ours, capture_output=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert dict(i.split("=", 1) for i in out.decode().split("\0") if i) == values

    second = _run_ours(ours)
    assert second.returncode == 0 and "already up to date" in second.stdout
    assert "created" not in second.stdout, second.stdout


def test_todays_mailcow(mailcow_src_current: Path, tmp_path: Path) -> None:
    _compare(mailcow_src_current, tmp_path)
    assert (tmp_path / "ours" / "data/web/inc/app_info.inc.php").is_file()


def test_mailcow_of_2020(mailcow_src_2020: Path, tmp_path: Path) -> None:
    _compare(mailcow_src_2020, tmp_path)
    assert not (tmp_path / "ours" / "data/web/inc/app_info.inc.php").exists(), "the 2020 generator made none"
