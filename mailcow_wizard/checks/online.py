"""Checks `dns`, `outbound` and `blocklist`: what the rest of the internet sees of this mail server.

They contact other machines, so they run only when the person allowed it (`check --online`, naming
them with `--only`, or the wizard's Network & DNS step); otherwise the registry reports `skip` without
importing this module (`mailcow_wizard.checks.NOT_RUN`). The probes (mailcow_wizard.probes.online)
gather the answers; the `evaluate_*` functions here are pure.
"""

from __future__ import annotations

from typing import Any

from mailcow_wizard.checks import NOT_RUN
from mailcow_wizard.context import Context, OnlineOptions
from mailcow_wizard.dnsrecords import mail_domain_of, zone_records
from mailcow_wizard.model import Finding, Status, counted
from mailcow_wizard.probes.online import (
    DBL,
    ZEN,
    DnsFacts,
    ListQuery,
    Lookup,
    Net,
    Target,
    is_public,
    probe_blocklist,
    probe_dns,
    probe_outbound,
    ptr_subjects,
)


def _gate(ctx: Context, check_id: str) -> tuple[OnlineOptions, Net] | Finding:
    """The options and the network to ask, or the `skip` that says why this check did not run."""
    online = ctx.online
    if online is None:  # the registry answers this before importing us; a direct call gets the same
        return Finding(check_id, Status.SKIP, NOT_RUN, {"online": False})
    if online.net is not None:
        return online, online.net
    if not ctx.host.live:
        return Finding(check_id, Status.SKIP, "not run: --root names another machine's files, and this "
                       "machine's network says nothing about that one", {"online": False})
    from mailcow_wizard.probes.online import SystemNet

    return online, SystemNet(ctx.host)


def hostname_of(ctx: Context) -> str | None:
    """--hostname, else MAILCOW_HOSTNAME of the checkout's mailcow.conf."""
    given = ctx.online.hostname if ctx.online else None
    name = (given or ctx.conf.get("MAILCOW_HOSTNAME") or "").strip().rstrip(".").lower()
    return name or None


def _lookup_problem(lk: Lookup) -> str:
    return f"{lk.name} {lk.rdtype}: {lk.error}" + (f" ({lk.reason})" if lk.reason else "")


def contacts(nameservers: list[str], hostname: str | None, mail_domain: str | None = None) -> list[str]:
    """Exactly what the three checks contact, one line each, for a consent screen (pure)."""
    from mailcow_wizard.probes.online import HTTPS_HOSTS, SMTP_PROVIDERS, SMTPS_HOSTS

    servers = ", ".join(nameservers) or "none configured"
    host = hostname or "the mail host name"
    domain = mail_domain or (mail_domain_of(hostname) if hostname else "its domain")
    return [
        f"DNS resolvers of /etc/resolv.conf ({servers}): asked for {host} (A, AAAA), {domain} (MX, SPF, "
        "DMARC, autoconfig, autodiscover, SRV), the PTR of this host's public addresses, and Spamhaus",
        f"TCP 25 to the mail servers (MX) of {', '.join(SMTP_PROVIDERS)}",
        f"TCP 465 to {', '.join(SMTPS_HOSTS)}",
        f"TCP 443 to {', '.join(HTTPS_HOSTS)} (Docker Hub, GitHub)",
        f"DNS on port 53, UDP and TCP, to {servers}",
        f"Spamhaus ZEN (this host's public addresses) and DBL ({host}), through the same resolvers",
    ]


# -- dns ---------------------------------------------------------------------------------------------

def _mx_hosts(lk: Lookup) -> list[str]:
    pairs = []
    for answer in lk.answers:
        pref, _, host = answer.partition(" ")
        pairs.append((int(pref) if pref.isdigit() else 0, host))
    return [h for _, h in sorted(pairs)]


def _ptr_name(lk: Lookup) -> str | None:
    return lk.answers[0] if lk.answers else None


