"""The explicit nulls the real server refuses, by client event and field.

The real API refuses ``null`` for a field that may not be null, with ``invalid_type``:
"Invalid type for 'response': expected an object, but got null instead." (param
``response``, the client's ``event_id``). Which fields may be null follows the openai
SDK's client-event *param* types: a field not typed ``Optional`` may not, unless the
SDK documents that it "can be set to null" (``turn_detection``, which turns VAD off,
``transcription``, ``noise_reduction``, beta ``tracing``): those docstrings describe the
real API, whose types are generated from a spec that leaves the ``nullable`` out.
``tests/server/test_nulls.py`` checks these tables against the installed SDK.

The wording of what was expected follows the real server's (captured from the OpenAI
API: "expected a string", "expected an object", "expected one of 'standard' or
'pro'", "expected one of a string or a list of input items"); a null inside a list is
named ``tools[0]``, as the real server names it. MCP tool definitions and MCP items
are checked only as a whole: the local server keeps them as sent and serves no MCP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from realtime_agent.schema.common import ErrorDetail
from realtime_agent.server import messages

__all__ = ["BETA", "GA", "null_refused"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """A value the walk does not look into: a scalar, an enum, an opaque object."""

    expected: str


@dataclass(frozen=True, slots=True)
class Obj:
    """An object: its known fields, and those of them that may be null."""

    fields: Mapping[str, Shape]
    nullable: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Arr:
    """A list of ``item``."""

    item: Shape


@dataclass(frozen=True, slots=True)
class Map:
    """An object with any keys, each holding a ``value``."""

    value: Shape


@dataclass(frozen=True, slots=True)
class Tagged:
    """An object of one of several shapes, told apart by its ``key`` field."""

    key: str
    variants: Mapping[str, Shape]
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Either:
    """A value of several kinds (a string or an object); an object has the shape ``shape``."""

    expected: str
    shape: Shape | None = None


Shape: TypeAlias = Leaf | Obj | Arr | Map | Tagged | Either


def _quote(value: str | int) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _listed(values: list[str]) -> str:
    """``'a' or 'b'``; ``'a', 'b', or 'c'`` (the real server's lists)."""
    if len(values) <= 2:
        return " or ".join(values)
    return ", ".join(values[:-1]) + ", or " + values[-1]


def one_of(*values: str | int) -> Leaf:
    """An enum: null is "expected one of 'a' or 'b'"."""
    return Leaf("one of " + _listed([_quote(v) for v in values]))


def expected(shape: Shape) -> str:
    """What the error says a field of this shape expected."""
    match shape:
        case Leaf() | Either():
            return shape.expected
        case Arr():
            return "an array"
        case _:
            return "an object"


def _first_null(value: Any, shape: Shape, path: str) -> tuple[str, str] | None:
    """The first refused null in ``value`` (document order): its param and what was expected."""
    match shape:
        case Obj() if isinstance(value, dict):
            for key, item in value.items():
                field = shape.fields.get(key)
                if field is None:
                    continue
                where = f"{path}.{key}" if path else key
                if item is None:
                    if key in shape.nullable:
                        continue
                    return where, expected(field)
                found = _first_null(item, field, where)
                if found is not None:
                    return found
        case Tagged() if isinstance(value, dict):
            if shape.key in value and value[shape.key] is None:
                where = f"{path}.{shape.key}" if path else shape.key
                return where, one_of(*shape.variants).expected
            tag = value.get(shape.key, shape.default)
            variant = shape.variants.get(tag) if isinstance(tag, str) else None
            if variant is not None:
                return _first_null(value, variant, path)
        case Arr(item=Leaf()) if isinstance(value, list):
            if None in value:  # a list of scalars: looked through at C speed
                return f"{path}[{value.index(None)}]", expected(shape.item)
        case Arr() if isinstance(value, list):
            for index, item in enumerate(value):
                where = f"{path}[{index}]"
                if item is None:
                    return where, expected(shape.item)
                found = _first_null(item, shape.item, where)
                if found is not None:
                    return found
        case Map() if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}"
                if item is None:
                    return where, expected(shape.value)
                found = _first_null(item, shape.value, where)
                if found is not None:
                    return found
        case Either(shape=inner) if inner is not None and isinstance(value, dict):
            return _first_null(value, inner, path)
    return None


