"""The `ports` check on fixture hosts: pass, conflicts, IPv6, unknown owners, mailcow itself, mailcow.conf."""

from __future__ import annotations

import json

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.ports import check_ports, evaluate_ports
from mailcow_wizard.mailcow import published_ports
from mailcow_wizard.model import Status
from mailcow_wizard.probes.ports import Listener, ListenerScan
from tests.conftest import fixture_ctx

ALL_PORTS = [25, 80, 110, 143, 443, 465, 587, 993, 995, 4190]


def test_pass_when_nothing_listens_on_mailcow_ports() -> None:
    f = check_ports(fixture_ctx("ports-free"))
    assert f.status is Status.PASS and f.fix is None
    assert f.details["conflicts"] == [] and f.details["mailcow"] == []
    assert f.details["checked"] == ALL_PORTS
    assert f.summary == "All 10 mailcow ports are free"
    json.dumps(f.to_dict())


def test_exim4_on_loopback_blocks_smtp() -> None:
    f = check_ports(fixture_ctx("ports-exim"))
    assert f.status is Status.FAIL and f.fix == "ports"
    assert f.details["conflicts"] == [
        {"port": 25, "address": "127.0.0.1", "variable": "SMTP_PORT", "pid": 812, "process": "exim4",
         "unit": "exim4.service", "family": 4, "owner_known": True, "pids": [812]},
        {"port": 25, "address": "::1", "variable": "SMTP_PORT", "pid": 812, "process": "exim4",
         "unit": "exim4.service", "family": 6, "owner_known": True, "pids": [812]},
    ]
    assert f.summary == "Port 25 (SMTP_PORT) is taken by exim4 (pid 812) on 127.0.0.1 and ::1"
    assert "systemctl stop exim4.service && systemctl disable exim4.service" in f.remedy
    assert f.remedy.count("systemctl disable") == 1  # one command per program, not per socket
    assert "SMTP_PORT=2525" in f.remedy  # a port that is free on this host


def test_ipv6_wildcard_listener_blocks_http_and_https() -> None:
    f = check_ports(fixture_ctx("ports-ipv6"))
    assert f.status is Status.FAIL
    got = {(c["port"], c["variable"], c["address"], c["pid"], c["process"], c["unit"], tuple(c["pids"]))
           for c in f.details["conflicts"]}
    assert got == {(80, "HTTP_PORT", "::", 1200, "apache2", "apache2.service", (1200, 1201)),
                   (443, "HTTPS_PORT", "::", 1200, "apache2", "apache2.service", (1200, 1201))}
    assert f.summary.startswith("Port 80 (HTTP_PORT) is taken by apache2 (pid 1200); port 443 (HTTPS_PORT)")
    assert "systemctl stop apache2.service && systemctl disable apache2.service" in f.remedy
    assert "HTTP_PORT=8080" in f.remedy and "HTTPS_PORT=8443" in f.remedy


def test_unknown_owner_still_fails_and_says_how_to_find_it() -> None:
    f = check_ports(fixture_ctx("ports-unknown"))
    assert f.status is Status.FAIL
    (c,) = f.details["conflicts"]
    assert (c["port"], c["variable"], c["pid"], c["process"], c["unit"], c["owner_known"]) == (
        587, "SUBMISSION_PORT", None, None, None, False)
    assert "cannot be seen" in f.summary
    assert "ss -tlnp 'sport = :587'" in f.remedy


def test_docker_proxy_for_mailcow_is_mailcow_not_a_conflict() -> None:
    f = check_ports(fixture_ctx("ports-mailcow"))
    mine = {(m["port"], m["address"], m["container_ip"]) for m in f.details["mailcow"]}
    assert mine == {(25, "0.0.0.0", "172.22.1.253"), (25, "::", "fd4d:6169:6c63:6f77::7"),
                    (443, "0.0.0.0", "172.22.1.11")}
    # ... but another container's proxy on 80 is a conflict
    assert f.status is Status.FAIL
    (c,) = f.details["conflicts"]
    assert (c["port"], c["variable"], c["process"], c["pid"]) == (80, "HTTP_PORT", "docker-proxy", 2104)
    assert "docker ps --filter publish=80" in f.remedy and "docker.service" not in f.remedy


def test_docker_proxy_of_mailcow_on_a_configured_network() -> None:
    f = check_ports(fixture_ctx("ports-mailcow", conf={"IPV4_NETWORK": "172.30.1"}))
    # with mailcow configured on another network the 172.22.1.x proxies belong to something else
    ports = sorted({c["port"] for c in f.details["conflicts"]})
    assert ports == [25, 80, 443]


def test_only_mailcow_passes() -> None:
    f = check_ports(fixture_ctx("ports-mailcow", conf={"HTTP_PORT": "8081", "HTTP_BIND": ""}))
    # 80 is not mailcow's any more (8081 is nginx-internal, but that is for the conf engine to judge)
    assert f.status is Status.PASS
    assert f.summary.startswith("mailcow itself already publishes ports 25, 443")