def evaluate_dns(facts: DnsFacts) -> Finding:
    """Judge the A/AAAA, MX and PTR records and list the records still to create (pure)."""
    host, domain = facts.hostname, facts.mail_domain
    mx_hosts = _mx_hosts(facts.mx)
    ptr = {addr: _ptr_name(lk) for addr, lk in facts.ptr.items()}
    subjects = ptr_subjects(facts.host_addresses, facts.public_ip)
    fcrdns = bool(subjects) and all(
        name is not None and addr in facts.forward.get(name, ()) for addr, name in ptr.items())
    expected4 = [a for a in subjects if ":" not in a]
    expected6 = [a for a in subjects if ":" in a]
    private_only = not subjects
    present = set()
    if expected4 and set(expected4) & set(facts.a.answers) or (private_only and facts.a.answers):
        present.add("a")
    if not expected6 or set(expected6) & set(facts.aaaa.answers):
        present.add("aaaa")
    if host in mx_hosts:
        present.add("mx")
    if any(t.lower().startswith("v=spf1") for t in facts.spf.answers):
        present.add("spf")
    if any(t.lower().startswith("v=dmarc1") for t in facts.dmarc.answers):
        present.add("dmarc")
    for kind, lk in (("autoconfig", facts.autoconfig), ("autodiscover", facts.autodiscover)):
        if lk.answers:  # one there already is the owner's choice; a wrong target is said below
            present.add(kind)
    if any(ans.split()[-1] == host for ans in facts.srv.answers):
        present.add("srv")
    records = zone_records(host, domain, expected4 or ([] if facts.a.answers else ["<public IPv4>"]),
                           expected6, present)
    details: dict[str, Any] = {
        "hostname": host,
        "a": list(facts.a.answers),
        "aaaa": list(facts.aaaa.answers),
        "host_addresses": list(facts.host_addresses),
        "public_ip": list(facts.public_ip),
        "mx": {"domain": domain, "hosts": mx_hosts, "points_here": host in mx_hosts},
        "ptr": ptr,
        "fcrdns": fcrdns,
        "records_to_create": records,
        "lookup_errors": [_lookup_problem(lk) for lk in (facts.a, facts.aaaa, facts.mx, *facts.ptr.values())
                          if not lk.answered],
    }

    # The resolver gave no verdict at all: nothing can be judged.
    if not any(lk.answered for lk in (facts.a, facts.aaaa, facts.mx)):
        why = _lookup_problem(facts.a)
        return Finding("dns", Status.SKIP, f"Could not ask DNS: {why}", details,
                       "The host's resolvers (/etc/resolv.conf) did not answer. Check that they are "
                       "reachable (`outbound` tries port 53), then run this check again.")

    fails: list[str] = []
    warns: list[str] = []
    steps: list[str] = []
    if not facts.a.answers and not facts.aaaa.answers:
        fails.append(f"{host} has no A or AAAA record")
        steps.append(f"Create the address records of {host} at your DNS provider (below).")
    elif expected4 and "a" not in present and facts.a.answers:
        fails.append(f"{host} points at {', '.join(facts.a.answers)}, not at this host "
                     f"({', '.join(expected4)})")
        steps.append(f"Change the A record of {host} to {', '.join(expected4)}.")
    elif expected4 and not facts.a.answers:
        fails.append(f"{host} has no A record for {', '.join(expected4)}")
        steps.append(f"Create the A record of {host} (below).")
    if expected6 and "aaaa" not in present:
        if facts.aaaa.answers:
            fails.append(f"{host}'s AAAA names {', '.join(facts.aaaa.answers)}, not this host "
                         f"({', '.join(expected6)})")
        else:
            warns.append(f"{host} has no AAAA record for this host's IPv6 address {', '.join(expected6)}")
        steps.append(f"Set the AAAA record of {host} to {', '.join(expected6)} (or remove the IPv6 address "
                     "from mailcow's view).")
    if not mx_hosts:
        fails.append(f"{domain} has no MX record")
        steps.append(f"Create the MX record of {domain} pointing at {host}.")
    elif host not in mx_hosts:
        fails.append(f"the MX of {domain} points at {', '.join(mx_hosts)}, not at {host}")
        steps.append(f"Change the MX record of {domain} to {host} (mail for {domain} goes to "
                     f"{mx_hosts[0]} today).")
    if private_only:
        warns.append("this host has only private addresses (behind NAT)")
        steps.append("Mail from the internet reaches this host only if the router forwards TCP port 25 "
                     "(and 465, 587, 993, 443) to it, and the DNS records must carry the router's public "
                     "address: run again with --public-ip ADDR to check them against it.")
    for addr, name in ptr.items():
        if name is None:
            fails.append(f"{addr} has no PTR record")
            steps.append(f"Ask the owner of {addr} (your hosting provider; often a field named \"reverse "
                         f"DNS\" in its panel) to set its PTR to {host}.")
        elif addr not in facts.forward.get(name, ()):
            fails.append(f"the PTR of {addr} names {name}, which does not resolve back to {addr}")
            steps.append(f"Set the PTR of {addr} to {host} at your hosting provider.")
        elif name != host:
            warns.append(f"the PTR of {addr} names {name}, not {host}")
            steps.append(f"Set the PTR of {addr} to {host}: many receivers compare it with the name the "
                         "server greets them with.")
    for kind, lk in (("autoconfig", facts.autoconfig), ("autodiscover", facts.autodiscover)):
        if lk.answers and lk.answers[0] != host:
            warns.append(f"{kind}.{domain} is an alias of {lk.answers[0]}, not {host}")
    missing = [k for k in ("spf", "dmarc", "autoconfig", "autodiscover", "srv") if k not in present]
    if missing and not fails:
        warns.append(f"{counted(len(missing), 'recommended record')} missing ({', '.join(missing)})")
    if records:
        steps.append(f"Records to create in the zone of {domain}:\n" + "\n".join(f"  {r}" for r in records))
    remedy = "\n".join(steps)
    if fails:
        return Finding("dns", Status.FAIL, "; ".join(fails), details, remedy)
    if warns:
        return Finding("dns", Status.WARN, "; ".join(warns), details, remedy)
    names = ", ".join(facts.a.answers + facts.aaaa.answers)
    return Finding("dns", Status.PASS, f"{host} is {names}, the MX of {domain} points at it, and reverse "
                   "DNS matches", details)


