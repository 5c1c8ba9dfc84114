"""The `mtu` and `hetzner-ipv6` checks: routing table parsers, MTU sources, cloud-init stanzas."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.network import check_hetzner_ipv6, check_mtu
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.network import (
    default_route,
    interface_mtu,
    parse_cloud_init_interfaces,
    parse_ipv6_route,
    parse_mtu,
    parse_proc_net_route,
    probe_mtu,
)
from tests.conftest import HOSTS, fixture_ctx

HDR = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
# What this kind of machine really shows (taken from a Debian 12 container).
REAL_V6 = """\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
"""  # noqa: E501


def test_parse_proc_net_route() -> None:
    text = HDR + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" \
                 "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    routes = parse_proc_net_route(text)
    assert routes[0].destination == "0.0.0.0" and routes[0].gateway == "192.0.2.1"
    assert routes[1].destination == "192.0.2.0" and routes[1].prefix_len == 24
    d = default_route(routes)
    assert d is not None and d.iface == "eth0"


def test_default_route_prefers_lowest_metric_and_skips_down_routes() -> None:
    text = HDR + ("wg0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\n"
                  "eth0\t00000000\t0100000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n"
                  "eth1\t00000000\t0100000B\t0002\t0\t0\t0\t00000000\t0\t0\t0\n")  # not RTF_UP
    d = default_route(parse_proc_net_route(text))
    assert d is not None and d.iface == "eth0" and d.metric == 10


def test_parse_ipv6_route_ignores_lo_and_unreachable_defaults() -> None:
    routes = parse_ipv6_route(REAL_V6)
    d = default_route(routes)
    assert d is not None and d.iface == "eth0" and d.gateway == "fd00::1"
    assert default_route([r for r in routes if r.iface == "lo"]) is None


@pytest.mark.parametrize("text", ["", "eth0 00000000\n", HDR + "eth0\tZZZZ\t0\t0003\t0\t0\t0\t0\n",
                                  HDR + "eth0\t00000000\t0\t0003\t0\t0\tx\t00000000\n",
                                  HDR + "eth0\t1FFFFFFFF\t0\t0003\t0\t0\t0\t00000000\n"])
def test_parse_proc_net_route_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_proc_net_route(text)


@pytest.mark.parametrize("text", ["short line\n",
                                  "x" * 32 + " 00 " + "0" * 32 + " 00 " + "0" * 32 + " 0 0 0 1 eth0\n",
                                  "0" * 32 + " FF " + "0" * 32 + " 00 " + "0" * 32 + " 0 0 0 1 eth0\n"])
def test_parse_ipv6_route_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_ipv6_route(text)


def test_parse_mtu() -> None:
    assert parse_mtu("1450\n") == 1450
    for bad in ("", "abc", "-1", "12", "99999999"):
        with pytest.raises(ParseError):
            parse_mtu(bad)


@given(st.text(max_size=400))
def test_parsers_raise_only_parse_error(text: str) -> None:
    for parser in (parse_proc_net_route, parse_ipv6_route, parse_mtu, parse_cloud_init_interfaces):
        with contextlib.suppress(ParseError):
            parser(text)


_FIELD = st.one_of(st.sampled_from(["00000000", "-1", "FFFFFFFF", "1FFFFFFFF", "0003", "x", "0"]),
                   st.text(alphabet="0123456789abcdefABCDEF-+ \u0661", max_size=10))


@given(st.lists(st.lists(_FIELD, min_size=0, max_size=12), max_size=4))
def test_route_parsers_on_near_valid_tables(rows: list[list[str]]) -> None:
    body = "".join("\t".join(r) + "\n" for r in rows)
    for parser, text in ((parse_proc_net_route, HDR + body), (parse_ipv6_route, body.replace("\t", " "))):
        with contextlib.suppress(ParseError):
            parser(text)


def test_interface_mtu_prefers_the_ioctl_on_a_live_host(tmp_path: Path) -> None:
    calls: list[str] = []

    def ioctl(iface: str) -> int:
        calls.append(iface)
        return 1450

    assert interface_mtu(Host("/"), "eth0", ioctl) == (1450, "SIOCGIFMTU")
    assert calls == ["eth0"]
    # Under a root the ioctl is never asked: the fixture's sysfs answers.
    (tmp_path / "sys/class/net/eth0").mkdir(parents=True)
    (tmp_path / "sys/class/net/eth0/mtu").write_text("1400\n")
    assert interface_mtu(Host(tmp_path), "eth0", ioctl) == (1400, "/sys/class/net/eth0/mtu")
    assert calls == ["eth0"]
    with pytest.raises(ProbeError):
        interface_mtu(Host(tmp_path), "../../etc", ioctl)


# -- mtu on fixture hosts ----------------------------------------------------------------------------

def test_openstack_mtu1450_warns_with_the_exact_value() -> None:
    f = check_mtu(fixture_ctx("openstack-mtu1450"))
    assert f.status is Status.WARN and f.fix == "mtu"
    assert f.details["interface"] == "ens3" and f.details["mtu"] == 1450 and f.details["recommended"] == 1450
    assert f.details["ipv6"] is None
    assert "com.docker.network.driver.mtu: 1450" in f.remedy and "mailcow-network" in f.remedy


def test_hetzner_mtu1500_with_both_families_passes() -> None:
    f = check_mtu(fixture_ctx("hetzner-cloud-init"))
    assert f.status is Status.PASS and f.fix is None
    assert f.details == f.details | {"interface": "eth0", "mtu": 1500, "recommended": None,
                                     "ipv6_interface": "eth0", "ipv6_mtu": 1500}
    assert f.details["ipv6"]["gateway"] == "fe80::1"


def test_jumbo_frames_pass() -> None:
    f = check_mtu(fixture_ctx("firewalld-rocky9"))
    assert f.status is Status.PASS and f.details["mtu"] == 9000 and f.details["ipv6"] is None


def test_ipv6_only_host_uses_the_ipv6_default_route() -> None:
    f = check_mtu(fixture_ctx("ipv6-only-tunnel"))
    assert f.status is Status.WARN
    assert f.details["interface"] == "sit1" and f.details["recommended"] == 1480 and f.details["ipv4"] is None
    assert "IPv6 only" in f.summary


def test_lower_ipv6_mtu_wins(make_root) -> None:
    host = make_root({
        "/proc/net/route": HDR + "eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        "/proc/net/ipv6_route": "0" * 32 + " 00 " + "0" * 32 + " 00 " + "fe80" + "0" * 27 + "1"
                                + " 00000400 00000001 00000000 00000003 he-ipv6\n",
        "/sys/class/net/eth0/mtu": "1500\n", "/sys/class/net/he-ipv6/mtu": "1480\n"})
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = host
    f = check_mtu(ctx)
    assert f.status is Status.WARN
    assert f.details["recommended"] == 1480 and f.details["interface"] == "he-ipv6"


def test_no_default_route_warns_with_the_reason(make_root) -> None:
    host = make_root({"/proc/net/route": HDR, "/proc/net/ipv6_route": REAL_V6.splitlines()[0] + "\n"})
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = host
    f = check_mtu(ctx)
    assert f.status is Status.WARN and "No default route" in f.summary and f.fix is None


@pytest.mark.parametrize(("files", "needle"), [
    ({}, "/proc/net/route does not exist"),
    ({"/proc/net/route": "garbage\n"}, "missing its 'Iface"),
    ({"/proc/net/route": HDR + "eth0\t00000000\t0\t0003\t0\t0\t0\t00000000\n",
      "/sys/class/net/eth0/mtu": "lots\n"}, "not a number"),
    ({"/proc/net/route": HDR + "eth0\t00000000\t0\t0003\t0\t0\t0\t00000000\n"}, "does not exist"),
])
def test_unreadable_or_malformed_files_skip(make_root, files: dict[str, str], needle: str) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root(files)
    f = run_check(get_spec("mtu"), ctx)
    assert f.status is Status.SKIP and needle in f.summary


def test_probe_mtu_on_fixture_reads_sysfs() -> None:
    facts = probe_mtu(fixture_ctx("openstack-mtu1450").host)
    assert facts.ipv4 is not None and facts.ipv4.mtu_source == "/sys/class/net/ens3/mtu"


# -- hetzner-ipv6 ------------------------------------------------------------------------------------

def test_parse_cloud_init_interfaces_finds_the_alias() -> None:
    text = (HOSTS / "hetzner-cloud-init/etc/network/interfaces.d/50-cloud-init.cfg").read_text()
    [alias] = parse_cloud_init_interfaces(text)
    assert (alias.alias, alias.parent, alias.method, alias.auto, alias.line) == (
        "eth0:0", "eth0", "static", True, 14)


def test_parse_cloud_init_interfaces_fixed_file_has_no_alias() -> None:
    text = "auto eth0\niface eth0 inet dhcp\n\nauto eth0\niface eth0 inet6 static\n    address 2a01::1/64\n"
    assert parse_cloud_init_interfaces(text) == []
    # An IPv4 alias is fine; only IPv6 on an alias is the Hetzner problem.
    assert parse_cloud_init_interfaces("iface eth0:1 inet static\n  address 10.0.0.2/24\n") == []


@pytest.mark.parametrize("text", ["iface eth0:0 inet6\n", "auto\n", "iface\x00\n"])
def test_parse_cloud_init_interfaces_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cloud_init_interfaces(text)


def test_hetzner_warns_with_the_fix() -> None:
    f = check_hetzner_ipv6(fixture_ctx("hetzner-cloud-init"))
    assert f.status is Status.WARN and f.fix == "hetzner-ipv6"
    assert f.details["path"] == "/etc/network/interfaces.d/50-cloud-init.cfg"
    assert f.details["aliases"] == [{"alias": "eth0:0", "interface": "eth0", "method": "static", "line": 14,
                                     "auto": True}]
    assert "sed -i -e 's/\\<eth0:0\\>/eth0/g' /etc/network/interfaces.d/50-cloud-init.cfg" in f.remedy
    assert "99-disable-network-config.cfg" in f.remedy


def test_hetzner_sed_really_fixes_the_file(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("sed") is None:
        pytest.skip("sed is not installed")
    src = HOSTS / "hetzner-cloud-init/etc/network/interfaces.d/50-cloud-init.cfg"
    copy = tmp_path / "50-cloud-init.cfg"
    copy.write_text(src.read_text())
    subprocess.run(["sed", "-i", "-e", r"s/\<eth0:0\>/eth0/g", str(copy)], check=True)
    assert parse_cloud_init_interfaces(copy.read_text()) == []
    assert "iface eth0 inet6 static" in copy.read_text()


def test_no_cloud_init_file_passes() -> None:
    f = check_hetzner_ipv6(fixture_ctx("openstack-mtu1450"))
    assert f.status is Status.PASS and "Not a cloud-init ifupdown host" in f.summary


def test_malformed_cloud_init_file_skips(make_root) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root({"/etc/network/interfaces.d/50-cloud-init.cfg": "iface eth0:0\n"})
    f = run_check(get_spec("hetzner-ipv6"), ctx)
    assert f.status is Status.SKIP and "50-cloud-init.cfg" in f.summary


@pytest.mark.parametrize(("host", "iface"), [
    ("debian12-kvm", "enp1s0"), ("openvz", "venet0"), ("lxc", "eth0"), ("synology", "ovs_eth0"),
    ("centos8-el7", "eth0"), ("small-3g-noswap", "ens18")])
def test_mtu_1500_hosts_pass(host: str, iface: str) -> None:
    f = check_mtu(fixture_ctx(host))
    assert f.status is Status.PASS, f.summary
    assert f.details["interface"] == iface and f.details["mtu"] == 1500 and f.details["recommended"] is None


def test_openvz_default_route_without_gateway() -> None:
    f = check_mtu(fixture_ctx("openvz"))
    assert f.details["ipv4"]["gateway"] == "0.0.0.0"


def test_hetzner_ipv6_passes_on_hosts_without_cloud_init() -> None:
    for host in ("debian12-kvm", "openvz", "lxc", "synology", "centos8-el7", "small-3g-noswap"):
        assert check_hetzner_ipv6(fixture_ctx(host)).status is Status.PASS


# -- the MTU mailcow's network already has --------------------------------------------------------

OVERRIDE_WITH_MTU = """\
# our own services
services:
  postfix-mailcow:
    environment:
      - EXTRA=1
