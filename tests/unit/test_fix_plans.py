"""What each fix plans in the situations it must handle, and the `fix` command's behaviour."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from mailcow_wizard.checks.resources import swap_size_mib
from mailcow_wizard.cli import main
from mailcow_wizard.conf import read_existing_conf
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FIXES, FixOptions, Outcome, apply, plan_fix
from mailcow_wizard.fixes.firewall import docker_user_rules, ineffective_input_rules
from mailcow_wizard.fixes.hetzner import cloud_network_disabled, rename_aliases
from mailcow_wizard.fixes.mtu import merge_mtu
from mailcow_wizard.fixes.ntp import has_chrony_sources, set_ntp_servers
from mailcow_wizard.fixes.swap import fstab_has
from mailcow_wizard.host import FakeRunner, Host
from tests.conftest import HOSTS, MAILCOW_FIXTURES

GIB = 1024 ** 3
POOL = "NTP=0.pool.ntp.org 1.pool.ntp.org 2.pool.ntp.org 3.pool.ntp.org"

STOP_EXIM = ["systemctl stop exim4.service", "systemctl disable exim4.service"]
"""Stop first, then disable: `disable --now` stops nothing for a unit made from a SysV script."""


# -- ntp ------------------------------------------------------------------------------------------

def test_set_ntp_servers_keeps_existing_servers_unless_named() -> None:
    text = "[Time]\nNTP=time.example.org\n"
    assert set_ntp_servers(text, ("a", "b"), replace_existing=False) == text
    assert set_ntp_servers(text, ("a", "b"), replace_existing=True) == "[Time]\nNTP=a b\n"
    assert set_ntp_servers("[Time]\nNTP=\n", ("a",), False) == "[Time]\nNTP=a\n"


def test_set_ntp_servers_section_boundaries() -> None:
    text = "[Time]\nFallbackNTP=x\n[Other]\nNTP=not-this-one\n"
    assert set_ntp_servers(text, ("a",), False) == "[Time]\nNTP=a\nFallbackNTP=x\n[Other]\nNTP=not-this-one\n"
    assert set_ntp_servers("# no newline", ("a",), False) == "# no newline\n\n[Time]\nNTP=a\n"
    assert set_ntp_servers("", ("a",), False) == "[Time]\nNTP=a\n"


def test_chrony_sources() -> None:
    assert has_chrony_sources("pool 2.debian.pool.ntp.org iburst\n")
    assert not has_chrony_sources("# pool x\nsourcedir /run/chrony-dhcp\n")


def test_ntp_without_systemd_explains_and_changes_nothing(make_root, capsys) -> None:  # noqa: ANN001
    host = make_root({"/proc/1/comm": "process_api\n", "/.dockerenv": "",
                      "/etc/systemd/timesyncd.conf": "[Time]\n#NTP=\n"})
    rc = main(["fix", "ntp", "--root", str(host.root), "--yes"])
    captured = capsys.readouterr()
    assert rc == 2
    assert "systemd is not running on this system (process 1 is 'process_api')" in captured.out
    assert "container" in captured.out and "Traceback" not in captured.out + captured.err
    assert (host.root / "etc/systemd/timesyncd.conf").read_text() == "[Time]\n#NTP=\n"


def test_ntp_without_systemd_on_a_vm_offers_a_daemon(make_root) -> None:  # noqa: ANN001
    host = make_root({"/proc/1/comm": "init\n"})
    plan = plan_fix("ntp", Context(host, host.root))
    assert plan.blocked and "apt-get install chrony" in plan.manual and not plan.steps


def test_ntp_chrony_with_sources_only_enables(make_root) -> None:  # noqa: ANN001
    host = make_root({"/run/systemd/system/.keep": "", "/etc/chrony.conf": "server ntp.example.org iburst\n",
                      "/usr/lib/systemd/system/chronyd.service": ""})
    plan = plan_fix("ntp", Context(host, host.root))
    assert [s.shell for s in plan.commands] == ["systemctl enable --now chronyd"]
    assert not plan.edits and "timedatectl" not in plan.render()


def test_ntp_enables_an_installed_ntpsec(make_root) -> None:  # noqa: ANN001
    host = make_root({"/run/systemd/system/.keep": "", "/etc/ntpsec/ntp.conf": "pool 0.debian.pool.ntp.org\n",
                      "/lib/systemd/system/ntpsec.service": "", "/etc/systemd/timesyncd.conf": "[Time]\n"})
    plan = plan_fix("ntp", Context(host, host.root))
    assert [s.shell for s in plan.steps] == ["systemctl enable --now ntpsec"]


def test_ntp_installs_timesyncd_when_no_daemon(make_root) -> None:  # noqa: ANN001
    host = make_root({"/run/systemd/system/.keep": "", "/usr/bin/apt-get": ""})
    plan = plan_fix("ntp", Context(host, host.root))
    assert [s.shell for s in plan.commands][0] == "apt-get install -y systemd-timesyncd"
    assert plan.edits[0].after.endswith(POOL + "\n")


# -- mtu ------------------------------------------------------------------------------------------

def test_merge_mtu_updates_existing_value_and_keeps_bridge_name() -> None:
    text = ("networks:\n  mailcow-network:\n    driver_opts:\n"
            "      com.docker.network.bridge.name: br-mailcow\n"
            "      com.docker.network.driver.mtu: 1500  # old\n")
    out = merge_mtu(text, 1400)
    assert "com.docker.network.bridge.name: br-mailcow\n" in out
    assert "com.docker.network.driver.mtu: 1400" in out
    assert merge_mtu(out, 1400) == out


def test_merge_mtu_keeps_sequence_layout() -> None:
    text = "services:\n  a:\n    ports:\n    - 1:1\n    - 2:2\n"
    assert merge_mtu(text, 1450).startswith(text)


@pytest.mark.parametrize("bad", ["services: [unclosed\n", "- a list\n", "networks: 3\n"])
def test_mtu_refuses_what_it_cannot_edit(tmp_path: Path, bad: str) -> None:
    mdir = tmp_path / "mc"
    mdir.mkdir()
    (mdir / "docker-compose.override.yml").write_text(bad)
    plan = plan_fix("mtu", Context(Host(tmp_path, live=False), mdir), FixOptions(mtu=1400))
    assert plan.blocked and "com.docker.network.driver.mtu: 1400" in plan.manual
    assert (mdir / "docker-compose.override.yml").read_text() == bad


def test_mtu_without_route_asks_for_a_value(tmp_path: Path) -> None:
    (tmp_path / "mc").mkdir()
    plan = plan_fix("mtu", Context(Host(tmp_path, live=False), tmp_path / "mc"))
    assert plan.blocked and "--mtu N" in plan.manual


# -- hetzner --------------------------------------------------------------------------------------

def test_rename_aliases_only_touches_interface_names() -> None:
    text = "auto eth0:0 # eth0:0 stays in comments\niface eth0:0 inet6 static\n  address eth0:0\n"
    assert rename_aliases(text, {"eth0:0": "eth0"}) == (
        "auto eth0 # eth0:0 stays in comments\niface eth0 inet6 static\n  address eth0:0\n")


def test_cloud_network_disabled_forms() -> None:
    assert cloud_network_disabled("network: {config: disabled}\n")
    assert cloud_network_disabled("network:\n  config: disabled\n")
    assert not cloud_network_disabled("# network: {config: disabled}\n")


def test_hetzner_keep_cloud_network(tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root)
    plan = plan_fix("hetzner-ipv6", Context(Host(root, live=False), root),
                    FixOptions(disable_cloud_network=False))
    assert len(plan.edits) == 1 and any("cloud-init may write the alias back" in n for n in plan.notes)
    assert any("does not restart networking" in n for n in plan.notes)
    assert not plan.commands  # never restarts networking itself


# -- swap -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ram_gib", "free_gib", "expected"), [
    (1, 100, 2048), (2, 100, 4096), (3.7, 100, 3840), (16, 100, 4096), (2, 0.5, None), (1, None, 2048),
])
def test_swap_size(ram_gib: float, free_gib: float | None, expected: int | None) -> None:
    free = None if free_gib is None else int(free_gib * GIB)
    assert swap_size_mib(int(ram_gib * GIB), free) == expected


def test_swap_size_keeps_docker_room() -> None:
    assert swap_size_mib(4 * GIB, 50 * GIB) == 4096
    assert swap_size_mib(4 * GIB, 10 * GIB) == 4096  # small disk: at most half of what is free
    assert swap_size_mib(8 * GIB, 6 * GIB) == 3072
    assert swap_size_mib(8 * GIB, None) == 4096


def test_fstab_has() -> None:
    assert fstab_has("/swapfile none swap sw 0 0\n", "/swapfile")
    assert not fstab_has("#/swapfile none swap sw 0 0\n", "/swapfile")
    assert not fstab_has("/swapfile /mnt ext4 defaults 0 0\n", "/swapfile")


def test_swap_refuses_existing_foreign_file(make_root) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n", "/swapfile": "data"})
    plan = plan_fix("swap", Context(host, host.root))
    assert plan.blocked and "already exists" in plan.blocked


@pytest.mark.parametrize("path", ["/my swap", "/swap#file", "/swap\nfile", "/swap\tfile", "/sw\x7fap",
                                  "/swäpfile", "swapfile", "/swapdir/"])
def test_swap_file_path_fstab_cannot_hold_is_refused(path: str, make_root, capsys) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n", "/etc/fstab": "# fstab\n"})
    fstab = host.path("/etc/fstab").read_bytes()
    plan = plan_fix("swap", Context(host, host.root), FixOptions(swap_file=path))
    assert plan.blocked and not plan.steps
    rc = main(["fix", "swap", "--root", str(host.root), "--yes", "--swap-file", path])
    err = capsys.readouterr().err
    assert rc == 2 and "--swap-file" in err and "Traceback" not in err
    assert host.path("/etc/fstab").read_bytes() == fstab


def test_swap_file_plain_path_is_taken(make_root) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n", "/etc/fstab": ""})
    plan = plan_fix("swap", Context(host, host.root), FixOptions(swap_file="/var/lib/swap-1.img"))
    assert not plan.blocked
    assert plan.edits[0].after == "/var/lib/swap-1.img none swap sw 0 0\n"


@pytest.mark.parametrize("size", ["-5", "0", "63", "65537", "1.5", "lots", ""])
def test_swap_size_out_of_range_is_a_usage_error(size: str, make_root, capsys) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n", "/etc/fstab": ""})
    with pytest.raises(SystemExit) as exc:
        main(["fix", "swap", "--root", str(host.root), "--dry-run", "--swap-size", size])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "--swap-size" in err and "64" in err and "65536" in err, err
    # Callers other than the CLI (the TUI) get a blocked plan instead of `count=-5` or the auto size.
    if size.lstrip("-").isdigit():
        plan = plan_fix("swap", Context(host, host.root), FixOptions(swap_mib=int(size)))
        assert plan.blocked and not plan.steps


@pytest.mark.parametrize("size", ["64", "65536"])
def test_swap_size_limits_are_taken(size: str, make_root) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n", "/etc/fstab": ""})
    assert main(["fix", "swap", "--root", str(host.root), "--dry-run", "--swap-size", size]) == 0
    plan = plan_fix("swap", Context(host, host.root), FixOptions(swap_mib=int(size)))
    assert f"count={size}" in plan.commands[0].shell or f"-l {size}M" in plan.commands[0].shell


# -- ports ----------------------------------------------------------------------------------------

def exim_root(tmp_path: Path, conf: bool = True) -> Path:
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    mdir = root / "opt/mailcow-dockerized"
    mdir.mkdir(parents=True)
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", mdir / "docker-compose.yml")
    if conf:
        shutil.copy(MAILCOW_FIXTURES / "current" / "mailcow.conf", mdir / "mailcow.conf")
        (mdir / "mailcow.conf").chmod(0o600)
    return root


@pytest.fixture
def no_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    """The conf engine's Compose verdict is tested by its own tests; here it must not vary by machine."""
    monkeypatch.setattr("mailcow_wizard.conf.write.find_compose", lambda *a, **k: None)


