"""GA <-> beta translation of events and session configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from realtime_agent.schema import codec, dialect
from realtime_agent.schema.beta import (
    BetaResponseCreate,
    BetaSessionCreated,
    BetaSessionUpdate,
)
from realtime_agent.schema.client import ResponseCreate, SessionUpdate, TranscriptionSessionUpdate
from realtime_agent.schema.common import BetaSourced, PcmaFormat, PcmFormat, PcmuFormat
from realtime_agent.schema.items import AudioPart, MessageItem, OutputAudioPart, TextPart
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.server import (
    ConversationItemAdded,
    ConversationItemCreated,
    ResponseOutputAudioDelta,
    SessionCreated,
)
from realtime_agent.schema.session import (
    AudioInput,
    AudioOutput,
    InputTranscription,
    SemanticVad,
    SessionAudio,
    SessionConfig,
    TranscriptionAudio,
    TranscriptionAudioInput,
    TranscriptionSessionConfig,
)
from tests.schema.published import EXAMPLES, Example, examples, through_ga
from tests.schema.strategies import in_beta_vocabulary

BETA = [e for e in examples() if e.dialect == "beta"]
GA = [e for e in examples() if e.dialect == "ga"]


def forget_beta_source(model: BaseModel) -> None:
    """Drop the in-memory beta source everywhere, as if the GA object were built fresh."""
    if isinstance(model, BetaSourced):
        model._beta_source = None
    for value in model.__dict__.values():
        if isinstance(value, BaseModel):
            forget_beta_source(value)


@pytest.mark.parametrize("example", BETA, ids=lambda e: e.id)
def test_every_beta_example_roundtrips_through_ga(example: Example) -> None:
    _, back = through_ga(example.text, client=example.client)
    assert isinstance(back, BaseModel)
    assert json.loads(codec.encode(back)) == example.data


@pytest.mark.parametrize("example", BETA, ids=lambda e: e.id)
def test_translated_events_use_ga_names(example: Example) -> None:
    ga, _ = through_ga(example.text, client=example.client)
    renamed = dialect.SERVER_EVENT_NAMES_BETA_TO_GA
    assert ga.type == renamed.get(example.data["type"], example.data["type"])


def beta_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "beta" / name).read_text())
    return data


def test_lossy_fields_are_listed() -> None:
    assert set(dialect.LOSSY_BETA_FIELDS) == {
        "temperature",
        "client_secret",
        "modalities",
        "max_output_tokens",
    }


def test_session_mapping_without_the_beta_source_loses_only_the_lossy_fields() -> None:
    original = beta_example("RealtimeServerEventSessionCreated.json")
    event = dialect.server_to_ga(codec.decode_beta(json.dumps(original)))
    assert isinstance(event, SessionCreated)
    forget_beta_source(event)
    back = dialect.server_to_beta(event)
    assert isinstance(back, BetaSessionCreated)
    expected = json.loads(json.dumps(original))
    del expected["session"]["temperature"]  # GA has no temperature
    assert json.loads(codec.encode(back)) == expected


def test_session_update_maps_every_flat_field_to_its_ga_place() -> None:
    original = beta_example("RealtimeClientEventSessionUpdate.json")
    event = dialect.client_to_ga(codec.decode_beta_client(json.dumps(original)))
    assert isinstance(event, SessionUpdate)
    session = json.loads(codec.encode(event))["session"]
    assert session == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": original["session"]["turn_detection"],
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "sage"},
        },
        "tools": original["session"]["tools"],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    }


def test_response_create_without_the_beta_source_renames_max_output_tokens() -> None:
    original = beta_example("RealtimeClientEventResponseCreate.json")
    event = dialect.client_to_ga(codec.decode_beta_client(json.dumps(original)))
    assert isinstance(event, ResponseCreate)
    assert event.response is not None
    assert event.response.max_output_tokens == 1024
    assert event.response.output_modalities == ["audio"]
    forget_beta_source(event)
    back = dialect.client_to_beta(event)
    assert isinstance(back, BetaResponseCreate)
    expected = json.loads(json.dumps(original))
    del expected["response"]["temperature"]
    expected["response"]["max_response_output_tokens"] = expected["response"].pop(
        "max_output_tokens"
    )
    assert json.loads(codec.encode(back)) == expected


def test_changed_ga_object_keeps_beta_only_fields_from_its_source() -> None:
    original = beta_example("RealtimeClientEventSessionUpdate.json")
    event = dialect.client_to_ga(codec.decode_beta_client(json.dumps(original)))
    assert isinstance(event, SessionUpdate) and isinstance(event.session, SessionConfig)
    event.session.instructions = "Be brief."
    back = dialect.client_to_beta(event)
    assert isinstance(back, BetaSessionUpdate)
    assert back.session.instructions == "Be brief."
    assert back.session.temperature == 0.8


@pytest.mark.parametrize(
    ("beta", "ga"),
    [("pcm16", PcmFormat()), ("g711_ulaw", PcmuFormat()), ("g711_alaw", PcmaFormat())],
)
def test_audio_formats_map_both_ways(beta: str, ga: BaseModel) -> None:
    session = SessionConfig(
        audio=SessionAudio(input=AudioInput(format=ga), output=AudioOutput(format=ga))  # type: ignore[arg-type]
    )
    flat = dialect.session_to_beta(session)
    assert flat.input_audio_format == beta and flat.output_audio_format == beta
    again = dialect.session_to_ga(flat)
    assert again.audio and again.audio.input and again.audio.output
    assert again.audio.input.format == again.audio.output.format
    assert type(again.audio.input.format) is type(ga)


def test_ga_session_update_for_a_runtime_on_beta() -> None:
    update = SessionUpdate(
        event_id="evt_1",
        session=SessionConfig(
            instructions="Hi",
            output_modalities=["text"],
            audio=SessionAudio(
                input=AudioInput(transcription=None, turn_detection=SemanticVad(eagerness="low")),
                output=AudioOutput(voice="marin", speed=1.2),
            ),
            max_output_tokens=512,
        ),
    )
    beta = dialect.client_to_beta(update)
    assert json.loads(codec.encode(beta)) == {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "instructions": "Hi",
            "modalities": ["text"],
            "input_audio_transcription": None,
            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
            "voice": "marin",
            "speed": 1.2,
            "max_response_output_tokens": 512,
        },
    }


def test_ga_transcription_session_becomes_transcription_session_update() -> None:
    update = SessionUpdate(
        session=TranscriptionSessionConfig(
            audio=TranscriptionAudio(
                input=TranscriptionAudioInput(
                    format=PcmFormat(), transcription=InputTranscription(model="gpt-4o-transcribe")
                )
            )
        )
    )
    beta = dialect.client_to_beta(update)
    assert isinstance(beta, TranscriptionSessionUpdate)
    assert json.loads(codec.encode(beta)) == {
        "type": "transcription_session.update",
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        },
    }


def test_response_create_params_for_a_runtime_on_beta() -> None:
    event = ResponseCreate(
        response=ResponseCreateParams(output_modalities=["audio"], conversation="none")
    )
    beta = dialect.client_to_beta(event)
    assert json.loads(codec.encode(beta)) == {
        "type": "response.create",
        "response": {"modalities": ["text", "audio"], "conversation": "none"},
    }
    assert json.loads(codec.encode(dialect.client_to_beta(ResponseCreate()))) == {
        "type": "response.create"
    }


@pytest.mark.parametrize("example", [e for e in GA if not e.client], ids=lambda e: e.id)
def test_ga_server_events_in_beta(example: Example) -> None:
    event = codec.decode(example.text)
    beta = dialect.server_to_beta(event)
    if example.data["type"] in dialect.GA_ONLY_SERVER_EVENT_TYPES:
        assert beta is None
        return
    assert beta is not None
    again = codec.decode_beta(codec.encode(beta))
    assert type(again) is type(beta)  # a valid beta event
    assert in_beta_vocabulary(json.loads(codec.encode(beta)))


def test_item_added_becomes_item_created_with_beta_part_names() -> None:
    added = ConversationItemAdded(
        event_id="event_1",
        item=MessageItem(
            id="item_1", role="assistant", content=[OutputAudioPart(transcript="Hello")]
        ),
    )
    beta = dialect.server_to_beta(added)
    assert isinstance(beta, ConversationItemCreated)
    assert isinstance(beta.item, MessageItem)
    assert isinstance(beta.item.content[0], AudioPart)
    assert json.loads(codec.encode(beta)) == {
        "type": "conversation.item.created",
        "event_id": "event_1",
        "item": {
            "id": "item_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "audio", "transcript": "Hello"}],
        },
    }
    assert TextPart().type == "text"


def test_renamed_audio_delta_keeps_its_fields_and_extras() -> None:
    frame = {
        "type": "response.audio.delta",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "AAECAw==",
        "obfuscation": "zz",
    }
    ga = dialect.server_to_ga(codec.decode_beta(json.dumps(frame)))
    assert isinstance(ga, ResponseOutputAudioDelta)
    assert ga.audio_bytes == b"\x00\x01\x02\x03"
    assert json.loads(codec.encode(ga)) == {**frame, "type": "response.output_audio.delta"}
