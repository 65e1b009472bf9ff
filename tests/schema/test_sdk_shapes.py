"""Every server event shape the openai SDK's models accept, our decoders accept too.

Needs the ``openai`` package (the ``bench`` extra; CI installs it); skipped without it.
For each server event model of the SDK (GA and beta), the payloads are
one full instance and its variations one field at a time: each value a field's
annotation allows (``None`` where it is Optional, each Literal, each union member,
each variation of a nested model), and each optional field left out. Every payload
the SDK validates must decode to the event class of its ``type`` (not to an unknown
event), and re-encode to JSON that decodes to an equal event. A later SDK that
loosens a field fails here until the models tolerate it.

Client events are left out on purpose: the SDK lets a client build more than the
server takes (a message without a ``role``), and the client decoders read events as
the server does, refusing what it refuses (tests/schema/test_hostile.py).
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import codec

pytest.importorskip("openai")

from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.realtime import realtime_server_event as ga_server

#: Variations kept per nested model: enough for every field of the largest one.
MAX_VARIANTS = 1500


def values(annotation: Any, depth: int) -> list[Any]:
    """JSON values an SDK annotation allows, the first one the most complete."""
    origin = get_origin(annotation)
    if annotation is type(None):
        return [None]
    if annotation in (object, Any):
        return [{"a": 1}]
    simple: dict[Any, Any] = {str: "s", int: 1, float: 1.5, bool: True}
    if annotation in simple:
        return [simple[annotation]]
    args = get_args(annotation)
    if origin is typing.Annotated:
        return values(args[0], depth)
    if origin is Literal:
        return list(args)
    if origin is Union or origin is types.UnionType:
        return [value for arg in args for value in values(arg, depth)]
    if origin is list:
        return [[value] for value in values(args[0], depth)] + [[]]
    if origin is dict:
        return [{"k": value} for value in values(args[1], depth)[:2]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return variants(annotation, depth + 1)
    raise NotImplementedError(f"no values for {annotation!r}")


@functools.cache
def variants(model: type[BaseModel], depth: int = 0) -> list[dict[str, Any]]:
    """A full instance of ``model`` per ``type`` value, and its one-field variations.

    (Cached: nested models recur in many events. Nothing changes what it returns.)
    """
    if depth > 6:
        return []
    fields = model.model_fields
    choices = {name: values(info.annotation, depth) for name, info in fields.items()}
    full = {name: found[0] for name, found in choices.items() if found}
    bases = [full] + [{**full, "type": tag} for tag in choices.get("type", [])[1:]]
    out: list[dict[str, Any]] = []
    for base in bases:
        out.append(base)
        out.append({k: v for k, v in base.items() if fields[k].is_required() or k == "type"})
        for name, found in choices.items():
            if name == "type":
                continue
            out.extend({**base, name: value} for value in found[1:])
            if not fields[name].is_required():
                out.append({k: v for k, v in base.items() if k != name})
    unique = {json.dumps(v, sort_keys=True): v for v in out}
    return list(unique.values())[:MAX_VARIANTS]


def members(union: Any) -> list[type[BaseModel]]:
    if get_origin(union) is typing.Annotated:
        union = get_args(union)[0]
    return list(get_args(union))


CASES: list[tuple[str, type[BaseModel], Callable[[str], Any]]] = [
    *(("ga", m, codec.decode) for m in members(ga_server.RealtimeServerEvent)),
    *(("beta", m, codec.decode_beta) for m in members(beta_server.RealtimeServerEvent)),
]


@pytest.mark.parametrize(
    ("sdk_model", "decode"),
    [(model, decode) for _, model, decode in CASES],
    ids=[f"{where}-{model.__name__}" for where, model, _ in CASES],
)
def test_what_the_sdk_accepts_decodes(
    sdk_model: type[BaseModel], decode: Callable[[str], Any]
) -> None:
    refused = []
    accepted = 0
    for payload in variants(sdk_model):
        text = json.dumps(payload)
        try:
            sdk_model.model_validate_json(text)
        except ValidationError:
            continue  # the SDK refuses it too (a nested required field, say)
        accepted += 1
        try:
            event = decode(text)
        except RemoteProtocolError as error:
            refused.append(f"{error} <- {text[:300]}")
            continue
        if isinstance(event, codec.UnknownServerEvent | codec.UnknownClientEvent):
            refused.append(f"unknown event type: {text[:300]}")
            continue
        again = decode(codec.encode(event))
        assert again == event, text
    assert accepted > 0
    assert refused == []
