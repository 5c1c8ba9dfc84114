"""mailcow.conf for mailcow checkouts of other ages than the two real ones in MAILCOW_SRC.

Each tests/fixtures/mailcow_ages/*.json holds facts read from one commit of mailcow-dockerized (the
keys its generator writes with their defaults, its update migration's option list and match rule, the
keys that migration deletes, and the port mappings and conf variables of its docker-compose.yml). A
test builds a minimal checkout that says the same things in the same places, lets the conf engine
write mailcow.conf for it, and checks the file against the facts: every key present (commented ones as
`#KEY=`), the same defaults, nothing for that age's update migration to add or delete, bash reading
every value as intended and, where Docker Compose is installed, the same published ports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcow_wizard.conf.checkout import checkout_schema
from mailcow_wizard.conf.write import plan_conf, write_conf

AGES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "mailcow_ages"
AGES = sorted(AGES_DIR.glob("*.json"))
ANSWERS = {"MAILCOW_HOSTNAME": "mail.example.org", "TZ": "Europe/Berlin"}
COMPUTED = {"MAILCOW_HOSTNAME", "TZ", "DBPASS", "DBROOT", "REDISPASS", "SOGO_URL_ENCRYPTION_KEY",
            "DOCKER_COMPOSE_VERSION", "SKIP_CLAMD", "SKIP_SOLR", "ENABLE_IPV6"}
"""Keys whose value the generator computes (from the host, the user or random bytes), not a default."""

WITHOUT_GENERATOR_DIFFERS = {"2025-05-13": {"HTTP_REDIRECT"}}
"""Defaults that only the generator script knows: without it our catalog's value is written instead.
HTTP_REDIRECT was n from 2025-02 until 2025-09, and Compose's default does not say which."""


def _facts(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _build_checkout(d: Path, facts: dict, with_generator: bool = True) -> Path:
    """A checkout with the facts in the places the conf engine reads them (our own minimal files)."""
    d.mkdir(parents=True)
    if with_generator:
        lines = []
        for key, commented, default in facts["generator"]:
            if commented:
                lines.append(f"#{key}=")
            else:
                lines.append(f"{key}={default}" if default is not None else f"{key}=${{COMPUTED_{key}}}")
        (d / "generate_config.sh").write_text("cat << EOF > mailcow.conf\n" + "\n".join(lines) + "\nEOF\n")
    (d / "update.sh").write_text("CONFIG_ARRAY=(\n" + "".join(f'  "{o}"\n' for o in facts["update_options"])
                                 + ")\n")
    env = "".join(f'      - "{k}=${{{k}:-{v}}}"\n' if v is not None else f'      - "{k}=${{{k}}}"\n'
                  for k, v in facts["compose_vars"].items())
    ports = "".join(f'      - "{p}"\n' for p in facts["compose_ports"])
    (d / "docker-compose.yml").write_text(
        "services:\n  probe:\n    image: example.invalid/probe\n    environment:\n" + env
        + "    ports:\n" + ports)
    return d


def _generate(d: Path) -> tuple[str, dict[str, str]]:
    plan = plan_conf(d, answers=ANSWERS, mem=None, local=None, compose=None, strict_addresses=False)
    assert plan.ok, [i.message for i in plan.errors]
    write_conf(plan, run_compose=False)
    return (d / "mailcow.conf").read_text(encoding="utf-8"), plan.values


@pytest.fixture(params=AGES, ids=[p.stem for p in AGES])
def age(request: pytest.FixtureRequest) -> dict:
    return _facts(request.param)


def test_four_ages_between_2021_and_2026_are_recorded() -> None:
    dates = [_facts(p)["date"] for p in AGES]
    assert len(dates) >= 3 and all("2021" <= d < "2027" for d in dates)


def test_every_generator_key_is_written_with_its_default(tmp_path: Path, age: dict) -> None:
    text, values = _generate(_build_checkout(tmp_path / "m", age))
    for key, commented, default in age["generator"]:
        if commented:
            assert re.search(rf"^#?{key}=", text, re.M), f"{key} missing (mailcow writes it commented out)"
            assert key not in values, f"{key} should stay unset, as mailcow leaves it"
        else:
            assert key in values, f"{key} missing"
            if default is not None and key not in COMPUTED:
                assert values[key] == default, f"{key}: {values[key]!r}, its generator writes {default!r}"
    ours = {m.group(1) for m in re.finditer(r"^#?([A-Z][A-Z0-9_]*)=", text, re.M)}
    assert ours == {k for k, _, _ in age["generator"]}, "keys beyond that age's own generator"


def test_that_ages_update_migration_finds_nothing_to_add_or_delete(tmp_path: Path, age: dict) -> None:
    text, _ = _generate(_build_checkout(tmp_path / "m", age))
    for option in age["update_options"]:
        if age["update_match"] == "line":
            assert re.search(rf"^#?{option}=", text, re.M), f"update would add {option}"
        else:
            assert option in text, f"update would add {option}"
    for removed in age["removed"]:
        assert removed not in text, f"update would delete lines with {removed}"


def test_without_generator_script_keys_come_from_update_list_and_compose(tmp_path: Path, age: dict) -> None:
    d = _build_checkout(tmp_path / "m", age, with_generator=False)
    schema, reason = checkout_schema(d)
    assert "update.sh" in reason and "generate_config.sh" not in reason
    gen = {k: (c, v) for k, c, v in age["generator"]}
    assert {k.name for k in schema.keys} == set(gen)
    assert {k.name for k in schema.commented} == {k for k, (c, _) in gen.items() if c}
    differs = {k.name for k in schema.keys
               if not gen[k.name][0] and gen[k.name][1] is not None and k.name not in COMPUTED
               and k.default != gen[k.name][1]}
    assert differs == WITHOUT_GENERATOR_DIFFERS.get(age["date"], set())


def test_bash_reads_every_value_as_intended(tmp_path: Path, age: dict) -> None:
    d = _build_checkout(tmp_path / "m", age)
    _, values = _generate(d)
    script = "set -a; source ./mailcow.conf; set +a; " + "; ".join(
        f'printf "%s=%s\\0" {k} "${{{k}}}"' for k in values)
    out = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=d, capture_output=True,
                         check=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}).stdout
    read = dict(item.split("=", 1) for item in out.decode().split("\0") if item)
    assert read == values


def _compose_ports(d: Path, env_file: Path) -> list[dict]:
    out = subprocess.run(["docker", "compose", "--env-file", str(env_file), "-f",
                          str(d / "docker-compose.yml"), "config", "--format", "json"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"})
    if out.returncode != 0:
        # The 2021 checkouts default HTTP_BIND to ":" so an empty bind gives "::80:80", which Compose v2
        # refuses; what matters is that mailcow's own file and ours get the same answer.
        return [{"error": out.stderr.strip().splitlines()[-1]}]
    return json.loads(out.stdout)["services"]["probe"].get("ports", [])


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="Docker Compose v2 is not installed (`docker compose version` fails)")
def test_compose_publishes_the_same_ports_as_from_the_generators_file(tmp_path: Path, age: dict) -> None:
    d = _build_checkout(tmp_path / "m", age)
    _generate(d)
    reference = tmp_path / "reference.env"
    reference.write_text("".join(f"{k}={v}\n" for k, c, v in age["generator"] if not c and v is not None))
    ours = _compose_ports(d, d / "mailcow.conf")
    assert ours == _compose_ports(d, reference)
    if age["date"] >= "2021-07":
        assert ours and "error" not in ours[0], ours
