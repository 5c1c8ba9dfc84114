"""The clock and MTU probes against the real kernel: adjtimex, /proc/net/route and a network namespace.

These use this machine on purpose. The namespace test creates its own namespace with a veth of MTU
1450 and a default route, runs the probe inside it (once through `ip netns exec`, which remounts
/sys, and once through `nsenter --net`, which does not), and always removes what it created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcow_wizard.checks.clock import check_ntp
from mailcow_wizard.checks.network import check_mtu
from mailcow_wizard.commands.options import make_context
from mailcow_wizard.host import Host
from mailcow_wizard.probes.clock import TIME_STATES, kernel_adjtimex
from mailcow_wizard.probes.network import ioctl_mtu, probe_mtu

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
PROBE = "\n".join([
    "import json",
    "from mailcow_wizard.host import Host",
    "from mailcow_wizard.probes.network import probe_mtu",
    "f = probe_mtu(Host())",
    "r = lambda x: x and {'iface': x.iface, 'mtu': x.mtu, 'src': x.mtu_source, 'gw': x.gateway}",
    "print(json.dumps({'v4': r(f.ipv4), 'v6': r(f.ipv6), 'problems': f.problems}))",
])


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


# -- adjtimex ----------------------------------------------------------------------------------------

def test_adjtimex_reads_the_real_kernel_with_the_right_layout() -> None:
    k = kernel_adjtimex()
    assert k.state in TIME_STATES
    assert k.maxerror_us >= 0 and k.esterror_us >= 0
    # Fields behind `status` prove the struct layout: the kernel's fixed tolerance (500 ppm << 16)
    # sits at a fixed offset; a mis-laid struct would read garbage there.
    import ctypes
    import ctypes.util

    from mailcow_wizard.probes.clock import Timex

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    tx = Timex()
    assert libc.adjtimex(ctypes.byref(tx)) == k.state
    assert tx.tolerance == 500 << 16
    assert tx.status == k.status
    # ntp_adjtime is the POSIX name of the same call; both must agree.
    tx2 = Timex()
    assert libc.ntp_adjtime(ctypes.byref(tx2)) == k.state and tx2.status == k.status


def test_ntp_check_tells_what_the_kernel_says() -> None:
    k = kernel_adjtimex()
    f = check_ntp(make_context())
    assert f.details["source"] == "adjtimex"
    assert f.details["synchronized"] is k.synchronized
    assert f.details["kernel_state"] == k.state_name
    if not os.path.isdir("/run/systemd/system"):
        # No systemd here: the check must say so instead of pretending timedatectl answered.
        assert f.details["timedatectl"]["available"] is False
        assert "systemd is not running" in f.summary
    if not k.synchronized:
        assert f.status.value == "fail" and "Clock is not synchronised according to the kernel" in f.summary


# -- this machine's own routing table ----------------------------------------------------------------

def test_probe_matches_ip_route_on_this_machine() -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (`ip`) is not installed")
    routes = json.loads(_ip("-j", "-4", "route", "show", "default").stdout or "[]")
    facts = probe_mtu(Host())
    if not routes:
        assert facts.ipv4 is None
        return
    dev = routes[0]["dev"]
    link = json.loads(_ip("-j", "link", "show", "dev", dev).stdout)[0]
    assert facts.ipv4 is not None
    assert facts.ipv4.iface == dev and facts.ipv4.mtu == link["mtu"]
    assert facts.ipv4.mtu_source == "SIOCGIFMTU"
    assert Path(f"/sys/class/net/{dev}/mtu").read_text().strip() == str(link["mtu"])
    f = check_mtu(make_context())
    assert f.details["interface"] in (dev, facts.ipv6.iface if facts.ipv6 else dev)
    assert (f.details["recommended"] is not None) == (f.details["mtu"] < 1500)


# -- a real namespace with MTU 1450 ------------------------------------------------------------------

@pytest.fixture
def netns_1450() -> Iterator[str]:
    """A fresh namespace whose default routes (IPv4 and IPv6) go through a veth with MTU 1450."""
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace needs root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (`ip`) is not installed")
    ns = f"mcwiz{os.getpid()}"
    host_end, ns_end = f"mcw{os.getpid() % 100000}a", f"mcw{os.getpid() % 100000}b"
    made = _ip("netns", "add", ns, check=False)
    if made.returncode != 0:
        pytest.skip(f"no network namespace support here: {made.stderr.strip()}")
    try:
        _ip("link", "add", host_end, "mtu", "1450", "type", "veth", "peer", "name", ns_end, "mtu", "1450")
        _ip("link", "set", ns_end, "netns", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", "10.213.77.2/24", "dev", ns_end)
        _ip("-n", ns, "link", "set", ns_end, "up")
        _ip("-n", ns, "route", "add", "default", "via", "10.213.77.1", "dev", ns_end)
        v6 = _ip("-n", ns, "-6", "addr", "add", "fd77:213::2/64", "dev", ns_end, "nodad", check=False)
        if v6.returncode == 0:
            _ip("-n", ns, "-6", "route", "add", "default", "via", "fd77:213::1", "dev", ns_end, check=False)
        yield ns
    finally:
        _ip("link", "del", host_end, check=False)
        _ip("netns", "del", ns, check=False)


def _run_in(prefix: list[str], code: str) -> dict:
    res = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=REPO)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_mtu_inside_a_namespace_via_ip_netns_exec(netns_1450: str) -> None:
    out = _run_in(["ip", "netns", "exec", netns_1450], PROBE)
    assert out["v4"]["iface"].endswith("b") and out["v4"]["mtu"] == 1450
    assert out["v4"]["gw"] == "10.213.77.1" and out["v4"]["src"] == "SIOCGIFMTU"
    if out["v6"] is not None:
        assert out["v6"]["mtu"] == 1450 and out["v6"]["gw"] == "fd77:213::1"


def test_mtu_inside_a_namespace_entered_without_remounting_sys(netns_1450: str) -> None:
    if shutil.which("nsenter") is None:
        pytest.skip("nsenter is not installed")
    prefix = ["nsenter", f"--net=/run/netns/{netns_1450}"]
    out = _run_in(prefix, PROBE)
    # /sys still shows the outer namespace here, so only the ioctl can give the right answer.
    assert out["v4"]["mtu"] == 1450 and out["v4"]["src"] == "SIOCGIFMTU"
    iface = out["v4"]["iface"]
    sysfs = _run_in(prefix, f"import json, os; print(json.dumps(os.path.exists('/sys/class/net/{iface}')))")
    assert sysfs is False


def test_check_command_inside_the_namespace_recommends_1450(netns_1450: str) -> None:
    res = subprocess.run(["ip", "netns", "exec", netns_1450, sys.executable, "-m", "mailcow_wizard", "check",
                          "--only", "mtu", "--json"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert res.returncode == 0, res.stderr
    [finding] = json.loads(res.stdout)["checks"]
    assert finding["status"] == "warn" and finding["fix"] == "mtu"
    assert finding["details"]["mtu"] == 1450 and finding["details"]["recommended"] == 1450


def test_ioctl_mtu_of_loopback() -> None:
    assert ioctl_mtu("lo") == int(Path("/sys/class/net/lo/mtu").read_text())