def check_dns(ctx: Context) -> Finding:
    """A/AAAA, MX, PTR and the recommended records of the mail host's name."""
    gate = _gate(ctx, "dns")
    if isinstance(gate, Finding):
        return gate
    online, net = gate
    host = hostname_of(ctx)
    if host is None:
        return Finding("dns", Status.SKIP, "No host name to look up: give --hostname or set MAILCOW_HOSTNAME "
                       "in mailcow.conf", {"hostname": None})
    domain = (online.mail_domain or "").strip().rstrip(".").lower() or mail_domain_of(host)
    return evaluate_dns(probe_dns(net, host, domain, online.public_ip))


# -- outbound ----------------------------------------------------------------------------------------

PORT25_REMEDY = (
    "Outgoing connections to port 25 do not get through: most likely your hosting provider blocks them, as "
    "many do on new accounts to stop spam. mailcow cannot deliver any mail to other servers this way.\n"
    "- Ask the provider to lift the block (many do on request, often after a first invoice or with a "
    "short description of your mail server), or\n"
    "- send through a relay host (a smarthost on port 587 or 465, from your provider or a mail service): "
    "mailcow's admin interface has it under the Postfix relay host settings."
)


def _target_dict(t: Target) -> dict[str, Any]:
    return {"host": t.host, "address": t.address, "port": t.port, "purpose": t.purpose,
            "transport": t.transport, "result": t.result, "ms": t.ms, "reason": t.reason, "via": t.via}


def _describe(ts: list[Target]) -> str:
    return ", ".join(f"{t.host}:{t.port}{'/' + t.transport if t.purpose == 'dns' else ''} {t.result}"
                     for t in ts)


