"""The wire audit: every client frame checked against the openai SDK's client-event param types.

The SDK's ``*Param`` TypedDicts say which fields an event must have, which it may have, and
which may be ``null`` (``Optional``). :func:`check_frame` validates one text frame against
them: GA frames against ``openai.types.realtime``, beta frames against
``openai.types.beta.realtime``. Unknown keys pass (the API ignores them); an explicit
``null`` where the field is not ``Optional`` (nor documented by the SDK as settable to
``null``), a missing required field, a wrong type or an unknown event type is a
:class:`Violation`. ``Iterable[...]`` fields, which pydantic validates lazily (never, unless
consumed), are read as lists, so the items of every nested list are checked too.

:class:`WireRecorder` collects what one test's runtime sends (the conftest feeds it from a
spy on websockets' ``Connection.send``) and checks it at the end. Audio appends, the bulk of
the frames, are written from a template: the first few per connection are validated in
full, the rest only for the template's shape.

Import this module only where ``openai`` is importable.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import textwrap
from collections import abc
from dataclasses import dataclass, field
from functools import cache
from types import UnionType
from typing import (
    Any,
    Literal,
    NotRequired,
    Optional,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from openai.types.beta.realtime.realtime_client_event_param import (
    RealtimeClientEventParam as BetaClientEventParam,
)
from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict, is_typeddict  # pydantic wants it before 3.12

__all__ = ["Violation", "WireRecorder", "check_frame", "is_beta_request"]

Loc = tuple[int | str, ...]

# The runtime's template for input_audio_buffer.append (the same in both dialects).
APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
APPEND_TAIL = '"}'
FULLY_CHECKED_APPENDS = 3
"""Audio appends validated in full per connection; later ones are checked for shape only."""

EXCERPT = 300


@dataclass(frozen=True)
class Violation:
    """One field of one frame that the SDK's types refuse."""

    event: str
    """The frame's ``type`` (or ``?`` when it has none)."""
    path: str
    """Where in the frame, e.g. ``response`` or ``session.tools[0].name``."""
    problem: str
    excerpt: str
    """The frame, cut to a few hundred characters."""

    def __str__(self) -> str:
        return f"{self.event}: {self.path or '(frame)'}: {self.problem}\n    frame: {self.excerpt}"


def _excerpt(frame: str) -> str:
    return frame if len(frame) <= EXCERPT else f"{frame[:EXCERPT]}... ({len(frame)} chars)"


def _kinds(typed_dict: type) -> tuple[str, ...]:
    kind = _unwrapped(get_type_hints(typed_dict, include_extras=True)["type"])
    assert get_origin(kind) is Literal, typed_dict
    return get_args(kind)


@cache
def _event_types(beta: bool) -> dict[str, type]:
    """Each client event type of the dialect, to its param TypedDict."""
    union = BetaClientEventParam if beta else RealtimeClientEventParam
    return {name: typed_dict for typed_dict in get_args(union) for name in _kinds(typed_dict)}


@cache
def _adapter(typed_dict: type) -> TypeAdapter[Any]:
    return TypeAdapter(_eager(typed_dict, {}))


def _eager(hint: Any, made: dict[type, Any]) -> Any:
    """``hint`` with every ``Iterable[X]`` made ``list[X]``, in nested TypedDicts too, and
    every field documented as settable to ``null`` made ``Optional``.

    pydantic validates an ``Iterable`` lazily, when it is consumed: the items of a list
    field would never be checked. Parts that need no change are returned as they are.
    """
    if is_typeddict(hint):
        if hint not in made:
            made[hint] = None  # a TypedDict that contains itself fails below, loudly
            hints = get_type_hints(hint, include_extras=True)
            fields = {name: _eager(_unwrapped(value), made) for name, value in hints.items()}
            for name in _documented_nulls(hint):
                fields[name] = Optional[fields[name]]  # noqa: UP045 (built at run time)
            if all(fields[name] is _unwrapped(hints[name]) for name in fields):
                made[hint] = hint
            else:
                required = hint.__required_keys__
                marked = {
                    name: Required[kind] if name in required else NotRequired[kind]
                    for name, kind in fields.items()
                }
                made[hint] = TypedDict(hint.__name__, marked)  # type: ignore[operator]
        if made[hint] is None:
            raise TypeError(f"{hint.__name__} contains itself")
        return made[hint]
    origin, args = get_origin(hint), get_args(hint)
    if origin is None or origin is Literal:
        return hint
    eager = tuple(_eager(arg, made) for arg in args)
    if origin is abc.Iterable:
        return list[eager[0]]  # type: ignore[valid-type]
    if all(new is old for new, old in zip(eager, args, strict=True)):
        return hint
    if origin is Union or origin is UnionType:
        return Union[eager]  # noqa: UP007 (a Union built at run time)
    if origin in (list, abc.Sequence):
        return list[eager[0]]  # type: ignore[valid-type]
    if origin is dict:
        return dict[eager[0], eager[1]]  # type: ignore[valid-type]
    raise TypeError(f"cannot make {hint} eager")


_NULL_DOC = re.compile(r"set\s+to\s+`?null\b", re.IGNORECASE)


