"""Where to look: the host, the mailcow checkout, and what an existing mailcow.conf already says."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mailcow_wizard.errors import UsageError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host

DEFAULT_MAILCOW_DIR = Path("/opt/mailcow-dockerized")


def _read_regular(path: Path, limit: int) -> bytes | None:
    """A regular file's first bytes; None for anything else (a FIFO would block, a device never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def looks_like_mailcow(path: Path) -> bool:
    """A mailcow-dockerized checkout has a docker-compose.yml that names mailcow's services."""
    head = _read_regular(path / "docker-compose.yml", 256 * 1024)
    return head is not None and b"mailcow" in head


def default_mailcow_dir(cwd: Path | None = None, root: str | None = None) -> Path:
    """The current directory when it is a mailcow checkout, else /opt/mailcow-dockerized.

    Under --root the default lies below the root too, so that a fixture or image tree is never mixed
    with the running system's checkout; an explicit --mailcow-dir is always taken as given.
    """
    if root is not None:
        return Path(root).absolute() / str(DEFAULT_MAILCOW_DIR).lstrip("/")
    here = cwd or Path.cwd()
    return here if looks_like_mailcow(here) else DEFAULT_MAILCOW_DIR


@record(frozen=True)
class OnlineOptions:
    """The person allowed the checks that contact the network (`check --online`, the wizard's consent),
    and what they said about the mail host."""

    hostname: str | None = None
    """The mail server's name (`--hostname`); None: MAILCOW_HOSTNAME of the checkout's mailcow.conf."""
    public_ip: tuple[str, ...] = ()
    """Addresses the internet sees this host by when it sits behind NAT (`--public-ip`)."""
    mail_domain: str | None = None
    """The domain whose MX should name the host (`--mail-domain`); None: the host name's parent."""
    net: Any = None
    """The network to ask (`mailcow_wizard.probes.online.Net`); None: this host's real one."""


@record
class Context:
    """Everything a check needs to know besides the host's own facts."""

    host: Host
    mailcow_dir: Path
    conf: dict[str, str] = field(default_factory=dict)
    """Values of an existing mailcow.conf (empty when there is none)."""
    online: OnlineOptions | None = None
    """Set only when the person allowed contacting the network; the online checks skip without it."""

    @property
    def conf_path(self) -> Path:
        return self.mailcow_dir / "mailcow.conf"


def read_existing_conf(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of an existing mailcow.conf, read without executing anything.

    Values are what Docker Compose and python-dotenv read (quotes, inline comments, last one wins),
    from the conf engine's loss-free parser.
    """
    data = _read_regular(path, 4 * 1024 * 1024)
    if data is None:
        return {}
    from mailcow_wizard.conf import parse_conf_values

    return parse_conf_values(data)


def make_context(root: str | None = None, mailcow_dir: str | None = None) -> Context:
    """Build a Context from command-line options, with errors a person can act on."""
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
        md = md.absolute()
    else:
        md = default_mailcow_dir(root=root)
    return Context(host=host, mailcow_dir=md, conf=read_existing_conf(md / "mailcow.conf"))
