"""The `ntp` check: timex decoding, timedatectl and NTP config parsers, and verdicts on fixture hosts."""

from __future__ import annotations

import contextlib
import ctypes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.clock import check_ntp, evaluate_ntp
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import FakeRunner, Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.clock import (
    STA_UNSYNC,
    TIME_ERROR,
    ClockFacts,
    KernelClock,
    Timedatectl,
    Timex,
    decode_timex_status,
    parse_chrony_conf,
    parse_ntp_conf,
    parse_openntpd_conf,
    parse_timedatectl_show,
    parse_timesyncd_conf,
    probe_clock,
    probe_ntp_services,
    probe_timedatectl,
    timex_synchronized,
)
from tests.conftest import fixture_ctx

SHOW_SYNCED = """Timezone=Europe/Berlin
LocalRTC=no
CanNTP=yes
NTP=yes
NTPSynchronized=yes
TimeUSec=Sat 2025-05-31 10:00:00 CEST
RTCTimeUSec=Sat 2025-05-31 10:00:00 CEST
"""
SHOW_UNSYNCED = SHOW_SYNCED.replace("NTPSynchronized=yes", "NTPSynchronized=no")


def runner_with(show: str | None, rc: int = 0, stderr: str = "") -> FakeRunner:
    r = FakeRunner()
    if show is not None:
        r.add(["timedatectl", "show"], show, rc, stderr)
    r.add(["systemctl", "is-active"], "inactive\n", 3)
    return r


# -- timex -------------------------------------------------------------------------------------------

def test_timex_struct_matches_the_kernel_abi() -> None:
    # struct timex is 208 bytes on LP64 (x86_64, aarch64); a wrong layout would corrupt memory.
    if ctypes.sizeof(ctypes.c_long) == 8:
        assert ctypes.sizeof(Timex) == 208


def test_decode_timex_status() -> None:
    assert decode_timex_status(0x0040) == ["STA_UNSYNC"]
    assert decode_timex_status(0x2001) == ["STA_PLL", "STA_NANO"]
    assert decode_timex_status(0) == []
    assert decode_timex_status(0x10000) == ["0x10000"]


@pytest.mark.parametrize(("state", "status", "synced"), [
    (0, 0x2001, True),             # TIME_OK, PLL, nanosecond mode: chrony/timesyncd keeping time
    (0, STA_UNSYNC, False),        # state OK but the unsync bit set
    (TIME_ERROR, STA_UNSYNC, False),  # what a never-synchronised kernel says
    (TIME_ERROR, 0x0001, False),   # TIME_ERROR alone also means unsynchronised
    (1, 0x0011, True),             # leap second insertion pending, still synchronised
])
def test_timex_synchronized(state: int, status: int, synced: bool) -> None:
    assert timex_synchronized(state, status) is synced
    assert KernelClock(state, status, 10, 1, 0).synchronized is synced


# -- parsers -----------------------------------------------------------------------------------------

def test_parse_timedatectl_show() -> None:
    values = parse_timedatectl_show(SHOW_SYNCED)
    assert values["NTPSynchronized"] == "yes" and values["NTP"] == "yes"
    assert values["Timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("text", ["", "Timezone=UTC\n", "NTPSynchronized=maybe\n", "garbage line\n",
                                  "System has not been booted with systemd as init system (PID 1).\n"])
def test_parse_timedatectl_show_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_timedatectl_show(text)


def test_parse_timesyncd_conf() -> None:
    text = "[Time]\n#NTP=\nNTP=a.example b.example\nFallbackNTP=0.debian.pool.ntp.org\n"
    assert parse_timesyncd_conf(text) == (["a.example", "b.example"], ["0.debian.pool.ntp.org"])
    # An empty assignment resets; keys outside [Time] are ignored.
    assert parse_timesyncd_conf("[Time]\nNTP=x\nNTP=\n[Other]\nNTP=y\n") == ([], [])
    assert parse_timesyncd_conf("# only comments\n") == ([], [])


@pytest.mark.parametrize("text", ["[Time\nNTP=x\n", "[Time]\nNTP x\n", "[Time]\x00\n"])
def test_parse_timesyncd_conf_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_timesyncd_conf(text)