networks:
  mailcow-network:
    driver_opts:
      com.docker.network.driver.mtu: 1450  # uplink
"""


def test_parse_override_mtu_finds_mailcow_network() -> None:
    from mailcow_wizard.probes.network import parse_override_mtu

    assert parse_override_mtu(OVERRIDE_WITH_MTU) == 1450
    flow = 'networks:\n  mailcow-network:\n    driver_opts: {"com.docker.network.driver.mtu": "1400"}\n'
    assert parse_override_mtu(flow) == 1400
    other = "networks:\n  other:\n    driver_opts:\n      com.docker.network.driver.mtu: 1400\n"
    assert parse_override_mtu(other) is None
    assert parse_override_mtu("services: {}\n") is None


def test_parse_override_mtu_rejects_nonsense() -> None:
    import pytest

    from mailcow_wizard.errors import ParseError
    from mailcow_wizard.probes.network import parse_override_mtu

    with pytest.raises(ParseError):
        parse_override_mtu("networks:\n  mailcow-network:\n    driver_opts:\n"
                           "      com.docker.network.driver.mtu: big\n")


def test_mtu_passes_once_override_sets_uplink_mtu(tmp_path) -> None:
    from mailcow_wizard.checks.network import check_mtu
    from mailcow_wizard.model import Status

    from ..conftest import fixture_ctx

    ctx = fixture_ctx("openstack-mtu1450", mailcow_dir=tmp_path)
    assert check_mtu(ctx).status is Status.WARN
    (tmp_path / "docker-compose.override.yml").write_text(OVERRIDE_WITH_MTU)
    finding = check_mtu(ctx)
    assert finding.status is Status.PASS
    assert finding.details["configured"] == 1450
    (tmp_path / "docker-compose.override.yml").write_text(OVERRIDE_WITH_MTU.replace("1450", "1500"))
    finding = check_mtu(ctx)
    assert finding.status is Status.WARN and finding.details["recommended"] == 1450
    assert "above" in finding.summary
