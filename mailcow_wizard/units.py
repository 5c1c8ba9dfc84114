"""How the wizard stops a systemd service and keeps it from starting again: one rule for every layer.

`systemctl disable --now UNIT` is not enough. For a unit systemd generates from a SysV init script
(Debian 12's exim4 has only /etc/init.d/exim4), systemctl hands the disabling to update-rc.d, drops
the unit from its list and then stops nothing: it returns 0 while the daemon keeps its port. So the two
halves are two commands, in this order: `systemctl stop UNIT` stops it through the unit, whatever made
the unit, and `systemctl disable UNIT` keeps it off at boot (for a SysV script by running update-rc.d).
The fix's check, run again afterwards, shows whether the listener is really gone.

Without systemd (a container, an old init) the same two halves are the init script's `stop` and
update-rc.d's `disable`; the wizard runs neither itself there, the checks and fixes name them.
"""

from __future__ import annotations

import shlex


def stop_argvs(unit: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Stop `unit` now, then keep it from starting at boot."""
    return ("systemctl", "stop", unit), ("systemctl", "disable", unit)


def stop_shell(unit: str) -> str:
    """The same as one line a person can run."""
    return " && ".join(shlex.join(argv) for argv in stop_argvs(unit))


def init_stop_shell(name: str) -> str:
    """Without systemd: stop the init script's service now, then keep it from starting at boot."""
    return f"service {shlex.quote(name)} stop && update-rc.d {shlex.quote(name)} disable"
