"""The network checks against a small internet built in network namespaces: real DNS, real listeners,
real firewall rules, and `mailcow-wizard check --online` run inside as a user would run it.

Two namespaces joined by one veth pair and linked to nothing else: `mailhost` (203.0.113.7 and
2001:db8:7::7, or 192.168.77.7 when it sits behind NAT) and `internet`, which holds on its loopback the
addresses of every server the checks contact (198.51.100.0/24): nsd (Debian's authoritative server) with
zone files written here for the mail domain, its reverse zones, the providers' domains and Spamhaus-style
lists, and one process listening on TCP 25, 465 and 443. The mail host's resolver is nsd, through
/etc/netns/NAME/resolv.conf. nftables rules on the internet side drop (timeout) or reject (refused)
what the mail host sends, as a provider's filter does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import (
    ETC_NETNS,
    Daemons,
    NetnsFactory,
    check_json,
    need_program,
    read_pidfile,
    wait_for,
)
from tests.system.test_pyz import PYZ, interpreter, oldest_and_newest, pyz_env

pytestmark = pytest.mark.system

HOST = "mail.example.org"
V4, V6, NAT_V4 = "203.0.113.7", "2001:db8:7::7", "192.168.77.7"
DNS_SERVER = "198.51.100.53"
SERVERS = {"gmail-smtp-in.l.google.com": "198.51.100.25",
           "outlook-com.olc.protection.outlook.com": "198.51.100.26", "mx00.gmx.net": "198.51.100.27",
           "smtp.gmail.com": "198.51.100.46", "mail.gmx.net": "198.51.100.47",
           "registry-1.docker.io": "198.51.100.80", "github.com": "198.51.100.81"}
TIMINGS: dict[str, float] = {}

LISTENER = r"""
import os, selectors, socket, sys
sel = selectors.DefaultSelector()
for port in (25, 465, 443):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open(sys.argv[1], "w").write(str(os.getpid()))
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        conn.close()
"""


def zone(origin: str, *records: str) -> str:
    head = [f"$ORIGIN {origin}.", "$TTL 60",
            "@ IN SOA ns.test. hostmaster.test. 1 60 60 600 60", "@ IN NS ns.test."]
    return "\n".join([*head, *records, ""])


def reverse6(address: str) -> str:
    import ipaddress

    return ".".join(reversed(ipaddress.ip_address(address).exploded.replace(":", "")))


def zones(scenario: str) -> dict[str, str]:
    """Zone name -> zone file text for one scenario: the good state, changed where the scenario says."""
    mail_a = [f"mail IN A {V4}", f"mail IN AAAA {V6}"]
    mx = "@ IN MX 10 mail" if scenario != "mx-elsewhere" else "@ IN MX 10 mx.elsewhere.example."
    example = zone("example.org", *mail_a, mx, '@ IN TXT "v=spf1 mx -all"',
                   '_dmarc IN TXT "v=DMARC1; p=quarantine"', "autoconfig IN CNAME mail",
                   "autodiscover IN CNAME mail", "_autodiscover._tcp IN SRV 0 1 443 mail",
                   f"srv7 IN A {V4}")
    ptr4 = {"no-ptr": [], "ptr-other": ["7 IN PTR srv7.example.org."]}.get(
        scenario, ["7 IN PTR mail.example.org."])
    six = reverse6(V6)
    in_zone = six[:-len(".7.0.0.0.8.b.d.0.1.0.0.2")]
    ptr6 = [] if scenario == "no-ptr" else [f"{in_zone} IN PTR mail.example.org."]
    zen, dbl = [], []
    if scenario == "listed":
        zen = ["7.113.0.203.zen IN A 127.0.0.2", "7.113.0.203.zen IN TXT \"listed for the test\""]
        dbl = [f"{HOST}.dbl IN A 127.255.255.254"]
    if scenario == "refused":
        zen = ["7.113.0.203.zen IN A 127.255.255.254", f"{six}.zen IN A 127.255.255.254"]
        dbl = [f"{HOST}.dbl IN A 127.0.1.255"]
    return {
        "example.org": example,
        "113.0.203.in-addr.arpa": zone("113.0.203.in-addr.arpa", *ptr4),
        "7.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa": zone("7.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", *ptr6),
        "77.168.192.in-addr.arpa": zone("77.168.192.in-addr.arpa"),
        "gmail.com": zone("gmail.com", "@ IN MX 5 gmail-smtp-in.l.google.com.",
                          f"smtp IN A {SERVERS['smtp.gmail.com']}"),
        "google.com": zone("google.com", f"gmail-smtp-in.l IN A {SERVERS['gmail-smtp-in.l.google.com']}"),
        "outlook.com": zone("outlook.com", "@ IN MX 10 outlook-com.olc.protection.outlook.com.",
                            f"outlook-com.olc.protection IN A "
                            f"{SERVERS['outlook-com.olc.protection.outlook.com']}"),
        "gmx.de": zone("gmx.de", "@ IN MX 10 mx00.gmx.net."),
        "gmx.net": zone("gmx.net", f"mx00 IN A {SERVERS['mx00.gmx.net']}",
                        f"mail IN A {SERVERS['mail.gmx.net']}"),
        "docker.io": zone("docker.io", f"registry-1 IN A {SERVERS['registry-1.docker.io']}"),
        "github.com": zone("github.com", f"@ IN A {SERVERS['github.com']}"),
        "spamhaus.org": zone("spamhaus.org", *zen, *dbl),
    }


def nsd_conf(work: Path, scenario: str) -> Path:
    lines = ["server:", f"  ip-address: {DNS_SERVER}", "  port: 53", '  username: ""', '  chroot: ""',
             f"  zonesdir: {work}", f"  pidfile: {work}/nsd.pid", '  database: ""',
             f"  zonelistfile: {work}/zone.list", f"  xfrdfile: {work}/xfrd.state", f"  xfrdir: {work}",
             f"  logfile: {work}/nsd.log", "  server-count: 1", "  verbosity: 1",
             "remote-control:", "  control-enable: no"]
    for name, text in zones(scenario).items():
        (work / f"{name}.zone").write_text(text)
        lines += ["zone:", f"  name: {name}", f"  zonefile: {name}.zone"]
    conf = work / "nsd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


class Internet:
    """The two namespaces, the DNS server and the listeners of one scenario."""

    def __init__(self, netns: NetnsFactory, daemons: Daemons, work: Path, scenario: str,
                 nat: bool = False) -> None:
        self.mailhost, self.internet = netns.new(), netns.new()
        self.daemons, self.work = daemons, work
        dev, peer = netns.link(self.mailhost, self.internet, 1500)
        if nat:
            self.mailhost.ip("addr", "add", f"{NAT_V4}/24", "dev", dev)
            self.internet.ip("addr", "add", "192.168.77.1/24", "dev", peer)
            self.mailhost.ip("route", "add", "default", "via", "192.168.77.1")
        else:
            self.mailhost.ip("addr", "add", f"{V4}/24", "dev", dev)
            self.mailhost.ip("-6", "addr", "add", f"{V6}/64", "dev", dev, "nodad")
            self.internet.ip("addr", "add", "203.0.113.1/24", "dev", peer)
            self.internet.ip("-6", "addr", "add", "2001:db8:7::1/64", "dev", peer, "nodad")
            self.mailhost.ip("route", "add", "default", "via", "203.0.113.1")
            self.mailhost.ip("-6", "route", "add", "default", "via", "2001:db8:7::1")
        for address in {DNS_SERVER, *SERVERS.values()}:
            self.internet.ip("addr", "add", f"{address}/32", "dev", "lo")
        (ETC_NETNS / self.mailhost.name / "resolv.conf").write_text(f"nameserver {DNS_SERVER}\n")
        self.nsd_pid = self.start_nsd(scenario)
        pidfile = work / "listener.pid"
        subprocess.Popen(["ip", "netns", "exec", self.internet.name, sys.executable, "-c", LISTENER,
                          str(pidfile)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        daemons.add(read_pidfile(pidfile))
        wait_for(lambda: ":465" in self.internet.listening(), 10, "the listeners")

    def start_nsd(self, scenario: str) -> int:
        nsd = need_program("nsd", "install Debian's nsd")
        conf = nsd_conf(self.work, scenario)
        check = self.internet.exec(["nsd-checkconf", str(conf)])
        assert check.returncode == 0, check.stderr
        subprocess.Popen(["ip", "netns", "exec", self.internet.name, nsd, "-d", "-c", str(conf)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        pid = self.daemons.add(read_pidfile(self.work / "nsd.pid"))
        wait_for(lambda: f"{DNS_SERVER}:53" in self.internet.exec(["ss", "-Hlun"]).stdout, 10, "nsd on 53")
        return pid

    def firewall(self, *rules: str, on_host: bool = False) -> None:
        """nftables rules where a provider blocks: on the internet side's way in (`tcp dport 25 drop`,
        `tcp dport 465 reject with tcp reset`), so a dropped packet leaves the host and is never
        answered. `on_host`: on the mail host's own way out instead (the packet counter)."""
        ns, hook, chain = (self.mailhost, "output", "out") if on_host else (self.internet, "input", "inp")
        script = ["table inet mcwtest {", f"  chain {chain} {{", f"    type filter hook {hook} priority 0;",
                  *(f"    {r}" for r in rules), "  }", "}"]
        path = self.work / f"rules-{chain}.nft"
        path.write_text("\n".join(script) + "\n")
        proc = ns.exec(["nft", "-f", str(path)])
        assert proc.returncode == 0, proc.stderr

    def check(self, *args: str, name: str) -> dict[str, dict[str, Any]]:
        """`check --online --json --only dns,outbound,blocklist` in the mail host; the wall time is kept."""
        start = time.monotonic()
        proc = self.mailhost.wizard("check", "--online", "--json", "--only", "dns,outbound,blocklist",
                                    "--hostname", HOST, "--mailcow-dir", str(self.work), *args)
        TIMINGS[name] = time.monotonic() - start
        return check_json(proc)


