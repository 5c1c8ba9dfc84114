"""IPv6: kernel tables read offline, the verdict, and the loss-free daemon.json merge per Docker version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcow_wizard.checks.ipv6 import DEFAULT_FIXED_CIDR_V6, check_ipv6, evaluate_ipv6, required_daemon_keys
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, plan_fix
from mailcow_wizard.fixes.ipv6 import merge_daemon_json
from mailcow_wizard.model import Status
from mailcow_wizard.probes.ipv6 import (
    Ipv6Facts,
    ipv6_usable,
    parse_default_routes,
    parse_if_inet6,
    probe_ipv6,
)

GLOBAL = "20010db8000000000000000000000010 02 40 00 80     eth0\n"
ULA = "fd000000000000000000000000000002 02 40 00 80     eth0\n"
LINK = "fe800000000000000000000000000001 02 40 20 80     eth0\n"
LOOP = "00000000000000000000000000000001 01 80 10 80       lo\n"
TENTATIVE = "20010db8000000000000000000000011 02 40 00 40     eth0\n"
DEFAULT = ("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
           "fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n")
LO_REJECT = ("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
             "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")
PREFIX = ("20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
          "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n")


def _facts(disabled: bool | None = False, routes: tuple[str, ...] = ("eth0",),
           addresses: tuple[str, ...] = ("2001:db8::10/64%eth0",)) -> Ipv6Facts:
    return Ipv6Facts(disabled, routes, addresses)


def test_parsers_keep_only_global_addresses_and_real_default_routes() -> None:
    from mailcow_wizard.probes.ipv6 import global_addresses

    rows = parse_if_inet6(GLOBAL + ULA + LINK + LOOP + TENTATIVE + "garbage line\n")
    assert len(rows) == 5
    assert global_addresses(rows) == ("2001:db8::10/64%eth0",)
    assert parse_default_routes(LO_REJECT + PREFIX + DEFAULT + DEFAULT) == ("eth0",)
    assert parse_default_routes(LO_REJECT + PREFIX) == ()


@pytest.mark.parametrize("files,usable,why", [
    ({"/proc/sys/net/ipv6/conf/all/disable_ipv6": "0\n", "/proc/net/if_inet6": GLOBAL + LINK,
      "/proc/net/ipv6_route": DEFAULT}, True, "default IPv6 route via eth0"),
    ({"/proc/sys/net/ipv6/conf/all/disable_ipv6": "1\n", "/proc/net/if_inet6": GLOBAL,
      "/proc/net/ipv6_route": DEFAULT}, False, "switched off"),
    ({"/proc/sys/net/ipv4/ip_forward": "0\n"}, False, "switched off"),  # no IPv6 in the kernel at all
    ({"/proc/sys/net/ipv6/conf/all/disable_ipv6": "0\n", "/proc/net/if_inet6": ULA + LINK,
      "/proc/net/ipv6_route": DEFAULT}, False, "no global IPv6 address"),
    ({"/proc/sys/net/ipv6/conf/all/disable_ipv6": "0\n", "/proc/net/if_inet6": GLOBAL,
      "/proc/net/ipv6_route": LO_REJECT + PREFIX}, False, "no default IPv6 route"),
])
def test_usable_ipv6_from_the_kernel_tables(make_root, files: dict[str, str], usable: bool, why: str) -> None:
    host = make_root({"/proc/net/dev": "", **files})
    ok, reason = ipv6_usable(probe_ipv6(host))
    assert ok is usable and why in reason


def _eval(facts: Ipv6Facts, **kw: object):
    args = {"conf_value": None, "controller": True, "daemon": {}, "daemon_error": None, "version": "28.1.1",
            "bridge_ipv6": None}
    args.update(kw)
    return evaluate_ipv6(facts, **args)  # type: ignore[arg-type]


def test_verdicts() -> None:
    off = _facts(routes=())
    assert _eval(off).status is Status.PASS
    warned = _eval(off, conf_value="true")
    assert warned.status is Status.WARN and "open relay" in warned.remedy
    missing = _eval(_facts(), daemon={"log-driver": "local"}, version="26.1.4")
    assert missing.status is Status.WARN and missing.fix == "ipv6"
    assert set(missing.details["missing_keys"]) == {"ipv6", "fixed-cidr-v6", "ip6tables", "experimental"}
    assert _eval(_facts(), daemon={"ipv6": True}).status is Status.PASS
    stale = _eval(_facts(), daemon={"ipv6": True}, bridge_ipv6=False)
    assert stale.status is Status.WARN and "restart" in stale.remedy.lower()
    assert _eval(_facts(), conf_value="false").status is Status.PASS
    bad = _eval(_facts(), daemon=None, daemon_error="Expecting value")
    assert bad.status is Status.WARN and "no comments" in bad.remedy
    assert _eval(off, controller=False, conf_value="true").status is Status.PASS


@pytest.mark.parametrize("major,keys", [
    (None, {"ipv6"}), (29, {"ipv6"}), (28, {"ipv6"}), (27, {"ipv6", "fixed-cidr-v6"}),
    (26, {"ipv6", "fixed-cidr-v6", "ip6tables", "experimental"}),
    (24, {"ipv6", "fixed-cidr-v6", "ip6tables", "experimental"}),
])
def test_each_docker_version_branch_gets_its_keys_and_nothing_is_lost(major: int | None,
                                                                     keys: set[str]) -> None:
    original = ('{\n    "log-driver": "json-file",\n    "log-opts": {"max-size": "10m", "max-file": "3"},\n'
                '    "registry-mirrors": ["https://mirror.example.org"],\n    "data-root": "/srv/docker",\n'
                '    "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}],\n'
                '    "labels": ["name=caf\\u00e9"],\n    "ipv6": false\n}\n')
    merged = merge_daemon_json(original, major)
    before, after = json.loads(original), json.loads(merged)
    assert set(required_daemon_keys(major)) == keys
    for key, value in before.items():
        if key not in keys:
            assert after[key] == value, key
    assert list(after)[:len(before)] == list(before), "the existing keys' order changed"
    assert {k: after[k] for k in keys} == required_daemon_keys(major)
    assert '\n    "log-driver"' in merged, "the file's own indentation was not kept"
    assert merge_daemon_json(merged, major) == merged, "a second merge changed the file"


def test_an_existing_prefix_is_kept_and_a_missing_file_is_created() -> None:
    merged = json.loads(merge_daemon_json('{"fixed-cidr-v6": "2001:db8:1::/64"}', 26))
    assert merged["fixed-cidr-v6"] == "2001:db8:1::/64"
    assert json.loads(merge_daemon_json(None, 27)) == {"ipv6": True, "fixed-cidr-v6": DEFAULT_FIXED_CIDR_V6}


@pytest.mark.parametrize("text,words", [
    ('{\n  // mirrors\n  "registry-mirrors": []\n}\n', "no comments"),
    ('# managed by hand\n{"ipv6": true}\n', "no comments"),
    ('{"ipv6": true, "ipv6": false}', "appears twice"),
    ('["ipv6"]', "JSON object"),
])
def test_files_that_are_not_plain_json_objects_are_refused(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        merge_daemon_json(text, 28)


def test_fix_plan_merges_then_restarts_docker(make_root, tmp_path: Path) -> None:
    routes = {"/proc/sys/net/ipv6/conf/all/disable_ipv6": "0\n", "/proc/net/if_inet6": GLOBAL,
              "/proc/net/ipv6_route": DEFAULT}
    host = make_root({**routes, "/etc/docker/daemon.json": '{"log-driver": "local"}\n'})
    ctx = Context(host=host, mailcow_dir=tmp_path / "none", conf={})
    assert check_ipv6(ctx).status is Status.WARN
    plan = plan_fix("ipv6", ctx, FixOptions())
    assert plan.blocked is None
    edit, restart = plan.steps
    assert json.loads(edit.after) == {"log-driver": "local", "ipv6": True}
    assert restart.argv == ("systemctl", "restart", "docker")
    assert any("version is unknown" in n for n in plan.notes)


def test_fix_is_blocked_without_ipv6(make_root, tmp_path: Path) -> None:
    host = make_root({"/proc/sys/net/ipv6/conf/all/disable_ipv6": "1\n", "/proc/net/if_inet6": ""})
    plan = plan_fix("ipv6", Context(host=host, mailcow_dir=tmp_path, conf={}), FixOptions())
    assert plan.blocked and "no working IPv6" in plan.blocked
