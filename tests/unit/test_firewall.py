"""The `firewall` check: ufw and firewalld from commands, files and the process table."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.firewall import check_firewall
from mailcow_wizard.errors import ParseError
from mailcow_wizard.host import FakeRunner
from mailcow_wizard.model import Status
from mailcow_wizard.probes.firewall import (
    parse_iptables_rules,
    parse_ufw_conf,
    parse_ufw_status,
    probe_firewall,
)
from tests.conftest import fixture_ctx

INPUT_S = """-P INPUT DROP
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
"""


def test_parse_ufw_conf() -> None:
    assert parse_ufw_conf("# comment\nENABLED=yes\nLOGLEVEL=low\n") is True
    assert parse_ufw_conf("ENABLED=no\n") is False
    assert parse_ufw_conf("ENABLED='yes'\n") is True
    assert parse_ufw_conf("LOGLEVEL=low\n") is False
    for bad in ("ENABLED=perhaps\n", "not a setting\n", "ENABLED=yes\x00"):
        with pytest.raises(ParseError):
            parse_ufw_conf(bad)


def test_parse_ufw_status() -> None:
    assert parse_ufw_status("Status: active\n\nTo Action From\n") is True
    assert parse_ufw_status("Status: inactive\n") is False
    for bad in ("", "Status: confused\n"):
        with pytest.raises(ParseError):
            parse_ufw_status(bad)


def test_parse_iptables_rules() -> None:
    policy, rules = parse_iptables_rules(INPUT_S, "INPUT")
    assert policy == "DROP" and len(rules) == 3 and rules[2].endswith("--dport 22 -j ACCEPT")
    assert parse_iptables_rules("-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n", "DOCKER-USER") == (
        None, ["-A DOCKER-USER -j RETURN"])
    with pytest.raises(ParseError):
        parse_iptables_rules("iptables: No chain/target/match by that name.\n", "INPUT")


@given(st.text(max_size=300))
def test_parsers_raise_only_parse_error(text: str) -> None:
    for parser in (parse_ufw_conf, parse_ufw_status, lambda t: parse_iptables_rules(t, "INPUT")):
        with contextlib.suppress(ParseError):
            parser(text)


def test_ufw_enabled_in_its_conf_warns() -> None:
    f = check_firewall(fixture_ctx("hetzner-cloud-init"))
    assert f.status is Status.WARN and f.fix == "firewall"
    assert f.details["active"] == ["ufw"]
    assert f.details["ufw"]["signal"] == "/etc/ufw/ufw.conf ENABLED=yes"
    assert "DOCKER-USER" in f.summary and "ufw disable" in f.remedy
    assert "iptables -I DOCKER-USER" in f.remedy and "FORWARD" in f.remedy


def test_ufw_status_command_wins_over_the_file() -> None:
    runner = FakeRunner()
    runner.add(["ufw", "status"], "Status: inactive\n")
    f = check_firewall(fixture_ctx("hetzner-cloud-init", runner))
    assert f.status is Status.PASS and f.details["ufw"]["signal"] == "ufw status"
    assert "ufw installed but off" in f.summary


def test_firewalld_process_warns() -> None:
    f = check_firewall(fixture_ctx("firewalld-rocky9"))
    assert f.status is Status.WARN and f.details["active"] == ["firewalld"]
    assert f.details["firewalld"]["signal"] == "process firewalld (pid 733)"
    assert "systemctl stop firewalld.service && systemctl disable firewalld.service" in f.remedy


def test_firewall_cmd_state_is_asked_first() -> None:
    runner = FakeRunner()
    runner.add(["firewall-cmd", "--state"], "not running\n", 252)
    f = check_firewall(fixture_ctx("firewalld-rocky9", runner))
    assert f.status is Status.PASS and f.details["firewalld"]["signal"] == "firewall-cmd --state"


def test_systemctl_is_active_is_used_when_firewall_cmd_is_silent() -> None:
    runner = FakeRunner()
    runner.add(["systemctl", "is-active", "firewalld.service"], "active\n")
    facts = probe_firewall(fixture_ctx("firewalld-rocky9", runner).host)
    assert facts.firewalld.active is True and facts.firewalld.signal == "systemctl is-active firewalld"


def test_clean_host_passes_and_reports_input_rules() -> None:
    runner = FakeRunner()
    runner.add(["iptables", "-w", "2", "-S", "INPUT"], INPUT_S)
    runner.add(["iptables", "-w", "2", "-S", "DOCKER-USER"], "", 1,
               "iptables: No chain/target/match by that name.")
    f = check_firewall(fixture_ctx("openstack-mtu1450", runner))
    assert f.status is Status.PASS
    assert f.details["input_policy"] == "DROP" and len(f.details["input_rules"]) == 3
    assert f.details["docker_user_rules"] is None
    assert "3 INPUT rules" in f.summary


def test_clean_host_without_commands_passes() -> None:
    f = check_firewall(fixture_ctx("openstack-mtu1450"))
    assert f.status is Status.PASS and f.summary == "Neither firewalld nor ufw is active"
    assert f.details["input_rules"] is None


def test_firewalld_enabled_but_state_unknown_warns(make_root) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root({"/usr/sbin/firewalld": "",
                          "/etc/systemd/system/multi-user.target.wants/firewalld.service": ""})
    f = check_firewall(ctx)
    assert f.status is Status.WARN and "enabled at boot" in f.summary


def test_installed_but_unknown_skips(make_root) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root({"/usr/sbin/firewalld": ""})
    f = check_firewall(ctx)
    assert f.status is Status.SKIP and "cannot be told" in f.summary


def test_malformed_ufw_conf_never_crashes(make_root) -> None:
    ctx = fixture_ctx("openstack-mtu1450")
    ctx.host = make_root({"/etc/ufw/ufw.conf": "ENABLED=banana\n"})
    f = run_check(get_spec("firewall"), ctx)
    assert f.status is Status.SKIP and "ENABLED='banana'" in f.summary


def test_centos8_default_firewalld_warns() -> None:
    f = check_firewall(fixture_ctx("centos8-el7"))
    assert f.status is Status.WARN and f.details["firewalld"]["enabled"] is True
    assert f.details["firewalld"]["signal"] == "process firewalld (pid 842)"


@pytest.mark.parametrize("host", ["debian12-kvm", "openvz", "lxc", "synology", "small-3g-noswap"])
def test_hosts_without_firewall_manager_pass(host: str) -> None:
    assert check_firewall(fixture_ctx(host)).status is Status.PASS
