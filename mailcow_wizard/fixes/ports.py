"""Fix `ports`: for each program standing on a mailcow port, stop it, move mailcow, or bind elsewhere.

Three resolutions per conflict, chosen by the person (`FixOptions.choice` for all of them, and
`FixOptions.sets` for particular mailcow.conf values):

- `stop`: `systemctl disable --now UNIT` for the unit that owns the listener (for an MTA on port 25
  this is what mailcow itself advises). Programs without a unit, and other containers, are explained.
- `move`: give mailcow another port in mailcow.conf (HTTP/HTTPS: a bare port; others keep their address).
- `bind`: publish mailcow's port on another local address that is free (HTTP/HTTPS via HTTP_BIND /
  HTTPS_BIND, the others as ADDRESS:PORT).

mailcow.conf is never written here: the conf engine plans the change (validated, loss-free) and its
writer is handed to `apply` as the writer of that file. `conflict_choices` lists what is possible
per conflict for a face that asks the person (the CLI prompt, the TUI).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FileEdit, FixOptions, Plan, decode, shown_path
from mailcow_wizard.host import Host
from mailcow_wizard.mailcow import BIND_VARIABLES, PORT_VARIABLES, published_ports, split_port_spec
from mailcow_wizard.probes.ports import (
    DOCKER_PROXY,
    Conflict,
    Listener,
    addresses_overlap,
    conflicts,
    free_ports_near,
    probe_listeners,
)
from mailcow_wizard.probes.services import systemd_running

TITLE = "Free mailcow's ports"
CHOICES = ("stop", "move", "bind")
NEVER_STOP = frozenset({"docker.service", "containerd.service", "ssh.service", "sshd.service",
                        "systemd-networkd.service", "systemd-resolved.service"})
"""Units the wizard will not offer to stop: Docker itself, and what keeps the person connected."""


@dataclass(frozen=True)
class ConflictChoice:
    """One mailcow port in use, and the resolutions that are possible for it on this host."""

    variable: str
    port: int
    address: str | None
    """Where mailcow publishes it (None: every address)."""
    owner: str
    unit: str | None
    """The systemd unit to stop (None: no unit to stop, see `stop_hint`)."""
    stop_hint: str
    free_ports: tuple[int, ...]
    """Ports free right now near the wanted one (for `move`)."""
    free_addresses: tuple[str, ...]
    """Local addresses where the port is free (for `bind`; empty when unknown, e.g. under --root)."""
    listeners: tuple[Listener, ...]


def _owner(lst: Listener) -> str:
    if not lst.owner_known:
        return "a process that cannot be seen (run as root to see which)"
    return f"{lst.process or 'a process'} (pid {lst.pid}" + (f", {lst.unit})" if lst.unit else ")")


def _stop_hint(lst: Listener, systemd: bool) -> str:
    if lst.process == DOCKER_PROXY:
        return (f"another Docker container publishes port {lst.port}: find it with "
                f"`docker ps --filter publish={lst.port}` and stop it (docker stop CONTAINER)")
    if lst.unit in NEVER_STOP:
        return f"{lst.unit} is not stopped by the wizard; move or bind mailcow's port instead"
    if lst.unit and not systemd:
        return (f"systemd is not running here: stop {lst.process or 'the program'} (pid {lst.pid}) with "
                "this system's init scripts")
    if lst.unit:
        return f"systemctl disable --now {lst.unit}"
    if lst.owner_known:
        return f"{lst.process or 'the program'} (pid {lst.pid}) runs outside systemd: stop it by hand"
    return f"find the owner first: sudo ss -tlnp 'sport = :{lst.port}'"


def _local_addresses(host: Host) -> list[str]:
    if not host.live:
        return []
    from mailcow_wizard.conf.validate import local_addresses

    out = []
    for a in sorted(local_addresses()):
        ip = ipaddress.ip_address(a)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
            out.append(a)
    return out


def conflict_choices(ctx: Context) -> list[ConflictChoice]:
    """Every mailcow port that something else holds, with what could be done about it (pure)."""
    host = ctx.host
    published = published_ports(ctx.conf)
    ports = {p for _, p in published.values()}
    scan = probe_listeners(host, ports)
    found = conflicts(scan.listeners, published, ctx.conf)
    by_var: dict[str, list[Conflict]] = {}
    for c in found:
        by_var.setdefault(c.variable, []).append(c)
    used = ports | {lst.port for lst in scan.listeners}
    local = _local_addresses(host)
    systemd = systemd_running(host)
    result = []
    for variable in sorted(by_var, key=lambda v: (published[v][1], v)):
        address, port = published[variable]
        lsts = tuple(c.listener for c in by_var[variable])
        units = {lst.unit for lst in lsts}
        unit = next(iter(units)) if len(units) == 1 else None
        if unit in NEVER_STOP or any(lst.process == DOCKER_PROXY for lst in lsts) or not systemd:
            unit = None
        hint = "; ".join(dict.fromkeys(_stop_hint(lst, systemd) for lst in lsts))
        if unit is not None and host.live and not systemd_running(host):
            # A unit's cgroup without systemd as PID 1 (containers, chroots): systemctl cannot act here.
            pids = ", ".join(dict.fromkeys(f"kill {lst.pid}" for lst in lsts if lst.pid))
            hint = (f"systemd is not running here (no /run/systemd/system), so {unit} cannot be stopped "
                    f"with systemctl: stop it by its pid ({pids}) and keep it from starting again")
            unit = None
        on_port = [lst for lst in scan.listeners if lst.port == port]
        free_addr = tuple(a for a in local if not any(addresses_overlap(a, lst.address) for lst in on_port))
        result.append(ConflictChoice(
            variable, port, address, "; ".join(dict.fromkeys(_owner(lst) for lst in lsts)), unit, hint,
            tuple(free_ports_near(host, port, 3, exclude=used)), free_addr, lsts))
    return result


def _with_address(address: str | None, port: int) -> str:
    if address is None:
        return str(port)
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _resolve(choice: ConflictChoice, how: str | None, sets: dict[str, str], taken: set[int]
             ) -> tuple[dict[str, str], Command | None, str | None]:
    """(mailcow.conf values, command, why not) for one conflict."""
    var = choice.variable
    bind_var = BIND_VARIABLES.get(var)
    explicit = {k: v for k, v in sets.items() if k in (var, bind_var)}
    if explicit:
        return explicit, None, None
    if how is None:
        return {}, None, "no choice made"
    if how == "stop":
        if choice.unit is None:
            return {}, None, f"cannot be stopped automatically: {choice.stop_hint}"
        why = f"stop {choice.unit} and keep it from starting at boot (it holds port {choice.port})"
        return {}, Command(("systemctl", "disable", "--now", choice.unit), why), None
    if how == "move":
        free = [p for p in choice.free_ports if p not in taken]
        if not free:
            return {}, None, f"no free port found near {choice.port}; name one with --set {var}=PORT"
        taken.add(free[0])
        value = str(free[0]) if bind_var else _with_address(choice.address, free[0])
        return {var: value}, None, None
    # bind
    if not choice.free_addresses:
        example = f"{bind_var}=ADDRESS" if bind_var else f"{var}=ADDRESS:{choice.port}"
        return {}, None, (f"no other local address is known to be free for port {choice.port}; "
                          f"name one with --set {example}")
    addr = choice.free_addresses[0]
    if bind_var:
        return {bind_var: addr}, None, None
    return {var: _with_address(addr, choice.port)}, None, None


def describe_choices(choices: list[ConflictChoice]) -> str:
    """What can be done per conflict, for a person choosing (and for a blocked plan)."""
    lines = []
    for c in choices:
        where = "" if c.address is None else f" on {c.address}"
        lines.append(f"Port {c.port}{where} ({c.variable}) is held by {c.owner}:")
        lines.append(f"  stop: {c.stop_hint}")
        if c.free_ports:
            first = c.free_ports[0]
            value = first if c.variable in BIND_VARIABLES else _with_address(c.address, first)
            lines.append(f"  move: {c.variable}={value} (free now: {', '.join(map(str, c.free_ports))})")
        if c.free_addresses:
            lines.append(f"  bind: to {', '.join(c.free_addresses)} (port {c.port} is free there)")
    return "\n".join(lines)


def _check_sets(sets: dict[str, str]) -> str | None:
    for key, value in sets.items():
        if key in PORT_VARIABLES:
            try:
                split_port_spec(value)
            except ValueError as exc:
                return f"{key}={value}: {exc}"
        elif key not in BIND_VARIABLES.values():
            return f"--set {key}: only mailcow's port variables and HTTP_BIND/HTTPS_BIND belong to this fix"
    return None


def change_summary(asked: dict[str, str], changed: list[str], final: dict[str, str],
                   secret_keys: set[str]) -> str:
    """Every key the one mailcow.conf write changes, the asked ones first.

    The conf engine may change more than was asked in the same write (DOCKER_COMPOSE_VERSION, forced
    SKIP_* values, missing secrets); the step says so, as the diff does. Secret values stay hidden.
    """
    def show(key: str) -> str:
        if key in secret_keys:
            return f"{key} (new secret, hidden)"
        return f"{key}={final.get(key, asked.get(key, ''))}"

    text = "set " + ", ".join(show(k) for k in asked)
    extra = [k for k in changed if k not in asked]
    if extra:
        text += "; the same write also sets " + ", ".join(show(k) for k in extra)
    return text


def conf_edit(ctx: Context, values: dict[str, str]) -> FileEdit | str:
    """The mailcow.conf change, planned and later written by the conf engine (or why it cannot be)."""
    from mailcow_wizard.conf.write import plan_conf, write_conf

    host = ctx.host
    path = ctx.conf_path
    if not path.is_file():
        sets = " ".join(f"--set {k}={v}" for k, v in values.items())
        return (f"there is no mailcow.conf in {shown_path(host, ctx.mailcow_dir)} yet; create it with these "
                f"values: mailcow-wizard generate {sets}")
    cplan = plan_conf(ctx.mailcow_dir, host, answers=values)
    if cplan.errors:
        return "mailcow.conf would not be valid: " + "; ".join(i.message for i in cplan.errors)

    def write(_edit: FileEdit) -> str | None:
        res = write_conf(cplan)
        return shown_path(host, res.backup) if res.backup else None

    why = change_summary(values, cplan.changed_keys, cplan.values, cplan.secret_keys)
    return FileEdit(path=shown_path(host, path), real_path=path, before=decode(cplan.old_bytes or b""),
                    after=decode(cplan.new_bytes), why=why, mode=0o600, writer=write, shown_diff=cplan.diff())


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Resolve every conflict as chosen; blocked (with the choices listed) while any is left open."""
    sets = dict(options.sets)
    bad = _check_sets(sets)
    if bad:
        return Plan("ports", TITLE, blocked=bad)
    if options.choice not in (None, *CHOICES):
        return Plan("ports", TITLE, blocked=f"unknown choice {options.choice!r} (stop, move or bind)")
    choices = conflict_choices(ctx)
    if not choices:
        return Plan("ports", TITLE, notes=("Nothing else listens on mailcow's ports.",))
    values: dict[str, str] = {}
    commands: list[Command] = []
    open_: list[str] = []
    taken: set[int] = set()
    for c in choices:
        got, cmd, why = _resolve(c, options.choice, sets, taken)
        values.update(got)
        if cmd is not None and cmd.argv not in [x.argv for x in commands]:
            commands.append(cmd)
        if why:
            open_.append(f"port {c.port} ({c.variable}): {why}")
    listing = describe_choices(choices)
    if open_:
        return Plan("ports", TITLE, blocked="; ".join(open_), manual=(
            "Choose per conflict (--choice stop|move|bind for all, --set VAR=VALUE for one):\n" + listing))
    steps: list[FileEdit | Command] = []
    notes: list[str] = []
    if values:
        edit = conf_edit(ctx, values)
        if isinstance(edit, str):
            return Plan("ports", TITLE, blocked=edit, manual=listing)
        if edit.changed:
            steps.append(edit)
        notes.append("mailcow picks up new ports when its containers are recreated: "
                     f"cd {shown_path(ctx.host, ctx.mailcow_dir)} && docker compose up -d")
        mail = [k for k in values if k in PORT_VARIABLES and k not in BIND_VARIABLES]
        if mail:
            notes.append(f"{', '.join(mail)}: other mail servers and clients expect the standard ports; "
                         "only move these behind something that forwards them.")
    steps.extend(commands)
    return Plan("ports", TITLE, tuple(steps), notes=tuple(notes))
