"""Which client-event fields the openai SDK says must not be null, as test cases.

The SDK's client-event *param* types (``TypedDict``s) type a field that may be null as
``Optional[...]``; every other field must not be. Where the SDK's own docstring of a
field says it "can be set to null" (``turn_detection``, ``transcription``, ...), the
field is nullable too: those docstrings document the real API, and its types are
generated from a spec that omits the ``nullable``. MCP tool definitions and MCP items
are not followed: the local server does not serve MCP (it keeps such items as sent).

:func:`cases` walks the types and makes, for each field, the smallest event that sets
it to null (with the ``type`` and other literal fields around it filled in, so that the
server can tell which variant of a union it is in), the ``param`` the real API names
(``session.audio.input.format``, ``session.tools[0].name``) and what the error says it
expected. It needs the ``openai`` package; import it only after ``importorskip``.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import typing_extensions

Build = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class NullCase:
    """One field set to null: the event, the param the error names, what it expected."""

    frame: dict[str, Any]
    param: str
    expected: str
    nullable: bool

    @property
    def message(self) -> str:
        return f"Invalid type for '{self.param}': expected {self.expected}, but got null instead."


def _strip(hint: Any) -> Any:
    """The type inside ``Required``/``NotRequired``/``Annotated``."""
    while True:
        origin = get_origin(hint)
        if origin in (typing.Required, typing.NotRequired, typing_extensions.Required):
            hint = get_args(hint)[0]
        elif origin in (typing.Annotated, typing_extensions.Annotated):
            hint = get_args(hint)[0]
        else:
            return hint


def _members(hint: Any) -> list[Any]:
    """The members of a union (one for a non-union), without ``None``."""
    hint = _strip(hint)
    if get_origin(hint) in (Union, types.UnionType):
        found: list[Any] = []
        for arg in get_args(hint):
            found += [] if arg is type(None) else _members(arg)
        return found
    return [hint]


def _optional(hint: Any) -> bool:
    hint = _strip(hint)
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and typing_extensions.is_typeddict(hint)


def _is_array(hint: Any) -> bool:
    origin = get_origin(hint)
    return origin is not None and getattr(origin, "__name__", "") in (
        "list",
        "Iterable",
        "Sequence",
        "SequenceNotStr",
    )


def _is_map(hint: Any) -> bool:
    return hint is dict or get_origin(hint) is dict or hint is object


@cache
def _docstrings(cls: type) -> dict[str, str]:
    """The docstring under each field of a TypedDict's class body."""
    found: dict[str, str] = {}
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return found
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    statements = body.body
    for statement, following in itertools.pairwise(statements):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.target.id] = following.value.value
    return found


def _documented_null(cls: type, name: str) -> bool:
    text = " ".join(_docstrings(cls).get(name, "").split())
    return "set to `null`" in text or "set to null" in text or "Set to null" in text


def _quote(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _join(words: list[str]) -> str:
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + ", or " + words[-1]


def one_of(values: list[object]) -> str:
    """``one of 'a', 'b', or 'c'``, as the real API lists what it expected."""
    return "one of " + _join([_quote(v) for v in dict.fromkeys(values)])


def _kind(hint: Any) -> str:
    """What one member of a type is, as the error words it."""
    if get_origin(hint) is Literal:
        return "a string" if all(isinstance(v, str) for v in get_args(hint)) else "an integer"
    if hint is str:
        return "a string"
    if hint is bool:
        return "a boolean"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if _is_array(hint):
        return "an array"
    if _is_typeddict(hint) or _is_map(hint):
        return "an object"
    raise AssertionError(f"no kind for {hint!r}")


def expected(hint: Any) -> str:
    """What the error says a field of type ``hint`` expected."""
    members = _members(hint)
    if len(members) == 1 and get_origin(members[0]) is Literal:
        return one_of(list(get_args(members[0])))
    kinds = list(dict.fromkeys(_kind(m) for m in members))
    return kinds[0] if len(kinds) == 1 else "one of " + _join(kinds)


def _literals(cls: type) -> dict[str, tuple[object, ...]]:
    """The values of each literal field (the first tells a union's variants apart)."""
    hints = get_type_hints(cls, include_extras=True)
    found: dict[str, tuple[object, ...]] = {}
    for name, hint in hints.items():
        members = _members(hint)
        if len(members) == 1 and get_origin(members[0]) is Literal:
            found[name] = get_args(members[0])
    return found


def _followed(cls: type) -> bool:
    return "Mcp" not in cls.__name__


def _walk(cls: type, param: str, build: Build, variants: list[type], out: list[NullCase]) -> None:
    """The cases of every field of ``cls``, reached through ``build``."""
    hints = get_type_hints(cls, include_extras=True)
    literals = _literals(cls)
    filled = {name: values[0] for name, values in literals.items()}
    for name, hint in hints.items():
        where = f"{param}.{name}" if param else name
        base = {key: value for key, value in filled.items() if key != name}
        nullable = _optional(hint) or _documented_null(cls, name)
        wanted = expected(hint)
        tags = [_literals(variant).get(name, ()) for variant in variants]
        if name in literals and len(set(tags)) > 1:
            # The tag of a union's variants: the error lists every variant's values.
            wanted = one_of([value for values in tags for value in values])
        out.append(NullCase(build({**base, name: None}), where, wanted, nullable))

        def inner(value: Any, base: dict[str, Any] = base, name: str = name) -> dict[str, Any]:
            return build({**base, name: value})

        _descend(hint, where, inner, out)


def _descend(hint: Any, param: str, build: Build, out: list[NullCase]) -> None:
    """The cases inside a value of type ``hint`` at ``param``."""
    members = _members(hint)
    dicts = [m for m in members if _is_typeddict(m)]
    for member in dicts:
        if _followed(member):
            _walk(member, param, build, dicts, out)
    for member in members:
        if _is_array(member):
            (item,) = get_args(member)
            where = f"{param}[0]"
            out.append(NullCase(build([None]), where, expected(item), _optional(item)))
            _descend(item, where, lambda value: build([value]), out)
        elif get_origin(member) is dict:
            _, value_type = get_args(member)
            where = f"{param}.key"
            out.append(
                NullCase(build({"key": None}), where, expected(value_type), _optional(value_type))
            )


def cases(events: Iterable[type]) -> Iterator[NullCase]:
    """Every null case of each client event (an SDK client-event param TypedDict)."""
    for event in events:
        out: list[NullCase] = []
        _walk(event, "", lambda value: dict(value), [event], out)
        yield from (case for case in out if case.param != "type")  # the codec's: not here
