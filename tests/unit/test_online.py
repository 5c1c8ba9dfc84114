"""The network checks' judgement (`dns`, `outbound`, `blocklist`) over canned answers, the zone snippet,
and the promise that `check` without --online sends nothing: no socket to another machine, no dnspython.

The real resolvers, listeners and firewall rules are in tests/system/test_online_netns.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.checks import NOT_RUN, ONLINE_CHECK_IDS, run_all
from mailcow_wizard.checks.online import (
    check_blocklist,
    check_dns,
    check_outbound,
    evaluate_outbound,
    judge_answer,
)
from mailcow_wizard.context import Context, OnlineOptions
from mailcow_wizard.dnsrecords import mail_domain_of, zone_records
from mailcow_wizard.host import Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.online import DBL, ZEN, CannedNet, Lookup, Target, is_public, reverse_name

HOST = "mail.example.org"
V4 = "203.0.113.7"
V6 = "2001:db8:7::25"


def good_records() -> dict[str, object]:
    return {
        f"{HOST} a": [V4], f"{HOST} aaaa": [V6], "example.org mx": [f"10 {HOST}"],
        "example.org txt": ["v=spf1 mx -all"], "_dmarc.example.org txt": ["v=DMARC1; p=quarantine"],
        "autoconfig.example.org cname": [HOST], "autodiscover.example.org cname": [HOST],
        "_autodiscover._tcp.example.org srv": [f"0 1 443 {HOST}"],
        f"{reverse_name(V4)} ptr": [HOST], f"{reverse_name(V6)} ptr": [HOST],
    }


def ctx_with(net: CannedNet, tmp_path: Path, **options: object) -> Context:
    return Context(Host(tmp_path), tmp_path, {"MAILCOW_HOSTNAME": HOST},
                   OnlineOptions(net=net, **options))  # type: ignore[arg-type]


def dns_of(records: dict[str, object], tmp_path: Path, addresses: tuple[str, ...] = (V4, V6, "10.0.0.5"),
           **options: object):
    return check_dns(ctx_with(CannedNet(records, addresses), tmp_path, **options))


def test_dns_all_good(tmp_path: Path) -> None:
    f = dns_of(good_records(), tmp_path)
    assert f.status is Status.PASS, f
    d = f.details
    assert d["a"] == [V4] and d["aaaa"] == [V6] and d["hostname"] == HOST
    assert d["mx"] == {"domain": "example.org", "hosts": [HOST], "points_here": True}
    assert d["ptr"] == {V4: HOST, V6: HOST} and d["fcrdns"] is True
    assert d["records_to_create"] == []
    assert "10.0.0.5" in d["host_addresses"]  # private addresses are the host's, not asked about


def test_dns_no_ptr(tmp_path: Path) -> None:
    records = good_records()
    del records[f"{reverse_name(V4)} ptr"]
    f = dns_of(records, tmp_path)
    assert f.status is Status.FAIL and f.details["ptr"][V4] is None and f.details["fcrdns"] is False
    assert f"{V4} has no PTR record" in f.summary and "reverse DNS" in f.remedy


def test_dns_ptr_to_another_name(tmp_path: Path) -> None:
    records = good_records()
    records[f"{reverse_name(V4)} ptr"] = ["static.7.113.0.203.example.net"]
    records["static.7.113.0.203.example.net a"] = [V4]
    f = dns_of(records, tmp_path)
    assert f.status is Status.WARN and f.details["fcrdns"] is True  # confirmed, but not the mail name
    assert "names static.7.113.0.203.example.net, not mail.example.org" in f.summary
    records["static.7.113.0.203.example.net a"] = ["198.51.100.1"]
    f = dns_of(records, tmp_path)
    assert f.status is Status.FAIL and f.details["fcrdns"] is False
    assert "does not resolve back" in f.summary


def test_dns_mx_elsewhere(tmp_path: Path) -> None:
    records = good_records()
    records["example.org mx"] = ["10 mx.other.example", "20 mx2.other.example"]
    f = dns_of(records, tmp_path)
    assert f.status is Status.FAIL and f.details["mx"]["points_here"] is False
    assert f.details["mx"]["hosts"] == ["mx.other.example", "mx2.other.example"]
    assert "example.org. IN MX 10 mail.example.org." in f.details["records_to_create"]


def test_dns_behind_nat(tmp_path: Path) -> None:
    records = good_records()
    f = dns_of(records, tmp_path, addresses=("192.168.1.20",))
    assert f.status is Status.WARN, f
    assert "only private addresses" in f.summary and "--public-ip" in f.remedy and "port 25" in f.remedy
    assert f.details["ptr"] == {}
    f = dns_of(records, tmp_path, addresses=("192.168.1.20",), public_ip=(V4,))
    assert f.status is Status.PASS, f
    assert f.details["ptr"] == {V4: HOST}


def test_dns_a_points_elsewhere_and_missing_records(tmp_path: Path) -> None:
    records = {f"{HOST} a": ["198.51.100.9"], "example.org mx": [f"10 {HOST}"],
               f"{reverse_name(V4)} ptr": [HOST]}
    f = dns_of(records, tmp_path, addresses=(V4,))
    assert f.status is Status.FAIL and "points at 198.51.100.9, not at this host" in f.summary
    assert f.details["records_to_create"] == [
        f"{HOST}. IN A {V4}",
        'example.org. IN TXT "v=spf1 mx -all"',
        '_dmarc.example.org. IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"',
        "autoconfig.example.org. IN CNAME mail.example.org.",
        "autodiscover.example.org. IN CNAME mail.example.org.",
        "_autodiscover._tcp.example.org. IN SRV 0 1 443 mail.example.org.",
    ]


def test_dns_resolver_down_cannot_decide(tmp_path: Path) -> None:
    records = {f"{HOST} a": "timeout", f"{HOST} aaaa": "timeout", "example.org mx": "timeout"}
    f = dns_of(records, tmp_path)
    assert f.status is Status.SKIP and "Could not ask DNS" in f.summary


def test_dns_mail_domain_option_and_no_hostname(tmp_path: Path) -> None:
    records = good_records()
    records["example.com mx"] = [f"10 {HOST}"]
    f = dns_of(records, tmp_path, mail_domain="example.com")
    assert f.details["mx"]["domain"] == "example.com" and f.details["mx"]["points_here"] is True
    ctx = Context(Host(tmp_path), tmp_path, {}, OnlineOptions(net=CannedNet({}, [V4])))
    assert check_dns(ctx).status is Status.SKIP and "--hostname" in check_dns(ctx).summary


def test_zone_records_all_kinds_and_mail_domain() -> None:
    lines = zone_records("mail.example.org", None, ["203.0.113.7"], ["2001:db8::7"])
    assert lines[:3] == ["mail.example.org. IN A 203.0.113.7", "mail.example.org. IN AAAA 2001:db8::7",
                         "example.org. IN MX 10 mail.example.org."]
    assert len(lines) == 8
    assert zone_records("mail.example.org", present=("a", "aaaa", "mx", "spf", "dmarc", "autoconfig",
                                                     "autodiscover", "srv")) == []
    assert mail_domain_of("Mail.Example.ORG.") == "example.org"
    assert mail_domain_of("example.org") == "example.org"


def target(host: str, port: int, purpose: str, result: str, transport: str = "tcp") -> Target:
    return Target(host, "192.0.2.1", port, purpose, transport, result, 3000 if result == "timeout" else 5)


def all_ok() -> list[Target]:
    return [target("mx.a", 25, "smtp", "ok"), target("mx.b", 25, "smtp", "ok"),
            target("smtp.a", 465, "smtps", "ok"), target("registry", 443, "https", "ok"),
            target("ns", 53, "dns", "ok", "udp"), target("ns", 53, "dns", "ok", "tcp")]


def test_outbound_pass_and_stable_shape() -> None:
    f = evaluate_outbound(all_ok())
    assert f.status is Status.PASS
    assert set(f.details["targets"][0]) >= {"host", "address", "port", "purpose", "result", "ms"}


@pytest.mark.parametrize("result", ["timeout", "refused", "error"])
def test_outbound_port25_blocked_fails_with_provider_remedy(result: str) -> None:
    targets = [t if t.port != 25 else target(t.host, 25, "smtp", result) for t in all_ok()]
    f = evaluate_outbound(targets)
    assert f.status is Status.FAIL and "port 25 is blocked" in f.summary
    assert "lift the block" in f.remedy and "relay host" in f.remedy


def test_outbound_465_rejected_warns_and_dns_down_fails() -> None:
    targets = [t if t.port != 465 else target(t.host, 465, "smtps", "refused") for t in all_ok()]
    f = evaluate_outbound(targets)
    assert f.status is Status.WARN and "port 465" in f.summary
    targets = [t if t.port != 53 else target(t.host, 53, "dns", "timeout", t.transport) for t in all_ok()]
    f = evaluate_outbound(targets)
    assert f.status is Status.FAIL and "port 53" in f.summary


def test_outbound_through_canned_net(tmp_path: Path) -> None:
    records = {"gmail.com mx": ["5 gmail-smtp-in.l.google.com"],
               "gmail-smtp-in.l.google.com a": ["192.0.2.25"],
               "outlook.com mx": ["10 outlook-com.olc.protection.outlook.com"],
               "outlook-com.olc.protection.outlook.com a": ["192.0.2.26"],
               "gmx.de mx": "timeout", "smtp.gmail.com a": ["192.0.2.46"], "mail.gmx.net a": ["192.0.2.47"],
               "registry-1.docker.io a": ["192.0.2.80"], "github.com a": ["192.0.2.81"]}
    net = CannedNet(records, [V4], nameservers=["192.0.2.53"], ports={"192.0.2.25:25": "timeout",
                                                                     "192.0.2.26:25": "refused"})
    f = check_outbound(ctx_with(net, tmp_path))
    by_host = {t["host"]: t for t in f.details["targets"]}
    assert by_host["gmail-smtp-in.l.google.com"]["result"] == "timeout"
    assert by_host["gmail-smtp-in.l.google.com"]["ms"] == 3000
    assert by_host["outlook-com.olc.protection.outlook.com"]["result"] == "refused"
    assert by_host["MX of gmx.de"]["result"] == "unresolved"
    assert [t["transport"] for t in f.details["targets"] if t["purpose"] == "dns"] == ["udp", "tcp"]
    assert f.status is Status.FAIL and "port 25" in f.summary


def test_a_failed_lookup_is_not_asked_again_for_ipv6(tmp_path: Path) -> None:
    """A resolver that does not answer costs one time limit per name, not two (A, then AAAA)."""
    asked: list[tuple[str, str]] = []

    class Counting(CannedNet):
        def lookup(self, name: str, rdtype: str) -> Lookup:
            asked.append((name, rdtype))
            return super().lookup(name, rdtype)

    records = {"github.com a": "timeout", "registry-1.docker.io a": [],
               "registry-1.docker.io aaaa": ["2001:db8::80"]}
    f = check_outbound(ctx_with(Counting(records, [V4]), tmp_path))
    assert ("github.com", "AAAA") not in asked and ("registry-1.docker.io", "AAAA") in asked
    by_host = {t["host"]: t for t in f.details["targets"]}
    assert by_host["github.com"]["result"] == "unresolved" and "timeout" in by_host["github.com"]["reason"]
    assert by_host["registry-1.docker.io"]["address"] == "2001:db8::80"


def test_outbound_without_any_resolver_says_so(tmp_path: Path) -> None:
    f = check_outbound(ctx_with(CannedNet({}, [V4], nameservers=[]), tmp_path))
    assert f.status is Status.FAIL and "no resolver is configured" in f.summary
    assert {t["result"] for t in f.details["targets"]} == {"unresolved"}


def test_system_net_reads_resolv_conf_through_the_host(tmp_path: Path) -> None:
    """The resolvers come from the host's /etc/resolv.conf (here a tree): nothing is sent to list them."""
    from mailcow_wizard.probes.online import SystemNet

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("# comment\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
                                              "search example.org\noptions timeout:5\n")
    assert SystemNet(Host(tmp_path)).nameservers() == ["192.0.2.53", "2001:db8::53"]
    missing = SystemNet(Host(tmp_path / "nowhere"))
    assert missing.nameservers() == []
    lk = missing.lookup(HOST, "A")
    assert lk.error == "no-resolver" and "does not exist" in lk.reason


