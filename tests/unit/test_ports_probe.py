"""The ports probe on fixture hosts and crafted kernel replies: parsers, owners, overlap rules."""

from __future__ import annotations

import contextlib
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.probes import ports as P
from tests.conftest import fixture_host

HEADER4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
HEADER6 = "  sl  local_address                         remote_address                        st tx_queue\n"


def nl_msg(mtype: int, payload: bytes, seq: int = 1) -> bytes:
    msg = P.NLMSG_HDR.pack(P.NLMSG_HDR.size + len(payload), mtype, 2, seq, 0) + payload
    return msg + b"\0" * (-len(msg) % 4)


def diag(family: int, address: str, port: int, inode: int, state: int = P.TCP_LISTEN) -> bytes:
    raw = socket.inet_pton(family, address).ljust(16, b"\0")
    sockid = struct.pack("!HH", port, 0) + raw + b"\0" * 16 + struct.pack("=I", 0) + b"\0" * 8
    return struct.pack("=BBBB", family, state, 0, 0) + sockid + struct.pack("=IIIII", 0, 0, 0, 1000, inode)


# -- netlink reply parser --------------------------------------------------------------------------
def test_parse_inet_diag_reads_ipv4_and_ipv6_listeners() -> None:
    data = (nl_msg(P.SOCK_DIAG_BY_FAMILY, diag(socket.AF_INET, "127.0.0.1", 25, 111))
            + nl_msg(P.SOCK_DIAG_BY_FAMILY, diag(socket.AF_INET6, "::", 443, 222))
            + nl_msg(P.SOCK_DIAG_BY_FAMILY, diag(socket.AF_INET6, "::ffff:192.0.2.1", 587, 333))
            + nl_msg(P.NLMSG_DONE, b"\0\0\0\0"))
    assert P.parse_inet_diag(data) == [
        P.Socket(4, "127.0.0.1", 25, 111), P.Socket(6, "::", 443, 222), P.Socket(6, "192.0.2.1", 587, 333),
    ]
    assert P._walk_netlink(data)[1] is True


def test_parse_inet_diag_skips_sockets_not_in_listen_state() -> None:
    data = nl_msg(P.SOCK_DIAG_BY_FAMILY, diag(socket.AF_INET, "10.0.0.1", 22, 9, state=1))
    assert P.parse_inet_diag(data) == []


def test_parse_inet_diag_reports_kernel_error() -> None:
    err = struct.pack("=i", -2) + P.NLMSG_HDR.pack(72, 20, 0x301, 1, 0)
    with pytest.raises(ParseError, match="ENOENT"):
        P.parse_inet_diag(nl_msg(P.NLMSG_ERROR, err))


