"""`@record`: dataclass-like classes built without `exec`, so `check --json` starts fast.

Why it exists: `dataclasses.dataclass` compiles each generated method from source text with `exec`
and pulls in `inspect`, `ast` and `tokenize`; over the forty-odd classes of the `check` path that cost
a large part of the whole run (benchmarks/bench_imports.py measures both ways; the README has the
figures). Here the same methods are closures over the field list.

Supported, because the probes use it: `@record` and `@record(frozen=True)` over annotated fields,
defaults, `field(default_factory=...)`, properties and methods, `asdict`, `replace` and `fields`.
Anything else (InitVar, kw_only, slots, order, __post_init__, inheritance from a record with other
options) raises at class creation, so nothing silently behaves differently from a dataclass. Modules
outside the check path use the standard `dataclasses`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # only type checkers read it; importing typing_extensions would load inspect on the check path

    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        return lambda f: f

T = TypeVar("T", bound=type)

_MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (as dataclasses.FrozenInstanceError)."""


class Field:
    """A field's default or default factory, as `field(...)` declares it."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any = _MISSING, default_factory: Any = _MISSING) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default = default
        self.default_factory = default_factory


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] = _MISSING) -> Any:
    """`dataclasses.field` for the two options records support."""
    return Field(default, default_factory)


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, frozen: bool = False) -> Callable[[T], T]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: Any = None, /, *, frozen: bool = False) -> Any:
    """Make `cls` a record: `__init__` from its annotated fields, `__repr__`, `__eq__`, and for frozen
    ones `__hash__` and no assignment after `__init__`."""

    def wrap(c: type) -> type:
        return _build(c, frozen)

    return wrap if cls is None else wrap(cls)


def _annotation_text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")


def _build(cls: type, frozen: bool) -> type:
    if "__post_init__" in cls.__dict__ or any(hasattr(b, "__record_fields__") for b in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: records support neither __post_init__ nor inheritance")
    names: list[str] = []
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        text = _annotation_text(annotation)
        if text.startswith(("InitVar", "dataclasses.InitVar")):
            raise TypeError(f"{cls.__name__}.{name}: records do not support InitVar")
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, Field):
            # As dataclasses do: a plain default stays a class attribute, a factory's field does not.
            if value.default_factory is not _MISSING:
                factories[name] = value.default_factory
                delattr(cls, name)
            elif value.default is not _MISSING:
                defaults[name] = value.default
                setattr(cls, name, value.default)
            else:
                delattr(cls, name)
                value = _MISSING
        elif value is not _MISSING:
            defaults[name] = value
        if value is _MISSING and (defaults or factories):
            raise TypeError(f"{cls.__name__}: non-default argument {name!r} follows default argument")
        names.append(name)

    field_names = tuple(names)
    count = len(field_names)
    set_field = object.__setattr__  # also what a frozen record's own __init__ must use
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{qualname}() takes {count} positional arguments but {given} were given")
        for name, value in zip(field_names, args):
            set_field(self, name, value)
        for name in field_names[given:]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in defaults:
                value = defaults[name]
            elif name in factories:
                value = factories[name]()
            else:
                raise TypeError(f"{qualname}() missing required argument: {name!r}")
            set_field(self, name, value)
        if kwargs:
            name = next(iter(kwargs))
            if name in field_names:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in field_names)
        return f"{qualname}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in field_names)

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in field_names))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    methods: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__, "__eq__": __eq__}
    if frozen:
        methods.update(__hash__=__hash__, __setattr__=__setattr__, __delattr__=__delattr__)
    for name, func in methods.items():
        if name not in cls.__dict__:  # a method the class defines itself wins, as with dataclasses
            func.__qualname__ = f"{qualname}.{name}"
            setattr(cls, name, func)
    if not frozen:
        cls.__hash__ = None  # type: ignore[assignment]  # mutable and comparable: unhashable, as a dataclass
    cls.__record_fields__ = field_names  # type: ignore[attr-defined]
    cls.__match_args__ = field_names  # type: ignore[attr-defined]
    return cls


def fields(obj: Any) -> tuple[str, ...]:
    """The field names of a record (class or instance), in declaration order."""
    return obj.__record_fields__  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if hasattr(type(value), "__record_fields__"):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def asdict(obj: Any) -> dict[str, Any]:
    """A record as a dict, nested records, lists, tuples and dicts converted too (new containers)."""
    return {name: _plain(getattr(obj, name)) for name in fields(obj)}


def replace(obj: Any, /, **changes: Any) -> Any:
    """A copy of a record with some fields changed."""
    values = {name: getattr(obj, name) for name in fields(obj)}
    values.update(changes)
    return obj.__class__(**values)
