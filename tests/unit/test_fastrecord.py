"""Records behave like the dataclasses they stand in for: the same class written both ways agrees."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import ClassVar

import pytest

from mailcow_wizard import fastrecord as records


def pair(frozen: bool) -> tuple[type, type]:
    """The same class as a dataclass and as a record."""

    def body() -> dict[str, object]:
        return {"__annotations__": {"name": "str", "port": "int", "tags": "list[str]", "note": "str | None"}}

    ns_dc = body()
    ns_dc["tags"] = dataclasses.field(default_factory=list)
    ns_dc["note"] = None
    ns_rec = body()
    ns_rec["tags"] = records.field(default_factory=list)
    ns_rec["note"] = None
    dc = dataclasses.dataclass(frozen=frozen)(type("Item", (), dict(ns_dc, __qualname__="Item")))
    rec = records.record(frozen=frozen)(type("Item", (), dict(ns_rec, __qualname__="Item")))
    return dc, rec


@pytest.mark.parametrize("frozen", [True, False])
def test_same_behaviour_as_dataclasses(frozen: bool) -> None:
    dc, rec = pair(frozen)
    for cls in (dc, rec):
        a = cls("smtp", 25)
        assert a.tags == [] and a.note is None and cls.note is None
        assert a.tags is not cls("x", 1).tags  # a fresh list each time
        assert not hasattr(cls, "tags")
        b = cls(name="smtp", port=25, tags=[], note=None)
        assert a == b and a != cls("imap", 143) and (a == ("smtp", 25)) is False
    assert repr(rec("smtp", 25, ["x"], "n")) == repr(dc("smtp", 25, ["x"], "n"))
    assert rec.__match_args__ == ("name", "port", "tags", "note")
    if sys.version_info >= (3, 10):  # dataclasses have no __match_args__ before 3.10
        assert dc.__match_args__ == rec.__match_args__
    assert records.fields(rec) == tuple(f.name for f in dataclasses.fields(dc))
    assert records.asdict(rec("a", 1, ["t"])) == dataclasses.asdict(dc("a", 1, ["t"]))
    assert records.replace(rec("a", 1), port=2) == rec("a", 2)


@pytest.mark.parametrize("args,kwargs,message", [
    ((), {}, "missing required argument: 'name'"),
    (("a", 1, [], None, 5), {}, "takes 4 positional arguments but 5 were given"),
    (("a", 1), {"name": "b"}, "multiple values for argument 'name'"),
    (("a", 1), {"colour": "red"}, "unexpected keyword argument 'colour'"),
])
def test_wrong_arguments_raise_type_error(args: tuple, kwargs: dict, message: str) -> None:
    _, rec = pair(True)
    with pytest.raises(TypeError, match=message):
        rec(*args, **kwargs)


def test_frozen_records_hash_and_refuse_assignment() -> None:
    dc, rec = pair(True)
    a = rec("smtp", 25, ())
    assert hash(a) == hash(rec("smtp", 25, ())) == hash(dc("smtp", 25, ()))
    with pytest.raises(records.FrozenInstanceError):
        a.port = 26
    with pytest.raises(AttributeError):
        del a.name
    assert {a} == {rec("smtp", 25, ())}


def test_mutable_records_assign_and_are_unhashable() -> None:
    _, rec = pair(False)
    a = rec("smtp", 25)
    a.port = 2525
    assert a.port == 2525
    with pytest.raises(TypeError):
        hash(a)


def test_methods_and_properties_of_the_class_stay() -> None:
    @records.record(frozen=True)
    class Port:
        number: int

        @property
        def privileged(self) -> bool:
            return self.number < 1024

        def __repr__(self) -> str:
            return f"port {self.number}"

    assert Port(25).privileged and repr(Port(25)) == "port 25"


def test_classvars_are_not_fields() -> None:
    @records.record
    class Limits:
        LIMIT: ClassVar[int] = 3
        value: int = 0

    assert records.fields(Limits) == ("value",) and Limits().LIMIT == 3


def test_unsupported_features_fail_loudly() -> None:
    with pytest.raises(TypeError, match="non-default argument"):
        records.record(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))
    with pytest.raises(TypeError, match="InitVar"):
        records.record(type("Bad", (), {"__annotations__": {"a": "InitVar[int]"}}))
    with pytest.raises(TypeError, match="__post_init__"):
        records.record(type("Bad", (), {"__annotations__": {"a": "int"}, "__post_init__": lambda s: None}))


def test_the_check_path_does_not_import_dataclasses() -> None:
    """`check --json` loads no dataclasses (and so not inspect/ast/tokenize): that is what records are for."""
    code = ("import sys\nfrom mailcow_wizard.cli import main\nrc = main(['check', '--json'])\n"
            "bad = sorted(m for m in ('dataclasses', 'inspect', 'textual', 'rich') if m in sys.modules)\n"
            "print('LOADED', ','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout
    assert out.splitlines()[-1] == "LOADED ", out[-500:]
