"""virtualization, os and centos8-docker on fixture hosts, fake command output and broken files."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks.platform import (
    check_centos8_docker,
    check_os,
    check_virtualization,
    evaluate_os,
)
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.host import FakeRunner, Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.docker import (
    is_el7_docker_repo,
    parse_package_log,
    parse_rpm_query,
    parse_yum_repo,
    split_nevra,
)
from mailcow_wizard.probes.osinfo import os_info_from_release, parse_os_release
from mailcow_wizard.probes.virt import VirtSignal, cgroup_kind, decide_virt, dmi_kind
from tests.conftest import fixture_ctx


def ctx_for(host: Host) -> Context:
    return Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized"))


# -- virtualization ------------------------------------------------------------------------------

@pytest.mark.parametrize("host,status,kind,signal", [
    ("debian12-kvm", Status.PASS, "qemu", "DMI (QEMU / Standard PC (Q35 + ICH9, 2009))"),
    ("small-3g-noswap", Status.PASS, "kvm", "DMI (Hetzner / vServer)"),
    ("centos8-el7", Status.PASS, "vmware", "DMI (VMware, Inc. / VMware Virtual Platform)"),
    ("tiny-1g", Status.PASS, "none", None),
    ("openvz", Status.FAIL, "openvz", "/proc/vz without /proc/bc"),
    ("lxc", Status.FAIL, "lxc", "/run/systemd/container: lxc"),
    ("docker-container", Status.FAIL, "docker", "/.dockerenv: docker"),
    ("synology", Status.FAIL, "synology", "/etc/synoinfo.conf: synology"),
    ("qnap", Status.FAIL, "qnap", "/etc/config/qpkg.conf: qnap"),
    ("ubuntu-wsl", Status.WARN, "wsl", "/proc/sys/kernel/osrelease: wsl"),
])
def test_virtualization_on_fixture_hosts(host: str, status: Status, kind: str, signal: str | None) -> None:
    f = check_virtualization(fixture_ctx(host))
    assert f.status is status, f
    assert f.details["kind"] == kind
    if signal is not None:
        assert f.details["signal"].startswith(signal.split(":")[0])
        assert any(s.startswith(signal.split(":")[0]) for s in f.details["signals"])
    if status is Status.FAIL:
        assert "full virtual machine" in f.remedy


def test_lxc_is_seen_by_several_signals() -> None:
    f = check_virtualization(fixture_ctx("lxc"))
    assert "/proc/1/environ container=: lxc" in f.details["signals"]
    assert "/run/systemd/container: lxc" in f.details["signals"]


def test_container_beats_the_hypervisor_underneath() -> None:
    f = check_virtualization(fixture_ctx("docker-container"))
    assert "/proc/cpuinfo hypervisor flag: vm" in f.details["signals"]
    assert "/proc/1/cgroup: docker" in f.details["signals"]
    assert f.details["category"] == "container"


def test_systemd_detect_virt_is_asked_when_commands_run(make_root) -> None:
    runner = FakeRunner()
    runner.add(["systemd-detect-virt"], "microsoft\n")
    host = make_root({"/usr/bin/systemd-detect-virt": "",
                      "/proc/cpuinfo": "processor : 0\nflags : lm hypervisor\n"}, runner=runner)
    f = check_virtualization(ctx_for(host))
    assert f.status is Status.PASS
    assert (f.details["kind"], f.details["signal"]) == ("microsoft", "systemd-detect-virt: microsoft")
    assert "Hyper-V" in f.summary


def test_systemd_detect_virt_is_not_run_when_a_container_file_decides(make_root) -> None:
    runner = FakeRunner()
    runner.add(["systemd-detect-virt"], "docker\n")
    host = make_root({"/usr/bin/systemd-detect-virt": "", "/.dockerenv": "",
                      "/proc/cpuinfo": "processor : 0\nflags : lm hypervisor\n"}, runner=runner)
    f = check_virtualization(ctx_for(host))
    assert (f.status, f.details["kind"]) == (Status.FAIL, "docker")
    assert f.details["signal"] == "/.dockerenv: docker"
    assert f.details["systemd_detect_virt"] == "not needed: /.dockerenv: docker decides"
    assert runner.calls == []


def test_systemd_detect_virt_is_not_run_when_dmi_names_the_hypervisor(make_root) -> None:
    runner = FakeRunner()
    host = make_root({"/usr/bin/systemd-detect-virt": "", "/proc/1/environ": b"HOME=/\0",
                      "/sys/class/dmi/id/product_name": "KVM\n", "/sys/class/dmi/id/sys_vendor": "QEMU\n"},
                     runner=runner)
    f = check_virtualization(ctx_for(host))
    assert (f.status, f.details["kind"]) == (Status.PASS, "kvm")
    assert runner.calls == []


@pytest.mark.parametrize("files", [
    {"/proc/cpuinfo": "processor : 0\nflags : lm\n"},                       # bare metal by the files
    {"/proc/cpuinfo": "processor : 0\nflags : lm hypervisor\n"},            # a hypervisor without a name
    {"/sys/class/dmi/id/product_name": "KVM\n"},                             # /proc/1/environ not seen
])
def test_systemd_detect_virt_runs_when_the_files_leave_it_open(make_root, files) -> None:
    runner = FakeRunner()
    runner.add(["systemd-detect-virt"], "lxc\n")
    host = make_root({"/usr/bin/systemd-detect-virt": "", **files}, runner=runner)
    f = check_virtualization(ctx_for(host))
    assert runner.calls == [("systemd-detect-virt",)]
    assert (f.status, f.details["kind"]) == (Status.FAIL, "lxc")
    assert f.details["signal"] == "systemd-detect-virt: lxc"
    assert f.details["systemd_detect_virt"] is None


def test_systemd_detect_virt_none_means_bare_metal(make_root) -> None:
    runner = FakeRunner()
    runner.add(["systemd-detect-virt"], "none\n", returncode=1)
    f = check_virtualization(ctx_for(make_root({"/usr/bin/systemd-detect-virt": ""}, runner=runner)))
    assert (f.status, f.details["kind"]) == (Status.PASS, "none")


def test_podman_and_nspawn_containers_fail(make_root) -> None:
    f = check_virtualization(ctx_for(make_root({"/run/.containerenv": ""})))
    assert (f.status, f.details["kind"]) == (Status.FAIL, "podman")


def test_openvz_node_itself_is_not_a_container(make_root) -> None:
    host = make_root({"/proc/vz/veinfo": "", "/proc/bc/0/resources": "",
                      "/proc/cpuinfo": "processor : 0\nflags : lm\n"})
    f = check_virtualization(ctx_for(host))
    assert (f.status, f.details["kind"]) == (Status.PASS, "none")


def test_no_evidence_at_all_is_a_skip(make_root) -> None:
    f = check_virtualization(ctx_for(make_root({"/etc/hostname": "x\n"})))
    assert f.status is Status.SKIP


def test_unreadable_sources_are_listed_not_fatal(make_root) -> None:
    host = make_root({"/proc/1/environ/x": "", "/proc/cpuinfo": "processor : 0\nflags : lm hypervisor\n"})
    f = check_virtualization(ctx_for(host))
    assert f.status is Status.PASS
    assert f.details["unreadable"] == ["/proc/1/environ"]


def test_decide_prefers_named_hypervisor_over_cpu_flag() -> None:
    kind, category, signal = decide_virt([VirtSignal("/proc/cpuinfo hypervisor flag", "vm"),
                                          VirtSignal("/sys/hypervisor/type", "xen")], True)
    assert (kind, category, signal.source) == ("xen", "vm", "/sys/hypervisor/type")


@pytest.mark.parametrize("product,vendor,kind", [
    ("Virtual Machine", "Microsoft Corporation", "microsoft"), ("VirtualBox", "innotek GmbH", "oracle"),
    ("HVM domU", "Xen", "xen"), ("OpenStack Nova", "OpenStack Foundation", "kvm"),
    ("PowerEdge R640", "Dell Inc.", None),
])
def test_dmi_kinds(product: str, vendor: str, kind: str | None) -> None:
    assert dmi_kind(product, vendor) == kind


@pytest.mark.parametrize("text,kind", [
    ("12:pids:/docker/abc\n", "docker"), ("0::/system.slice/docker-abc.scope\n", "docker"),
    ("1:name=systemd:/lxc/web01\n", "lxc"), ("0::/lxc.payload.web01/init.scope\n", "lxc"),
    ("0::/kubepods/burstable/pod1\n", "kubernetes"), ("0::/init.scope\n", None), ("0::/\n", None),
])
def test_cgroup_kinds(text: str, kind: str | None) -> None:
    assert cgroup_kind(text) == kind


# -- os ------------------------------------------------------------------------------------------

def release(id_: str, version: str, pretty: str = "", like: str = "") -> str:
    pretty = pretty or f"{id_} {version}"
    return f'ID={id_}\nVERSION_ID="{version}"\nPRETTY_NAME="{pretty}"\nID_LIKE="{like}"\n'


@pytest.mark.parametrize("id_,version,status", [
    ("debian", "11", Status.PASS), ("debian", "12", Status.PASS), ("debian", "13", Status.PASS),
    ("debian", "10", Status.WARN), ("ubuntu", "24.04", Status.PASS), ("ubuntu", "22.04", Status.PASS),
    ("ubuntu", "20.04", Status.WARN), ("ubuntu", "26.04", Status.PASS), ("rhel", "8.9", Status.PASS),
    ("rocky", "9.4", Status.PASS), ("almalinux", "8.10", Status.PASS), ("centos", "7", Status.WARN),
    ("centos", "9", Status.PASS), ("fedora", "42", Status.PASS), ("fedora", "36", Status.WARN),
    ("raspbian", "12", Status.PASS), ("arch", "", Status.WARN), ("alpine", "3.20.1", Status.WARN),
])
def test_os_judged_against_docker_ce_support(make_root, id_: str, version: str, status: Status) -> None:
    f = check_os(ctx_for(make_root({"/etc/os-release": release(id_, version)})))
    assert f.status is status, f
    assert f.details["id"] == id_


def test_os_newer_than_known_is_a_pass_with_note() -> None:
    info = os_info_from_release({"ID": "debian", "VERSION_ID": "14", "PRETTY_NAME": "Debian 14"}, "x")
    f = evaluate_os(info)
    assert f.status is Status.PASS and "note" in f.details


def test_os_testing_without_version_warns(make_root) -> None:
    text = 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n'
    f = check_os(ctx_for(make_root({"/etc/os-release": text})))
    assert f.status is Status.WARN
    assert "no release number" in f.summary


def test_os_unknown_derivative_warns_naming_its_base(make_root) -> None:
    text = release("linuxmint", "21.3", "Linux Mint 21.3", like="ubuntu debian")
    f = check_os(ctx_for(make_root({"/etc/os-release": text})))
    assert f.status is Status.WARN
    assert "based on ubuntu, debian" in f.summary


def test_os_fixtures() -> None:
    assert check_os(fixture_ctx("debian12-kvm")).status is Status.PASS
    assert check_os(fixture_ctx("openvz")).status is Status.WARN   # Ubuntu 20.04
    f = check_os(fixture_ctx("centos8-el7"))
    assert f.status is Status.WARN and f.details["id"] == "centos"


def test_os_usr_lib_os_release_is_the_fallback(make_root) -> None:
    f = check_os(ctx_for(make_root({"/usr/lib/os-release": release("ubuntu", "24.04")})))
    assert (f.status, f.details["source"]) == (Status.PASS, "/usr/lib/os-release")


def test_os_legacy_release_file_through_distro(make_root) -> None:
    f = check_os(ctx_for(make_root({"/etc/centos-release": "CentOS release 6.10 (Final)\n"})))
    assert f.status is Status.WARN
    assert (f.details["id"], f.details["version_id"]) == ("centos", "6.10")
    assert "distro" in f.details["source"]


def test_os_nothing_to_read_is_a_skip(make_root) -> None:
    f = check_os(ctx_for(make_root({"/etc/hostname": "x\n"})))
    assert f.status is Status.SKIP
    assert "os-release" in f.summary


@pytest.mark.parametrize("text", ['ID="debian\n', "ID=debian\nthis is not an assignment\n",
                                  "ID=de bian\n", "\x00\x01ID=x", "# only a comment\n"])
def test_os_malformed_os_release_is_a_skip(make_root, text: str) -> None:
    f = check_os(ctx_for(make_root({"/etc/os-release": text})))
    assert f.status is Status.SKIP
    assert "os-release" in f.summary


def test_os_unreadable_os_release_is_a_skip(make_root) -> None:
    f = check_os(ctx_for(make_root({"/etc/os-release/x": ""})))
    assert f.status is Status.SKIP
    assert "is a directory" in f.summary


def test_parse_os_release_quoting() -> None:
    values = parse_os_release('NAME="Foo \\"Bar\\" Linux"\nID=foo\nVERSION_ID=\'1.2\'\nEMPTY=\n# c\n\n')
    assert values == {"NAME": 'Foo "Bar" Linux', "ID": "foo", "VERSION_ID": "1.2", "EMPTY": ""}


@given(st.text(max_size=300))
def test_parse_os_release_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_os_release(text)


# -- centos8-docker ------------------------------------------------------------------------------

CENTOS8 = ('NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="8"\n'
           'PRETTY_NAME="CentOS Linux 8"\n')
ROCKY8 = ('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\n'
          'PRETTY_NAME="Rocky Linux 8.9"\n')


def test_centos8_with_el7_packages_fails_with_the_open_relay_warning() -> None:
    f = check_centos8_docker(fixture_ctx("centos8-el7"))
    assert f.status is Status.FAIL
    assert "open relay" in f.summary and "open relay" in f.remedy
    assert f.details["package_source"] == "/var/log/dnf.rpm.log"
    assert sorted(f.details["el7_packages"]) == ["containerd.io", "docker-ce", "docker-ce-cli"]
    assert f.details["el7_repos"][0]["file"] == "/etc/yum.repos.d/docker-ce.repo"
    # The disabled docker-ce-test section points at centos/7 too, but is not counted.
    assert f.details["el7_repos"][0]["section"] == "docker-ce-stable"
    assert "dnf remove docker-ce" in f.remedy


def test_centos8_live_asks_rpm(make_root) -> None:
    runner = FakeRunner()
    runner.add(["rpm", "-q"], "docker-ce 3:24.0.7-1.el7\ndocker-ce-cli 1:24.0.7-1.el7\n"
                              "package containerd.io is not installed\n", returncode=1)
    f = check_centos8_docker(ctx_for(make_root({"/etc/os-release": ROCKY8}, runner=runner)))
    assert f.status is Status.FAIL
    assert f.details["package_source"] == "rpm -q"
    assert f.details["packages"] == {"docker-ce": "3:24.0.7-1.el7", "docker-ce-cli": "1:24.0.7-1.el7"}


def test_el8_packages_pass(make_root) -> None:
    runner = FakeRunner()
    runner.add(["rpm", "-q"], "docker-ce 3:26.1.3-1.el8\ndocker-ce-cli 1:26.1.3-1.el8\n"
                              "containerd.io 0:1.6.32-3.1.el8\n")
    f = check_centos8_docker(ctx_for(make_root({"/etc/os-release": ROCKY8}, runner=runner)))
    assert f.status is Status.PASS
    assert f.details["packages"]["containerd.io"] == "1.6.32-3.1.el8"


def test_el8_repo_for_centos7_fails_before_anything_is_installed(make_root) -> None:
    host = make_root({"/etc/os-release": CENTOS8, "/var/log/dnf.rpm.log": "",
                      "/etc/yum.repos.d/docker.repo": "[docker]\nbaseurl=https://download.docker.com/linux/centos/7/x86_64/stable\n"})
    f = check_centos8_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert "CentOS 7" in f.summary


def test_el8_without_packages_or_repos_passes(make_root) -> None:
    host = make_root({"/etc/os-release": CENTOS8, "/var/log/dnf.rpm.log": "2024-01-01T00:00:00Z INFO x\n"})
    assert check_centos8_docker(ctx_for(host)).status is Status.PASS


def test_el8_under_root_without_package_log_is_a_skip(make_root) -> None:
    f = check_centos8_docker(ctx_for(make_root({"/etc/os-release": CENTOS8})))
    assert f.status is Status.SKIP
    assert "rpm database" in f.summary


def test_not_el8_does_not_apply() -> None:
    for host in ("debian12-kvm", "small-3g-noswap"):
        f = check_centos8_docker(fixture_ctx(host))
        assert f.status is Status.PASS and f.details["applies"] is False


def test_malformed_repo_file_is_listed_not_fatal(make_root) -> None:
    host = make_root({"/etc/os-release": CENTOS8, "/var/log/dnf.rpm.log": "",
                      "/etc/yum.repos.d/broken.repo": "[unterminated\nbaseurl=x\n"})
    f = check_centos8_docker(ctx_for(host))
    assert f.status is Status.PASS
    assert f.details["unreadable"] == ["/etc/yum.repos.d/broken.repo (malformed)"]


def test_package_log_follows_upgrades_and_erases() -> None:
    log = ("2021 SUBDEBUG Installed: docker-ce-3:20.10.5-3.el7.x86_64\n"
           "2022 SUBDEBUG Upgrade: docker-ce-3:24.0.7-1.el8.x86_64\n"
           "2022 SUBDEBUG Upgraded: docker-ce-3:20.10.5-3.el7.x86_64\n"
           "2021 SUBDEBUG Installed: docker-ce-cli-1:20.10.5-3.el7.x86_64\n"
           "2023 SUBDEBUG Erase: docker-ce-cli-1:20.10.5-3.el7.x86_64\n"
           "Mar 04 10:11:12 Installed: 3:containerd.io-1.2.0-3.el7.x86_64\n")
    assert parse_package_log(log) == {"docker-ce": "3:24.0.7-1.el8", "containerd.io": "3:1.2.0-3.el7"}


def test_nevra_and_rpm_output_parsers() -> None:
    assert split_nevra("docker-ce-cli-1:20.10.5-3.el7.x86_64") == ("docker-ce-cli", "1:20.10.5-3.el7")
    with pytest.raises(ParseError):
        split_nevra("docker")
    with pytest.raises(ParseError):
        parse_rpm_query("what is this\n")


def test_repo_parser_handles_continuation_urls_and_disabled_sections() -> None:
    repos = parse_yum_repo("[a]\nbaseurl=https://x/docker/el7/\n  https://y/docker/el7/\nenabled=0\n"
                           "[b]\nname=docker\nmirrorlist=https://download.docker.com/linux/rhel/7/m\n", "f")
    assert repos[0].urls == ("https://x/docker/el7/", "https://y/docker/el7/")
    assert not is_el7_docker_repo(repos[0])
    assert is_el7_docker_repo(repos[1])


@given(st.text(max_size=300))
def test_package_parsers_raise_only_parse_error(text: str) -> None:
    for parse in (parse_package_log, parse_rpm_query, parse_yum_repo):
        with contextlib.suppress(ParseError):
            parse(text)
