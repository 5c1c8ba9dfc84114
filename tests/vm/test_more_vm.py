"""More of the real Debian 12 guest: mailcow's own checkout with Compose, the cloud-init IPv6 alias,
an active ufw and Debian's own (too old) Docker engine. Each test restores its own guest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.vm.machine import Guest
from tests.vm.test_fixes_vm import check, fix

CHECKOUT = "/opt/mailcow-dockerized"
PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", os.path.expanduser("~/.docker/cli-plugins"))


def host_compose() -> Path:
    """This machine's Compose v2 plugin, to copy into the guest (its Docker CLI is Debian's)."""
    for d in PLUGIN_DIRS:
        p = Path(d) / "docker-compose"
        if p.is_file() and os.access(p, os.X_OK):
            return p
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("Docker Compose v2 is not installed on this machine (.ci/run installs it)")
    return Path(found)


def test_fix_mtu_in_a_real_checkout_is_what_compose_reads(vm: Guest, mailcow_src_current: Path) -> None:
    vm.put(host_compose().read_bytes(), "/usr/local/lib/docker/cli-plugins/docker-compose", "0755")
    vm.put_tree(mailcow_src_current, CHECKOUT)
    vm.sh(f"cd {CHECKOUT} && mailcow-wizard generate --hostname mail.example.org --timezone Etc/UTC "
          "--accept-recommendations", timeout=300)
    before = json.loads(vm.sh(f"cd {CHECKOUT} && docker compose config --format json", timeout=120).stdout)
    opts = before["networks"]["mailcow-network"].get("driver_opts") or {}
    assert "com.docker.network.driver.mtu" not in opts
    checks, _ = check(vm, "mtu")
    assert checks["mtu"]["status"] == "warn" and "1450" in checks["mtu"]["summary"]

    rc, out = fix(vm, "mtu", "--yes", "--mailcow-dir", CHECKOUT)
    assert rc == 0, out
    config = json.loads(vm.sh(f"cd {CHECKOUT} && docker compose config --format json", timeout=120).stdout)
    assert config["networks"]["mailcow-network"]["driver_opts"]["com.docker.network.driver.mtu"] == "1450"
    assert vm.sh(f"test -f {CHECKOUT}/docker-compose.override.yml", check=False).returncode == 0
    checks, _ = check(vm, f"mtu --mailcow-dir {CHECKOUT}")
    assert checks["mtu"]["status"] == "pass", checks["mtu"]


CLOUD_INIT = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.
auto eth0:0
iface eth0:0 inet6 static
    address 2001:db8:5::2/64
"""


def ipv6_on_eth0(vm: Guest) -> bool:
    return "2001:db8:5::2/64" in vm.sh("ip -6 addr show dev eth0").stdout


def restart_networking(vm: Guest) -> None:
    """`systemctl restart networking` (the ssh connection may drop with eth0: reconnect)."""
    vm.sh("systemctl restart networking", check=False, timeout=120)
    vm.reconnect()


def test_fix_hetzner_ipv6_puts_the_address_on_eth0(vm: Guest) -> None:
    vm.put(CLOUD_INIT.encode(), "/etc/network/interfaces.d/50-cloud-init")
    vm.sh("mkdir -p /etc/cloud/cloud.cfg.d")
    # (Debian 12's ifupdown already puts an alias's inet6 address on eth0; what counts is where it is
    # after the fix, with the alias gone from the file cloud-init would otherwise write back.)
    checks, _ = check(vm, "hetzner-ipv6")
    assert checks["hetzner-ipv6"]["status"] in ("warn", "fail"), checks["hetzner-ipv6"]

    rc, out = fix(vm, "hetzner-ipv6", "--yes")
    assert rc == 0, out
    assert "iface eth0 inet6 static" in vm.sh("cat /etc/network/interfaces.d/50-cloud-init").stdout
    assert "config: disabled" in vm.sh("cat /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg").stdout
    restart_networking(vm)
    assert ipv6_on_eth0(vm)
    checks, _ = check(vm, "hetzner-ipv6")
    assert checks["hetzner-ipv6"]["status"] == "pass", checks["hetzner-ipv6"]


