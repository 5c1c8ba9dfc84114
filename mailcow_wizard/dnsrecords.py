"""The DNS records a mailcow server needs, as zone-file lines: one pure function for every face.

`check --online` lists the lines DNS still lacks (the `dns` finding's `records_to_create`); the wizard's
Network & DNS and Done steps show the same lines. Nothing here reads the host or the network.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

SPF_POLICY = "v=spf1 mx -all"
"""Only the domain's MX hosts send its mail; everything else fails SPF."""

DMARC_POLICY = "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
"""Mail failing SPF and DKIM alignment goes to spam; aggregate reports to the postmaster."""


def mail_domain_of(hostname: str) -> str:
    """The domain a mail host serves by default: its parent (`mail.example.org` -> `example.org`).

    A name of two labels (`example.org`) is its own mail domain: its parent would be a top-level domain.
    """
    name = hostname.strip().rstrip(".").lower()
    labels = name.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else name


def _fqdn(name: str) -> str:
    return name.strip().rstrip(".").lower() + "."


def zone_records(hostname: str, mail_domain: str | None = None, ipv4: Sequence[str] = (),
                 ipv6: Sequence[str] = (), present: Collection[str] = ()) -> list[str]:
    """Zone-file lines for `hostname` serving `mail_domain`, leaving out the kinds in `present`.

    `present` names the kinds DNS already answers correctly, from: a, aaaa, mx, spf, dmarc, autoconfig,
    autodiscover, srv (the order the lines come in). A and AAAA lines are
    written for the given addresses only (none given: none written). PTR records are not zone lines
    of the mail domain: the owner of the address (the provider) sets them.
    """
    host = _fqdn(hostname)
    domain = _fqdn(mail_domain or mail_domain_of(hostname))
    bare_domain = domain.rstrip(".")
    lines: list[str] = []
    if "a" not in present:
        lines += [f"{host} IN A {addr}" for addr in ipv4]
    if "aaaa" not in present:
        lines += [f"{host} IN AAAA {addr}" for addr in ipv6]
    if "mx" not in present:
        lines.append(f"{domain} IN MX 10 {host}")
    if "spf" not in present:
        lines.append(f'{domain} IN TXT "{SPF_POLICY}"')
    if "dmarc" not in present:
        lines.append(f'_dmarc.{domain} IN TXT "{DMARC_POLICY.format(domain=bare_domain)}"')
    if "autoconfig" not in present:
        lines.append(f"autoconfig.{domain} IN CNAME {host}")
    if "autodiscover" not in present:
        lines.append(f"autodiscover.{domain} IN CNAME {host}")
    if "srv" not in present:
        lines.append(f"_autodiscover._tcp.{domain} IN SRV 0 1 443 {host}")
    return lines