def null_refused(event: object, *, beta: bool) -> ErrorDetail | None:
    """The real server's error for the first null ``event`` may not carry, or None.

    ``event`` is a client frame's parsed JSON, in the connection's dialect. Only known
    event types are looked at; a null ``type`` is the decoder's to answer.
    """
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    shape = (BETA if beta else GA).get(kind) if isinstance(kind, str) else None
    if shape is None:
        return None
    found = _first_null(event, shape, "")
    if found is None:
        return None
    param, wanted = found
    event_id = event.get("event_id")
    return messages.null_value(param, wanted, event_id if isinstance(event_id, str) else None)


# --- shapes common to both dialects ------------------------------------------------------------

STRING = Leaf("a string")
INTEGER = Leaf("an integer")
NUMBER = Leaf("a number")
BOOLEAN = Leaf("a boolean")
OBJECT = Leaf("an object")
"""An object not looked into: a JSON Schema, an MCP definition, tracing metadata."""
STRING_OR_OBJECT = Either("one of a string or an object")
MAX_TOKENS = Either("one of an integer or a string")  # 1-4096 or "inf"
MODALITIES = Arr(one_of("text", "audio"))
VAD_EAGERNESS = one_of("low", "medium", "high", "auto")
ITEM_STATUS = one_of("completed", "incomplete", "in_progress")
NOISE_REDUCTION_TYPE = one_of("near_field", "far_field")
TRACING = Either(
    "one of a string or an object",
    Obj({"group_id": STRING, "metadata": OBJECT, "workflow_name": STRING}),
)
NULLABLE_AUDIO_INPUT = frozenset({"noise_reduction", "transcription", "turn_detection"})


def _event(**fields: Shape) -> Obj:
    return Obj({"event_id": STRING, **fields})


_COMMON: dict[str, Obj] = {
    "input_audio_buffer.append": _event(audio=STRING),
    "input_audio_buffer.commit": _event(),
    "input_audio_buffer.clear": _event(),
    "output_audio_buffer.clear": _event(),
    "conversation.item.retrieve": _event(item_id=STRING),
    "conversation.item.delete": _event(item_id=STRING),
    "conversation.item.truncate": _event(
        audio_end_ms=INTEGER, content_index=INTEGER, item_id=STRING
    ),
    "response.cancel": _event(response_id=STRING),
}

# --- GA ----------------------------------------------------------------------------------------

FORMAT = Tagged(
    "type",
    {
        "audio/pcm": Obj({"rate": one_of(24000), "type": one_of("audio/pcm")}),
        "audio/pcmu": Obj({"type": one_of("audio/pcmu")}),
        "audio/pcma": Obj({"type": one_of("audio/pcma")}),
    },
    default="audio/pcm",
)
TURN_DETECTION = Tagged(
    "type",
    {
        "server_vad": Obj(
            {
                "create_response": BOOLEAN,
                "idle_timeout_ms": INTEGER,
                "interrupt_response": BOOLEAN,
                "prefix_padding_ms": INTEGER,
                "silence_duration_ms": INTEGER,
                "threshold": NUMBER,
            },
            nullable=frozenset({"idle_timeout_ms"}),
        ),
        "semantic_vad": Obj(
            {"create_response": BOOLEAN, "eagerness": VAD_EAGERNESS, "interrupt_response": BOOLEAN}
        ),
    },
)
AUDIO_INPUT = Obj(
    {
        "format": FORMAT,
        "noise_reduction": Obj({"strength": NUMBER, "type": NOISE_REDUCTION_TYPE}),
        "transcription": Obj(
            {
                "delay": one_of("minimal", "low", "medium", "high", "xhigh"),
                "keywords": Arr(STRING),
                "language": STRING,
                "languages": Arr(STRING),
                "model": STRING,
                "prompt": STRING,
            }
        ),
        "turn_detection": TURN_DETECTION,
    },
    nullable=NULLABLE_AUDIO_INPUT,
)
VOICE = Either("one of a string or an object", Obj({"id": STRING}))
FUNCTION_TOOL = Obj(
    {"description": STRING, "name": STRING, "parameters": OBJECT, "type": one_of("function")}
)
TOOL = Tagged("type", {"function": FUNCTION_TOOL, "mcp": OBJECT}, default="function")
TOOL_CHOICE = Either(
    "one of a string or an object",
    Tagged("type", {"function": Obj({"name": STRING}), "mcp": OBJECT}),
)
PROMPT = Obj(
    {"id": STRING, "variables": Map(STRING_OR_OBJECT), "version": STRING},
    nullable=frozenset({"variables", "version"}),
)
REASONING = Obj({"effort": one_of("minimal", "low", "medium", "high", "xhigh")})
TRUNCATION = Either(
    "one of a string or an object",
    Tagged(
        "type",
        {
            "retention_ratio": Obj(
                {
                    "retention_ratio": NUMBER,
                    "token_limits": Obj({"post_instructions": INTEGER}),
                    "type": one_of("retention_ratio"),
                }
            )
        },
    ),
)
INCLUDE = Arr(one_of("item.input_audio_transcription.logprobs"))
REALTIME_SESSION = Obj(
    {
        "audio": Obj(
            {
                "input": AUDIO_INPUT,
                "output": Obj({"format": FORMAT, "speed": NUMBER, "voice": VOICE}),
            }
        ),
        "include": INCLUDE,
        "instructions": STRING,
        "max_output_tokens": MAX_TOKENS,
        "model": STRING,
        "output_modalities": MODALITIES,
        "parallel_tool_calls": BOOLEAN,
        "prompt": PROMPT,
        "reasoning": REASONING,
        "tool_choice": TOOL_CHOICE,
        "tools": Arr(TOOL),
        "tracing": TRACING,
        "truncation": TRUNCATION,
    },
    nullable=frozenset({"prompt", "tracing"}),
)
SESSION = Tagged(
    "type",
    {
        "realtime": REALTIME_SESSION,
        "transcription": Obj({"audio": Obj({"input": AUDIO_INPUT}), "include": INCLUDE}),
    },
    default="realtime",  # a later GA update may leave session.type out
)
_ITEM_COMMON: dict[str, Shape] = {
    "id": STRING,
    "object": one_of("realtime.item"),
    "status": ITEM_STATUS,
}


