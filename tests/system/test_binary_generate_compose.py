"""Real clients reading what the real binary writes: `mailcow-wizard generate` for a matrix of port forms
and both mailcow generations, run inside a network namespace that owns the addresses it binds to
(198.18.7.5 and 2001:db8:7::5, so the validator's "is this address assigned here?" is answered by a real
kernel). Each file is then read by the two programs that matter, with nothing of ours in between:

- bash (`set -eu; source mailcow.conf`), as mailcow's update.sh does: values come out as written;
- Docker Compose v2 (`docker compose config` in the checkout, reading `.env` -> mailcow.conf as mailcow
  does, with a bare environment): the ports it would publish equal the ones intended.

The intended ports are derived from mailcow's own docker-compose.yml (from MAILCOW_SRC; its
`${VAR:-default}:TARGET` lines), not from our code. Port forms mailcow cannot use must be refused with
exit 2 and nothing written.
(The conf engine's own Compose tests, test_compose_conf.py, cover the engine in-process on loopback.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcow_wizard.mailcow import split_port_spec
from tests.conftest import MAILCOW_FIXTURES, mailcow_src
from tests.system.conftest import Netns, NetnsFactory, compose_argv, run

pytestmark = pytest.mark.system

V4, V6 = "198.18.7.5", "2001:db8:7::5"
GENERATIONS = ("current", "2020")
PORT_LINE = re.compile(r'^\s*-\s*"(?P<spec>\$\{[^"]+)"\s*$')
VAR = re.compile(r"\$\{(\w+):-([^}]*)\}")

VALID: dict[str, dict[str, str]] = {
    "defaults": {},
    "bare-ports-moved": {
        "HTTP_PORT": "8080", "HTTPS_PORT": "8443", "SMTP_PORT": "2525", "SMTPS_PORT": "4465",
        "SUBMISSION_PORT": "5587", "IMAP_PORT": "1143", "IMAPS_PORT": "1993", "POP_PORT": "1110",
        "POPS_PORT": "1995", "SIEVE_PORT": "14190",
    },
    "ipv4-address": {
        "HTTP_BIND": V4, "HTTPS_BIND": V4, "SMTP_PORT": f"{V4}:25", "SMTPS_PORT": f"{V4}:465",
        "SUBMISSION_PORT": f"{V4}:587", "IMAP_PORT": f"{V4}:143", "IMAPS_PORT": f"{V4}:993",
        "POP_PORT": f"{V4}:110", "POPS_PORT": f"{V4}:995", "SIEVE_PORT": "127.0.0.1:4190",
    },
    "ipv6-address": {
        "HTTP_BIND": f"[{V6}]", "HTTPS_BIND": f"[{V6}]", "SMTP_PORT": f"[{V6}]:25",
        "SUBMISSION_PORT": f"[{V6}]:587", "IMAPS_PORT": f"[{V6}]:993", "POPS_PORT": "[::1]:995",
    },
    "mixed": {
        "HTTP_PORT": "8080", "HTTP_BIND": "127.0.0.1", "HTTPS_PORT": "8443", "HTTPS_BIND": f"[{V6}]",
        "SMTP_PORT": f"{V4}:2525", "SMTPS_PORT": "4650", "IMAP_PORT": f"[{V6}]:1143",
        "SIEVE_PORT": "[::1]:4190",
    },
}

INVALID: dict[str, tuple[str, str]] = {
    "address-in-HTTP_PORT": ("HTTP_PORT", f"{V4}:80"),
    "port-in-HTTP_BIND": ("HTTP_BIND", f"{V4}:80"),
    "ipv6-without-brackets": ("SMTP_PORT", f"{V6}:25"),
    "ipv4-in-brackets": ("SMTP_PORT", f"[{V4}]:25"),
    "nginx-internal-port": ("HTTP_PORT", "8081"),
    "port-out-of-range": ("IMAPS_PORT", "65536"),
    "port-zero": ("POP_PORT", "0"),
    "not-a-number": ("SIEVE_PORT", "sieve"),
    "address-not-on-this-host": ("SMTP_PORT", "198.18.99.99:25"),
    "shell-characters": ("SUBMISSION_PORT", "587;reboot"),
}


@pytest.fixture(scope="module")
def compose() -> list[str]:
    return compose_argv()


@pytest.fixture
def host(netns: NetnsFactory) -> Iterator[Netns]:
    ns, dev = netns.routed_host(1500, ipv6=True, subnet=7)
    ns.ip("addr", "add", f"{V4}/24", "dev", dev)
    ns.ip("-6", "addr", "add", f"{V6}/64", "dev", dev, "nodad")
    yield ns


def checkout(tmp_path: Path, source: Path, generation: str) -> Path:
    """A fresh directory with the docker-compose.yml of `source` (a MAILCOW_SRC checkout or a stand-in)."""
    d = tmp_path / f"mailcow-{generation}"
    d.mkdir()
    shutil.copy(source / "docker-compose.yml", d / "docker-compose.yml")
    return d


def compose_ports(compose_file: Path) -> list[tuple[str, str, str]]:
    """mailcow's published ports as its compose file writes them: (address part, port part, target)."""
    out = []
    for line in compose_file.read_text().splitlines():
        m = PORT_LINE.match(line)
        if m:
            spec = m.group("spec")
            parts = VAR.split(spec)
            # "${A:-a}:TARGET" -> ['', 'A', 'a', ':TARGET'];  "${B:-b}:${P:-p}:${P:-p}" -> 3 variables
            if len(parts) == 4:
                out.append(("", f"${{{parts[1]}:-{parts[2]}}}", parts[3].lstrip(":")))
            elif len(parts) == 10:
                out.append((f"${{{parts[1]}:-{parts[2]}}}", f"${{{parts[4]}:-{parts[5]}}}",
                            f"${{{parts[7]}:-{parts[8]}}}"))
    assert len(out) >= 12, f"mailcow's port lines not understood in {compose_file}"
    return out


