"""The beta dialect: flat sessions, beta event names, no GA-only events."""

from __future__ import annotations

import json

from realtime_agent.schema import codec
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder
from tests.server.client import client, squeeze, types
from tests.server.conftest import silence, utterance

BETA = [("OpenAI-Beta", "realtime=v1")]


async def test_beta_session_is_flat_and_keeps_the_temperature(server: LocalRealtimeServer) -> None:
    async with client(server.url, BETA) as peer:
        created = peer.received[0]["session"]
        assert created["input_audio_format"] == "pcm16" and created["voice"] == "marin"
        assert created["temperature"] == 0.8
        assert created["turn_detection"]["type"] == "server_vad"
        await peer.send(
            {
                "type": "session.update",
                "session": {
                    "instructions": "Be terse.",
                    "temperature": 0.7,
                    "input_audio_transcription": {"model": "whisper-1"},
                    "output_audio_format": "g711_ulaw",
                },
            }
        )
        updated = (await peer.expect("session.updated"))["session"]
        assert updated["instructions"] == "Be terse."
        assert updated["temperature"] == 0.7
        assert updated["input_audio_transcription"] == {"model": "whisper-1"}
        assert updated["output_audio_format"] == "g711_ulaw"
        await peer.send(
            {"type": "session.update", "event_id": "b1", "session": {"temperature": 0.1}}
        )
        error = (await peer.expect("error"))["error"]
        assert error["param"] == "session.temperature" and error["event_id"] == "b1"


async def test_spoken_turn_with_a_tool_call_in_beta() -> None:
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Oslo"}), "Cold in Oslo."],
        transcripts=["weather in oslo"],
    )
    async with LocalRealtimeServer(responder=responder) as server, client(server.url, BETA) as peer:
        await peer.send(
            {
                "type": "session.update",
                "session": {"input_audio_transcription": {"model": "whisper-1"}},
            }
        )
        await peer.expect("session.updated")
        await peer.append(silence(300) + utterance() + silence(800))
        first = await peer.until("response.done")
        call = {e["type"]: e for e in first}["response.function_call_arguments.done"]
        assert "name" not in call  # beta does not name the function here
        added = next(e for e in first if e["type"] == "response.output_item.added")["item"]
        assert added["name"] == "get_weather" and added["call_id"] == call["call_id"]
        transcribed = {e["type"]: e for e in first}[
            "conversation.item.input_audio_transcription.completed"
        ]
        assert transcribed["transcript"] == "weather in oslo"
        await peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "-3 C",
                },
            }
        )
        await peer.send({"type": "response.create"})
        second = await peer.until("response.done")
    everything = first + second
    names = set(types(everything))
    assert {
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
    } <= names
    assert "conversation.item.created" in names
    assert not names & {
        "conversation.item.added",
        "conversation.item.done",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
    }
    assert squeeze(types(second))[-5:] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    reply = next(e for e in second if e["type"] == "response.output_item.done")["item"]
    assert reply["content"] == [{"type": "audio", "transcript": "Cold in Oslo."}]
    for event in everything:
        assert not isinstance(codec.decode_beta(json.dumps(event)), UnknownServerEvent)


async def test_beta_events_the_local_server_does_not_handle_get_an_error(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url, BETA) as peer:
        await peer.send({"type": "output_audio_buffer.clear", "event_id": "o1"})
        error = (await peer.expect("error"))["error"]
    assert error["event_id"] == "o1" and "output_audio_buffer.clear" in error["message"]