def _documented_nulls(typed_dict: type) -> set[str]:
    """The fields whose SDK docstring says they can be set to ``null`` (to turn a feature
    off), although their type omits ``Optional``: the beta ``turn_detection``, the
    ``noise_reduction`` and ``transcription`` settings. The SDK keeps such docstrings as
    string statements after the field, so they are read from its source."""
    try:
        source = textwrap.dedent(inspect.getsource(typed_dict))
    except (OSError, TypeError):
        return set()
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef), typed_dict
    found: set[str] = set()
    for field_, doc in itertools.pairwise(body.body):
        if (
            isinstance(field_, ast.AnnAssign)
            and isinstance(field_.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
            and _NULL_DOC.search(doc.value.value)
        ):
            found.add(field_.target.id)
    return found


def _unwrapped(hint: Any) -> Any:
    while get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    return hint


_SCALARS = {"str", "int", "float", "bool"}


def _is_branch(part: int | str) -> bool:
    """Whether a ``loc`` part names a union member (``RealtimeFunctionToolParam``,
    ``literal['auto']``, ``str``) rather than a field: pydantic puts both in ``loc``."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in _SCALARS)


def _relevant(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop the union members that are for another ``type``, when another member is left.

    For ``session`` (a realtime or a transcription session) pydantic reports both members'
    errors; a member whose own ``type`` (or ``role``) literal failed was not meant.
    """
    meant_otherwise = {
        e["loc"][:-1]
        for e in errors
        if e["type"] == "literal_error"
        and len(e["loc"]) >= 2
        and e["loc"][-1] in ("type", "role")
        and _is_branch(e["loc"][-2])
    }
    members: dict[Loc, set[Loc]] = {}
    for e in errors:
        for depth, part in enumerate(e["loc"]):
            if _is_branch(part):
                members.setdefault(e["loc"][:depth], set()).add(e["loc"][: depth + 1])
    dropped = {
        member
        for seen in members.values()
        if not seen <= meant_otherwise  # keep them all when no member was meant
        for member in seen & meant_otherwise
    }
    return [e for e in errors if not any(e["loc"][: len(m)] == m for m in dropped)]


def _path(loc: Loc) -> str:
    path = ""
    members = [part for part in loc if _is_branch(part)]
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_branch(part):
            path += f".{part}" if path else part
    return f"{path} (as {' / '.join(map(str, members))})" if members else path


def _problem(error: ErrorDetails) -> str:
    if error["type"] != "missing" and error["input"] is None:
        return f"explicit null, which the SDK's type does not allow ({error['msg']})"
    shown = json.dumps(error["input"], default=repr)
    if len(shown) > 80:
        shown = shown[:80] + "..."
    return f"{error['msg']} (got {shown})" if error["type"] != "missing" else error["msg"]


def check_frame(frame: str, *, beta: bool) -> list[Violation]:
    """What is wrong with one client text frame by the SDK's param types (nothing: ``[]``)."""
    excerpt = _excerpt(frame)
    try:
        event = json.loads(frame)
    except ValueError as error:
        return [Violation("?", "", f"not JSON: {error}", excerpt)]
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str):
        return [Violation("?", "type", "not a JSON object with a string 'type'", excerpt)]
    typed_dict = _event_types(beta).get(kind)
    if typed_dict is None:
        dialect = "beta" if beta else "GA"
        return [Violation(kind, "type", f"not a {dialect} client event of the SDK", excerpt)]
    try:
        _adapter(typed_dict).validate_python(event, strict=True)
    except ValidationError as error:
        errors = error.errors()
    else:
        return []
    return [Violation(kind, _path(e["loc"]), _problem(e), excerpt) for e in _relevant(errors)]


def is_beta_request(beta_header: str | None, path: str) -> bool:
    """Whether a handshake opened the beta dialect: with the ``OpenAI-Beta: realtime=v1``
    header, or on Azure's preview path (``/openai/realtime?api-version=...``)."""
    if beta_header is not None and "realtime=v1" in beta_header:
        return True
    return path.startswith("/openai/realtime?") and "api-version=" in path


@dataclass
class _Connection:
    beta: bool
    frames: list[str] = field(default_factory=list)
    appends: int = 0
    misshapen: list[Violation] = field(default_factory=list)


class WireRecorder:
    """The frames one test's runtime sent, per connection, to check at the test's end."""

    def __init__(self) -> None:
        self._connections: dict[int, _Connection] = {}
        self._keep: list[object] = []  # the connections, so that their ids stay unique

    def record(self, connection: object, beta: bool, message: object) -> None:
        """Note one ``send`` of ``connection`` (cheap: checks happen in :meth:`violations`)."""
        seen = self._connections.get(id(connection))
        if seen is None:
            seen = self._connections[id(connection)] = _Connection(beta)
            self._keep.append(connection)
        if not isinstance(message, str):
            problem = f"not a text frame but {type(message).__name__}"
            seen.misshapen.append(Violation("?", "", problem, _excerpt(repr(message))))
            return
        if message.startswith(APPEND_HEAD):
            seen.appends += 1
            if seen.appends > FULLY_CHECKED_APPENDS:
                audio = message[len(APPEND_HEAD) : -len(APPEND_TAIL)]
                if not message.endswith(APPEND_TAIL) or '"' in audio or "\\" in audio:
                    problem = "not the append template's shape"
                    seen.misshapen.append(
                        Violation("input_audio_buffer.append", "", problem, _excerpt(message))
                    )
                return
        seen.frames.append(message)

    @property
    def frames(self) -> int:
        """How many frames were recorded (appends checked for shape only included)."""
        return sum(
            len(c.frames) + max(0, c.appends - FULLY_CHECKED_APPENDS)
            for c in self._connections.values()
        )

    def violations(self) -> list[Violation]:
        """Every violation in what was recorded, in the order sent per connection."""
        found: list[Violation] = []
        for connection in self._connections.values():
            for frame in connection.frames:
                found += check_frame(frame, beta=connection.beta)
            found += connection.misshapen
        return found
