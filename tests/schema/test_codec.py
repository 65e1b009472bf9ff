"""decode()/encode(): unknown types and fields, malformed frames, what encode writes."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_agent.errors import RAW_EXCERPT_CHARS, RemoteProtocolError
from realtime_agent.schema import GA_SERVER_EVENT_TYPES, codec
from realtime_agent.schema.client import (
    ConversationItemCreate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    ResponseCreate,
    SessionUpdate,
)
from realtime_agent.schema.common import PcmFormat
from realtime_agent.schema.items import (
    FunctionCallOutputItem,
    InputTextPart,
    MessageItem,
    UnknownContentPart,
    UnknownItem,
)
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.server import (
    ConversationItemAdded,
    ResponseOutputAudioDelta,
    SessionCreated,
)
from realtime_agent.schema.session import (
    AudioInput,
    FunctionTool,
    ServerVad,
    SessionAudio,
    SessionConfig,
    UnknownTool,
    UnknownTurnDetection,
)

AUDIO_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": base64.b64encode(bytes(range(256)) * 8).decode(),
}


def frame(data: object) -> str:
    return json.dumps(data)


# --- forward compatibility -------------------------------------------------------------------


def test_unknown_server_type_is_kept_raw() -> None:
    text = '{"type": "response.output_audio.timing", "event_id": "event_9", "ms": 40}'
    event = codec.decode(text)
    assert isinstance(event, codec.UnknownServerEvent)
    assert event.type == "response.output_audio.timing"
    assert event.event_id == "event_9"
    assert event.data == {"type": "response.output_audio.timing", "event_id": "event_9", "ms": 40}
    assert codec.encode(event) == text


def test_unknown_client_type_is_kept_raw() -> None:
    text = b'{"type": "conversation.item.pin", "item_id": "item_1"}'
    event = codec.decode_client(text)
    assert isinstance(event, codec.UnknownClientEvent)
    assert event.type == "conversation.item.pin"
    assert event.event_id is None
    assert codec.encode(event) == text.decode()


def test_beta_name_on_a_ga_connection_is_unknown_not_an_error() -> None:
    event = codec.decode(frame({**AUDIO_DELTA, "type": "response.audio.delta"}))
    assert isinstance(event, codec.UnknownServerEvent)
    assert event.type == "response.audio.delta"


def test_unknown_fields_are_kept_and_written_back() -> None:
    data = {**AUDIO_DELTA, "obfuscation": "aLxx0j", "timing": {"start_ms": 0}}
    event = codec.decode(frame(data))
    assert isinstance(event, ResponseOutputAudioDelta)
    assert event.model_extra == {"obfuscation": "aLxx0j", "timing": {"start_ms": 0}}
    assert json.loads(codec.encode(event)) == data


def test_unknown_nested_types_are_kept_raw() -> None:
    data = {
        "type": "conversation.item.added",
        "event_id": "event_2",
        "item": {
            "id": "item_2",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_video", "url": "data:video/mp4;base64,AA=="}],
        },
    }
    event = codec.decode(frame(data))
    assert isinstance(event, ConversationItemAdded)
    assert isinstance(event.item, MessageItem)
    assert isinstance(event.item.content[0], UnknownContentPart)
    assert json.loads(codec.encode(event)) == data

    data["item"] = {"id": "item_3", "type": "web_search_call", "query": "weather"}
    event = codec.decode(frame(data))
    assert isinstance(event, ConversationItemAdded)
    assert isinstance(event.item, UnknownItem)
    assert event.item.model_extra == {"query": "weather"}
    assert json.loads(codec.encode(event)) == data


def test_unknown_tool_and_turn_detection_are_kept_raw() -> None:
    data = {
        "type": "session.created",
        "event_id": "event_3",
        "session": {
            "type": "realtime",
            "tools": [{"type": "file_search", "ids": ["vs_1"]}, {"name": "no_type_given"}],
            "audio": {"input": {"turn_detection": {"type": "neural_vad", "level": 3}}},
        },
    }
    event = codec.decode(frame(data))
    assert isinstance(event, SessionCreated)
    assert isinstance(event.session, SessionConfig)
    assert event.session.tools is not None
    unknown, untyped = event.session.tools
    assert isinstance(unknown, UnknownTool)
    assert isinstance(untyped, FunctionTool)  # a function tool may leave out its type
    assert event.session.audio and event.session.audio.input
    assert isinstance(event.session.audio.input.turn_detection, UnknownTurnDetection)
    # The one change on re-encoding: the defaulted type is written out.
    data["session"]["tools"][1]["type"] = "function"  # type: ignore[index]
    assert json.loads(codec.encode(event)) == data


# --- malformed frames ------------------------------------------------------------------------


def test_truncated_json_names_the_type_it_could_see() -> None:
    text = frame(AUDIO_DELTA)[:120]
    with pytest.raises(RemoteProtocolError, match=r"invalid JSON") as caught:
        codec.decode(text)
    assert caught.value.event_type == "response.output_audio.delta"
    assert caught.value.field is None
    assert caught.value.__cause__ is not None


def test_wrong_field_type_names_the_type_and_the_field() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame({**AUDIO_DELTA, "content_index": "zero"}))
    error = caught.value
    assert error.event_type == "response.output_audio.delta"
    assert error.field == "content_index"
    assert "response.output_audio.delta" in str(error) and "'content_index'" in str(error)
    assert type(error.__cause__).__name__ == "ValidationError"


def test_missing_required_field_is_named() -> None:
    data = {k: v for k, v in AUDIO_DELTA.items() if k != "delta"}
    with pytest.raises(RemoteProtocolError, match=r"field 'delta': Field required") as caught:
        codec.decode(frame(data))
    assert caught.value.event_type == "response.output_audio.delta"


def test_nested_field_path_is_dotted() -> None:
    data = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": 42},
    }
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode_client(frame(data))
    assert caught.value.event_type == "conversation.item.create"
    assert caught.value.field == "item.function_call_output.output"


def test_an_invalid_event_still_names_its_ids() -> None:
    data = {
        "type": "response.function_call_arguments.done",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": {"call_id": "not_this_one"},
    }
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame(data))
    assert caught.value.field == "arguments"
    assert caught.value.ids == {
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "call_id": "call_1",
        "name": "get_weather",
    }
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame(data)[:-20])  # not JSON: no ids
    assert caught.value.ids == {}


@pytest.mark.parametrize("text", ["[1, 2]", '"response.done"', "42", "null", "true", "[]"])
def test_non_objects_are_refused(text: str) -> None:
    with pytest.raises(RemoteProtocolError, match="not a JSON object") as caught:
        codec.decode(text)
    assert caught.value.event_type is None


def test_missing_type_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="no 'type' field"):
        codec.decode('{"event_id": "event_1"}')


@pytest.mark.parametrize("value", [5, None, ["error"], {"a": 1}])
def test_non_string_type_is_refused(value: object) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.decode(frame({"type": value, "event_id": "event_1"}))


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="invalid JSON"):
        codec.decode(b'{"type": "error", "event_id": "\xff\xfe"}')


def test_huge_wrong_value_gives_a_bounded_error() -> None:
    huge = "x" * 20_000_000
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame({**AUDIO_DELTA, "output_index": huge}))
    error = caught.value
    assert error.field == "output_index"
    assert len(str(error)) < 500
    assert len(error.raw) < RAW_EXCERPT_CHARS + 40


def test_huge_valid_audio_frame_decodes() -> None:
    pcm = bytes(range(256)) * 40_000  # ~10 MB: a long conversation.item.retrieved, say
    event = codec.decode(frame({**AUDIO_DELTA, "delta": base64.b64encode(pcm).decode()}))
    assert isinstance(event, ResponseOutputAudioDelta)
    assert event.audio_bytes == pcm


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_decode_of_anything_returns_or_raises_remote_protocol_error(text: str | bytes) -> None:
    for decode in (codec.decode, codec.decode_client, codec.decode_beta, codec.decode_beta_client):
        try:
            decode(text)
        except RemoteProtocolError:
            pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


FIELD_NAMES = ["event_id", "item", "delta", "session", "response", "part", "error", "item_id"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(GA_SERVER_EVENT_TYPES)),
    st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=6),
)
def test_known_type_with_random_fields_returns_or_raises_remote_protocol_error(
    event_type: str, fields: dict[str, object]
) -> None:
    try:
        codec.decode(frame({**fields, "type": event_type}))
    except RemoteProtocolError as error:
        assert error.event_type == event_type


# --- encode ----------------------------------------------------------------------------------


def test_encode_writes_type_even_when_defaulted() -> None:
    assert json.loads(codec.encode(InputAudioBufferCommit())) == {
        "type": "input_audio_buffer.commit"
    }
    assert json.loads(codec.encode(ResponseCreate(event_id="e1"))) == {
        "type": "response.create",
        "event_id": "e1",
    }


def test_encode_writes_explicit_null_and_nested_types() -> None:
    update = SessionUpdate(
        session=SessionConfig(
            audio=SessionAudio(input=AudioInput(format=PcmFormat(), turn_detection=None)),
            tools=[FunctionTool(name="get_weather", parameters={"type": "object"})],
        )
    )
    assert json.loads(codec.encode(update)) == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"format": {"type": "audio/pcm"}, "turn_detection": None}},
            "tools": [
                {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
            ],
        },
    }
    vad = SessionUpdate(
        session=SessionConfig(
            audio=SessionAudio(input=AudioInput(turn_detection=ServerVad(silence_duration_ms=400)))
        )
    )
    assert json.loads(codec.encode(vad))["session"]["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "silence_duration_ms": 400,
    }


def test_encoded_client_events_decode_to_equal_events() -> None:
    events = [
        InputAudioBufferAppend.from_audio(b"\x01\x02" * 100, event_id="e1"),
        ConversationItemCreate(
            item=FunctionCallOutputItem(call_id="call_1", output='{"ok": true}')
        ),
        ConversationItemCreate(
            item=MessageItem(role="user", content=[InputTextPart(text="hi")]),
            previous_item_id="root",
        ),
        ResponseCreate(response=ResponseCreateParams(conversation="none", metadata={"k": "v"})),
    ]
    for event in events:
        again = codec.decode_client(codec.encode(event))
        assert type(again) is type(event)
        assert codec.encode(again) == codec.encode(event)
