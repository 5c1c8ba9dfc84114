"""The `mail-services` check: dpkg status, process table and cgroup units on fixture hosts."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.services import check_mail_services
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.model import Status
from mailcow_wizard.probes.services import (
    dpkg_installed,
    list_processes,
    parse_cgroup_unit,
    parse_dpkg_status,
    probe_mail_services,
    starts_at_boot,
)
from tests.conftest import fixture_ctx


def test_parse_cgroup_unit() -> None:
    assert parse_cgroup_unit("0::/system.slice/postfix.service\n") == "postfix.service"
    nested = "0::/system.slice/system-postfix.slice/postfix@-.service\n"
    assert parse_cgroup_unit(nested) == "postfix@-.service"
    v1 = "12:pids:/system.slice/exim4.service\n1:name=systemd:/system.slice/exim4.service\n"
    assert parse_cgroup_unit(v1) == "exim4.service"
    assert parse_cgroup_unit("0::/\n") is None
    assert parse_cgroup_unit("0::/user.slice/user-0.slice/session-3.scope\n") == "session-3.scope"
    with pytest.raises(ParseError):
        parse_cgroup_unit("nonsense\n")


def test_parse_dpkg_status() -> None:
    text = ("Package: postfix\nStatus: install ok installed\nVersion: 3.7\n\n"
            "Package: exim4-base\nStatus: deinstall ok config-files\n\n"
            "Package: vim\nStatus: install ok installed\n")
    assert parse_dpkg_status(text, {"postfix", "exim4-base"}) == {
        "postfix": "install ok installed", "exim4-base": "deinstall ok config-files"}
    assert dpkg_installed("install ok installed") and not dpkg_installed("deinstall ok config-files")
    assert not dpkg_installed("purge ok not-installed")
    with pytest.raises(ParseError):
        parse_dpkg_status("Status: install ok installed\n")


@given(st.text(max_size=300))
def test_parsers_raise_only_parse_error(text: str) -> None:
    for parser in (parse_cgroup_unit, parse_dpkg_status):
        with contextlib.suppress(ParseError):
            parser(text)


def test_list_processes_reads_comm_exe_cmdline() -> None:
    [master] = list_processes(fixture_ctx("hetzner-cloud-init").host, {"master"})
    assert (master.pid, master.exe, master.cmdline) == (812, "/usr/lib/postfix/sbin/master",
                                                         "/usr/lib/postfix/sbin/master -w")


def test_running_postfix_warns_with_pid_unit_and_package() -> None:
    f = check_mail_services(fixture_ctx("hetzner-cloud-init"))
    assert f.status is Status.WARN and f.fix == "mail-services"
    [svc] = f.details["services"]
    assert svc | {"signals": None} == {
        "name": "postfix", "kind": "MTA", "installed": True, "running": True, "pid": 812,
        "unit": "postfix@-.service", "package": "postfix", "binary": "/usr/sbin/postfix",
        "config": "/etc/postfix", "signals": None, "starts_at_boot": None, "units": ["postfix.service"]}
    assert "postfix is running (pid 812, postfix@-.service)" in f.summary
    assert "systemctl stop postfix.service && systemctl disable postfix.service" in f.remedy
    assert "apt-get purge postfix" in f.remedy
    # exim4 was removed but its configuration kept: reported, but not a problem.
    assert f.details["leftover_config"][0]["name"] == "exim4"


def test_installed_dovecot_without_dpkg_warns() -> None:
    f = check_mail_services(fixture_ctx("firewalld-rocky9"))
    assert f.status is Status.WARN
    [svc] = f.details["services"]
    assert svc["name"] == "dovecot" and svc["installed"] and not svc["running"] and svc["package"] is None
    assert "installed but not running" in f.summary
    assert "systemctl stop dovecot.service && systemctl disable dovecot.service" in f.remedy


def test_clean_host_passes() -> None:
    f = check_mail_services(fixture_ctx("openstack-mtu1450"))
    assert f.status is Status.PASS and f.details["services"] == [] and f.fix is None


def test_generic_master_process_is_not_postfix(make_root) -> None:
    host = make_root({"/proc/40/comm": "master\n", "/proc/40/cmdline": "/usr/libexec/something/master\x00"})
    services, _ = probe_mail_services(host)
    assert services == []


def test_sendmail_compat_binary_alone_is_not_sendmail(make_root) -> None:
    # Every MTA installs /usr/sbin/sendmail; only sendmail-mta or a running sendmail daemon count.
    host = make_root({"/usr/sbin/sendmail": "", "/proc/41/comm": "sendmail\n",
                      "/proc/41/cmdline": "/usr/sbin/sendmail\x00-t\x00"})
    assert probe_mail_services(host)[0] == []
    host = make_root({"/proc/42/comm": "sendmail\n",
                      "/proc/42/cmdline": "sendmail: MTA: accepting connections\x00",
                      "/proc/42/cgroup": "0::/system.slice/sendmail.service\n"})
    [svc] = probe_mail_services(host)[0]
    assert svc.name == "sendmail" and svc.running and svc.unit == "sendmail.service"


def test_running_exim_from_processes_only(make_root) -> None:
    host = make_root({"/proc/900/comm": "exim4\n", "/proc/900/cgroup": "garbage\n"})
    [svc] = probe_mail_services(host)[0]
    assert svc.name == "exim4" and svc.running and svc.pid == 900 and svc.unit is None


def test_malformed_dpkg_status_is_a_note_not_a_crash(make_root) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root({"/var/lib/dpkg/status": "\x00\x01binary", "/usr/sbin/dovecot": ""})
    f = run_check(get_spec("mail-services"), ctx)
    assert f.status is Status.WARN
    assert "dpkg database not usable" in f.details["notes"][0]


def test_debian_default_exim4_running_warns() -> None:
    f = check_mail_services(fixture_ctx("small-3g-noswap"))
    assert f.status is Status.WARN
    [svc] = f.details["services"]
    assert (svc["name"], svc["running"], svc["pid"], svc["unit"]) == ("exim4", True, 577, "exim4.service")
    assert "systemctl stop exim4.service && systemctl disable exim4.service" in f.remedy


@pytest.mark.parametrize("host", ["debian12-kvm", "openvz", "lxc", "synology", "centos8-el7"])
def test_hosts_without_mail_servers_pass(host: str) -> None:
    assert check_mail_services(fixture_ctx(host)).status is Status.PASS


EXIM_DPKG = "Package: exim4-daemon-light\nStatus: install ok installed\nVersion: 4.96\n\n"


@pytest.mark.parametrize(("links", "expected"), [
    ({"/etc/rc2.d/S01exim4": "", "/etc/rc3.d/S01exim4": ""}, True),  # update-rc.d defaults
    ({"/etc/rc2.d/K01exim4": "", "/etc/rc5.d/K01exim4": ""}, False),  # after systemctl disable
    ({}, None),  # an init script without any link says nothing either way
])
def test_a_sysv_service_starts_at_boot_while_an_s_link_is_there(make_root, links, expected) -> None:  # noqa: ANN001
    host = make_root({"/etc/init.d/exim4": "#!/bin/sh\n", **links})
    assert starts_at_boot(host, ("exim4.service", "exim.service")) is expected


def test_a_native_unit_starts_at_boot_when_a_target_wants_it(make_root) -> None:  # noqa: ANN001
    unit = "/usr/lib/systemd/system/postfix.service"
    assert starts_at_boot(make_root({unit: "[Unit]\n"}), ("postfix.service",)) is False
    wanted = make_root({unit: "[Unit]\n", "/etc/systemd/system/multi-user.target.wants/postfix.service": ""})
    assert starts_at_boot(wanted, ("postfix.service",)) is True
    assert starts_at_boot(wanted, ("dovecot.service",)) is None


def test_installed_but_stopped_and_off_at_boot_passes(make_root) -> None:  # noqa: ANN001
    """What `fix mail-services` leaves behind (exim4 on Debian 12: an init script, links turned to K)."""
    files = {"/var/lib/dpkg/status": EXIM_DPKG, "/etc/init.d/exim4": "#!/bin/sh\n", "/etc/exim4/x": "",
             "/etc/rc2.d/K01exim4": ""}
    host = make_root(files)
    f = check_mail_services(Context(host, host.path("/opt/mailcow-dockerized"), {}))
    assert f.status is Status.PASS, f
    assert "kept from starting at boot" in f.summary and "apt-get purge exim4-daemon-light" in f.summary
    assert f.details["services"][0]["starts_at_boot"] is False
    (host.root / "etc/rc2.d/K01exim4").rename(host.root / "etc/rc2.d/S01exim4")
    f = check_mail_services(Context(host, host.path("/opt/mailcow-dockerized"), {}))
    assert f.status is Status.WARN and "installed but not running" in f.summary
