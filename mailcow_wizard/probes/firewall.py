"""Is firewalld or ufw active, and what is in the INPUT and DOCKER-USER chains?

Docker publishes container ports through the nat table and the FORWARD chain, so rules in INPUT
(which is where ufw and firewalld's zones put theirs) never see mailcow's traffic. Both tools also
rewrite the tables Docker relies on when they reload. We read what we can without changing anything:
the commands on a live host, the files everywhere (also under --root).
"""

from __future__ import annotations

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host
from mailcow_wizard.probes.services import list_processes, unit_active, unit_enabled_on_disk

UFW_CONF = "/etc/ufw/ufw.conf"
FIREWALLD_PIDFILE = "/var/run/firewalld.pid"
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"


def parse_ufw_conf(text: str) -> bool:
    """Whether /etc/ufw/ufw.conf says ENABLED=yes (ufw's own switch, also used at boot)."""
    if "\x00" in text:
        raise ParseError(f"{UFW_CONF} contains binary data")
    enabled: bool | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"{UFW_CONF}: expected KEY=value, got {line[:80]!r}")
        if key.strip() == "ENABLED":
            value = value.strip().strip("'\"").lower()
            if value not in ("yes", "no"):
                raise ParseError(f"{UFW_CONF}: ENABLED={value!r} is neither yes nor no")
            enabled = value == "yes"
    return bool(enabled)


def parse_ufw_status(text: str) -> bool:
    """`ufw status`: first line `Status: active` or `Status: inactive`."""
    for line in text.splitlines():
        if line.startswith("Status:"):
            state = line.split(":", 1)[1].strip()
            if state in ("active", "inactive"):
                return state == "active"
            raise ParseError(f"ufw status: unknown state {state!r}")
    raise ParseError("ufw status: no 'Status:' line")


def parse_iptables_rules(text: str, chain: str) -> tuple[str | None, list[str]]:
    """(policy, rules) of one chain from `iptables -S CHAIN` output."""
    policy: str | None = None
    rules: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "-P" and len(words) >= 3 and words[1] == chain:
            policy = words[2]
        elif words[0] == "-N" and len(words) >= 2 and words[1] == chain:
            continue
        elif words[0] == "-A" and len(words) >= 2 and words[1] == chain:
            rules.append(line)
        else:
            raise ParseError(f"iptables -S {chain}: unexpected line {line[:80]!r}")
    return policy, rules


@record
class FirewallTool:
    """What we learnt about one firewall manager and from which signal."""

    name: str
    installed: bool = False
    active: bool | None = None
    """True/False when a signal decided; None when it is installed but its state is unknown."""
    enabled: bool = False
    signal: str | None = None


@record
class FirewallFacts:
    """firewalld and ufw state, and the iptables chains that matter to Docker (when readable)."""

    ufw: FirewallTool
    firewalld: FirewallTool
    input_policy: str | None = None
    input_rules: list[str] | None = None
    docker_user_rules: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def _may_run_as_root(host: Host, program: str) -> bool:
    """Commands that need root: run them live only as root and when installed; a test's runner always."""
    if not host.can_run:
        return False
    if not host.live:
        return True
    return host.is_root and host.which(program) is not None


def _probe_ufw(host: Host, notes: list[str]) -> FirewallTool:
    tool = FirewallTool("ufw", installed=host.which("ufw") is not None)
    conf_enabled: bool | None = None
    try:
        text = host.read_text_or_none(UFW_CONF)
        if text is not None:
            tool.installed = True
            conf_enabled = parse_ufw_conf(text)
    except (ProbeError, ParseError) as exc:
        notes.append(str(exc))
    tool.enabled = bool(conf_enabled)
    if not tool.installed:
        tool.active = False
        return tool
    if _may_run_as_root(host, "ufw"):
        res = host.run(["ufw", "status"], timeout=5.0)
        if res is not None and res.ok:
            try:
                tool.active, tool.signal = parse_ufw_status(res.stdout), "ufw status"
                return tool
            except ParseError as exc:
                notes.append(str(exc))
    if conf_enabled is not None:
        # ufw is not a daemon: ENABLED=yes is what loads its rules at boot and after `ufw enable`.
        tool.active, tool.signal = conf_enabled, f"{UFW_CONF} ENABLED={'yes' if conf_enabled else 'no'}"
        return tool
    state = unit_active(host, "ufw.service")
    if state is not None:
        tool.active, tool.signal = state, "systemctl is-active ufw"
    return tool


def _probe_firewalld(host: Host, notes: list[str]) -> FirewallTool:
    tool = FirewallTool("firewalld")
    tool.installed = host.which("firewalld") is not None or host.exists(FIREWALLD_CONF)
    tool.enabled = unit_enabled_on_disk(host, "firewalld.service")
    if not tool.installed and not tool.enabled:
        tool.active = False
        return tool
    if host.can_run and host.which("firewall-cmd"):
        res = host.run(["firewall-cmd", "--state"], timeout=10.0)
        if res is not None and res.stdout.strip() in ("running", "not running"):
            tool.active, tool.signal = res.stdout.strip() == "running", "firewall-cmd --state"
            return tool
    state = unit_active(host, "firewalld.service")
    if state is not None:
        tool.active, tool.signal = state, "systemctl is-active firewalld"
        return tool
    procs = list_processes(host, {"firewalld"})
    if procs:
        tool.active, tool.signal = True, f"process firewalld (pid {procs[0].pid})"
        return tool
    if host.exists("/proc/1"):
        pid_text = None
        try:
            pid_text = host.read_text_or_none(FIREWALLD_PIDFILE)
        except ProbeError as exc:
            notes.append(str(exc))
        if pid_text and pid_text.strip().isdigit() and host.exists(f"/proc/{pid_text.strip()}"):
            tool.active, tool.signal = True, f"{FIREWALLD_PIDFILE} (pid {pid_text.strip()})"
        else:
            tool.active, tool.signal = False, "no firewalld process"
    return tool


def _read_chain(host: Host, chain: str, notes: list[str]) -> tuple[str | None, list[str] | None]:
    if not _may_run_as_root(host, "iptables"):
        return None, None
    res = host.run(["iptables", "-w", "2", "-S", chain], timeout=5.0)
    if res is None:
        return None, None
    if not res.ok:
        if chain != "DOCKER-USER":
            notes.append(f"iptables -S {chain}: {(res.stderr.strip() or 'failed').splitlines()[0]}")
        return None, None
    try:
        return parse_iptables_rules(res.stdout, chain)
    except ParseError as exc:
        notes.append(str(exc))
        return None, None


def probe_firewall(host: Host) -> FirewallFacts:
    """firewalld / ufw state and the INPUT and DOCKER-USER rules (those need root and iptables)."""
    notes: list[str] = []
    facts = FirewallFacts(_probe_ufw(host, notes), _probe_firewalld(host, notes), notes=notes)
    facts.input_policy, facts.input_rules = _read_chain(host, "INPUT", notes)
    _, facts.docker_user_rules = _read_chain(host, "DOCKER-USER", notes)
    return facts