def evaluate_outbound(targets: list[Target]) -> Finding:
    """Port 25 blocked fails; no DNS or no HTTPS fails; partial trouble warns (pure)."""
    details = {"targets": [_target_dict(t) for t in targets]}
    by: dict[str, list[Target]] = {}
    for t in targets:
        by.setdefault(t.purpose, []).append(t)

    def state(purpose: str) -> str:
        ts = by.get(purpose, [])
        if not ts:
            return "none"
        if any(t.result == "ok" for t in ts):
            return "all" if all(t.result == "ok" for t in ts) else "some"
        tried = [t for t in ts if t.result != "unresolved"]
        return "blocked" if tried else "unresolved"

    fails: list[str] = []
    warns: list[str] = []
    remedies: list[str] = []
    smtp, smtps, https, dns = state("smtp"), state("smtps"), state("https"), state("dns")
    if smtp == "blocked":
        fails.append(f"port 25 is blocked on the way out ({_describe(by['smtp'])})")
        remedies.append(PORT25_REMEDY)
    elif smtp == "unresolved":
        warns.append("port 25 could not be tried: the providers' mail servers did not resolve")
    if dns == "unresolved":
        fails.append("no resolver is configured (no nameserver line in /etc/resolv.conf)")
        remedies.append("The host needs a resolver to find anything by name: add the provider's nameservers "
                        "to /etc/resolv.conf (or to the network configuration that writes it).")
    if dns == "blocked":
        fails.append(f"the resolvers do not answer on port 53 ({_describe(by['dns'])})")
        remedies.append("mailcow runs its own resolver (unbound), which needs port 53 (UDP and TCP) to any "
                        "host, and the host itself needs a working resolver. Allow outgoing port 53 in the "
                        "firewall, or fix the nameserver lines of /etc/resolv.conf.")
    if https in ("blocked", "unresolved"):
        fails.append(f"HTTPS to Docker Hub and GitHub does not work ({_describe(by['https'])})")
        remedies.append("mailcow's images come from Docker Hub and its code and updates from GitHub, both "
                        "over TCP port 443. Allow outgoing HTTPS (or configure Docker's proxy).")
    if smtps in ("blocked",):
        warns.append(f"port 465 is blocked on the way out ({_describe(by['smtps'])})")
        remedies.append("Port 465 matters only for a relay host reached with implicit TLS; use one on port "
                        "587 instead, or ask the provider to open 465.")
    for purpose, label in (("smtp", "port 25"), ("smtps", "port 465"), ("https", "HTTPS"), ("dns", "DNS")):
        if state(purpose) == "some":
            bad = [t for t in by[purpose] if t.result != "ok"]
            warns.append(f"{label}: {_describe(bad)}")
    if fails:
        return Finding("outbound", Status.FAIL, "; ".join(fails), details, "\n\n".join(remedies))
    if warns:
        return Finding("outbound", Status.WARN, "; ".join(warns), details, "\n\n".join(remedies))
    slowest = max((t.ms for t in targets), default=0)
    return Finding("outbound", Status.PASS, f"Ports 25, 465, 443 and 53 reach out ({len(targets)} targets, "
                   f"slowest {slowest} ms)", details)


def check_outbound(ctx: Context) -> Finding:
    """TCP 25/465/443 and DNS on 53 from this host, side by side, each with a short time limit."""
    gate = _gate(ctx, "outbound")
    if isinstance(gate, Finding):
        return gate
    return evaluate_outbound(probe_outbound(gate[1]))


# -- blocklist ---------------------------------------------------------------------------------------

ZEN_CODES = {2: "SBL (spam source)", 3: "CSS (spam source)", 4: "XBL (exploited or infected host)",
             5: "XBL (exploited or infected host)", 6: "XBL (exploited or infected host)",
             7: "XBL (exploited or infected host)", 9: "SBL DROP (hijacked network)",
             10: "PBL (end-user range, provider)", 11: "PBL (end-user range, Spamhaus)"}
DBL_CODES = {2: "spam domain", 4: "phishing domain", 5: "malware domain", 6: "botnet C&C domain",
             102: "abused legit spam", 103: "abused spammed redirector", 104: "abused legit phish",
             105: "abused legit malware", 106: "abused legit botnet C&C"}