def test_configured_ports_from_mailcow_conf() -> None:
    ctx = fixture_ctx("ports-custom")
    assert check_ports(ctx).details["conflicts"][0]["port"] == 25  # defaults: exim4 on 127.0.0.1:25
    f = check_ports(fixture_ctx("ports-custom", conf={"HTTP_PORT": "8080", "SMTP_PORT": "2525"}))
    assert f.status is Status.FAIL
    assert 8080 in f.details["checked"] and 25 not in f.details["checked"]
    # exim4 on 192.0.2.1:465 still meets SMTPS_PORT's wildcard; 127.0.0.1:25 no longer matters
    assert [(c["port"], c["variable"], c["process"], c["unit"]) for c in f.details["conflicts"]] == [
        (465, "SMTPS_PORT", "exim4", "exim4.service"), (8080, "HTTP_PORT", "python3", None)]
    assert "kill 300" in f.remedy and "HTTP_PORT=" in f.remedy


def test_mailcow_bound_to_one_address_only_meets_that_address() -> None:
    # exim4 holds 127.0.0.1:25 and 192.0.2.1:465; mailcow binds SMTP to 192.0.2.1 and SMTPS to 198.51.100.1
    conf = {"SMTP_PORT": "192.0.2.1:25", "SMTPS_PORT": "198.51.100.1:465"}
    assert check_ports(fixture_ctx("ports-custom", conf=conf)).status is Status.PASS
    conf = {"SMTP_PORT": "192.0.2.1:25", "SMTPS_PORT": "192.0.2.1:465"}
    f = check_ports(fixture_ctx("ports-custom", conf=conf))
    assert [(c["port"], c["address"], c["variable"]) for c in f.details["conflicts"]] == [
        (465, "192.0.2.1", "SMTPS_PORT")]
    assert "SMTPS_PORT=192.0.2.1:" in f.remedy


def test_unreadable_proc_is_a_skip_with_the_reason(make_root) -> None:
    host = make_root({"/etc/hostname": "x\n"})
    from mailcow_wizard.context import Context
    ctx = Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized"))
    f = run_check(get_spec("ports"), ctx)
    assert f.status is Status.SKIP and "/proc/net/tcp does not exist" in f.summary


def test_garbled_proc_net_tcp_is_a_skip(make_root) -> None:
    host = make_root({"/proc/net/tcp": "this is not the kernel's table\n"})
    from mailcow_wizard.context import Context
    f = run_check(get_spec("ports"), Context(host=host, mailcow_dir=host.path("/opt/m")))
    assert f.status is Status.SKIP and "header" in f.summary


def test_evaluate_is_pure_and_names_every_conflict() -> None:
    listeners = [Listener(p, "0.0.0.0", 4, 100 + p, pid=7, process="busybox", owner_known=True)
                 for p in (25, 110, 143, 993)]
    scan = ListenerScan(listeners=listeners, source="netlink")
    f = evaluate_ports(scan, published_ports({}))
    assert f.status is Status.FAIL and len(f.details["conflicts"]) == 4
    assert f.summary.endswith("; and 1 more")
    assert f.details["source"] == "netlink"


def test_without_systemd_no_systemctl_is_advised() -> None:
    # ports-custom has no /run/systemd/system: exim4.service is named, but systemctl would not work
    f = check_ports(fixture_ctx("ports-custom"))
    assert f.status is Status.FAIL
    assert "systemctl" not in f.remedy
    assert "service exim4 stop" in f.remedy and "kill 812" in f.remedy


def test_ssh_or_docker_units_are_never_to_be_stopped() -> None:
    lst = Listener(443, "0.0.0.0", 4, 9, pid=500, process="sshd", unit="ssh.service", owner_known=True)
    f = evaluate_ports(ListenerScan(listeners=[lst]), published_ports({}), alternatives={443: [8443]})
    assert f.status is Status.FAIL
    assert "systemctl disable" not in f.remedy and "keep it" in f.remedy and "HTTPS_PORT=8443" in f.remedy


def test_ports_finding_carries_typed_facts_and_its_json_stays_as_before(tmp_path) -> None:  # noqa: ANN001
    """The faces get the listeners and conflicts as objects; `to_dict()` (the JSON) never shows them."""
    import shutil
    from pathlib import Path

    from mailcow_wizard.checks.ports import PortFacts, check_ports
    from mailcow_wizard.context import Context
    from mailcow_wizard.host import Host

    root = tmp_path / "root"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures/hosts/ports-exim", root, symlinks=True)
    f = check_ports(Context(Host(root, live=False), root / "opt/mailcow-dockerized"))
    assert isinstance(f.facts, PortFacts)
    assert [c.to_dict() for c in f.facts.conflicts] == f.details["conflicts"] != []
    c = f.facts.conflicts[0]
    assert (c.variable, c.port, c.unit, c.process) == ("SMTP_PORT", 25, "exim4.service", c.listener.process)
    assert c.listener in f.facts.scan.listeners
    assert set(f.to_dict()) == {"id", "status", "summary", "details", "remedy", "fix"}
    json.dumps(f.to_dict())


def test_without_systemd_the_fix_names_the_init_script_of_the_unit() -> None:
    """The fix's stop hint names the command for the known unit, not "this system's init scripts"."""
    from mailcow_wizard.fixes.ports import conflict_choices

    (choice,) = [c for c in conflict_choices(fixture_ctx("ports-custom")) if c.port == 25]
    assert choice.unit is None and "service exim4 stop" in choice.stop_hint
