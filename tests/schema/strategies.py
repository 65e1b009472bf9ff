"""Hypothesis strategies that build valid JSON frames for any event model.

They read the models' own field annotations, so a new event or field is covered
without touching the tests. Each generated frame is plain JSON data (what a peer
would send), with an extra unknown field now and then, so that decoding it and
encoding the result must give the same JSON back.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel

from realtime_agent.schema.codec import UnknownClientEvent, UnknownServerEvent

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # JSON has no surrogates
JSON_SCALAR = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    """JSON data valid for a field annotation."""
    origin = get_origin(annotation)
    if annotation is Any:
        return JSON_VALUE
    if annotation is type(None):
        return st.none()
    if annotation is str:
        return TEXT
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(-(2**53), 2**53)
    if annotation is float:
        return FLOATS
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is Annotated:
        return for_annotation(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        choices = [a for a in get_args(annotation) if not _is_unknown(a)]
        return st.one_of([for_annotation(a) for a in choices])
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(for_annotation(item), max_size=3)
    if origin is dict:
        _, value = get_args(annotation)
        return st.dictionaries(TEXT, for_annotation(value), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return for_model(annotation)
    raise NotImplementedError(f"no strategy for {annotation!r}")


def _is_unknown(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return isinstance(annotation, type) and annotation.__name__.startswith("Unknown")


@st.composite
def _model_data(draw: st.DrawFn, model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "type" or info.is_required() or draw(st.booleans()):
            data[name] = draw(for_annotation(info.annotation))
    if draw(st.integers(0, 3)) == 0:
        data["x_future_field"] = draw(JSON_VALUE)
    return data


_CACHE: dict[type[BaseModel], st.SearchStrategy[dict[str, Any]]] = {}


def for_model(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON data valid for a model, optional fields present or not."""
    if model not in _CACHE:
        _CACHE[model] = st.deferred(lambda: _model_data(model))
    return _CACHE[model]


def event_classes(union: Any) -> list[type[BaseModel]]:
    """The classes of an event union, but the Unknown fallbacks."""
    return [
        cls for cls in typing.get_args(union) if cls not in (UnknownServerEvent, UnknownClientEvent)
    ]


GA_PART_NAMES = {"output_text", "output_audio"}


def in_beta_vocabulary(value: Any) -> bool:
    """False if a frame holds GA-only content part names, which beta renames."""
    if isinstance(value, dict):
        if value.get("type") in GA_PART_NAMES:
            return False
        return all(in_beta_vocabulary(v) for v in value.values())
    if isinstance(value, list):
        return all(in_beta_vocabulary(v) for v in value)
    return True