def expand(template: str, values: dict[str, str]) -> str:
    """${VAR:-default} as Compose expands it: the default when VAR is unset or empty."""
    return VAR.sub(lambda m: values.get(m.group(1)) or m.group(2), template)


def intended_ports(compose_file: Path, values: dict[str, str]) -> set[tuple[str, str, int]]:
    """(host_ip, published, target) that mailcow's compose file means for these mailcow.conf values."""
    result = set()
    for bind_t, port_t, target_t in compose_ports(compose_file):
        port_spec = expand(port_t, values)
        target = int(expand(target_t, values))
        if bind_t:
            bind = expand(bind_t, values).strip("[]")
            result.add((bind, port_spec, target))
        else:
            address, port = split_port_spec(port_spec)
            result.add((address or "", str(port), target))
    return result


def bash_values(conf: Path, keys: list[str]) -> dict[str, str]:
    script = 'set -eu; source "$1"; shift; for k in "$@"; do printf "%s=%s\\n" "$k" "${!k-}"; done'
    proc = run(["bash", "-c", script, "_", str(conf), *keys], env={"PATH": os.environ["PATH"]})
    assert proc.stderr == "", f"bash complained while sourcing {conf}: {proc.stderr}"
    return dict(line.split("=", 1) for line in proc.stdout.splitlines())


def compose_published(compose: list[str], d: Path) -> set[tuple[str, str, int]]:
    env = {"PATH": os.environ["PATH"], "HOME": str(d)}
    proc = run([*compose, "config", "--format", "json"], cwd=str(d), env=env, check=False)
    assert proc.returncode == 0, f"Docker Compose rejects {d}/mailcow.conf: {proc.stderr}"
    config = json.loads(proc.stdout)
    return {(p.get("host_ip", ""), str(p.get("published", "")), int(p["target"]))
            for s in config["services"].values() for p in s.get("ports") or []}


def generate(host: Netns, d: Path, generation: str, sets: dict[str, str]):
    args = ["generate", "--profile", generation, "--hostname", "mail.example.org", "--timezone", "UTC",
            "--mailcow-dir", str(d)]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    return host.wizard(*args)


KEYS = ["HTTP_PORT", "HTTP_BIND", "HTTPS_PORT", "HTTPS_BIND", "SMTP_PORT", "SMTPS_PORT", "SUBMISSION_PORT",
        "IMAP_PORT", "IMAPS_PORT", "POP_PORT", "POPS_PORT", "SIEVE_PORT", "DOVEADM_PORT", "SQL_PORT",
        "REDIS_PORT", "MAILCOW_HOSTNAME", "TZ"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case", list(VALID))
def test_generated_file_is_read_as_intended(host: Netns, tmp_path: Path, compose: list[str], generation: str,
                                            case: str, request: pytest.FixtureRequest) -> None:
    sets = VALID[case]
    d = checkout(tmp_path, mailcow_src(request, generation), generation)
    proc = generate(host, d, generation, sets)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    conf = d / "mailcow.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    assert os.readlink(d / ".env") == "mailcow.conf"
    values = bash_values(conf, KEYS)
    for key, value in sets.items():
        assert values[key] == value, f"bash reads {key}={values[key]!r}, asked for {value!r}"
    assert (values["MAILCOW_HOSTNAME"], values["TZ"]) == ("mail.example.org", "UTC")
    want = intended_ports(d / "docker-compose.yml", values)
    got = compose_published(compose, d)
    assert got == want, f"Compose publishes {sorted(got - want)} instead of {sorted(want - got)}"


@pytest.mark.parametrize("case", list(INVALID))
def test_unusable_port_forms_are_refused(host: Netns, tmp_path: Path, case: str) -> None:
    key, value = INVALID[case]
    d = checkout(tmp_path, MAILCOW_FIXTURES / "current", "current")
    proc = generate(host, d, "current", {key: value})
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, f"{key}={value} was accepted:\n{proc.stdout}\n{proc.stderr}"
    assert key in proc.stderr and "nothing written" in proc.stderr, proc.stderr
    assert sorted(p.name for p in d.iterdir()) == ["docker-compose.yml"]


def test_regenerating_keeps_what_bash_and_compose_read(host: Netns, tmp_path: Path, compose: list[str],
                                                       mailcow_src_current: Path) -> None:
    """A second run that changes one port keeps everything else (secrets too) byte for byte."""
    d = checkout(tmp_path, mailcow_src_current, "current")
    assert generate(host, d, "current", VALID["ipv4-address"]).returncode == 0
    first = bash_values(d / "mailcow.conf", [*KEYS, "DBPASS", "DBROOT", "REDISPASS"])
    again = generate(host, d, "current", {"SMTP_PORT": f"[{V6}]:2525"})
    assert again.returncode == 0, again.stderr
    second = bash_values(d / "mailcow.conf", [*KEYS, "DBPASS", "DBROOT", "REDISPASS"])
    assert {k: v for k, v in second.items() if k != "SMTP_PORT"} == \
        {k: v for k, v in first.items() if k != "SMTP_PORT"}
    assert second["SMTP_PORT"] == f"[{V6}]:2525"
    assert (V6, "2525", 25) in compose_published(compose, d)
