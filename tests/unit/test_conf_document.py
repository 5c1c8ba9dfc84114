"""The loss-free document model: byte-exact round trips, in-place edits, and a parser that never fails."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcow_wizard.conf import parse_conf_values
from mailcow_wizard.conf.document import ConfDocument, parse_line
from mailcow_wizard.conf.schema import GENERATIONS
from tests.conftest import MAILCOW_FIXTURES


@pytest.mark.parametrize("generation", GENERATIONS)
def test_example_round_trips_byte_for_byte_and_reads_like_dotenv(generation: str) -> None:
    path = MAILCOW_FIXTURES / generation / "mailcow.conf"
    data = path.read_bytes()
    doc = ConfDocument.parse(data)
    assert doc.render() == data
    assert doc.values() == dict(dotenv_values(path))
    assert all(line.inert for line in doc.lines if line.kind == "assign")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_editing_one_value_changes_exactly_that_line(generation: str) -> None:
    data = (MAILCOW_FIXTURES / generation / "mailcow.conf").read_bytes()
    doc = ConfDocument.parse(data)
    assert doc.set("SMTP_PORT", "127.0.0.1:2525")
    assert doc.render() == data.replace(b"\nSMTP_PORT=25\n", b"\nSMTP_PORT=127.0.0.1:2525\n")
    assert not doc.set("SMTP_PORT", "127.0.0.1:2525")


def test_edit_keeps_indent_export_and_trailing_comment() -> None:
    doc = ConfDocument.parse(b"  export SMTP_PORT=25   # mail in\nX=1")
    doc.set("SMTP_PORT", "2525")
    doc.set("NEW", "v", ["a comment"])
    assert doc.render() == b"  export SMTP_PORT=2525   # mail in\nX=1\n\n# a comment\nNEW=v\n"


def test_last_assignment_wins_and_is_the_one_edited() -> None:
    doc = ConfDocument.parse(b"A=1\nA=2\n")
    assert doc.values() == {"A": "2"} and doc.duplicates() == ["A"]
    doc.set("A", "3")
    assert doc.render() == b"A=1\nA=3\n"


def test_quoted_values_decode_like_dotenv(tmp_path) -> None:
    text = "A='x y'\nB=\"abc\"\nC=plain # note\nD=\nE= \n"
    (tmp_path / "f").write_text(text)
    assert ConfDocument.parse(text).values() == dict(dotenv_values(tmp_path / "f"))


@pytest.mark.parametrize("line,inert", [
    ("A=abc", True), ("A=abc # c", True), ("A=", True), ("A='x y'", True), ('A="x"', True),
    ("A=abc def", False), ("A= abc", False), ("A= #c", False), ("A='x'y", False), ('A="$(id)"', False),
    ('A="a\\"b"', False), ("A='unterminated", False), ("A=a#b", False), ('A="`id`"', False),
])
def test_inertness_of_a_line(line: str, inert: bool) -> None:
    parsed = parse_line(line + "\n")
    assert parsed.kind == "assign" and parsed.inert is inert


def test_non_assignments_are_kept_as_other() -> None:
    doc = ConfDocument.parse(b"rm -rf /\nKEY =x\n# c\n\n")
    assert [line.kind for line in doc.lines] == ["other", "other", "comment", "blank"]
    assert doc.values() == {}


def test_fixing_a_broken_line_replaces_it_whole() -> None:
    doc = ConfDocument.parse(b"SMTP_PORT=25 $(reboot)\n")
    doc.set("SMTP_PORT", "25")
    assert doc.render() == b"SMTP_PORT=25\n"


def test_non_utf8_bytes_survive() -> None:
    data = b"# caf\xe9\nA=1\n\xff\xfe=2\n"
    assert ConfDocument.parse(data).render() == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    doc = ConfDocument.parse(data)
    assert doc.render() == data
    doc.values()
    parse_conf_values(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), st.text(
    alphabet="abcXYZ019._-:/@,+=%", max_size=20))
def test_set_then_render_then_parse_gives_the_value(text: str, value: str) -> None:
    doc = ConfDocument.parse(text)
    doc.set("SOME_KEY", value)
    again = ConfDocument.parse(doc.render())
    assert again.values()["SOME_KEY"] == value


def test_read_existing_conf_uses_the_engine_and_stays_light(tmp_path) -> None:
    import json
    import subprocess
    import sys

    conf = tmp_path / "mailcow.conf"
    conf.write_bytes(b"A='x y'\nB=1 # note\nA=2\nC=\xff\n")
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from mailcow_wizard.conf import read_existing_conf\n"
        f"values = read_existing_conf(Path({str(conf)!r}))\n"
        "heavy = [m for m in ('dotenv', 'psutil', 'textual', 'mailcow_wizard.conf.write',\n"
        "                     'mailcow_wizard.conf.validate') if m in sys.modules]\n"
        "print(json.dumps({'values': values, 'heavy': heavy}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["values"] == {"B": "1", "A": "2", "C": "\ufffd"}
    assert out["heavy"] == []


def test_set_puts_a_commented_out_key_under_its_placeholder() -> None:
    doc = ConfDocument.parse("# API key\n#API_KEY=\n\nOTHER=1\n")
    assert doc.has_key("API_KEY") and "API_KEY" not in doc.values()
    assert doc.set("API_KEY", "abc-123")
    assert doc.render() == b"# API key\n#API_KEY=\nAPI_KEY=abc-123\n\nOTHER=1\n"
    doc.add_placeholder("SNAT_TO_SOURCE", ["outgoing IPv4"])
    assert doc.render().endswith(b"OTHER=1\n\n# outgoing IPv4\n#SNAT_TO_SOURCE=\n")
