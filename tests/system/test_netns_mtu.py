"""The `mtu` check on real kernels' network stacks: namespaces whose default route leaves through a
veth of a chosen MTU, with `mailcow-wizard check --json` run inside each as a user would run it.

Addresses are 198.18.0.0/15 and fd00:6d63::/32; no packet is sent anywhere: the check only reads the
routing table and asks the kernel for the interface's MTU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.conftest import WIZARD, NetnsFactory, check_json, run, wizard_env

pytestmark = pytest.mark.system


def mtu_finding(ns_exec_prefix: list[str], mailcow_dir: Path) -> dict:
    proc = run([*ns_exec_prefix, str(WIZARD), "check", "--json", "--only", "mtu",
                "--mailcow-dir", str(mailcow_dir)], check=False, env=wizard_env())
    return check_json(proc)["mtu"]


@pytest.mark.parametrize(("mtu", "status", "recommended"), [
    (1450, "warn", 1450),   # OpenStack / VXLAN uplink: Docker's 1500 would black-hole big segments
    (1280, "warn", 1280),   # the smallest MTU IPv6 allows, e.g. a tunnel
    (1500, "pass", None),
    (9000, "pass", None),   # jumbo frames: Docker's 1500 fits
])
def test_default_route_mtu(netns: NetnsFactory, tmp_path: Path, mtu: int, status: str,
                           recommended: int | None) -> None:
    host, dev = netns.routed_host(mtu)
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    d = finding["details"]
    got = (finding["status"], d["interface"], d["mtu"], d["recommended"])
    assert got == (status, dev, mtu, recommended), finding
    assert d["family"] == "ipv4" and d["ipv4"]["gateway"] == "198.18.0.1"
    if status == "warn":
        assert finding["fix"] == "mtu"
        assert f"com.docker.network.driver.mtu: {mtu}" in finding["remedy"]


def test_ipv6_only_host(netns: NetnsFactory, tmp_path: Path) -> None:
    host, dev = netns.routed_host(1400, ipv4=False, ipv6=True, subnet=1)
    assert "default" not in host.exec(["ip", "-4", "route"]).stdout
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    d = finding["details"]
    assert (finding["status"], d["family"], d["interface"], d["mtu"], d["recommended"]) == \
        ("warn", "ipv6", dev, 1400, 1400), finding
    assert d["ipv4"] is None and d["ipv6"]["gateway"] == "fd00:6d63:1::1"
    assert "IPv6 only" in finding["summary"]


def test_ipv6_only_host_with_jumbo_frames_passes(netns: NetnsFactory, tmp_path: Path) -> None:
    host, dev = netns.routed_host(9000, ipv4=False, ipv6=True, subnet=2)
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    assert (finding["status"], finding["details"]["interface"], finding["details"]["mtu"],
            finding["details"]["recommended"]) == ("pass", dev, 9000, None), finding


def test_ipv4_and_ipv6_leave_through_different_links(netns: NetnsFactory, tmp_path: Path) -> None:
    """IPv4 over a 9000 link, IPv6 over a 1450 link: the smaller one decides what mailcow needs."""
    host = netns.new()
    gw4, gw6 = netns.new(), netns.new()
    dev4, peer4 = netns.link(host, gw4, 9000)
    dev6, peer6 = netns.link(host, gw6, 1450)
    host.ip("addr", "add", "198.18.3.2/30", "dev", dev4)
    gw4.ip("addr", "add", "198.18.3.1/30", "dev", peer4)
    host.ip("route", "add", "default", "via", "198.18.3.1", "dev", dev4)
    host.ip("-6", "addr", "add", "fd00:6d63:3::2/64", "dev", dev6, "nodad")
    gw6.ip("-6", "addr", "add", "fd00:6d63:3::1/64", "dev", peer6, "nodad")
    host.ip("-6", "route", "add", "default", "via", "fd00:6d63:3::1", "dev", dev6)
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    d = finding["details"]
    assert (finding["status"], d["interface"], d["mtu"], d["recommended"]) == ("warn", dev6, 1450, 1450)
    assert (d["ipv4"]["interface"], d["ipv4"]["mtu"]) == (dev4, 9000)
    assert (d["ipv6_interface"], d["ipv6_mtu"]) == (dev6, 1450)


def test_lowest_metric_default_route_wins(netns: NetnsFactory, tmp_path: Path) -> None:
    """Two IPv4 default routes: the kernel uses the one with the lower metric, and so must the check."""
    host = netns.new()
    gw_a, gw_b = netns.new(), netns.new()
    dev_a, peer_a = netns.link(host, gw_a, 1450)
    dev_b, peer_b = netns.link(host, gw_b, 1500)
    host.ip("addr", "add", "198.18.4.2/30", "dev", dev_a)
    gw_a.ip("addr", "add", "198.18.4.1/30", "dev", peer_a)
    host.ip("addr", "add", "198.18.4.6/30", "dev", dev_b)
    gw_b.ip("addr", "add", "198.18.4.5/30", "dev", peer_b)
    host.ip("route", "add", "default", "via", "198.18.4.1", "dev", dev_a, "metric", "200")
    host.ip("route", "add", "default", "via", "198.18.4.5", "dev", dev_b, "metric", "100")
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    assert (finding["status"], finding["details"]["interface"], finding["details"]["mtu"]) == \
        ("pass", dev_b, 1500), finding


def test_no_default_route(netns: NetnsFactory, tmp_path: Path) -> None:
    """A host with only loopback: the check says there is no default route instead of guessing."""
    host = netns.new()
    finding = mtu_finding(["ip", "netns", "exec", host.name], tmp_path)
    assert finding["status"] == "warn" and finding["details"]["interface"] is None, finding
    assert "default route" in finding["summary"]


def test_every_check_runs_inside_a_bare_namespace(netns: NetnsFactory, tmp_path: Path) -> None:
    """A host with nothing but an uplink: every check decides or skips with a reason, none crashes."""
    host, _dev = netns.routed_host(1450, ipv6=True, subnet=6)
    proc = host.wizard("check", "--json", "--mailcow-dir", str(tmp_path))
    findings = check_json(proc)
    internal = {i: f["summary"] for i, f in findings.items() if f["details"].get("internal")}
    assert internal == {}
    assert findings["mtu"]["details"]["recommended"] == 1450