def judge_answer(zone: str, lk: Lookup) -> tuple[str, str, str]:
    """(result, meaning, reason) of one blocklist answer: `clean`, `listed`, `refused` or `error`.

    127.255.255.x (and DBL's 127.0.1.255) are Spamhaus refusing to answer, typically because the query
    came through a large public resolver: that says nothing about the address, so it is never `listed`.
    """
    if lk.error in ("nxdomain", "nodata"):
        return "clean", "not listed", ""
    if lk.error is not None:
        return "error", f"cannot tell ({lk.error})", lk.reason
    codes = []
    for answer in lk.answers:
        parts = answer.split(".")
        if answer.startswith("127.255.255.") or (zone == DBL and answer == "127.0.1.255"):
            return "refused", "cannot tell (query refused)", (
                f"the answer {answer} is Spamhaus refusing the query (it does not answer queries that "
                "come through large public resolvers)")
        if len(parts) == 4 and parts[0] == "127" and parts[3].isdigit():
            codes.append(int(parts[3]))
    if not codes:
        return "error", "cannot tell (unexpected answer)", ", ".join(lk.answers)
    table = ZEN_CODES if zone == ZEN else DBL_CODES
    return "listed", ", ".join(sorted({table.get(c, f"code {c}") for c in codes})), ""


def evaluate_blocklist(queries: list[ListQuery]) -> Finding:
    """Listed fails; answers that cannot tell (refused, errors) never count as listed (pure)."""
    rows = []
    for q in queries:
        result, meaning, reason = judge_answer(q.zone, q.lookup)
        rows.append({"list": "ZEN" if q.zone == ZEN else "DBL", "subject": q.subject,
                     "query": q.lookup.name, "answer": list(q.lookup.answers), "result": result,
                     "meaning": meaning, "reason": reason})
    details: dict[str, Any] = {"queries": rows}
    if not rows:
        return Finding("blocklist", Status.SKIP, "Nothing to look up: no public address and no host name "
                       "(use --public-ip and --hostname)", details)
    listed = [r for r in rows if r["result"] == "listed"]
    unknown = [r for r in rows if r["result"] in ("refused", "error")]
    clean = [r["subject"] for r in rows if r["result"] == "clean"]
    if listed:
        what = "; ".join(f"{r['subject']} on {r['list']} ({r['meaning']})" for r in listed)
        remedy = ("Receivers that use Spamhaus reject mail from a listed address or name. Look each one up "
                  "at https://check.spamhaus.org/ to see why and how to request removal; for a PBL entry "
                  "the address's owner (your provider) has to mark it as a mail server's.")
        return Finding("blocklist", Status.FAIL, f"Listed: {what}", details, remedy)
    advice = ("Ask through a resolver of your own or your provider's rather than a large public one "
              "(the nameserver lines of /etc/resolv.conf), then run this check again.")
    if unknown and not clean:
        first = unknown[0]
        return Finding("blocklist", Status.SKIP, f"Cannot tell: {first['reason'] or first['meaning']}",
                       details, advice)
    if unknown:
        return Finding("blocklist", Status.WARN, f"Not listed: {', '.join(clean)}; cannot tell for "
                       f"{', '.join(r['subject'] for r in unknown)}", details, advice)
    return Finding("blocklist", Status.PASS, f"Not listed on Spamhaus ZEN/DBL: {', '.join(clean)}", details)


def check_blocklist(ctx: Context) -> Finding:
    """The host's public addresses on Spamhaus ZEN, its name on DBL."""
    gate = _gate(ctx, "blocklist")
    if isinstance(gate, Finding):
        return gate
    online, net = gate
    return evaluate_blocklist(probe_blocklist(net, hostname_of(ctx), online.public_ip))


__all__ = ["NOT_RUN", "check_blocklist", "check_dns", "check_outbound", "evaluate_blocklist", "evaluate_dns",
           "evaluate_outbound", "is_public", "judge_answer"]