@pytest.fixture
def world(netns: NetnsFactory, daemons: Daemons, tmp_path: Path) -> Iterator[Any]:
    need_program("nft", "install Debian's nftables")
    need_program("nsd", "install Debian's nsd")

    def make(scenario: str = "good", nat: bool = False) -> Internet:
        return Internet(netns, daemons, tmp_path, scenario, nat)

    yield make


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    yield
    if TIMINGS:
        print("\nwall time of check --online per scenario: " +
              ", ".join(f"{k} {v:.2f} s" for k, v in TIMINGS.items()))


def by_target(finding: dict[str, Any]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(t["host"], t["port"], t["transport"]): t for t in finding["details"]["targets"]}


def test_all_good(world: Any) -> None:
    net = world("good")
    found = net.check(name="all good")
    dns, outbound, blocklist = found["dns"], found["outbound"], found["blocklist"]
    assert dns["status"] == "pass", dns
    d = dns["details"]
    assert (d["a"], d["aaaa"], d["fcrdns"], d["records_to_create"]) == ([V4], [V6], True, [])
    assert d["mx"] == {"domain": "example.org", "hosts": [HOST], "points_here": True}
    assert d["ptr"] == {V4: HOST, V6: HOST}
    assert outbound["status"] == "pass", outbound
    targets = by_target(outbound)
    assert targets[("gmail-smtp-in.l.google.com", 25, "tcp")]["address"] == "198.51.100.25"
    assert {t["result"] for t in targets.values()} == {"ok"}
    assert {(t["port"], t["transport"]) for t in targets.values() if t["purpose"] == "dns"} == \
        {(53, "udp"), (53, "tcp")}
    assert blocklist["status"] == "pass", blocklist
    assert [(q["list"], q["subject"], q["result"]) for q in blocklist["details"]["queries"]] == \
        [("ZEN", V4, "clean"), ("ZEN", V6, "clean"), ("DBL", HOST, "clean")]