@pytest.mark.parametrize("data", [
    b"\x10\x00",                                              # shorter than a header
    P.NLMSG_HDR.pack(200, P.SOCK_DIAG_BY_FAMILY, 2, 1, 0),    # claims more than it has
    P.NLMSG_HDR.pack(4, P.SOCK_DIAG_BY_FAMILY, 2, 1, 0),      # length below the header size
    nl_msg(P.SOCK_DIAG_BY_FAMILY, b"\x02\x0a" + b"\0" * 10),  # inet_diag_msg cut short
    nl_msg(P.SOCK_DIAG_BY_FAMILY, diag(socket.AF_INET, "1.2.3.4", 1, 1)[:0] + b"\x07" + b"\0" * 71),
])
def test_parse_inet_diag_malformed_raises_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        P.parse_inet_diag(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parse_inet_diag_fuzz_raises_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        P.parse_inet_diag(data)


def test_request_asks_for_tcp_listen_only() -> None:
    req = P.build_inet_diag_request(socket.AF_INET6, 7)
    length, mtype, flags, seq, _ = P.NLMSG_HDR.unpack_from(req)
    family, proto, _ext, states, _ = P.INET_DIAG_REQ_V2.unpack_from(req, P.NLMSG_HDR.size)
    assert (length, mtype, seq) == (len(req), P.SOCK_DIAG_BY_FAMILY, 7) and len(req) == 72
    assert flags == P.NLM_F_REQUEST | P.NLM_F_DUMP
    assert (family, proto, states) == (socket.AF_INET6, socket.IPPROTO_TCP, 1 << 10)


# -- /proc/net/tcp parser --------------------------------------------------------------------------
def test_parse_proc_net_tcp_ipv4() -> None:
    text = HEADER4 + (
        "   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 2001 1 0\n"
        "   1: 0500000A:0016 076433C6:C822 01 00000000:00000000 00:00000000 00000000   0   0 1003 1 0\n"
        "   2: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  33   0 77 1 0 100 0 0\n"
    )
    assert P.parse_proc_net_tcp(text, 4) == [P.Socket(4, "127.0.0.1", 25, 2001),
                                             P.Socket(4, "0.0.0.0", 443, 77)]


def test_parse_proc_net_tcp_ipv6() -> None:
    text = HEADER6 + (
        "   0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0        0 2002 1 0 100 0 0\n"
        "   1: 0000000000000000FFFF00000100007F:024B 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0        0 2003 1 0 100 0 0\n"
    )
    assert P.parse_proc_net_tcp(text, 6) == [P.Socket(6, "::1", 25, 2002),
                                             P.Socket(6, "127.0.0.1", 587, 2003)]


def test_parse_proc_net_tcp_skips_malformed_lines() -> None:
    text = HEADER4 + (
        "   0: ZZZZ007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 1 1\n"
        "   1: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 2 1\n"
        "   2: 0100007F:0019 00000000:0000 0A short\n"
        "   3: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 x 1\n"
        "   4: 01007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 5 1\n"
        "   5: 0100007F:FFFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 6 1\n"
        "   6: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000   0   0 7 1\n"
    )
    assert P.parse_proc_net_tcp(text, 4) == [P.Socket(4, "127.0.0.1", 80, 7)]


@pytest.mark.parametrize("text", ["", "garbage\n", "0: 0100007F:0019 00000000:0000 0A\n"])
def test_parse_proc_net_tcp_without_header_raises(text: str) -> None:
    with pytest.raises(ParseError):
        P.parse_proc_net_tcp(text, 4)


def test_parse_proc_net_tcp_unknown_family() -> None:
    with pytest.raises(ParseError):
        P.parse_proc_net_tcp(HEADER4, 5)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from([4, 6]))
def test_parse_proc_net_tcp_fuzz_raises_only_parse_error(body: str, family: int) -> None:
    for text in (body, HEADER4 + body):
        try:
            for s in P.parse_proc_net_tcp(text, family):
                assert 0 <= s.port <= 65535
        except ParseError:
            pass


# -- small parsers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "unit"), [
    ("0::/system.slice/nginx.service\n", "nginx.service"),
    ("12:pids:/system.slice/exim4.service\n1:name=systemd:/system.slice/exim4.service\n0::/\n",
     "exim4.service"),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", "foo.service"),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ("0::/\n", None),
    ("nonsense", None),
    ("", None),
])
def test_parse_cgroup_unit(text: str, unit: str | None) -> None:
    assert P.parse_cgroup_unit(text) == unit


def test_parse_status_ppid_and_docker_proxy_cmdline() -> None:
    assert P.parse_status_ppid("Name:\tx\nPPid:\t812\n") == 812
    assert P.parse_status_ppid("PPid:\tabc\n") is None
    assert P.parse_status_ppid("") is None
    cmd = b"\x00".join([b"/usr/bin/docker-proxy", b"-proto", b"tcp", b"-container-ip", b"172.22.1.253",
                        b"-container-port", b"25", b""])
    assert P.parse_docker_proxy_container_ip(cmd) == "172.22.1.253"
    assert P.parse_docker_proxy_container_ip(b"docker-proxy\0-container-ip=10.0.0.2\0") == "10.0.0.2"
    assert P.parse_docker_proxy_container_ip(b"docker-proxy\0-container-ip\0") is None


# -- listeners and owners on fixture hosts ---------------------------------------------------------
def test_exim_on_loopback_with_pid_name_and_unit() -> None:
    scan = P.probe_listeners(fixture_host("ports-exim"), {25})
    assert scan.source == "/proc/net/tcp" and scan.fallback_reason is None
    assert [(lst.address, lst.port, lst.family, lst.pid, lst.process, lst.unit, lst.owner_known)
            for lst in scan.listeners] == [
        ("127.0.0.1", 25, 4, 812, "exim4", "exim4.service", True),
        ("::1", 25, 6, 812, "exim4", "exim4.service", True),
    ]