def _message(content: Obj) -> Obj:
    return Obj({**_ITEM_COMMON, "content": Arr(content)})


MESSAGE = Tagged(
    "role",
    {
        "system": _message(Obj({"text": STRING, "type": one_of("input_text")})),
        "user": _message(
            Obj(
                {
                    "audio": STRING,
                    "detail": one_of("auto", "low", "high"),
                    "image_url": STRING,
                    "text": STRING,
                    "transcript": STRING,
                    "type": one_of("input_text", "input_audio", "input_image"),
                }
            )
        ),
        "assistant": _message(
            Obj(
                {
                    "audio": STRING,
                    "text": STRING,
                    "transcript": STRING,
                    "type": one_of("output_text", "output_audio"),
                }
            )
        ),
    },
)
ITEMS: dict[str, Shape] = {
    "message": MESSAGE,
    "function_call": Obj({**_ITEM_COMMON, "arguments": STRING, "call_id": STRING, "name": STRING}),
    "function_call_output": Obj({**_ITEM_COMMON, "call_id": STRING, "output": STRING}),
    "mcp_approval_response": OBJECT,
    "mcp_list_tools": OBJECT,
    "mcp_call": OBJECT,
    "mcp_approval_request": OBJECT,
}
RESPONSE = Obj(
    {
        "audio": Obj({"output": Obj({"format": FORMAT, "voice": VOICE})}),
        "conversation": STRING,
        "input": Arr(Tagged("type", {**ITEMS, "item_reference": Obj({"id": STRING})})),
        "instructions": STRING,
        "max_output_tokens": MAX_TOKENS,
        "metadata": Map(STRING),
        "output_modalities": MODALITIES,
        "parallel_tool_calls": BOOLEAN,
        "prompt": PROMPT,
        "reasoning": REASONING,
        "tool_choice": TOOL_CHOICE,
        "tools": Arr(TOOL),
    },
    nullable=frozenset({"metadata", "prompt"}),
)

GA: dict[str, Obj] = {
    **_COMMON,
    "session.update": _event(session=SESSION),
    "conversation.item.create": _event(item=Tagged("type", ITEMS), previous_item_id=STRING),
    "response.create": _event(response=RESPONSE),
}
"""The GA client events, by type: where the real server refuses a null."""

# --- beta --------------------------------------------------------------------------------------

