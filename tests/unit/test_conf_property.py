"""Property: any value the validator accepts reads back identically through bash `source` and dotenv.

One hypothesis example draws a value for every key of a generation (structured values per key type,
mixed with hostile free text), keeps those the validator accepts, renders the file the way the writer
does (new file and in-place edit of mailcow's example), and compares what bash and python-dotenv read.
"""

from __future__ import annotations

import shutil
import string
import subprocess
import zoneinfo
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.schema import GENERATIONS, KeySpec, get_schema
from mailcow_wizard.conf.validate import ERROR, check_value
from mailcow_wizard.conf.write import _new_document
from tests.conftest import MAILCOW_FIXTURES

BASH = shutil.which("bash")
pytestmark = [pytest.mark.skipif(BASH is None, reason="bash is not installed"),
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")]

HOSTILE_TEXT = st.text(alphabet=st.sampled_from(
    list(string.printable) + ["\0", "é", "а", "ｍ", "\u200b", "`"]), max_size=30)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(str)
PORT = st.integers(0, 70000).map(str)


def _strategy(spec: KeySpec) -> st.SearchStrategy[str]:
    kind = spec.kind
    safe = st.text(alphabet="".join(sorted(set("abcXYZ0189._-:/@,+=%") | set(spec.extra_chars))), max_size=30)
    structured: dict[str, st.SearchStrategy[str]] = {
        "hostname": st.lists(LABEL, min_size=1, max_size=5).map(".".join),
        "port": st.one_of(PORT, st.tuples(IPV4, PORT).map(":".join),
                          st.tuples(IPV6, PORT).map(lambda t: f"[{t[0]}]:{t[1]}")),
        "bare_port": PORT,
        "bind": st.one_of(st.just(""), IPV4, IPV6.map(lambda a: f"[{a}]"), IPV6),
        "yn": st.sampled_from(["y", "n", "Y", "yes"]),
        "truefalse": st.sampled_from(["true", "false", "True"]),
        "tz": st.sampled_from(sorted(zoneinfo.available_timezones()) or ["UTC"]),
        "ipv4_network": st.tuples(st.sampled_from(["10", "172", "192"]), st.integers(0, 255),
                                  st.integers(0, 255)).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}"),
        "ipv6_network": st.integers(0, 2**16 - 1).map(lambda n: f"fd00:{n:x}::/64"),
        "secret": st.text(alphabet=string.ascii_letters + string.digits, min_size=28, max_size=28),
        "secret_exact": st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=16),
        "int": st.integers(0, 10**9).map(str),
        "text": st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
        "sanlist": st.lists(st.lists(st.one_of(LABEL, st.just("*")), min_size=1, max_size=3).map(".".join),
                            max_size=3).map(",".join),
        "emaillist": st.lists(st.tuples(LABEL, LABEL).map(lambda t: f"{t[0]}@{t[1]}.org"), max_size=3)
        .map(",".join),
    }
    options = [safe, HOSTILE_TEXT]
    if kind in structured:
        options.insert(0, structured[kind])
    if spec.default is not None:
        options.append(st.just(spec.default))
    return st.one_of(options)


def _accepted(values: dict[str, str], generation: str) -> dict[str, str]:
    schema = get_schema(generation)
    return {k: v for k, v in values.items()
            if not [i for i in check_value(k, v, schema.get(k)) if i.level == ERROR]}


def _bash_read(path: Path, keys: list[str]) -> dict[str, str]:
    script = 'set -a; . "$1" || exit 99; shift; for k in "$@"; do printf "%s\\0" "${!k-<unset>}"; done'
    argv = ["env", "-i", BASH, "--noprofile", "--norc", "-c", script, "bash", str(path), *keys]
    proc = subprocess.run(argv, capture_output=True, check=False, timeout=10, cwd=path.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b"", proc.stderr  # nothing was run as a command
    parts = proc.stdout.split(b"\0")[:-1]
    return dict(zip(keys, (p.decode() for p in parts), ))


def _check(path: Path, data: bytes, expected: dict[str, str]) -> None:
    path.write_bytes(data)
    assert ConfDocument.parse(data).values() == expected
    assert dict(dotenv_values(path)) == expected
    assert _bash_read(path, list(expected)) == expected


def _drawn(generation: str) -> st.SearchStrategy[dict[str, str]]:
    schema = get_schema(generation)
    custom = st.one_of(HOSTILE_TEXT, st.text("abc.,:/=", max_size=9))
    return st.fixed_dictionaries({spec.name: _strategy(spec) for spec in schema.keys},
                                 optional={"CUSTOM_KEY": custom})


@pytest.mark.parametrize("generation", GENERATIONS)
def test_accepted_values_read_back_identically_in_bash_and_dotenv(generation: str, tmp_path: Path) -> None:
    schema = get_schema(generation)
    example = (MAILCOW_FIXTURES / generation / "mailcow.conf").read_bytes()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_drawn(generation))
    def prop(drawn: dict[str, str]) -> None:
        values = _accepted(drawn, generation)
        new = _new_document(schema, values)
        _check(tmp_path / "mailcow.conf", new.render(), values)
        doc = ConfDocument.parse(example)
        doc.update(values, quoted=[s.name for s in schema.keys if s.quoted])
        expected = ConfDocument.parse(example).values()
        expected.update(values)
        _check(tmp_path / "mailcow.conf", doc.render(), expected)

    prop()


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_unknown_key_values_accepted_are_inert(value: str) -> None:
    accepted = not check_value("SOME_KEY", value, None)
    if accepted:
        assert all(c in string.ascii_letters + string.digits + "._-:/@,+=%" for c in value)