def test_all_ports_when_none_given_and_established_sockets_ignored() -> None:
    listeners = P.find_listeners(fixture_host("ports-free"))
    assert [(lst.address, lst.port, lst.process, lst.unit) for lst in listeners] == [
        ("0.0.0.0", 22, "sshd", "ssh.service"), ("::", 22, "sshd", "ssh.service"),
    ]


def test_forked_worker_is_named_by_its_parent() -> None:
    (https,) = P.find_listeners(fixture_host("ports-ipv6"), {443})
    assert (https.address, https.family, https.pid, https.pids) == ("::", 6, 1200, (1200, 1201))
    assert (https.process, https.unit) == ("apache2", "apache2.service")


def test_unknown_owner_is_kept_not_dropped() -> None:
    (lst,) = P.find_listeners(fixture_host("ports-unknown"), {587})
    assert (lst.port, lst.pid, lst.process, lst.unit, lst.owner_known, lst.pids) == (587, None, None, None,
                                                                                      False, ())


def test_docker_proxy_container_ip_is_recorded() -> None:
    listeners = {(lst.address, lst.port): lst for lst in P.find_listeners(fixture_host("ports-mailcow"))}
    assert listeners[("0.0.0.0", 25)].container_ip == "172.22.1.253"
    assert listeners[("::", 25)].container_ip == "fd4d:6169:6c63:6f77::7"
    assert listeners[("0.0.0.0", 80)].process == "docker-proxy"
    assert listeners[("0.0.0.0", 80)].pid == 2104  # its parent dockerd does not hold the socket


def test_missing_proc_net_tcp_is_a_probe_error(make_root) -> None:
    host = make_root({"/etc/hostname": "x\n"})
    with pytest.raises(ProbeError, match="/proc/net/tcp"):
        P.find_listeners(host)


def test_missing_tcp6_means_no_ipv6(make_root) -> None:
    host = make_root({"/proc/net/tcp": HEADER4 + "   0: 00000000:0019 00000000:0000 0A 0:0 0:0 0 0 0 55 1\n"})
    (lst,) = P.find_listeners(host)
    assert (lst.address, lst.port, lst.owner_known) == ("0.0.0.0", 25, False)


def test_owners_false_skips_the_process_scan() -> None:
    scan = P.probe_listeners(fixture_host("ports-exim"), owners=False)
    assert {lst.port for lst in scan.listeners} == {22, 25} and all(lst.pid is None for lst in scan.listeners)


def test_scan_stops_once_every_inode_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    visited: list[str] = []
    real = P._scan_fds

    def spy(fd_dir, targets, remaining, count, **kw):  # type: ignore[no-untyped-def]
        visited.append(fd_dir.split("/")[-2])
        return real(fd_dir, targets, remaining, count, **kw)

    monkeypatch.setattr(P, "_scan_fds", spy)
    P.find_listeners(fixture_host("ports-ipv6"), {443})
    # fewest open files first: sshd (5), then the worker 1201 (5) holds it and the scan stops before
    # the parent 1200 (11 files); the parent walk then finds 1200 holding it and 1 (systemd) not.
    assert visited == ["500", "1201", "1200", "1"]


def test_listener_on_stdin_is_found_in_the_second_pass(make_root, tmp_path) -> None:
    # an inetd-style daemon gets its listening socket as fd 0; fds 0-2 are looked at last
    host = make_root({
        "/proc/net/tcp": HEADER4 + "   0: 00000000:006E 00000000:0000 0A 0:0 0:0 0 0 0 4242 1\n",
        "/proc/77/comm": "pop3d\n", "/proc/77/status": "PPid:\t1\n",
        "/proc/88/comm": "bash\n",
    })
    (tmp_path / "root/proc/77/fd").mkdir()
    (tmp_path / "root/proc/77/fd/0").symlink_to("socket:[4242]")
    (tmp_path / "root/proc/88/fd").mkdir()
    (tmp_path / "root/proc/88/fd/0").symlink_to("/dev/pts/0")
    (lst,) = P.find_listeners(host, {110})
    assert (lst.pid, lst.process, lst.owner_known) == (77, "pop3d", True)


