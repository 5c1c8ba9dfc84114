"""arch, cpu, ram, swap and disk: parsers, probes on fixture trees, and the verdicts."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.resources import (
    GIB,
    check_arch,
    check_cpu,
    check_disk,
    check_ram,
    check_swap,
    evaluate_disk,
    evaluate_ram,
    evaluate_swap,
    memory_rule,
)
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.resources import (
    DiskInfo,
    MemInfo,
    docker_data_root,
    nearest_existing,
    parse_cpuinfo,
    parse_daemon_json,
    parse_meminfo,
    probe_arch,
    probe_cpu_speed,
    probe_disk,
)
from tests.conftest import fixture_ctx

ARM_CPUINFO = ("processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm aes crc32 cpuid\n"
               "CPU implementer\t: 0x41\nCPU architecture: 8\n\nprocessor\t: 1\nBogoMIPS\t: 48.00\n"
               "Features\t: fp asimd evtstrm aes crc32 cpuid\nCPU architecture: 8\n")
ARMV7_CPUINFO = ("Processor\t: ARMv7 Processor rev 4 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 38.40\n"
                 "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt\n"
                 "CPU architecture: 7\n")


def ctx_for(host: Host) -> Context:
    return Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized"))


# -- parsers -------------------------------------------------------------------------------------

def test_parse_cpuinfo_x86_counts_cores_and_reads_speeds() -> None:
    text = (Path(__file__).parent.parent / "fixtures/hosts/debian12-kvm/proc/cpuinfo").read_text()
    info = parse_cpuinfo(text)
    assert info.cores == 4
    assert info.mhz == pytest.approx(2593.906)
    assert info.arch_hint == "x86_64"
    assert "hypervisor" in info.flags


def test_parse_cpuinfo_nominal_speed_from_model_name() -> None:
    info = parse_cpuinfo("processor : 0\nmodel name : Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz\n"
                         "cpu MHz : 1200.000\nflags : fpu lm\n")
    assert info.nominal_mhz == pytest.approx(2100.0)
    assert info.mhz == pytest.approx(1200.0)


def test_parse_cpuinfo_arm_has_no_speed_but_an_architecture() -> None:
    info = parse_cpuinfo(ARM_CPUINFO)
    assert (info.cores, info.mhz, info.arch_hint) == (2, None, "aarch64")
    v7 = parse_cpuinfo(ARMV7_CPUINFO)
    assert (v7.cores, v7.arch_hint) == (1, "armv7l")


@pytest.mark.parametrize("text", ["", "garbage\n", "processor : 0\ncpu MHz : fast\n",
                                  "processor : 0\ncpu MHz : -5\n", "processor : 0\ncpu MHz : nan\n",
                                  "\x00\x01\x02"])
def test_parse_cpuinfo_rejects_bad_input(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cpuinfo(text)


@given(st.text(max_size=400))
def test_parse_cpuinfo_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_cpuinfo(text)


@given(st.text(max_size=400))
def test_parse_meminfo_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_meminfo(text)


@pytest.mark.parametrize("text,root", [
    ("", None), ("{}", None), ('{"data-root": "/srv/docker"}', "/srv/docker"),
    ('{"graph": "/data/docker"}', "/data/docker"),
])
def test_parse_daemon_json_accepts(text: str, root: str | None) -> None:
    data = parse_daemon_json(text)
    assert (data.get("data-root") or data.get("graph")) == root


@pytest.mark.parametrize("text", ['{"data-root": ', "[1, 2]", '{"data-root": 5}', '{"data-root": "relative"}',
                                  "{'single': 1}", "[" * 100_000])
def test_parse_daemon_json_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_daemon_json(text)


@given(st.text(max_size=200))
def test_parse_daemon_json_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_daemon_json(text)


# -- arch ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("files,machine,source", [
    ({"/proc/sys/kernel/arch": "x86_64\n"}, "x86_64", "/proc/sys/kernel/arch"),
    ({"/var/lib/dpkg/arch": "arm64\n"}, "aarch64", "/var/lib/dpkg/arch"),
    ({"/var/lib/dpkg/arch": "amd64\ni386\n"}, "x86_64", "/var/lib/dpkg/arch"),
    ({"/proc/cpuinfo": ARM_CPUINFO}, "aarch64", "/proc/cpuinfo"),
    ({"/proc/cpuinfo": ARMV7_CPUINFO}, "armv7l", "/proc/cpuinfo"),
])
def test_probe_arch_under_root(make_root, files, machine, source) -> None:
    info = probe_arch(make_root(files))
    assert (info.machine, info.source) == (machine, source)


def test_arch_pass_on_x86_64_fixture() -> None:
    f = check_arch(fixture_ctx("debian12-kvm"))
    assert f.status is Status.PASS
    assert f.details == {"machine": "x86_64", "source": "/var/lib/dpkg/arch"}


def test_arch_aarch64_passes_with_a_note() -> None:
    f = check_arch(fixture_ctx("qnap"))
    assert f.status is Status.PASS
    assert f.details["machine"] == "aarch64" and "note" in f.details


def test_arch_fails_on_32_bit() -> None:
    f = check_arch(fixture_ctx("tiny-1g"))
    assert f.status is Status.FAIL
    assert f.details["machine"] == "i686"
    assert "uname -m" in f.remedy


def test_arch_skips_when_no_file_tells(make_root) -> None:
    f = check_arch(ctx_for(make_root({"/etc/hostname": "x\n"})))
    assert f.status is Status.SKIP
    assert "--root" in f.summary


def test_arch_live_uses_uname(tmp_path: Path) -> None:
    host = Host(tmp_path, live=True)
    assert probe_arch(host).machine == os.uname().machine.replace("amd64", "x86_64")
    assert probe_arch(host).source == "uname"


# -- cpu -----------------------------------------------------------------------------------------

def test_cpu_pass_reports_mhz_and_cores() -> None:
    f = check_cpu(fixture_ctx("debian12-kvm"))
    assert f.status is Status.PASS
    assert f.details["mhz"] == pytest.approx(2593.9)
    assert f.details["cores"] == 4


def test_cpu_fails_below_1_ghz() -> None:
    f = check_cpu(fixture_ctx("tiny-1g"))
    assert f.status is Status.FAIL
    assert f.details["mhz"] == 800.0


def test_cpu_unknown_speed_is_a_skip_not_a_failure() -> None:
    f = check_cpu(fixture_ctx("qnap"))
    assert f.status is Status.SKIP
    assert "unknown" in f.summary
    assert f.details["cores"] == 4


def test_cpu_idle_clock_does_not_hide_the_rated_speed(make_root) -> None:
    host = make_root({"/proc/cpuinfo": "processor : 0\n"
                                       "model name : Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz\n"
                                       "cpu MHz : 400.012\nflags : fpu lm\n"})
    f = check_cpu(ctx_for(host))
    assert f.status is Status.PASS
    assert f.details["source"] == "model name"


def test_cpu_live_prefers_cpufreq_max(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "proc").mkdir(parents=True)
    (root / "proc/cpuinfo").write_text("processor : 0\nvendor_id : AuthenticAMD\n"
                                       "cpu MHz : 550.0\nflags : lm\n")
    pol = root / "sys/devices/system/cpu/cpufreq/policy0"
    pol.mkdir(parents=True)
    (pol / "cpuinfo_max_freq").write_text("3600000\n")
    speed = probe_cpu_speed(Host(root, live=True))
    assert (speed.mhz, speed.source) == (3600.0, "cpufreq max")
    # Under --root the same tree is read without sysfs: only /proc/cpuinfo counts.
    speed = probe_cpu_speed(Host(root, live=False))
    assert (speed.mhz, speed.source) == (550.0, "cpu MHz")


def test_cpu_garbled_cpuinfo_is_skipped_with_reason(make_root) -> None:
    f = check_cpu(ctx_for(make_root({"/proc/cpuinfo": "processor : 0\ncpu MHz : ???\n"})))
    assert f.status is Status.SKIP
    assert "malformed" in f.summary


def test_cpu_unreadable_cpuinfo_is_skipped(make_root) -> None:
    host = make_root({"/proc/cpuinfo/x": "a directory where a file should be"})
    f = check_cpu(ctx_for(host))
    assert f.status is Status.SKIP
    assert "is a directory" in f.summary


# -- ram / swap ----------------------------------------------------------------------------------

def test_ram_pass_on_healthy_vm() -> None:
    f = check_ram(fixture_ctx("debian12-kvm"))
    assert f.status is Status.PASS
    assert f.details["total_bytes"] == (8 * 1024 * 1024 - 180_000) * 1024
    assert f.details["available_bytes"] == 7 * GIB


def test_ram_warns_on_3_gib_host() -> None:
    f = check_ram(fixture_ctx("small-3g-noswap"))
    assert f.status is Status.WARN
    assert "SKIP_CLAMD=y" in f.remedy


def test_ram_fails_below_2_gib() -> None:
    f = check_ram(fixture_ctx("tiny-1g"))
    assert f.status is Status.FAIL


@pytest.mark.parametrize("generation,total,status", [
    ("current", int(5.6 * GIB), Status.PASS),  # a "6 GiB" VM after the kernel's reservations
    ("current", int(3.8 * GIB), Status.WARN),  # enough for the Solr era, not for today's mailcow
    ("2020", int(3.8 * GIB), Status.PASS),  # a "4 GiB" VM
    ("2020", int(3.5 * GIB), Status.WARN),
    ("current", int(1.9 * GIB), Status.WARN),  # a "2 GiB" VM: poor, but mailcow can run
    ("2020", int(1.5 * GIB), Status.FAIL),
    ("current", int(1.5 * GIB), Status.FAIL),
])
def test_ram_thresholds_per_generation_allow_for_reserved_memory(generation: str, total: int,
                                                                  status: Status) -> None:
    f = evaluate_ram(MemInfo(total, total // 2, 0, 0), memory_rule(generation))
    assert f.status is status
    assert f.details["generation"] == generation
    assert f.details["rule"].startswith("mailcow's") and "mailcow-wizard" in f.details["minimum_rule"]


def test_ram_rule_follows_the_checkouts_generation(tmp_path) -> None:
    solr = tmp_path / "solr"
    solr.mkdir()
    (solr / "docker-compose.yml").write_text("services:\n  solr-mailcow:\n    image: x\n")
    old = check_ram(fixture_ctx("debian12-kvm", mailcow_dir=solr))
    new = check_ram(fixture_ctx("debian12-kvm", mailcow_dir=tmp_path / "none"))
    assert old.details["recommended_bytes"] == 4 * GIB and "4 GiB RAM and swap" in old.details["rule"]
    assert new.details["recommended_bytes"] == 6 * GIB and "6 GiB RAM and 1 GiB swap" in new.details["rule"]


@pytest.mark.parametrize("generation,swap,status", [
    ("current", 512 * 1024 * 1024, Status.WARN), ("current", GIB, Status.PASS),
    ("2020", 256 * 1024 * 1024, Status.PASS)])
def test_swap_size_mailcow_asks_for_depends_on_the_generation(generation: str, swap: int,
                                                             status: Status) -> None:
    f = evaluate_swap(MemInfo(8 * GIB, 4 * GIB, swap, swap), memory_rule(generation))
    assert f.status is status
    assert f.details["recommended_swap_bytes"] == (GIB if generation == "current" else 0)


def test_swap_warns_with_the_swap_fix_on_3_gib_host() -> None:
    f = check_swap(fixture_ctx("small-3g-noswap"))
    assert f.status is Status.WARN
    assert f.fix == "swap"
    assert f.details["swap_total_bytes"] == 0
    assert "mkswap" in f.remedy and "/etc/fstab" in f.remedy


def test_swap_passes_when_present() -> None:
    f = check_swap(fixture_ctx("debian12-kvm"))
    assert f.status is Status.PASS
    assert f.fix is None
    assert f.details["swap_total_bytes"] == 2 * GIB


@pytest.mark.parametrize("content", ["MemFree: 10 kB\n", "MemTotal: -5 kB\n"])
def test_ram_and_swap_skip_on_garbled_meminfo(make_root, content: str) -> None:
    ctx = ctx_for(make_root({"/proc/meminfo": content}))
    for f in (check_ram(ctx), check_swap(ctx)):
        assert f.status is Status.SKIP
        assert "/proc/meminfo" in f.summary


def test_ram_skips_when_meminfo_missing(make_root) -> None:
    f = run_check(get_spec("ram"), ctx_for(make_root({"/etc/hostname": "x\n"})))
    assert f.status is Status.SKIP
    assert "does not exist" in f.summary


# -- disk ----------------------------------------------------------------------------------------

def test_disk_under_root_skips_honestly_but_names_the_data_root() -> None:
    f = check_disk(fixture_ctx("debian12-kvm"))
    assert f.status is Status.SKIP
    assert "--root" in f.summary
    assert f.details["data_root"] == "/var/lib/docker"
    assert f.details["measured_path"] == "/var/lib/docker"


def test_data_root_from_daemon_json_and_nearest_parent(make_root) -> None:
    host = make_root({"/etc/docker/daemon.json": json.dumps({"data-root": "/srv/docker/"}),
                      "/srv/.keep": ""})
    assert docker_data_root(host) == ("/srv/docker", "/etc/docker/daemon.json")
    assert nearest_existing(host, "/srv/docker") == "/srv"
    assert nearest_existing(host, "/nowhere/at/all") == "/"


def test_disk_malformed_daemon_json_is_reported_not_a_crash(make_root) -> None:
    f = check_disk(ctx_for(make_root({"/etc/docker/daemon.json": '{"data-root": "/srv/docker",}'})))
    assert f.status is Status.WARN
    assert "malformed" in f.summary
    assert "json.tool" in f.remedy
    assert "not valid JSON" in f.details["error"]


def test_disk_unreadable_daemon_json_is_a_skip(make_root) -> None:
    f = check_disk(ctx_for(make_root({"/etc/docker/daemon.json/x": ""})))
    assert f.status is Status.SKIP
    assert "daemon.json" in f.summary


def test_disk_live_measures_the_real_file_system(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "etc/docker").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "etc/docker/daemon.json").write_text('{"data-root": "/data/docker"}')
    info = probe_disk(Host(root, live=True))
    st = os.statvfs(root / "data")
    assert info.measured_path == "/data"
    assert info.source == "/etc/docker/daemon.json"
    assert info.free_bytes is not None
    assert abs(info.free_bytes - st.f_bavail * st.f_frsize) < 64 * 1024 * 1024


@pytest.mark.parametrize("free,status", [(25 * GIB, Status.PASS), (15 * GIB, Status.WARN),
                                         (5 * GIB, Status.FAIL)])
def test_disk_thresholds(free: int, status: Status) -> None:
    f = evaluate_disk(DiskInfo("/var/lib/docker", "default", "/var/lib", free, 100 * GIB))
    assert f.status is status
    assert f.details["free_bytes"] == free
    if status is not Status.PASS:
        assert "df -h /var/lib" in f.remedy


def test_probe_errors_never_escape_the_resource_checks(make_root) -> None:
    """Every resource check on an empty tree says skip (or fail for facts files can tell), never raises."""
    ctx = ctx_for(make_root({}))
    for spec_id in ("arch", "cpu", "ram", "swap", "disk"):
        f = run_check(get_spec(spec_id), ctx)
        assert f.status is Status.SKIP, (spec_id, f)
        assert not f.details.get("internal")


def test_probe_error_type_for_missing_arch_sources(make_root) -> None:
    with pytest.raises(ProbeError):
        probe_arch(make_root({}))