def test_ports_without_choice_lists_choices(tmp_path: Path, capsys, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    rc = main(["fix", "ports", "--root", str(root), "--yes"])
    out = capsys.readouterr().out
    assert rc == 2
    assert "stop: systemctl stop exim4.service && systemctl disable exim4.service" in out
    assert "move: SMTP_PORT=2525" in out


def test_ports_stop_plans_systemctl(tmp_path: Path, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    host = Host(root, live=False)
    plan = plan_fix("ports", Context(host, root / "opt/mailcow-dockerized"), FixOptions(choice="stop"))
    assert [c.shell for c in plan.steps] == STOP_EXIM


def test_ports_move_writes_through_conf_engine(tmp_path: Path, capsys, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    conf = root / "opt/mailcow-dockerized/mailcow.conf"
    original = conf.read_bytes()
    rc = main(["fix", "ports", "--root", str(root), "--yes", "--choice", "move"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert read_existing_conf(conf)["SMTP_PORT"] == "2525"
    assert conf.read_bytes() == original.replace(b"\nSMTP_PORT=25\n", b"\nSMTP_PORT=2525\n")
    backups = list(conf.parent.glob("mailcow.conf.bak*"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert "Check 'ports' passes now" in out
    # The diff shown is the conf engine's: secrets stay hidden.
    assert "DBPASS" not in out or "<hidden>" in out


def test_ports_step_names_every_key_the_conf_write_changes(tmp_path: Path, no_compose,  # noqa: ANN001
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    root = exim_root(tmp_path)
    conf = root / "opt/mailcow-dockerized/mailcow.conf"
    conf.write_text(conf.read_text().replace("\nDBPASS=", "\n#DBPASS="))  # a secret to generate
    monkeypatch.setattr("mailcow_wizard.conf.write.compose_flavour", lambda host: ("standalone", "test"))
    plan = plan_fix("ports", Context(Host(root, live=False), root / "opt/mailcow-dockerized"),
                    FixOptions(choice="move"))
    edit = plan.edits[0]
    why = edit.describe()
    diff = edit.diff()
    assert why.startswith("edit /opt/mailcow-dockerized/mailcow.conf: set SMTP_PORT=2525; the same write")
    assert "DOCKER_COMPOSE_VERSION=standalone" in why and "+DOCKER_COMPOSE_VERSION=standalone" in diff
    assert "DBPASS (new secret, hidden)" in why and "DBPASS=<hidden>" in diff
    added = {ln[1:].split("=", 1)[0] for ln in diff.splitlines()
             if ln.startswith("+") and not ln.startswith("+++") and "=" in ln and not ln.startswith("+#")}
    assert added and all(key in why for key in added), (added, why)
    generated = edit.after.split("\nDBPASS=", 1)[1].split("\n", 1)[0]
    assert generated not in why


def test_ports_stop_without_systemd_is_explained(tmp_path: Path, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    shutil.rmtree(root / "run/systemd", ignore_errors=True)
    plan = plan_fix("ports", Context(Host(root, live=False), root / "opt/mailcow-dockerized"),
                    FixOptions(choice="stop"))
    assert plan.blocked and "systemd is not running" in plan.blocked and not plan.steps


def test_ports_set_explicit_value_and_bind_needs_address(tmp_path: Path, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    plan = plan_fix("ports", ctx, FixOptions(sets={"SMTP_PORT": "192.0.2.10:25"}))
    assert plan.edits and "+SMTP_PORT=192.0.2.10:25" in plan.edits[0].diff()
    blocked = plan_fix("ports", ctx, FixOptions(choice="bind"))
    assert blocked.blocked and "--set SMTP_PORT=ADDRESS:25" in blocked.blocked
    bad = plan_fix("ports", ctx, FixOptions(sets={"SMTP_PORT": "99999"}))
    assert bad.blocked and "outside 1-65535" in bad.blocked
    other = plan_fix("ports", ctx, FixOptions(sets={"DBPASS": "x"}))
    assert other.blocked and "only mailcow's port variables" in other.blocked


def test_ports_move_without_conf_points_to_generate(tmp_path: Path, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path, conf=False)
    plan = plan_fix("ports", Context(Host(root, live=False), root / "opt/mailcow-dockerized"),
                    FixOptions(choice="move"))
    assert plan.blocked and "mailcow-wizard generate --set SMTP_PORT=2525" in plan.blocked


def test_ports_conf_write_failure_is_a_failed_step(tmp_path: Path, no_compose, monkeypatch) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    conf = root / "opt/mailcow-dockerized/mailcow.conf"
    original = conf.read_bytes()
    host = Host(root, live=False)
    from mailcow_wizard.conf.write import ConfError

    def broken(*a, **k):  # noqa: ANN002, ANN003
        raise ConfError("disk full")

    monkeypatch.setattr("mailcow_wizard.conf.write.write_conf", broken)
    plan = plan_fix("ports", Context(host, conf.parent), FixOptions(choice="move"))
    result = apply(plan, host)
    assert result.outcome is Outcome.FAILED and "disk full" in result.steps[0].message
    assert conf.read_bytes() == original


# -- mail-services ----------------------------------------------------------------------------------

def test_mail_services_disables_the_unit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    (root / "run/systemd/system").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: exim4-daemon-light\nStatus: install ok installed\nVersion: 4.96\n\n")
    runner = FakeRunner()
    runner.add(["systemctl", "stop", "exim4.service"])
    runner.add(["systemctl", "disable", "exim4.service"])
    host = Host(root, runner=runner, live=False)
    plan = plan_fix("mail-services", Context(host, root))
    assert [c.shell for c in plan.steps] == STOP_EXIM
    assert any("apt-get purge exim4-daemon-light" in n for n in plan.notes)
    result = apply(plan, host)
    assert result.outcome is Outcome.APPLIED
    assert runner.calls == [("systemctl", "stop", "exim4.service"), ("systemctl", "disable", "exim4.service")]


def test_mail_services_without_systemd_is_blocked(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    shutil.rmtree(root / "run/systemd", ignore_errors=True)
    plan = plan_fix("mail-services", Context(Host(root, live=False), root))
    assert plan.blocked and "systemd is not running" in plan.blocked and "update-rc.d" in plan.manual


# -- firewall and guidance ------------------------------------------------------------------------

def test_ineffective_input_rules() -> None:
    rules = ["-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
             "-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT",
             "-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT",
             "-A INPUT -p tcp -m tcp --dport 1000:2000 -j DROP",
             "-A INPUT -j DROP",
             "-A INPUT -i lo -j ACCEPT"]
    assert ineffective_input_rules(rules, {25, 80, 443, 1500}) == rules[1:5]


def test_docker_user_rules_are_ordered_before_the_drop() -> None:
    rules = docker_user_rules("ens3", [25, 443])
    assert rules[0].startswith("iptables -I DOCKER-USER 1 -i ens3 -m conntrack --ctstate RELATED,ESTABLISHED")
    assert "--ctorigdstport 443 --ctdir ORIGINAL -j RETURN" in rules[2]
    assert rules[-1] == "iptables -I DOCKER-USER 4 -i ens3 -m conntrack --ctstate NEW -j DROP"


def test_firewall_guidance_uses_configured_ports(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.add(["iptables", "-w", "2", "-S", "INPUT"],
               "-P INPUT DROP\n-A INPUT -p tcp -m tcp --dport 2525 -j ACCEPT\n"
               "-A INPUT -p tcp --dport 22 -j ACCEPT\n")
    host = Host(tmp_path, runner=runner, live=False)
    plan = plan_fix("firewall", Context(host, tmp_path, conf={"SMTP_PORT": "2525"}))
    assert not plan.automatic and not plan.steps
    assert "--ctorigdstport 2525" in plan.manual and "--ctorigdstport 25 " not in plan.manual
    assert "  -P INPUT DROP\n  -A INPUT -p tcp -m tcp --dport 2525 -j ACCEPT\n" in plan.manual
    assert apply(plan, host).outcome is Outcome.MANUAL


@pytest.mark.parametrize("check_id", [k for k, v in FIXES.items() if v.module == "guidance"])
def test_guidance_for_every_unfixable_check(check_id: str, make_root) -> None:  # noqa: ANN001
    host = make_root({"/proc/meminfo": "MemTotal: 1000000 kB\n"})
    plan = plan_fix(check_id, Context(host, host.root))
    assert not plan.automatic and not plan.steps and "In general: " in plan.manual


# -- the command ----------------------------------------------------------------------------------

def test_unknown_id(capsys) -> None:  # noqa: ANN001
    assert main(["fix", "nope"]) == 2
    assert "unknown check id 'nope'" in capsys.readouterr().err


def test_refuses_without_tty_and_yes(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    root = tmp_path / "r"
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root)
    before = sorted(p.read_bytes() for p in root.rglob("*") if p.is_file())
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["fix", "hetzner-ipv6", "--root", str(root)]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert sorted(p.read_bytes() for p in root.rglob("*") if p.is_file()) == before


def test_dry_run_touches_nothing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    root = tmp_path / "r"
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root)
    before = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["fix", "hetzner-ipv6", "--root", str(root), "--dry-run"]) == 0
    assert main(["--dry-run", "fix", "hetzner-ipv6", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Dry run: nothing was changed." in out and "+iface eth0 inet6 static" in out
    assert {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("fix_id", "extra"), [
    ("hetzner-ipv6", []),  # an automatic plan
    ("swap", ["--swap-file", "/swapfile"]),  # blocked: /swapfile exists and is not swap
    ("ports", []),  # blocked: no choice made
    ("firewall", []),  # guidance only (no automatic fix)
])
def test_dry_run_writes_no_log(fix_id: str, extra: list[str], tmp_path: Path, capsys,  # noqa: ANN001
                               monkeypatch: pytest.MonkeyPatch, no_compose) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root, dirs_exist_ok=True)
    (root / "swapfile").write_text("data")
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/meminfo").write_text("MemTotal: 1000000 kB\n")
    log = tmp_path / "logs" / "wizard.log"
    monkeypatch.setenv("MAILCOW_WIZARD_LOG", str(log))
    before = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    main(["fix", fix_id, "--root", str(root), "--dry-run", *extra])
    capsys.readouterr()
    assert not log.exists() and not log.parent.exists()
    assert not (root / "var/log/mailcow-wizard.log").exists()
    assert {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    # Without --dry-run the same command does log.
    main(["fix", fix_id, "--root", str(root), "--yes", *extra])
    assert log.exists()


def test_hetzner_verifies_as_passing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    root = tmp_path / "r"
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root)
    assert main(["fix", "hetzner-ipv6", "--root", str(root), "--yes"]) == 0
    assert "Check 'hetzner-ipv6' passes now" in capsys.readouterr().out