def test_parent_stays_the_owner_when_a_busier_child_is_scanned_later(make_root, tmp_path) -> None:
    # parent 10 (few files) holds A; its child 20 (many files) inherited A and opened B itself.
    lines = "".join(f"   {i}: 0100007F:{port:04X} 00000000:0000 0A 0:0 0:0 0 0 0 {inode} 1\n"
                    for i, (port, inode) in enumerate(((2000, 501), (2001, 502))))
    host = make_root({"/proc/net/tcp": HEADER4 + lines,
                      "/proc/10/comm": "server\n", "/proc/10/status": "PPid:\t1\n",
                      "/proc/20/comm": "worker\n", "/proc/20/status": "PPid:\t10\n"})
    links = {10: ["/dev/null"] * 3 + ["socket:[501]"],
             20: ["/dev/null"] * 3 + ["socket:[501]", "socket:[502]"] + [f"pipe:[{n}]" for n in range(9)]}
    for pid, targets in links.items():
        (tmp_path / f"root/proc/{pid}/fd").mkdir()
        for fd, target in enumerate(targets):
            (tmp_path / f"root/proc/{pid}/fd/{fd}").symlink_to(target)
    got = {lst.port: (lst.pid, lst.process, lst.pids) for lst in P.find_listeners(host)}
    assert got == {2000: (10, "server", (10,)), 2001: (20, "worker", (20,))}


def test_big_process_low_fds_are_probed_without_listing(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    fd_dir = tmp_path / "fd"
    fd_dir.mkdir()
    for n in range(0, 300):
        (fd_dir / str(n)).symlink_to(f"socket:[{9000 + n}]" if n else "socket:[42]")
    listed: list[str] = []
    real_listdir = P.os.listdir
    monkeypatch.setattr(P.os, "listdir", lambda p: listed.append(p) or real_listdir(p))
    found = P._scan_fds(str(fd_dir), {"socket:[42]": 42}, {42}, count=300)
    assert found == [42] and listed == []
    found = P._scan_fds(str(fd_dir), {"socket:[9299]": 9299}, {9299}, count=300)
    assert found == [9299] and listed == [str(fd_dir)]


# -- overlap and mailcow-itself rules --------------------------------------------------------------
@pytest.mark.parametrize(("mailcow", "listener", "overlap"), [
    (None, "127.0.0.1", True),          # loopback listener blocks mailcow's wildcard
    (None, "::1", True),
    ("0.0.0.0", "127.0.0.1", True),
    ("0.0.0.0", "::1", False),
    ("192.0.2.1", "127.0.0.1", False),  # mailcow on one address, other program on another
    ("192.0.2.1", "192.0.2.1", True),
    ("192.0.2.1", "0.0.0.0", True),
    ("192.0.2.1", "::", True),          # :: without v6only takes IPv4 too
    ("2001:db8::1", "0.0.0.0", False),
    ("2001:db8::1", "::", True),
    ("2001:db8::1", "2001:db8::2", False),
    ("::", "127.0.0.1", True),
    ("::", "::1", True),
])
def test_addresses_overlap(mailcow: str | None, listener: str, overlap: bool) -> None:
    assert P.addresses_overlap(mailcow, listener) is overlap


def test_is_mailcow_uses_the_configured_network() -> None:
    proxy = P.Listener(25, "0.0.0.0", 4, 1, pid=9, process="docker-proxy", owner_known=True,
                       container_ip="172.22.1.253")
    assert P.is_mailcow(proxy)
    assert not P.is_mailcow(proxy, {"IPV4_NETWORK": "172.30.9"})
    assert P.is_mailcow(P.Listener(25, "0.0.0.0", 4, 1, process="docker-proxy", container_ip="172.30.9.4"),
                        {"IPV4_NETWORK": "172.30.9"})
    assert not P.is_mailcow(P.Listener(25, "0.0.0.0", 4, 1, process="exim4", container_ip="172.22.1.2"))
    assert not P.is_mailcow(P.Listener(25, "0.0.0.0", 4, 1, process="docker-proxy"))


def test_free_ports_near_under_root_uses_the_listener_list(make_root) -> None:
    lines = "".join(f"   {i}: 00000000:{p:04X} 00000000:0000 0A 0:0 0:0 0 0 0 {70 + i} 1\n"
                    for i, p in enumerate((8080, 8000, 81)))
    host = make_root({"/proc/net/tcp": HEADER4 + lines})
    assert P.free_ports_near(host, 80, 3) == [82, 83, 84]
    assert P.free_ports_near(host, 25, 2) == [2525, 26]
    assert P.free_ports_near(host, 442, 2) == [444, 445]  # 443 is mailcow's own