def test_port_25_dropped_is_a_timeout_and_fails(world: Any) -> None:
    net = world("good")
    net.firewall("tcp dport 25 drop")
    found = net.check(name="port 25 dropped")
    outbound = found["outbound"]
    assert outbound["status"] == "fail" and "port 25" in outbound["summary"]
    smtp = [t for t in outbound["details"]["targets"] if t["port"] == 25]
    assert len(smtp) == 3 and {t["result"] for t in smtp} == {"timeout"}
    assert all(t["ms"] >= 2900 for t in smtp), smtp  # the connect's own time limit, not a quick failure
    assert "lift" in outbound["remedy"] and "relay host" in outbound["remedy"]
    assert {t["result"] for t in outbound["details"]["targets"] if t["port"] != 25} == {"ok"}


def test_port_465_rejected_is_refused(world: Any) -> None:
    net = world("good")
    net.firewall("tcp dport 465 reject with tcp reset")
    outbound = net.check(name="465 rejected")["outbound"]
    assert outbound["status"] == "warn" and "465" in outbound["summary"]
    smtps = [t for t in outbound["details"]["targets"] if t["port"] == 465]
    assert {t["result"] for t in smtps} == {"refused"}
    assert all(t["ms"] < 1000 for t in smtps), smtps


def test_no_ptr(world: Any) -> None:
    dns = world("no-ptr").check(name="no PTR")["dns"]
    assert dns["status"] == "fail"
    assert dns["details"]["ptr"] == {V4: None, V6: None} and dns["details"]["fcrdns"] is False
    assert f"{V4} has no PTR record" in dns["summary"]


def test_ptr_to_another_name(world: Any) -> None:
    dns = world("ptr-other").check(name="PTR to another name")["dns"]
    assert dns["status"] == "warn", dns
    assert dns["details"]["ptr"][V4] == "srv7.example.org"
    assert "names srv7.example.org, not mail.example.org" in dns["summary"]


def test_mx_elsewhere(world: Any) -> None:
    dns = world("mx-elsewhere").check(name="MX elsewhere")["dns"]
    assert dns["status"] == "fail"
    assert dns["details"]["mx"] == {"domain": "example.org", "hosts": ["mx.elsewhere.example"],
                                    "points_here": False}
    assert "example.org. IN MX 10 mail.example.org." in dns["details"]["records_to_create"]


