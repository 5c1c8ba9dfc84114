"""mailcow's real checkouts (MAILCOW_SRC) against this project: the generation is detected from the real
docker-compose.yml, the schema knows exactly the keys mailcow's generator writes, and the stand-ins in
tests/fixtures/mailcow hold the same facts as the real files (service names, published port lines, the
network block, the generator's keys and defaults). Without MAILCOW_SRC these skip with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.schema import GENERATIONS, detect_generation, get_schema
from tests.conftest import MAILCOW_FIXTURES, checkout_generation, mailcow_src

ASSIGN = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
COMMENTED = re.compile(r"^#([A-Z][A-Z0-9_]*)=")
PORT_SPEC = re.compile(r"\$\{\w+:-[^}]*\}")


def generated_lines(checkout: Path) -> list[str]:
    """The lines generate_config.sh writes into mailcow.conf (its here-document)."""
    text = (checkout / "generate_config.sh").read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^cat << ?EOF > mailcow\.conf\n(.*?)^EOF$", text, re.M | re.S)
    assert m, "generate_config.sh no longer writes mailcow.conf from a here-document"
    return m.group(1).splitlines()


def generator_assignments(checkout: Path) -> dict[str, str]:
    """KEY -> value text of every active line generate_config.sh writes into mailcow.conf."""
    return {a.group(1): a.group(2) for a in map(ASSIGN.match, generated_lines(checkout)) if a}


def commented_only(lines: list[str]) -> set[str]:
    """Keys written only commented out (`#KEY=...`), never as an active line."""
    active = {a.group(1) for a in map(ASSIGN.match, lines) if a}
    return {c.group(1) for c in map(COMMENTED.match, lines) if c} - active


def compose_doc(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def published_lines(doc: dict) -> dict[str, set[str]]:
    """service -> its published port lines that carry a ${VAR:-default} (mailcow.conf's port keys)."""
    out: dict[str, set[str]] = {}
    for name, service in (doc.get("services") or {}).items():
        lines = {str(p) for p in service.get("ports") or () if PORT_SPEC.search(str(p))}
        if lines:
            out[name] = lines
    return out


@pytest.mark.parametrize("generation", GENERATIONS)
def test_generation_is_detected_from_the_real_compose_file(generation: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path) -> None:
    real = mailcow_src(request, generation)
    (tmp_path / "docker-compose.yml").write_bytes((real / "docker-compose.yml").read_bytes())
    detected, reason = detect_generation(tmp_path)
    assert detected == generation, reason


@pytest.mark.parametrize("generation", GENERATIONS)
def test_schema_requires_exactly_the_keys_mailcows_generator_writes(generation: str,
                                                                   request: pytest.FixtureRequest) -> None:
    written = generator_assignments(mailcow_src(request, generation))
    assert {k.name for k in get_schema(generation).required} == set(written)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_stand_in_mailcow_conf_has_the_generators_keys_and_defaults(generation: str,
                                                                    request: pytest.FixtureRequest) -> None:
    written = generator_assignments(mailcow_src(request, generation))
    ours = ConfDocument.parse((MAILCOW_FIXTURES / generation / "mailcow.conf").read_bytes()).values()
    assert list(ours) == list(written), "same keys in the same order"
    literal = {k: v for k, v in written.items() if "$" not in v}
    assert {k: ours[k] for k in literal} == literal
    stand_in_lines = (MAILCOW_FIXTURES / generation / "mailcow.conf").read_text().splitlines()
    assert commented_only(stand_in_lines) == commented_only(generated_lines(mailcow_src(request, generation)))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_schema_comments_out_exactly_the_keys_mailcows_generator_does(generation: str,
                                                                     request: pytest.FixtureRequest) -> None:
    lines = generated_lines(mailcow_src(request, generation))
    assert {k.name for k in get_schema(generation).commented} == commented_only(lines)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_stand_in_compose_file_has_the_real_services_ports_and_network(
        generation: str, request: pytest.FixtureRequest) -> None:
    real = compose_doc(mailcow_src(request, generation) / "docker-compose.yml")
    ours = compose_doc(MAILCOW_FIXTURES / generation / "docker-compose.yml")
    assert list(ours["services"]) == list(real["services"])
    assert published_lines(ours) == published_lines(real)
    real_net, our_net = real["networks"]["mailcow-network"], ours["networks"]["mailcow-network"]
    for key in ("driver", "driver_opts", "enable_ipv6", "ipam"):
        assert our_net[key] == real_net[key], key
    assert checkout_generation(MAILCOW_FIXTURES / generation) == generation


def test_every_mailcow_src_entry_is_a_checkout(mailcow_srcs: list[Path]) -> None:
    """Each MAILCOW_SRC entry gives one checkout with mailcow's scripts and the .env link to mailcow.conf."""
    assert mailcow_srcs
    for checkout in mailcow_srcs:
        assert (checkout / "generate_config.sh").is_file() and (checkout / "update.sh").is_file()
        assert (checkout / ".env").is_symlink() and (checkout / ".env").readlink().name == "mailcow.conf"