BETA_FORMAT = one_of("pcm16", "g711_ulaw", "g711_alaw")
BETA_TURN_DETECTION = Obj(
    {
        "create_response": BOOLEAN,
        "eagerness": VAD_EAGERNESS,
        "interrupt_response": BOOLEAN,
        "prefix_padding_ms": INTEGER,
        "silence_duration_ms": INTEGER,
        "threshold": NUMBER,
        "type": one_of("server_vad", "semantic_vad"),
    }
)
BETA_NOISE_REDUCTION = Obj({"type": NOISE_REDUCTION_TYPE})
BETA_TOOL = FUNCTION_TOOL
BETA_EXPIRY = Obj({"anchor": one_of("created_at"), "seconds": INTEGER})
BETA_MODELS = (
    "gpt-realtime",
    "gpt-realtime-2025-08-28",
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
)
BETA_SESSION = Obj(
    {
        "client_secret": Obj({"expires_after": BETA_EXPIRY}),
        "input_audio_format": BETA_FORMAT,
        "input_audio_noise_reduction": BETA_NOISE_REDUCTION,
        "input_audio_transcription": Obj({"language": STRING, "model": STRING, "prompt": STRING}),
        "instructions": STRING,
        "max_response_output_tokens": MAX_TOKENS,
        "modalities": MODALITIES,
        "model": one_of(*BETA_MODELS),
        "output_audio_format": BETA_FORMAT,
        "speed": NUMBER,
        "temperature": NUMBER,
        "tool_choice": STRING,
        "tools": Arr(BETA_TOOL),
        "tracing": TRACING,
        "turn_detection": BETA_TURN_DETECTION,
        "voice": STRING,
    },
    nullable=frozenset(
        {"input_audio_noise_reduction", "input_audio_transcription", "tracing", "turn_detection"}
    ),
)
BETA_TRANSCRIPTION_SESSION = Obj(
    {
        "client_secret": Obj({"expires_at": BETA_EXPIRY}),
        "include": Arr(STRING),
        "input_audio_format": BETA_FORMAT,
        "input_audio_noise_reduction": BETA_NOISE_REDUCTION,
        "input_audio_transcription": Obj(
            {
                "language": STRING,
                "model": one_of("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1"),
                "prompt": STRING,
            }
        ),
        "modalities": MODALITIES,
        "turn_detection": BETA_TURN_DETECTION,
    },
    nullable=frozenset({"input_audio_noise_reduction", "turn_detection"}),
)


def _beta_item(types: tuple[str, ...], parts: tuple[str, ...]) -> Obj:
    return Obj(
        {
            "arguments": STRING,
            "call_id": STRING,
            "content": Arr(
                Obj(
                    {
                        "audio": STRING,
                        "id": STRING,
                        "text": STRING,
                        "transcript": STRING,
                        "type": one_of(*parts),
                    }
                )
            ),
            "id": STRING,
            "name": STRING,
            "object": one_of("realtime.item"),
            "output": STRING,
            "role": one_of("user", "assistant", "system"),
            "status": ITEM_STATUS,
            "type": one_of(*types),
        }
    )


_BETA_ITEM_TYPES = ("message", "function_call", "function_call_output")
BETA_ITEM = _beta_item(
    _BETA_ITEM_TYPES, ("input_text", "input_audio", "item_reference", "text", "audio")
)
BETA_RESPONSE = Obj(
    {
        "conversation": STRING,
        "input": Arr(
            _beta_item(
                (*_BETA_ITEM_TYPES, "item_reference"),
                ("input_text", "input_audio", "item_reference", "text"),
            )
        ),
        "instructions": STRING,
        "max_response_output_tokens": MAX_TOKENS,
        "metadata": Map(STRING),
        "modalities": MODALITIES,
        "output_audio_format": BETA_FORMAT,
        "temperature": NUMBER,
        "tool_choice": STRING,
        "tools": Arr(BETA_TOOL),
        "voice": STRING,
    },
    nullable=frozenset({"metadata"}),
)

BETA: dict[str, Obj] = {
    **_COMMON,
    "session.update": _event(session=BETA_SESSION),
    "transcription_session.update": _event(session=BETA_TRANSCRIPTION_SESSION),
    "conversation.item.create": _event(item=BETA_ITEM, previous_item_id=STRING),
    "response.create": _event(response=BETA_RESPONSE),
}
"""The beta client events, by type: where the real beta server refuses a null."""
