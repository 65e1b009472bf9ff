"""A hostile or newer peer: decoding raises RemoteProtocolError and nothing else.

Whatever decodes re-encodes to JSON that decodes to an equal event; a server event
the openai SDK accepts decodes (to an ``Unknown*`` model where the typed one cannot
hold it), while a client event is read as the server reads it; NaN and infinities,
which JSON lacks, are refused wherever they are. The SDK's shapes are swept in
test_sdk_shapes.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import (
    BETA_CLIENT_EVENT_TYPES,
    BETA_SERVER_EVENT_TYPES,
    GA_CLIENT_EVENT_TYPES,
    GA_SERVER_EVENT_TYPES,
    codec,
    dialect,
)
from realtime_agent.schema.beta import BetaClientEvent, BetaServerEvent
from realtime_agent.schema.client import ClientEvent
from realtime_agent.schema.common import UnknownAudioFormat
from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    ItemReference,
    MessageItem,
    UnknownItem,
)
from realtime_agent.schema.server import (
    ConversationItemAdded,
    ConversationItemCreated,
    ConversationItemRetrieved,
    InputAudioBufferCleared,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerEvent,
    SessionUpdated,
    TranscriptionSessionUpdated,
)
from realtime_agent.schema.session import SessionConfig, UnknownTool
from tests.schema.strategies import JSON_VALUE, TEXT, event_classes, for_model

Decoder = Callable[[Any], Any]

EVENT_TYPES = (
    GA_SERVER_EVENT_TYPES
    | GA_CLIENT_EVENT_TYPES
    | BETA_SERVER_EVENT_TYPES
    | BETA_CLIENT_EVENT_TYPES
)

DECODERS: dict[str, tuple[Decoder, Any]] = {
    "ga-server": (codec.decode, ServerEvent),
    "ga-client": (codec.decode_client, ClientEvent),
    "beta-server": (codec.decode_beta, BetaServerEvent),
    "beta-client": (codec.decode_beta_client, BetaClientEvent),
}
#: The translation the runtime (beta server events) and the local server (beta client
#: events) apply right after decoding: it must not fail on what decoded.
TO_GA: dict[str, Callable[[Any], Any]] = {
    "beta-server": dialect.server_to_ga,
    "beta-client": dialect.client_to_ga,
}


OutputItemEvent = ResponseOutputItemAdded | ResponseOutputItemDone


def frame(data: object) -> str:
    return json.dumps(data)


def decodes_only_to_protocol_errors(decoder: Decoder, text: Any) -> Any:
    """The event ``text`` decodes to, or None if it is refused (RemoteProtocolError only)."""
    try:
        return decoder(text)
    except RemoteProtocolError:
        return None


def assert_reencodes(decoder: Decoder, event: Any) -> None:
    text = codec.encode(event)
    again = decoder(text)
    assert type(again) is type(event)
    assert again == event
    assert json.loads(codec.encode(again)) == json.loads(text)


# --- item 13: what used to escape as TypeError ------------------------------------------------

NESTED_TYPES: list[object] = [["message"], {"type": "message"}, [], {}, 5, 1.5, True]


@pytest.mark.parametrize("tag", NESTED_TYPES, ids=repr)
@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("item", lambda t: {"type": "conversation.item.added", "item": {"type": t}}),
        (
            "part",
            lambda t: {
                "type": "conversation.item.added",
                "item": {"type": "message", "role": "user", "content": [{"type": t}]},
            },
        ),
        ("tool", lambda t: {"type": "session.created", "session": {"tools": [{"type": t}]}}),
        ("session", lambda t: {"type": "session.created", "session": {"type": t}}),
        (
            "format",
            lambda t: {
                "type": "session.created",
                "session": {"audio": {"input": {"format": {"type": t}}}},
            },
        ),
        (
            "turn_detection",
            lambda t: {
                "type": "session.created",
                "session": {"audio": {"input": {"turn_detection": {"type": t}}}},
            },
        ),
    ],
)
def test_a_nested_type_that_is_not_a_string_is_a_protocol_error(
    name: str, build: Callable[[object], dict[str, Any]], tag: object
) -> None:
    data = {"event_id": "event_1", **build(tag)}
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame(data))
    assert caught.value.event_type == data["type"]
    assert caught.value.field is not None and caught.value.field.endswith("type")


def test_the_reported_frame_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match="item"):
        codec.decode('{"type":"conversation.item.added","item":{"type":["message"]}}')
    with pytest.raises(RemoteProtocolError, match="item"):
        codec.decode_beta('{"type":"conversation.item.created","item":{"type":["message"]}}')
    with pytest.raises(RemoteProtocolError):
        codec.decode_client('{"type":"conversation.item.create","item":{"type":{"a":1}}}')


CLEARED = b'{"type":"input_audio_buffer.cleared","event_id":"event_1"}'


@pytest.mark.parametrize(
    "buffer",
    [
        bytearray(CLEARED),
        memoryview(CLEARED),
        memoryview(bytearray(CLEARED)),
        memoryview(b"xx" + CLEARED + b"yy")[2:-2],
        memoryview(CLEARED).cast("c"),
    ],
    ids=["bytearray", "memoryview", "memoryview-of-bytearray", "memoryview-slice", "cast"],
)
def test_every_buffer_type_decodes(buffer: bytearray | memoryview) -> None:
    for decoder in (codec.decode, codec.decode_beta):
        event = decoder(buffer)
        assert isinstance(event, InputAudioBufferCleared)
        assert event.event_id == "event_1"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "response.done", "event_id": ',  # invalid JSON: sniffed for its type
        b'{"type": "response.output_audio.timing", "ms": 40}',  # an unknown type
        b'{"type": "error", "event_id": "e1", "error": 5}',  # a wrong field
        b"\xff\xfe",
    ],
)
@pytest.mark.parametrize("wrap", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_buffers_fail_and_fall_back_as_bytes_do(raw: bytes, wrap: Callable[[bytes], Any]) -> None:
    for decoder in (codec.decode, codec.decode_client, codec.decode_beta, codec.decode_beta_client):
        try:
            expected: Any = decoder(raw)
        except RemoteProtocolError as error:
            with pytest.raises(RemoteProtocolError) as caught:
                decoder(wrap(raw))
            assert str(caught.value) == str(error)
            assert caught.value.raw == error.raw
        else:
            assert decoder(wrap(raw)) == expected


def test_sniffing_reads_buffers() -> None:
    for buffer in (bytearray(CLEARED), memoryview(CLEARED)):
        assert codec.sniff_type(buffer) == "input_audio_buffer.cleared"
        assert codec.sniff_event_id(buffer) == "event_1"


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(
    ("template", "field"),
    [
        # a float field
        (
            '{"type":"rate_limits.updated","event_id":"e","rate_limits":[{"reset_seconds":%s}]}',
            "rate_limits.0.reset_seconds",
        ),
        (
            '{"type":"session.created","event_id":"e","session":{"type":"realtime",'
            '"audio":{"output":{"speed":%s}}}}',
            "session.realtime.audio.output.speed",
        ),
        # an untyped field (JSON Schema parameters)
        (
            '{"type":"session.created","event_id":"e","session":{"tools":'
            '[{"type":"function","name":"f","parameters":{"maximum":%s}}]}}',
            "session.realtime.tools.0.function.parameters.maximum",
        ),
        # a field this version does not know
        ('{"type":"input_audio_buffer.cleared","event_id":"e","x":[1,{"y":%s}]}', "x"),
        # an event type this version does not know
        ('{"type":"response.output_audio.timing","x":{"y":[%s]}}', "x.y.0"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    template: str, field: str, number: str
) -> None:
    text = template % number
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(text)
    assert caught.value.field == field
    assert caught.value.event_type == json.loads(template % "0")["type"]


def test_deep_json_decodes_up_to_the_parser_limit() -> None:
    def nested(depth: int) -> str:
        return '{"type":"%s","event_id":"e","x":' + "[" * depth + "]" * depth + "}"

    for event_type in ("input_audio_buffer.cleared", "response.output_audio.timing"):
        event = codec.decode(nested(150) % event_type)
        assert_reencodes(codec.decode, event)
        with pytest.raises(RemoteProtocolError, match="recursion limit"):
            codec.decode(nested(100_000) % event_type)


def test_finite_floats_still_decode_and_reencode() -> None:
    text = '{"type":"rate_limits.updated","event_id":"e","rate_limits":[{"reset_seconds":1e308}]}'
    assert_reencodes(codec.decode, codec.decode(text))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "session.updated", "session": {"audio": 5}}, "session.audio"),
        ({"type": "session.created", "session": {"type": "transcription"}}, "session.type"),
        ({"type": "response.done", "response": {"audio": [1]}}, "response.audio"),
        (
            {"type": "response.created", "response": {"output_modalities": "x"}},
            "response.output_modalities",
        ),
    ],
)
def test_a_beta_server_event_without_a_ga_form_is_a_protocol_error(
    data: dict[str, Any], field: str
) -> None:
    event = codec.decode_beta(frame({"event_id": "event_1", **data}))  # valid beta: an extra field
    with pytest.raises(RemoteProtocolError) as caught:
        dialect.server_to_ga(event)
    assert caught.value.event_type == data["type"]
    assert caught.value.field == field
    assert "event_1" in caught.value.raw


def test_a_beta_client_event_without_a_ga_form_is_a_protocol_error() -> None:
    for data, field in [
        ({"type": "session.update", "session": {"audio": {"input": 1}}}, "session.audio.input"),
        ({"type": "response.create", "response": {"audio": "loud"}}, "response.audio"),
    ]:
        with pytest.raises(RemoteProtocolError) as caught:
            dialect.client_to_ga(codec.decode_beta_client(frame(data)))
        assert (caught.value.event_type, caught.value.field) == (data["type"], field)


# --- item 22: shapes the openai SDK accepts --------------------------------------------------

ITEM_EVENTS: dict[str, dict[str, Any]] = {
    "conversation.item.created": {"previous_item_id": None},
    "conversation.item.retrieved": {},
    "response.output_item.added": {"response_id": "resp_1", "output_index": 0},
    "response.output_item.done": {"response_id": "resp_1", "output_index": 0},
}
SDK_ITEMS: list[dict[str, Any]] = [
    {"id": "item_1", "type": "message", "role": "assistant", "content": None},
    {"id": "item_2", "type": "message", "content": [{"type": "text", "text": "hi"}]},
    {"id": "item_3", "type": "message", "role": None, "content": []},
    {"id": "item_4", "type": "function_call_output", "call_id": None, "output": "{}"},
    {"id": "item_5", "type": "function_call_output", "call_id": "call_1", "output": None},
    {"id": "item_6", "type": "function_call_output"},
]


@pytest.mark.parametrize("item", SDK_ITEMS, ids=lambda i: i["id"])
@pytest.mark.parametrize("event_type", sorted(ITEM_EVENTS))
def test_beta_items_the_sdk_accepts_decode_as_unknown_items(
    event_type: str, item: dict[str, Any]
) -> None:
    data = {"type": event_type, "event_id": "event_1", **ITEM_EVENTS[event_type], "item": item}
    event = codec.decode_beta(frame(data))
    assert isinstance(event, ConversationItemCreated | ConversationItemRetrieved | OutputItemEvent)
    assert isinstance(event.item, UnknownItem)
    assert event.item.type == item["type"] and event.item.id == item["id"]
    assert json.loads(codec.encode(event)) == data
    assert_reencodes(codec.decode_beta, event)
    assert dialect.server_to_ga(event) is event  # the same event in both dialects


@pytest.mark.parametrize("event_type", ["response.created", "response.done"])
def test_beta_responses_with_such_items_decode(event_type: str) -> None:
    response = {"id": "resp_1", "object": "realtime.response", "status": "completed"}
    data = {"type": event_type, "event_id": "e", "response": {**response, "output": SDK_ITEMS}}
    event = codec.decode_beta(frame(data))
    assert json.loads(codec.encode(event)) == data
    ga = dialect.server_to_ga(event)
    assert isinstance(ga, ResponseCreated | ResponseDone) and ga.response.output is not None
    assert all(isinstance(item, UnknownItem) for item in ga.response.output)
    back = dialect.server_to_beta(ga)
    assert back is not None and json.loads(codec.encode(back)) == data


CLIENT_REFUSALS = [
    ({"type": "message", "role": "user", "content": None}, "item.message.content", "list_type"),
    ({"type": "message", "content": []}, "item.message.role", "missing"),
    (
        {"type": "function_call_output", "call_id": None, "output": ""},
        "item.{}.call_id",
        "string_type",
    ),
    ({"type": "function_call_output", "output": ""}, "item.{}.call_id", "missing"),
    ({"type": "item_reference"}, "item.item_reference.id", "missing"),
]


@pytest.mark.parametrize(("item", "field", "kind"), CLIENT_REFUSALS, ids=lambda v: str(v)[:30])
def test_client_events_are_read_as_the_server_reads_them(item: Any, field: str, kind: str) -> None:
    # The local server answers them missing_required_parameter or invalid_type, as the real
    # server does: the client decoders do not fall back to UnknownItem.
    field = field.format("function_call_output")
    data = {"type": "conversation.item.create", "item": item}
    for decoder in (codec.decode_client, codec.decode_beta_client):
        with pytest.raises(RemoteProtocolError) as caught:
            decoder(frame(data))
        assert caught.value.field == field
        cause = caught.value.__cause__
        assert isinstance(cause, ValidationError) and cause.errors()[0]["type"] == kind
    # ...while the same item in a server event is kept.
    added = codec.decode(frame({"type": "conversation.item.added", "event_id": "e", "item": item}))
    assert isinstance(added, ConversationItemAdded) and isinstance(added.item, UnknownItem)


def test_a_transcription_session_in_a_format_we_do_not_know_decodes() -> None:
    data = {
        "type": "transcription_session.updated",
        "event_id": "event_1",
        "session": {"id": "sess_1", "input_audio_format": "opus", "modalities": ["text"]},
    }
    for decoder in (codec.decode_beta, codec.decode):
        event = decoder(frame(data))
        assert isinstance(event, TranscriptionSessionUpdated)
        assert event.session.input_audio_format == "opus"
        assert json.loads(codec.encode(event)) == data


def test_a_pcm_format_with_a_null_rate_decodes() -> None:
    session = {
        "type": "realtime",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": None}}},
    }
    data = {"type": "session.updated", "event_id": "event_1", "session": session}
    event = codec.decode(frame(data))
    assert isinstance(event, SessionUpdated) and isinstance(event.session, SessionConfig)
    assert event.session.audio and event.session.audio.output
    assert isinstance(event.session.audio.output.format, UnknownAudioFormat)
    assert event.session.audio.output.format.type == "audio/pcm"
    assert json.loads(codec.encode(event)) == data
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode_client(frame({"type": "session.update", "session": session}))
    assert caught.value.field == "session.realtime.audio.output.format.audio/pcm.rate"


def test_what_the_core_relies_on_stays_strict() -> None:
    delta = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": 5,
    }
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame(delta))
    assert caught.value.field == "delta"
    # A wrong type in a known item is an error; only a missing or null value is tolerated.
    bad: list[tuple[dict[str, Any], str]] = [
        ({"type": "function_call_output", "call_id": 7, "output": "{}"}, "call_id"),
        ({"type": "message", "role": "robot", "content": []}, "role"),
        ({"type": "message", "role": "user", "content": "hi"}, "content"),
        ({"type": "function_call", "call_id": ["c"]}, "call_id"),
    ]
    for item, name in bad:
        data = {"type": "conversation.item.added", "event_id": "e", "item": item}
        with pytest.raises(RemoteProtocolError) as caught:
            codec.decode(frame(data))
        assert caught.value.field == f"item.{item['type']}.{name}"


def test_typed_items_are_still_typed() -> None:
    items = [
        ({"type": "message", "role": "user"}, MessageItem),
        ({"type": "message", "role": "user", "content": []}, MessageItem),
        ({"type": "function_call", "call_id": None, "name": None}, FunctionCallItem),
        ({"type": "function_call_output", "call_id": "c", "output": ""}, FunctionCallOutputItem),
        ({"type": "item_reference", "id": "item_1"}, ItemReference),
        ({"type": "item_reference", "id": None}, UnknownItem),
    ]
    for item, cls in items:
        data = {"type": "conversation.item.added", "event_id": "e", "item": item}
        event = codec.decode(frame(data))
        assert isinstance(event, ConversationItemAdded) and type(event.item) is cls
        assert json.loads(codec.encode(event)) == data


def test_a_python_built_unknown_item_stays_unknown() -> None:
    item = UnknownItem.model_validate({"type": "message", "content": None})
    event = ResponseOutputItemAdded(event_id="e", response_id="r", output_index=0, item=item)
    assert event.item is item
    added = ConversationItemAdded(event_id="e", item=MessageItem(role="user"))
    assert isinstance(added.item, MessageItem)
    tool = UnknownTool.model_validate({"type": "mcp", "server_label": None})
    session = SessionConfig(tools=[tool])
    assert session.tools == [tool]


# --- any JSON where the fields are ----------------------------------------------------------

HOSTILE_TAGS = st.sampled_from(
    [
        "message",
        "function_call",
        "function_call_output",
        "item_reference",
        "input_text",
        "output_audio",
        "audio",
        "function",
        "mcp",
        "server_vad",
        "semantic_vad",
        "audio/pcm",
        "realtime",
        "transcription",
        "retention_ratio",
        "",
    ]
)
HOSTILE = JSON_VALUE | HOSTILE_TAGS | st.floats(allow_nan=False, allow_infinity=False)


FIELD_NAMES = st.sampled_from(
    [
        "type",
        "audio",
        "input",
        "output",
        "format",
        "output_modalities",
        "modalities",
        "voice",
        "input_audio_format",
        "turn_detection",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "content",
        "role",
        "call_id",
        "item",
        "part",
        "rate",
        "session",
        "response",
    ]
)


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value``'s objects and arrays, the top level's ``type`` left alone."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            if not (path == () and key == "type"):
                found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


@st.composite
def hostile_frames(draw: st.DrawFn, union: Any) -> str:
    """A valid frame of some event of ``union``, with a few values replaced by any JSON.

    Nested ``type`` fields are favoured: they pick the model of items, content parts,
    tools, formats, turn detection and sessions.
    """
    cls: type[BaseModel] = draw(st.sampled_from(event_classes(union)))
    data: Any = draw(for_model(cls))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(data)
        if not paths:
            break
        typed = [p for p in paths if p[-1] == "type"]
        favour_types = bool(typed) and draw(st.booleans())
        path = draw(st.sampled_from(typed if favour_types else paths))
        data = _replace(data, path, draw(HOSTILE))
    if draw(st.booleans()):
        # A new field in some object, perhaps one the other dialect (or another variant) has.
        objects = [p for p in [(), *_paths(data)] if isinstance(_get(data, p), dict)]
        path = draw(st.sampled_from(objects))
        key = draw(FIELD_NAMES | TEXT)
        data = _replace(data, path, {**_get(data, path), key: draw(HOSTILE)})
    return json.dumps(data)


@pytest.mark.parametrize("where", sorted(DECODERS))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_in_the_fields_raises_only_protocol_errors(where: str, data: Any) -> None:
    decoder, union = DECODERS[where]
    text = data.draw(hostile_frames(union))
    event = decodes_only_to_protocol_errors(decoder, text)
    if event is None:
        return
    assert_reencodes(decoder, event)
    to_ga = TO_GA.get(where)
    if to_ga is not None:
        # What the runtime and the local server read: the GA form, or RemoteProtocolError.
        # It is valid GA. (Not compared as models: it remembers its beta source.)
        ga = decodes_only_to_protocol_errors(to_ga, event)
        if ga is None:
            return
        ga_decoder = codec.decode if where == "beta-server" else codec.decode_client
        again = ga_decoder(codec.encode(ga))
        assert type(again) is type(ga)
        assert json.loads(codec.encode(again)) == json.loads(codec.encode(ga))


@pytest.mark.parametrize("where", sorted(DECODERS))
@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUE, tag=st.sampled_from(sorted(EVENT_TYPES)) | TEXT)
def test_any_json_value_decodes_or_raises_protocol_errors(where: str, value: Any, tag: str) -> None:
    decoder, _ = DECODERS[where]
    for text in (json.dumps(value), json.dumps({"type": tag, "x": value})):
        for buffer in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
            event = decodes_only_to_protocol_errors(decoder, buffer)
            if event is not None:
                assert_reencodes(decoder, event)