def test_behind_nat(world: Any) -> None:
    net = world("good", nat=True)
    found = net.check(name="behind NAT")
    dns = found["dns"]
    assert dns["status"] == "warn" and "only private addresses" in dns["summary"]
    assert dns["details"]["host_addresses"] == [NAT_V4] and dns["details"]["ptr"] == {}
    assert "port 25" in dns["remedy"] and "--public-ip" in dns["remedy"]
    assert [q["subject"] for q in found["blocklist"]["details"]["queries"]] == [HOST]
    found = net.check("--public-ip", V4, name="behind NAT, --public-ip")
    assert found["dns"]["status"] == "pass", found["dns"]
    assert found["dns"]["details"]["ptr"] == {V4: HOST}


def test_dns_server_down(world: Any) -> None:
    from tests.system.conftest import stop_pid

    net = world("good")
    stop_pid(net.nsd_pid)
    found = net.check(name="DNS server down")
    assert found["dns"]["status"] == "skip" and "Could not ask DNS" in found["dns"]["summary"]
    outbound = found["outbound"]
    assert outbound["status"] == "fail" and "port 53" in outbound["summary"]
    results = {(t["purpose"], t["result"]) for t in outbound["details"]["targets"]}
    assert ("dns", "refused") in results and ("smtp", "unresolved") in results
    assert found["blocklist"]["status"] == "skip"


def test_everything_dropped_ends_in_time(world: Any) -> None:
    """A firewall that drops every packet out: every lookup and connect runs into its time limit, side
    by side, and the report says what it could not do (the run's wall time is printed with the rest)."""
    net = world("good")
    net.firewall('iifname != "lo" drop')
    found = net.check(name="everything dropped")
    assert found["dns"]["status"] == "skip" and "timeout" in found["dns"]["summary"]
    outbound = found["outbound"]
    assert outbound["status"] == "fail"
    results = {(t["purpose"], t["result"]) for t in outbound["details"]["targets"]}
    assert results == {("smtp", "unresolved"), ("smtps", "unresolved"), ("https", "unresolved"),
                       ("dns", "timeout")}, results
    assert found["blocklist"]["status"] == "skip"


def test_listed_and_refused_answers(world: Any) -> None:
    bl = world("listed").check(name="listed")["blocklist"]
    assert bl["status"] == "fail" and f"{V4} on ZEN" in bl["summary"]
    rows = {(q["list"], q["subject"]): q for q in bl["details"]["queries"]}
    assert rows[("ZEN", V4)]["result"] == "listed" and rows[("ZEN", V4)]["answer"] == ["127.0.0.2"]
    assert rows[("DBL", HOST)]["result"] == "refused"  # 127.255.255.254: cannot tell, not listed


def test_refused_answers_are_never_listed(world: Any) -> None:
    bl = world("refused").check(name="refused")["blocklist"]
    assert bl["status"] == "skip", bl
    assert {q["result"] for q in bl["details"]["queries"]} == {"refused"}
    assert all(q["meaning"] == "cannot tell (query refused)" for q in bl["details"]["queries"])


@pytest.mark.parametrize("name", oldest_and_newest())
def test_the_one_file_program_on_the_oldest_and_newest_python(world: Any, name: str) -> None:
    """dist/mailcow-wizard.pyz (one copy of dnspython for every Python) run by the oldest and the newest
    Python this machine has (3.9 and 3.13 where all are there, as in CI)."""
    if not PYZ.is_file():
        pytest.skip(f"{PYZ} is not built (run scripts/build-pyz)")
    python = interpreter(name)
    net = world("good")
    proc = net.mailhost.exec([python, str(PYZ), "check", "--online", "--json", "--only",
                              "dns,outbound,blocklist", "--hostname", HOST, "--mailcow-dir", str(net.work)],
                             env=pyz_env())
    found = check_json(proc)
    assert [found[i]["status"] for i in ("dns", "outbound", "blocklist")] == ["pass", "pass", "pass"], found


def test_check_without_online_sends_no_packet(world: Any) -> None:
    """Every check without --online, in the mail host with a counter on every TCP and UDP packet that
    leaves it: the counter stays at 0. The same counter sees the packets of --online (it counts)."""
    net = world("good")
    net.firewall('oifname != "lo" meta l4proto { tcp, udp } counter', on_host=True)

    def packets() -> int:
        out = net.mailhost.exec(["nft", "list", "chain", "inet", "mcwtest", "out"]).stdout
        return int(out.split("packets ", 1)[1].split()[0])

    proc = net.mailhost.wizard("check", "--json", "--hostname", HOST, "--mailcow-dir", str(net.work))
    found = check_json(proc)
    assert {found[i]["summary"] for i in ("dns", "outbound", "blocklist")} == \
        {"not run: contacts the network (use --online)"}
    assert packets() == 0
    net.check(name="counter control")
    assert packets() > 0