def test_parse_chrony_and_ntp_confs() -> None:
    chrony = "pool 2.debian.pool.ntp.org iburst\nserver 10.0.0.1 iburst # local\n#server old\nmakestep 1 3\n"
    assert parse_chrony_conf(chrony) == ["2.debian.pool.ntp.org", "10.0.0.1"]
    ntp = "driftfile /var/lib/ntp/ntp.drift\npool 0.pool.ntp.org iburst\nserver 127.127.1.0\npeer x.example\n"
    assert parse_ntp_conf(ntp) == ["0.pool.ntp.org", "127.127.1.0", "x.example"]
    assert parse_openntpd_conf("servers pool.ntp.org\nsensor *\nconstraints from \"https://x\"\n") == [
        "pool.ntp.org"]
    with pytest.raises(ParseError):
        parse_chrony_conf("server\n")
    with pytest.raises(ParseError):
        parse_ntp_conf("server a\x00\n")


@given(st.text(max_size=300))
def test_parsers_raise_only_parse_error(text: str) -> None:
    for parser in (parse_timedatectl_show, parse_timesyncd_conf, parse_chrony_conf, parse_ntp_conf):
        with contextlib.suppress(ParseError):
            parser(text)


# -- probes on fixture hosts -------------------------------------------------------------------------

def test_services_openstack_chrony_running_with_all_sources() -> None:
    host = fixture_ctx("openstack-mtu1450").host
    services = probe_ntp_services(host)
    chrony = services[0]
    assert chrony.name == "chrony" and chrony.running and chrony.enabled and chrony.installed
    assert chrony.config == "/etc/chrony/chrony.conf"
    assert chrony.servers == ["2.debian.pool.ntp.org", "ntp.cloud.example.net", "169.254.169.123"]


def test_services_hetzner_timesyncd() -> None:
    svc = probe_ntp_services(fixture_ctx("hetzner-cloud-init").host)[0]
    assert svc.name == "systemd-timesyncd" and svc.running and svc.enabled
    assert svc.servers == ["ntp1.hetzner.de", "ntp2.hetzner.com", "ntp3.hetzner.net"]


def test_services_ntpsec_owns_usr_sbin_ntpd() -> None:
    services = probe_ntp_services(fixture_ctx("ipv6-only-tunnel").host)
    assert [s.name for s in services] == ["ntpsec"]
    assert services[0].running and services[0].servers == ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"]


def test_services_plain_ntpd_and_openntpd(make_root) -> None:
    host = make_root({"/usr/sbin/ntpd": "", "/etc/ntp.conf": "server a.example\n", "/proc/7/comm": "ntpd\n"})
    found = [(s.name, s.running, s.servers) for s in probe_ntp_services(host)]
    assert found == [("ntpd", True, ["a.example"])]


def test_services_openntpd(make_root) -> None:
    host = make_root({"/usr/sbin/ntpd": "", "/etc/openntpd/ntpd.conf": "servers pool.ntp.org\n"})
    assert [(s.name, s.installed, s.servers) for s in probe_ntp_services(host)] == [
        ("openntpd", True, ["pool.ntp.org"])]


def test_broken_ntp_config_is_reported_not_raised(make_root) -> None:
    host = make_root({"/usr/sbin/chronyd": "", "/etc/chrony/chrony.conf": "server\n"})
    svc = probe_ntp_services(host)[0]
    assert svc.name == "chrony" and svc.servers == [] and "without an address" in (svc.error or "")


def test_timedatectl_failing_without_systemd() -> None:
    runner = runner_with("", 1, "System has not been booted with systemd as init system (PID 1). "
                         "Can't operate.\nFailed to connect to bus: Host is down\n")
    t = probe_timedatectl(fixture_ctx("ipv6-only-tunnel", runner).host)
    assert t.synchronized is None and "no systemd" in (t.unavailable or "")


def test_live_host_without_systemd_does_not_even_run_timedatectl(tmp_path) -> None:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/comm").write_text("tini\n")
    runner = runner_with(SHOW_SYNCED)
    host = Host(tmp_path, runner=runner, live=True)
    t = probe_timedatectl(host)
    assert t.unavailable == "systemd is not running (PID 1 is tini)"
    assert ("timedatectl", "show") not in runner.calls


def test_probe_clock_asks_adjtimex_only_on_the_running_host() -> None:
    def boom() -> KernelClock:
        raise AssertionError("adjtimex must not be asked under a root")

    facts = probe_clock(fixture_ctx("openstack-mtu1450").host, adjtimex=boom)
    assert facts.kernel is None and "only the running kernel" in (facts.kernel_unavailable or "")