@pytest.mark.parametrize(("zone", "answers", "error", "result"), [
    (ZEN, (), "nxdomain", "clean"),
    (ZEN, ("127.0.0.2",), None, "listed"),
    (ZEN, ("127.0.0.11",), None, "listed"),
    (ZEN, ("127.255.255.254",), None, "refused"),
    (ZEN, ("127.255.255.252",), None, "refused"),
    (DBL, ("127.0.1.2",), None, "listed"),
    (DBL, ("127.0.1.255",), None, "refused"),
    (ZEN, (), "timeout", "error"),
    (ZEN, ("10.1.2.3",), None, "error"),
])
def test_blocklist_answers(zone: str, answers: tuple[str, ...], error: str | None, result: str) -> None:
    got, meaning, _ = judge_answer(zone, Lookup("q", "A", answers, error))
    assert got == result
    if result in ("refused", "error"):
        assert meaning.startswith("cannot tell")


def test_blocklist_check(tmp_path: Path) -> None:
    zen = f"{reverse_name(V4, ZEN)} a"
    net = CannedNet({zen: ["127.255.255.254"]}, [V4, "10.0.0.5"])
    f = check_blocklist(ctx_with(net, tmp_path))
    assert f.status is Status.WARN, f  # the name is clean on DBL, the address cannot be told
    assert [q["subject"] for q in f.details["queries"]] == [V4, HOST]
    net = CannedNet({zen: ["127.0.0.4"]}, [V4])
    f = check_blocklist(ctx_with(net, tmp_path))
    assert f.status is Status.FAIL and "XBL" in f.summary
    net = CannedNet({zen: ["127.255.255.254"], f"{HOST}.{DBL} a": ["127.0.1.255"]}, [V4])
    assert check_blocklist(ctx_with(net, tmp_path)).status is Status.SKIP


