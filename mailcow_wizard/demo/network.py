"""The demo host's network, canned: what the Network & DNS step shows in `--demo`, contacting nothing.

The story matches the demo host (a fresh Hetzner Cloud VM, mx1.example.org at 203.0.113.10 and
2001:db8:1234:5678::1): the A, AAAA and MX records are in place, the reverse DNS still carries the
provider's default name, and outgoing port 25 is blocked as on a new cloud account; nothing is listed.
"""

from __future__ import annotations

from mailcow_wizard.probes.online import CannedNet, reverse_name

HOST = "mx1.example.org"
V4 = "203.0.113.10"
V6 = "2001:db8:1234:5678::1"
PROVIDER_PTR = "static.10.113.0.203.clients.your-server.de"
NAMESERVERS = ("185.12.64.1", "185.12.64.2")


def demo_net() -> CannedNet:
    """A fresh canned network for one demo session."""
    records: dict[str, list[str] | str] = {
        f"{HOST} a": [V4], f"{HOST} aaaa": [V6],
        "example.org mx": [f"10 {HOST}"],
        "example.org txt": ["v=spf1 mx -all"],
        f"{reverse_name(V4)} ptr": [PROVIDER_PTR], f"{PROVIDER_PTR} a": [V4],
        f"{reverse_name(V6)} ptr": [HOST],
        "gmail.com mx": ["5 gmail-smtp-in.l.google.com"], "gmail-smtp-in.l.google.com a": ["192.0.2.25"],
        "outlook.com mx": ["10 outlook-com.olc.protection.outlook.com"],
        "outlook-com.olc.protection.outlook.com a": ["192.0.2.26"],
        "gmx.de mx": ["10 mx00.gmx.net"], "mx00.gmx.net a": ["192.0.2.27"],
        "smtp.gmail.com a": ["192.0.2.46"], "mail.gmx.net a": ["192.0.2.47"],
        "registry-1.docker.io a": ["192.0.2.80"], "github.com a": ["192.0.2.81"],
    }
    ports = {f"192.0.2.{n}:25": "timeout" for n in (25, 26, 27)}
    return CannedNet(records, [V4, V6, "172.17.0.1"], NAMESERVERS, ports, ms=18)