def test_active_ufw_gets_firewall_guidance(vm: Guest) -> None:
    vm.sh("ufw allow 22/tcp >/dev/null && ufw --force enable", timeout=120)
    assert "Status: active" in vm.sh("ufw status").stdout
    checks, _ = check(vm, "firewall")
    fw = checks["firewall"]
    assert fw["status"] == "warn" and "ufw" in fw["summary"], fw
    assert "DOCKER-USER" in fw["remedy"]
    rc, out = fix(vm, "firewall")
    assert rc == 1 and "no automatic fix" in out and "DOCKER-USER" in out, out  # the check still warns
    assert "Status: active" in vm.sh("ufw status").stdout, "guidance only: ufw is left as it was"


def test_debians_docker_io_is_too_old(vm: Guest) -> None:
    vm.sh("systemctl start docker", timeout=300)
    version = vm.sh("docker version --format '{{.Server.Version}}'", timeout=60).stdout.strip()
    assert version.startswith("20.10."), version
    checks, rc = check(vm, "docker")
    docker = checks["docker"]
    assert rc == 1 and docker["status"] == "fail", docker
    assert "20.10" in docker["summary"] and "too old" in docker["summary"] and "24" in docker["summary"]
    assert "get.docker.com" in docker["remedy"]


def test_a_stopped_docker_io_is_installed_not_running_and_too_old(vm: Guest) -> None:
    """Under systemd with docker.io stopped (socket too): installed but not running, and too old; the
    remedy installs Docker's own packages and starts them with systemctl."""
    vm.sh("systemctl stop docker.socket docker.service", check=False, timeout=120)
    checks, rc = check(vm, "docker")
    docker = checks["docker"]
    assert rc == 1 and docker["status"] == "fail", docker
    assert docker["summary"].startswith("Docker Engine is installed (docker.io 20.10."), docker
    assert "but not running" in docker["summary"] and "too old" in docker["summary"], docker
    assert docker["details"]["systemd_running"] is True
    assert "get.docker.com" in docker["remedy"] and "  systemctl enable --now docker" in docker["remedy"]


def test_fix_ipv6_merges_daemon_json_and_restarts_debians_docker(vm: Guest) -> None:
    """The whole ipv6 fix under systemd: daemon.json merged, `systemctl restart docker` for real, the
    bridge asked over the socket (tests/system/test_docker_ipv6_real.py does the file part by hand)."""
    # A global address (documentation prefix) and a default route into the guest's own namespace:
    # IPv6 counts as usable, nothing leaves.
    vm.sh("ip -6 addr add 2001:db8:6d63::2/64 dev eth0 nodad && "
          "ip -6 route replace default via 2001:db8:6d63::1 dev eth0")
    original = b'{\n    "log-level": "warn"\n}\n'
    vm.put(original, "/etc/docker/daemon.json")
    vm.sh("systemctl start docker", timeout=300)
    checks, _ = check(vm, "ipv6")
    before = checks["ipv6"]
    assert before["details"]["usable"] is True, before
    assert before["details"]["docker_version"].startswith("20.10."), before
    assert before["details"]["bridge_ipv6"] is False and before["status"] == "warn", before

    rc, out = fix(vm, "ipv6", "--yes")
    assert rc == 0, out
    assert "[done] run `systemctl restart docker`" in out and "passes now" in out, out
    daemon = json.loads(vm.sh("cat /etc/docker/daemon.json").stdout)
    assert list(daemon) == ["log-level", "ipv6", "fixed-cidr-v6", "ip6tables", "experimental"], daemon
    backups = vm.sh("cat /etc/docker/daemon.json.bak-*").stdout
    assert backups == original.decode()
    assert vm.sh("systemctl is-active docker", check=False).stdout.strip() == "active"
    bridge = json.loads(vm.sh("docker network inspect bridge --format '{{json .}}'").stdout)
    assert bridge["EnableIPv6"] is True, bridge
    checks, _ = check(vm, "ipv6")
    assert checks["ipv6"]["status"] == "pass" and checks["ipv6"]["details"]["bridge_ipv6"] is True, checks
