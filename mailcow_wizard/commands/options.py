"""What the commands share about their options: `--root` and `--mailcow-dir` turned into a Context,
and `--set KEY=VALUE` turned into values. Each rule is here once, so every command says the same."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from mailcow_wizard.context import Context, default_mailcow_dir
from mailcow_wizard.errors import UsageError
from mailcow_wizard.host import Host

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_sets(items: Iterable[str]) -> dict[str, str]:
    """`--set KEY=VALUE` options as values; the value is kept as given, for the conf engine to judge.
    UsageError names an option that is not KEY=VALUE, or a key given twice with different values."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. SMTP_PORT=2525")
        if not _NAME.fullmatch(key):
            raise UsageError(f"--set {item!r}: {key!r} is not a variable name (letters, digits, _)")
        if key in out and out[key] != value:
            both = ("(values hidden)" if is_secret_name(key) else f"{out[key]!r} and {value!r}")
            raise UsageError(f"--set {key} is given twice with different values: {both}; give it once")
        out[key] = value
    return out


def is_secret_name(key: str) -> bool:
    """Whether a key's value may be a password or token (then no message shows it)."""
    return re.search(r"PASS|SECRET|KEY|TOKEN|DBROOT|AUTH", key.upper()) is not None


def make_context(root: str | None = None, mailcow_dir: str | None = None, *,
                 must_exist: bool = False) -> Context:
    """A Context from `--root` and `--mailcow-dir`, with errors a person can act on.

    Without `--mailcow-dir` the checkout is the current directory when it is one, else
    /opt/mailcow-dockerized (below the root under `--root`). `must_exist`: the checkout must be there
    (`generate` writes into it; `check` and `fix` also work without one).
    """
    from mailcow_wizard.conf import read_existing_conf

    if root is not None:
        rp = Path(root)
        if not rp.exists():
            raise UsageError(f"--root {root}: no such directory")
        if not rp.is_dir():
            raise UsageError(f"--root {root}: not a directory")
        if not os.access(rp, os.R_OK | os.X_OK):
            raise UsageError(f"--root {root}: not readable")
        host = Host(rp)
    else:
        host = Host()
    if mailcow_dir is not None:
        md = Path(mailcow_dir).expanduser()
        if md.exists() and not md.is_dir():
            raise UsageError(f"--mailcow-dir {mailcow_dir}: not a directory")
        if must_exist and not md.exists():
            raise UsageError(f"--mailcow-dir {mailcow_dir}: no such directory")
        md = md.absolute()
    else:
        md = default_mailcow_dir(root=root)
        if must_exist and not md.is_dir():
            raise UsageError(f"{md} does not exist; pass --mailcow-dir with your mailcow-dockerized checkout")
    return Context(host=host, mailcow_dir=md, conf=read_existing_conf(md / "mailcow.conf"))
