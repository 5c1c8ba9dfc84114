"""Fix `ports`: for each program standing on a mailcow port, stop it, move mailcow, or bind elsewhere.

Three resolutions per conflict, chosen by the person (`FixOptions.choice` for all of them, and
`FixOptions.sets` for particular mailcow.conf values):

- `stop`: `systemctl stop UNIT`, then `systemctl disable UNIT` (mailcow_wizard.units), for the unit
  that owns the listener (for an MTA on port 25 this is what mailcow itself advises). Programs
  without a unit, and other containers, are explained.
- `move`: give mailcow another port in mailcow.conf (HTTP/HTTPS: a bare port; others keep their address).
- `bind`: publish mailcow's port on another local address that is free (HTTP/HTTPS via HTTP_BIND /
  HTTPS_BIND, the others as ADDRESS:PORT).

mailcow.conf is never written here: the conf engine plans the change (validated, loss-free) and its
writer is handed to `apply` as the writer of that file.

The rule lives here once, for every face: `conflict_choices` lists what is possible per conflict
(blocking: it looks at the host), `suggest_free_ports` picks ports to move to, `resolve` turns a
person's `Resolution` into mailcow.conf values or a command (a port moved back to the one in conflict
moves nothing: `moves_nowhere`), `unresolved` names the conflicts still open, and `stop_plan` is the
plan of the chosen stops. `plan` (the `fix ports` command) uses the same.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailcow_wizard.checks.ports import how_to_stop
from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FileEdit, FixOptions, Plan, decode, shown_path
from mailcow_wizard.fixes.services import stop_commands
from mailcow_wizard.host import Host
from mailcow_wizard.mailcow import (
    BIND_VARIABLES,
    MAIL_PORT_VARIABLES,
    PORT_VARIABLES,
    join_port_spec,
    port_value,
    published_ports,
    split_port_spec,
)
from mailcow_wizard.probes.ports import (
    Conflict,
    Listener,
    addresses_overlap,
    conflicts,
    free_ports_near,
    probe_listeners,
)
from mailcow_wizard.probes.services import systemd_running
from mailcow_wizard.units import init_stop_shell, stop_shell

TITLE = "Free mailcow's ports"
CHOICES = ("stop", "move", "bind")


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

    @property
    def keys(self) -> tuple[str, ...]:
        """The mailcow.conf keys a resolution of this conflict may set (the port, and HTTP(S)'s bind)."""
        bind = BIND_VARIABLES.get(self.variable)
        return (self.variable, bind) if bind else (self.variable,)


@dataclass(frozen=True)
class Resolution:
    """How a person resolves one conflict: "stop" the other program, "move" mailcow's port, or "bind"
    mailcow's port to another address. `value` is the new port (move) or the address (bind)."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class Resolved:
    """What a resolution does: mailcow.conf values to set, or a command to run; or why it cannot."""

    values: dict[str, str] = field(default_factory=dict)
    commands: tuple[Command, ...] = ()
    """Stop, then disable (empty unless the resolution is "stop")."""
    open: str | None = None
    """Why the conflict stays unresolved (None once it is resolved)."""


def _owner(lst: Listener) -> str:
    if not lst.owner_known:
        return "a process that cannot be seen (run as root to see which)"
    return f"{lst.process or 'a process'} (pid {lst.pid}" + (f", {lst.unit})" if lst.unit else ")")


def _stop_hint(lst: Listener, systemd: bool) -> str:
    way = how_to_stop(lst, systemd)
    if way == "container":
        return (f"another Docker container publishes port {lst.port}: find it with "
                f"`docker ps --filter publish={lst.port}` and stop it (docker stop CONTAINER)")
    if way == "keep":
        return f"{lst.unit} is not stopped by the wizard; move or bind mailcow's port instead"
    if way == "init":
        name = (lst.unit or "").removesuffix(".service")
        return (f"systemd is not running here: stop {lst.process or 'the program'} (pid {lst.pid}) with "
                f"its init script: {init_stop_shell(name)}")
    if way == "systemctl":
        return stop_shell(lst.unit)
    if way == "kill":
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
        if any(how_to_stop(lst, systemd) != "systemctl" for lst in lsts):
            unit = None
        hint = "; ".join(dict.fromkeys(_stop_hint(lst, systemd) for lst in lsts))
        on_port = [lst for lst in scan.listeners if lst.port == port]
        free_addr = tuple(a for a in local if not any(addresses_overlap(a, lst.address) for lst in on_port))
        result.append(ConflictChoice(
            variable, port, address, "; ".join(dict.fromkeys(_owner(lst) for lst in lsts)), unit, hint,
            tuple(free_ports_near(host, port, FREE_PORTS_LOOKED_UP, exclude=used)), free_addr, lsts))
    return result


FREE_PORTS_LOOKED_UP = 6
"""Free ports `conflict_choices` finds per conflict: enough that `suggest_free_ports` still has some
after leaving out the ones other answers take."""


def ports_in_use(values: Mapping[str, str]) -> set[int]:
    """The ports mailcow.conf values (or a person's answers) already give to one of mailcow's services."""
    used = set()
    for key, value in values.items():
        if key.endswith("_PORT"):
            try:
                used.add(split_port_spec(value)[1])
            except ValueError:
                continue
    return used


def suggest_free_ports(choice: ConflictChoice, answers: Mapping[str, str] | None = None,
                       count: int = 3) -> list[int]:
    """Ports to move `choice.variable` to (pure): free on the host when the choices were looked up,
    never mailcow's own or nginx-internal ones (see `probes.ports.free_ports_near`, the one policy),
    and not given to another port by `answers` (the mailcow.conf values as they stand)."""
    others = {k: v for k, v in (answers or {}).items() if k != choice.variable}
    taken = ports_in_use(others)
    return [p for p in choice.free_ports if p not in taken][:count]


def stop_commands_for(choice: ConflictChoice) -> tuple[Command, ...]:
    """Stop and disable the conflict's owner; empty when it cannot be stopped so."""
    if choice.unit is None:
        return ()
    return stop_commands(choice.unit, f"it holds port {choice.port}")


def stop_command(choice: ConflictChoice) -> Command | None:
    """The command of `stop_commands_for` that frees the port now (the other keeps it free at boot)."""
    commands = stop_commands_for(choice)
    return commands[0] if commands else None


def publishes_where_held(choice: ConflictChoice, spec: str) -> bool:
    """Whether `spec`, a value of the conflict's port variable, publishes on the very port (and address)
    the other program holds: keeping or typing back that port resolves nothing."""
    try:
        address, port = split_port_spec(spec)
    except ValueError:
        return False  # not a port at all: validation names it
    if choice.variable in BIND_VARIABLES:
        address = choice.address  # HTTP(S) carry a bare port; their address is the bind key's
    return port == choice.port and address == choice.address


def moves_nowhere(choice: ConflictChoice, resolution: Resolution | None) -> bool:
    """A "move" to the port in conflict (e.g. SMTP typed back to 25): no move, the conflict stays open."""
    if resolution is None or resolution.kind != "move" or not resolution.value.strip():
        return False
    return publishes_where_held(choice, port_value(choice.variable, choice.address, resolution.value.strip()))


def resolve(choice: ConflictChoice, resolution: Resolution | None) -> Resolved:
    """What `resolution` does for one conflict (pure). No resolution, a stop without a unit, a move
    or bind without its value, or a move to the port in conflict leaves the conflict open, with the
    reason."""
    var = choice.variable
    bind_var = BIND_VARIABLES.get(var)
    if resolution is None:
        return Resolved(open="no choice made")
    if resolution.kind == "stop":
        commands = stop_commands_for(choice)
        if not commands:
            return Resolved(open=f"cannot be stopped automatically: {choice.stop_hint}")
        return Resolved(commands=commands)
    value = resolution.value.strip()
    if resolution.kind == "move":
        if not value:
            return Resolved(open=f"no free port found near {choice.port}; name one with --set {var}=PORT")
        if moves_nowhere(choice, resolution):
            return Resolved(open=f"not moved: {choice.port} is the port in conflict")
        return Resolved({var: port_value(var, choice.address, value)})
    if resolution.kind == "bind":
        if not value:
            example = f"{bind_var}=ADDRESS" if bind_var else f"{var}=ADDRESS:{choice.port}"
            return Resolved(open=(f"no other local address is known to be free for port {choice.port}; "
                                  f"name one with --set {example}"))
        return Resolved({bind_var: value} if bind_var else {var: join_port_spec(value, choice.port)})
    return Resolved(open=f"unknown choice {resolution.kind!r} (stop, move or bind)")


def unresolved(choices: Iterable[ConflictChoice], resolutions: Mapping[str, Resolution]
               ) -> list[ConflictChoice]:
    """The conflicts `resolutions` (by port variable) leave open: mailcow cannot publish those ports."""
    return [c for c in choices if resolve(c, resolutions.get(c.variable)).open is not None]


def stop_plan(choices: Iterable[ConflictChoice], resolutions: Mapping[str, Resolution]) -> Plan:
    """The chosen "stop" resolutions as one plan: each unit's command once, in the conflicts' order."""
    commands: list[Command] = []
    for c in choices:
        res = resolutions.get(c.variable)
        done = resolve(c, res).commands if res is not None and res.kind == "stop" else ()
        commands.extend(x for x in done if x.argv not in [y.argv for y in commands])
    return Plan("ports", "Stop the services that hold mailcow's ports", tuple(commands))


def _automatic(choice: ConflictChoice, how: str | None, taken: set[int]) -> Resolution | None:
    """`fix ports --choice HOW`: the same choice for every conflict, with the first free port/address."""
    if how == "move":
        free = [p for p in choice.free_ports if p not in taken]
        if free:
            taken.add(free[0])
        return Resolution("move", str(free[0]) if free else "")
    if how == "bind":
        return Resolution("bind", choice.free_addresses[0] if choice.free_addresses else "")
    return Resolution(how) if how is not None else None


def describe_choices(choices: list[ConflictChoice]) -> str:
    """What can be done per conflict, for a person choosing (and for a blocked plan)."""
    lines = []
    for c in choices:
        where = "" if c.address is None else f" on {c.address}"
        lines.append(f"Port {c.port}{where} ({c.variable}) is held by {c.owner}:")
        lines.append(f"  stop: {c.stop_hint}")
        if c.free_ports:
            first = c.free_ports[0]
            value = port_value(c.variable, c.address, first)
            shown = ", ".join(map(str, c.free_ports[:3]))
            lines.append(f"  move: {c.variable}={value} (free now: {shown})")
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
        explicit = {k: v for k, v in sets.items() if k in c.keys}
        if explicit:
            values.update(explicit)
            if set(explicit) == {c.variable} and publishes_where_held(c, explicit[c.variable]):
                open_.append(f"port {c.port} ({c.variable}): not moved: {c.port} is the port in conflict")
            continue
        done = resolve(c, _automatic(c, options.choice, taken))
        values.update(done.values)
        commands.extend(x for x in done.commands if x.argv not in [y.argv for y in commands])
        if done.open:
            open_.append(f"port {c.port} ({c.variable}): {done.open}")
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
        mail = [k for k in values if k in MAIL_PORT_VARIABLES]
        if mail:
            notes.append(f"{', '.join(mail)}: other mail servers and clients expect the standard ports; "
                         "only move these behind something that forwards them.")
    steps.extend(commands)
    return Plan("ports", TITLE, tuple(steps), notes=tuple(notes))
