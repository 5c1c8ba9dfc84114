"""Findings hand the faces typed facts that say what `details` says; the JSON shape never shows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.checks.clock import ClockVerdict
from mailcow_wizard.checks.network import MtuVerdict
from mailcow_wizard.checks.ports import PortFacts
from mailcow_wizard.context import Context
from mailcow_wizard.host import Host
from mailcow_wizard.probes.resources import MemInfo

DEMO = Path(__file__).resolve().parents[2] / "mailcow_wizard" / "demo" / "host"


@pytest.fixture
def demo_ctx() -> Context:
    return Context(Host(DEMO, live=False), DEMO / "opt" / "mailcow-dockerized")


def test_mtu_facts_are_the_verdicts_values(demo_ctx: Context) -> None:
    f = run_check(get_spec("mtu"), demo_ctx)
    assert isinstance(f.facts, MtuVerdict) and f.facts.recommended == 1450
    assert (f.facts.interface, f.facts.mtu, f.facts.recommended) == (
        f.details["interface"], f.details["mtu"], f.details["recommended"])


def test_ntp_facts_are_the_verdicts_values(demo_ctx: Context) -> None:
    f = run_check(get_spec("ntp"), demo_ctx)
    assert isinstance(f.facts, ClockVerdict)
    assert (f.facts.synchronized, f.facts.source) == (f.details["synchronized"], f.details["source"])
    assert (f.facts.service.name if f.facts.service else None) == f.details["service"]


@pytest.mark.parametrize("check_id", ["ram", "swap", "ports"])
def test_other_typed_facts(demo_ctx: Context, check_id: str) -> None:
    f = run_check(get_spec(check_id), demo_ctx)
    assert isinstance(f.facts, PortFacts if check_id == "ports" else MemInfo)
    if check_id == "ram":
        assert f.facts.total_bytes == f.details["total_bytes"]


def test_json_shape_never_carries_facts(demo_ctx: Context) -> None:
    for check_id in ("mtu", "ntp", "ram", "ports"):
        out = run_check(get_spec(check_id), demo_ctx).to_dict()
        assert list(out) == ["id", "status", "summary", "details", "remedy", "fix"]
        json.dumps(out)