def test_probe_clock_reports_a_failing_adjtimex() -> None:
    def failing() -> KernelClock:
        raise ProbeError("adjtimex failed: Operation not permitted")

    host = Host("/", runner=FakeRunner())
    facts = probe_clock(host, adjtimex=failing)
    assert facts.kernel is None and facts.kernel_unavailable == "adjtimex failed: Operation not permitted"


# -- verdicts ----------------------------------------------------------------------------------------

def test_pass_from_timedatectl_on_openstack() -> None:
    f = check_ntp(fixture_ctx("openstack-mtu1450", runner_with(SHOW_SYNCED)))
    assert f.status is Status.PASS
    assert f.details["synchronized"] is True and f.details["source"] == "timedatectl"
    assert f.details["service"] == "chrony"
    assert f.details["servers"][0] == "2.debian.pool.ntp.org"
    assert "chrony" in f.summary and f.fix is None


def test_fail_from_timedatectl_on_rocky() -> None:
    f = check_ntp(fixture_ctx("firewalld-rocky9", runner_with(SHOW_UNSYNCED)))
    assert f.status is Status.FAIL and f.fix == "ntp"
    assert f.details["synchronized"] is False and f.details["service"] == "chrony"
    assert f.details["service_state"] == "enabled, not running"
    assert "chronyc makestep" in f.remedy and "TOTP" in f.remedy


def test_skip_under_root_without_a_runner() -> None:
    f = check_ntp(fixture_ctx("hetzner-cloud-init"))
    assert f.status is Status.SKIP
    assert f.details["synchronized"] is None and f.details["service"] == "systemd-timesyncd"
    assert "--root" in f.summary


def test_fail_from_kernel_without_systemd_says_so() -> None:
    facts = ClockFacts(KernelClock(TIME_ERROR, STA_UNSYNC, 16_000_000, 16_000_000, 0), None,
                       Timedatectl(None, None, unavailable="systemd is not running (PID 1 is bash)"), [])
    f = evaluate_ntp(facts)
    assert f.status is Status.FAIL
    assert f.details == f.details | {"synchronized": False, "source": "adjtimex", "maxerror_us": 16_000_000,
                                     "kernel_state": "TIME_ERROR", "kernel_flags": ["STA_UNSYNC"]}
    assert "according to the kernel" in f.summary and "systemd is not running" in f.summary
    assert "no NTP client" in f.summary
    assert "container" in f.remedy and "apt-get install chrony" in f.remedy


def test_kernel_wins_over_timedatectl_and_disagreement_is_shown() -> None:
    facts = ClockFacts(KernelClock(0, 0x2001, 1000, 10, 0), None, Timedatectl(False, True, {}), [])
    f = evaluate_ntp(facts)
    assert f.status is Status.PASS and f.details["source"] == "adjtimex"
    assert f.details["timedatectl"] == {"available": True, "NTPSynchronized": False, "NTP": True}


def test_malformed_timedatectl_output_becomes_skip_not_crash() -> None:
    f = run_check(get_spec("ntp"), fixture_ctx("openstack-mtu1450", runner_with("what is this\n")))
    assert f.status is Status.SKIP and "unexpected line" in f.summary


def test_unreadable_config_never_crashes(make_root) -> None:
    host = make_root({"/usr/sbin/chronyd": "", "/etc/chrony/chrony.conf": b"\xff\xfe\x00\x00binary"},
                     runner=runner_with(SHOW_SYNCED))
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = host
    f = run_check(get_spec("ntp"), ctx)
    assert f.status is Status.PASS
    assert "binary" in f.details["services"][0]["error"]


def test_clock_services_on_teammate_hosts() -> None:
    kvm = probe_ntp_services(fixture_ctx("debian12-kvm").host)
    assert kvm[0].name == "systemd-timesyncd" and kvm[0].enabled and kvm[0].servers == []
    centos = probe_ntp_services(fixture_ctx("centos8-el7").host)
    assert centos[0].name == "chrony" and centos[0].running and centos[0].servers == ["2.centos.pool.ntp.org"]
    f = check_ntp(fixture_ctx("debian12-kvm", runner_with(SHOW_UNSYNCED)))
    assert f.status is Status.FAIL and "systemctl restart systemd-timesyncd" in f.remedy
    # timesyncd without NTP= uses its built-in servers: no advice to add servers.
    assert "give it servers" not in f.remedy
