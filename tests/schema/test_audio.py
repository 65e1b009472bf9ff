"""Audio accessors decode base64 only when asked, and refuse what is not base64."""

from __future__ import annotations

import base64
import json

import pytest

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import codec
from realtime_agent.schema.beta import BetaResponseAudioDelta
from realtime_agent.schema.client import InputAudioBufferAppend
from realtime_agent.schema.items import AudioPart, InputAudioPart, MessageItem, OutputAudioPart
from realtime_agent.schema.server import ConversationItemRetrieved, ResponseOutputAudioDelta

PCM = bytes(range(256)) * 15  # 3840 bytes: 80 ms of pcm16 at 24 kHz


def delta_frame(delta: str, event_type: str = "response.output_audio.delta") -> str:
    return json.dumps(
        {
            "type": event_type,
            "event_id": "event_1",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": delta,
        }
    )


def test_output_audio_delta_decodes_its_audio() -> None:
    event = codec.decode(delta_frame(base64.b64encode(PCM).decode()))
    assert isinstance(event, ResponseOutputAudioDelta)
    assert event.delta.startswith("AAEC")  # still base64 until asked
    assert event.audio_bytes == PCM


def test_beta_audio_delta_decodes_its_audio() -> None:
    event = codec.decode_beta(delta_frame(base64.b64encode(PCM).decode(), "response.audio.delta"))
    assert isinstance(event, BetaResponseAudioDelta)
    assert event.audio_bytes == PCM


@pytest.mark.parametrize("bad", ["not base64!", "AAE", "AA==AA==", "AAEC\nAw=="])
def test_invalid_base64_names_the_event_and_the_field(bad: str) -> None:
    event = codec.decode(delta_frame(bad))  # decoding the frame itself succeeds
    assert isinstance(event, ResponseOutputAudioDelta)
    with pytest.raises(RemoteProtocolError) as caught:
        event.audio_bytes  # noqa: B018 - the property is what is tested
    assert caught.value.event_type == "response.output_audio.delta"
    assert caught.value.field == "delta"
    assert "response.output_audio.delta" in str(caught.value)


def test_append_roundtrips_audio() -> None:
    event = InputAudioBufferAppend.from_audio(PCM, event_id="evt_7")
    assert event.audio == base64.b64encode(PCM).decode()
    again = codec.decode_client(codec.encode(event))
    assert isinstance(again, InputAudioBufferAppend)
    assert again.audio_bytes == PCM
    assert again.event_id == "evt_7"


def test_append_with_invalid_base64_is_a_remote_error() -> None:
    event = codec.decode_client('{"type": "input_audio_buffer.append", "audio": "%%%"}')
    assert isinstance(event, InputAudioBufferAppend)
    with pytest.raises(RemoteProtocolError, match=r"input_audio_buffer\.append"):
        event.audio_bytes  # noqa: B018


def test_content_parts_decode_their_audio() -> None:
    audio = base64.b64encode(PCM).decode()
    frame = json.dumps(
        {
            "type": "conversation.item.retrieved",
            "event_id": "event_2",
            "item": {
                "id": "item_2",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "audio", "audio": audio, "format": "pcm16"}],
            },
        }
    )
    event = codec.decode(frame)
    assert isinstance(event, ConversationItemRetrieved)
    assert isinstance(event.item, MessageItem)
    part = event.item.content[0]
    assert isinstance(part, AudioPart)
    assert part.audio_bytes == PCM
    assert OutputAudioPart().audio_bytes == b""
    with pytest.raises(RemoteProtocolError, match="input_audio content part"):
        InputAudioPart(audio="@@@@").audio_bytes  # noqa: B018