def test_reverse_names() -> None:
    assert reverse_name("203.0.113.7") == "7.113.0.203.in-addr.arpa"
    assert reverse_name("203.0.113.7", ZEN) == "7.113.0.203.zen.spamhaus.org"
    assert reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")
    assert reverse_name("2001:db8::1").startswith("1.0.0.0.")
    assert is_public("203.0.113.7") and not is_public("10.1.1.1") and not is_public("100.64.0.1")
    assert not is_public("fd00::1") and not is_public("fe80::1") and is_public("2001:db8::1")


def test_not_run_without_online(tmp_path: Path) -> None:
    ctx = Context(Host(tmp_path), tmp_path, {"MAILCOW_HOSTNAME": HOST})
    findings = run_all(ctx, ONLINE_CHECK_IDS)
    assert [(f.id, f.status, f.summary) for f in findings] == \
        [(i, Status.SKIP, NOT_RUN) for i in ONLINE_CHECK_IDS]


def test_online_under_root_is_not_run(tmp_path: Path) -> None:
    ctx = Context(Host(tmp_path), tmp_path, {"MAILCOW_HOSTNAME": HOST}, OnlineOptions())
    assert check_dns(ctx).status is Status.SKIP and "--root" in check_dns(ctx).summary


AUDIT = r"""
import contextlib, io, json, socket, sys
seen = []
def hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                 "socket.gethostbyname", "socket.gethostbyaddr"):
        seen.append([event, repr(args[1] if event.startswith("socket.s") or event == "socket.connect"
                                 else args[0])])
sys.addaudithook(hook)
from mailcow_wizard.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "events": seen, "dns": sorted(m for m in sys.modules if m.split(".")[0] == "dns"
                                                           or m.endswith(".online")),
                  "checks": [c["id"] for c in json.loads(buf.getvalue())["checks"]]}))
"""


@pytest.mark.parametrize("argv", [["check", "--json"], ["check", "--json", "--hostname", HOST]])
def test_check_without_online_contacts_nothing(tmp_path: Path, argv: list[str]) -> None:
    """Every socket the program connects or sends on, and every name lookup, is seen by an audit hook:
    without --online there are none to other machines (netlink and unix sockets are the host's own)."""
    proc = subprocess.run([sys.executable, "-c", AUDIT, *argv], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(ONLINE_CHECK_IDS) <= set(result["checks"])
    outside = [e for e in result["events"] if not (e[1].startswith("'/") or e[1].startswith("(0,")
                                                   or "127.0.0.1" in e[1] or "'::1'" in e[1])]
    assert outside == [], outside
    assert result["dns"] == []  # neither dnspython nor the network checks' modules are loaded
