"""Docker Compose v2 as the judge: our files pass `config` against mailcow's real docker-compose.yml
of both generations, the ports Compose publishes are the ones asked for, and Compose reads every
accepted value exactly as bash and python-dotenv do. mailcow's files come from MAILCOW_SRC; skips where
Compose v2 is not installed (no Docker engine needed).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcow_wizard.conf.compose import compose_flavour, find_compose, judge, published
from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.validate import check_value
from mailcow_wizard.conf.write import ConfError, plan_conf, write_conf
from mailcow_wizard.host import Host
from tests.conftest import MAILCOW_FIXTURES, mailcow_src

pytestmark = pytest.mark.system
TOOL = find_compose()
needs_compose = pytest.mark.skipif(TOOL is None, reason="Docker Compose v2 is not installed")
MEMINFO = "MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\nSwapTotal: 1048576 kB\nSwapFree: 1048576 kB\n"

ASKED = {
    "SMTP_PORT": "2525",                      # bare
    "SUBMISSION_PORT": "127.0.0.1:5870",      # IPv4:port
    "IMAPS_PORT": "[::1]:9930",               # [IPv6]:port
    "HTTP_BIND": "127.0.0.1", "HTTP_PORT": "8080",
    "HTTPS_BIND": "[::1]", "HTTPS_PORT": "8443",
}
EXPECTED_PORTS = {("", "2525", 25), ("127.0.0.1", "5870", 587), ("::1", "9930", 993),
                  ("127.0.0.1", "8080", 8080), ("::1", "8443", 8443)}


def _checkout(tmp_path: Path, request: pytest.FixtureRequest, generation: str) -> Path:
    """mailcow's real docker-compose.yml of `generation` (from MAILCOW_SRC) in a fresh directory."""
    d = tmp_path / generation
    d.mkdir()
    real = mailcow_src(request, generation)
    (d / "docker-compose.yml").write_bytes((real / "docker-compose.yml").read_bytes())
    return d


def _root(tmp_path: Path) -> Host:
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "proc" / "meminfo").write_text(MEMINFO)
    (root / "etc" / "timezone").write_text("Europe/Berlin\n")
    return Host(root)


@needs_compose
@pytest.mark.parametrize("generation", ["current", "2020"])
def test_generated_file_passes_compose_and_publishes_the_asked_ports(tmp_path: Path, generation: str,
                                                                      request: pytest.FixtureRequest) -> None:
    d = _checkout(tmp_path, request, generation)
    answers = {"MAILCOW_HOSTNAME": "mail.example.org", **ASKED}
    plan = plan_conf(d, _root(tmp_path), answers=answers, local=None, compose=TOOL)
    assert plan.ok, plan.errors
    result = write_conf(plan)
    assert result.verdict is not None and result.verdict.ok, result.verdict
    ports = published(result.verdict.config)
    assert ports >= EXPECTED_PORTS
    # Nothing else was published where we asked for something else.
    assert not {p for p in ports if p[2] in (25, 587, 993) and p not in EXPECTED_PORTS}
    # Running Compose again on the written file (through the .env link) agrees.
    again = judge(TOOL, d, d / ".env", keys=plan.values)
    assert again.ok and published(again.config) == ports


@needs_compose
@pytest.mark.parametrize("generation", ["current", "2020"])
def test_full_mailcow_conf_edited_in_place_still_passes_compose(tmp_path: Path, generation: str,
                                                                 request: pytest.FixtureRequest) -> None:
    d = _checkout(tmp_path, request, generation)
    (d / "mailcow.conf").write_bytes((MAILCOW_FIXTURES / generation / "mailcow.conf").read_bytes())
    plan = plan_conf(d, _root(tmp_path), answers={"SMTP_PORT": "127.0.0.1:2525"}, local=None, compose=TOOL)
    assert plan.ok, plan.errors
    result = write_conf(plan)
    assert result.verdict is not None and result.verdict.ok
    assert ("127.0.0.1", "2525", 25) in published(result.verdict.config)


@needs_compose
def test_compose_failure_is_reported_in_its_own_words_and_old_file_kept(tmp_path: Path) -> None:
    d = tmp_path / "current"
    d.mkdir()
    (d / "docker-compose.yml").write_bytes((MAILCOW_FIXTURES / "current" / "docker-compose.yml").read_bytes())
    (d / "mailcow.conf").write_bytes((MAILCOW_FIXTURES / "current" / "mailcow.conf").read_bytes())
    before = (d / "mailcow.conf").read_bytes()
    # A checkout whose compose file Compose cannot accept: the candidate must not replace the old file.
    with open(d / "docker-compose.yml", "a") as fh:
        fh.write("\nservices:\n  broken: [\n")
    plan = plan_conf(d, _root(tmp_path), answers={"SMTP_PORT": "2525"}, local=None, compose=TOOL)
    assert plan.ok
    with pytest.raises(ConfError, match="Docker Compose rejects the new file: .+"):
        write_conf(plan)
    assert (d / "mailcow.conf").read_bytes() == before
    assert sorted(os.listdir(d)) == ["docker-compose.yml", "mailcow.conf"]


@needs_compose
def test_docker_compose_version_matches_what_is_installed() -> None:
    flavour, how = compose_flavour(Host())
    assert flavour == TOOL.flavour, how


VALUE = st.text(alphabet=st.sampled_from(list(string.printable) + ["é", "а"]), max_size=24)


@needs_compose
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["text", "quoted", "port", "san"]), VALUE), min_size=1,
                max_size=12))
def test_compose_reads_accepted_values_like_dotenv(tmp_path_factory, drawn) -> None:
    from mailcow_wizard.conf.schema import get_schema

    schema = get_schema("current")
    specs = {"text": None, "quoted": schema.get("WATCHDOG_SUBJECT"), "port": schema.get("SMTP_PORT"),
             "san": schema.get("ADDITIONAL_SAN")}
    values: dict[str, str] = {}
    quoted = []
    for i, (kind, value) in enumerate(drawn):
        key = f"K{i}"
        spec = specs[kind]
        if check_value(key, value, spec):
            continue
        values[key] = value
        if spec is not None and spec.quoted:
            quoted.append(key)
    if not values:
        return
    d = tmp_path_factory.mktemp("c")
    doc = ConfDocument()
    doc.update(values, quoted=quoted)
    (d / "mailcow.conf").write_bytes(doc.render())
    env = "\n".join(f"      {k}: ${{{k}}}" for k in values)
    (d / "docker-compose.yml").write_text(f"services:\n  t:\n    image: busybox\n    environment:\n{env}\n")
    verdict = judge(TOOL, d, d / "mailcow.conf", keys=values)
    assert verdict.ok, verdict.message
    assert verdict.config["services"]["t"]["environment"] == values
