"""Where to look: the host, the mailcow checkout, and what an existing mailcow.conf already says.

A face builds the Context from its options (`commands.options.make_context`); checks and fixes only read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host, read_regular_file

DEFAULT_MAILCOW_DIR = Path("/opt/mailcow-dockerized")


def looks_like_mailcow(path: Path) -> bool:
    """A mailcow-dockerized checkout has a docker-compose.yml that names mailcow's services."""
    head = read_regular_file(path / "docker-compose.yml", 256 * 1024)
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
