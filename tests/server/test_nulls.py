"""Explicit nulls: refused where the real API refuses them, with its ``invalid_type`` error."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.server.client import Client, client

BETA = [("OpenAI-Beta", "realtime=v1")]


def refusal(param: str, expected: str, event_id: str | None) -> dict[str, Any]:
    """The real server's error for a null at ``param``."""
    return {
        "type": "invalid_request_error",
        "code": "invalid_type",
        "message": f"Invalid type for '{param}': expected {expected}, but got null instead.",
        "param": param,
        "event_id": event_id,
    }


async def answer(peer: Client, event: dict[str, Any]) -> dict[str, Any]:
    """The server's first event in answer to ``event``."""
    await peer.send(event)
    return await peer.recv()


async def refused(peer: Client, event: dict[str, Any]) -> dict[str, Any]:
    """The error that answers ``event``; nothing else came first."""
    reply = await answer(peer, event)
    assert reply["type"] == "error", reply
    error: dict[str, Any] = reply["error"]
    return error


async def test_response_create_with_a_null_response_is_refused_as_the_real_api_does() -> None:
    async with (
        LocalRealtimeServer(responder=ScriptedResponder(["Yes."])) as server,
        client(server.url) as peer,
    ):
        event = {"type": "response.create", "event_id": "evt_1", "response": None}
        assert await refused(peer, event) == {
            "type": "invalid_request_error",
            "code": "invalid_type",
            "message": "Invalid type for 'response': expected an object, but got null instead.",
            "param": "response",
            "event_id": "evt_1",
        }
        # Nothing started: the next response is the first.
        reply = await answer(peer, {"type": "response.create"})
        assert reply["type"] == "response.created"
        await peer.until("response.done")


GA_REFUSALS = [
    (
        {"type": "session.update", "session": None},
        refusal("session", "an object", "e"),
    ),
    (
        {"type": "session.update", "session": {"type": "realtime", "audio": None}},
        refusal("session.audio", "an object", "e"),
    ),
    (
        {"type": "session.update", "session": {"type": "realtime", "audio": {"input": None}}},
        refusal("session.audio.input", "an object", "e"),
    ),
    (
        {"type": "session.update", "session": {"audio": {"input": {"format": None}}}},
        refusal("session.audio.input.format", "an object", "e"),
    ),
    (
        {"type": "session.update", "session": {"audio": {"input": {"format": {"type": None}}}}},
        refusal(
            "session.audio.input.format.type",
            "one of 'audio/pcm', 'audio/pcmu', or 'audio/pcma'",
            "e",
        ),
    ),
    (
        {"type": "session.update", "session": {"type": None}},
        refusal("session.type", "one of 'realtime' or 'transcription'", "e"),
    ),
    (
        {"type": "session.update", "session": {"type": "realtime", "instructions": None}},
        refusal("session.instructions", "a string", "e"),
    ),
    (
        {
            "type": "session.update",
            "session": {"audio": {"input": {"transcription": {"model": None}}}},
        },
        refusal("session.audio.input.transcription.model", "a string", "e"),
    ),
    (
        {
            "type": "session.update",
            "session": {"audio": {"input": {"noise_reduction": {"type": None}}}},
        },
        refusal(
            "session.audio.input.noise_reduction.type", "one of 'near_field' or 'far_field'", "e"
        ),
    ),
    (
        {
            "type": "session.update",
            "session": {
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": None}}}
            },
        },
        refusal("session.audio.input.turn_detection.threshold", "a number", "e"),
    ),
    (
        {"type": "session.update", "session": {"tools": [{"type": "function", "name": None}]}},
        refusal("session.tools[0].name", "a string", "e"),
    ),
    (
        {"type": "session.update", "session": {"output_modalities": ["audio", None]}},
        refusal("session.output_modalities[1]", "one of 'text' or 'audio'", "e"),
    ),
    (
        {"type": "session.update", "session": {"max_output_tokens": None}},
        refusal("session.max_output_tokens", "one of an integer or a string", "e"),
    ),
    (
        {"type": "conversation.item.create", "item": None},
        refusal("item", "an object", "e"),
    ),
    (
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}, None]},
        },
        refusal("item.content[1]", "an object", "e"),
    ),
    (
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": None}],
            },
        },
        refusal("item.content[0].text", "a string", "e"),
    ),
    (
        {"type": "conversation.item.create", "item": {"type": "message", "role": None}},
        refusal("item.role", "one of 'system', 'user', or 'assistant'", "e"),
    ),
    (
        {
            "type": "conversation.item.create",
            "previous_item_id": None,
            "item": {"type": "function_call_output", "call_id": "c", "output": "o"},
        },
        refusal("previous_item_id", "a string", "e"),
    ),
    (
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": None,
        },
        refusal("audio_end_ms", "an integer", "e"),
    ),
    (
        {"type": "conversation.item.retrieve", "item_id": None},
        refusal("item_id", "a string", "e"),
    ),
    (
        {"type": "input_audio_buffer.append", "audio": None},
        refusal("audio", "a string", "e"),
    ),
    (
        {"type": "response.cancel", "response_id": None},
        refusal("response_id", "a string", "e"),
    ),
    (
        {"type": "response.create", "response": {"audio": {"output": {"voice": None}}}},
        refusal("response.audio.output.voice", "one of a string or an object", "e"),
    ),
    (
        {
            "type": "response.create",
            "response": {"input": [{"type": "item_reference", "id": None}]},
        },
        refusal("response.input[0].id", "a string", "e"),
    ),
]


@pytest.mark.parametrize(("event", "error"), GA_REFUSALS, ids=[e["param"] for _, e in GA_REFUSALS])
async def test_ga_nulls_the_api_refuses(
    server: LocalRealtimeServer, event: dict[str, Any], error: dict[str, Any]
) -> None:
    async with client(server.url) as peer:
        assert await refused(peer, {**event, "event_id": "e"}) == error


async def test_a_null_event_id_is_refused_and_the_error_has_no_event_id(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        event = {"type": "input_audio_buffer.clear", "event_id": None}
        assert await refused(peer, event) == refusal("event_id", "a string", None)


BETA_REFUSALS = [
    (
        {"type": "response.create", "response": None},
        refusal("response", "an object", "e"),
    ),
    (
        {"type": "session.update", "session": {"input_audio_format": None}},
        refusal("session.input_audio_format", "one of 'pcm16', 'g711_ulaw', or 'g711_alaw'", "e"),
    ),
    (
        {"type": "session.update", "session": {"turn_detection": {"silence_duration_ms": None}}},
        refusal("session.turn_detection.silence_duration_ms", "an integer", "e"),
    ),
    (
        {"type": "session.update", "session": {"voice": None}},
        refusal("session.voice", "a string", "e"),
    ),
    (
        {"type": "conversation.item.create", "item": {"type": "message", "content": None}},
        refusal("item.content", "an array", "e"),
    ),
    (
        {"type": "conversation.item.create", "item": {"type": None, "role": "user"}},
        refusal("item.type", "one of 'message', 'function_call', or 'function_call_output'", "e"),
    ),
    (
        {"type": "response.create", "response": {"modalities": None}},
        refusal("response.modalities", "an array", "e"),
    ),
]


@pytest.mark.parametrize(
    ("event", "error"), BETA_REFUSALS, ids=[e["param"] for _, e in BETA_REFUSALS]
)
async def test_beta_nulls_the_api_refuses(
    server: LocalRealtimeServer, event: dict[str, Any], error: dict[str, Any]
) -> None:
    async with client(server.url, BETA) as peer:
        assert await refused(peer, {**event, "event_id": "e"}) == error


async def test_a_refused_update_changes_nothing(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        before = peer.received[0]["session"]
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "instructions": "Be brief.", "audio": None},
        }
        await refused(peer, update)
        await peer.send({"type": "session.update", "session": {"type": "realtime"}})
        after = (await peer.expect("session.updated"))["session"]
        assert after["instructions"] == before["instructions"]
        assert after["audio"] == before["audio"]


async def test_turn_detection_null_still_turns_vad_off(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
        reply = await answer(peer, update)
        assert reply["type"] == "session.updated"
        assert reply["session"]["audio"]["input"]["turn_detection"] is None
    async with client(server.url, BETA) as peer:
        reply = await answer(peer, {"type": "session.update", "session": {"turn_detection": None}})
        assert reply["type"] == "session.updated"
        assert reply["session"]["turn_detection"] is None


async def test_nulls_the_api_documents_are_accepted(server: LocalRealtimeServer) -> None:
    """The SDK documents these as "can be set to null" (its types do not say so)."""
    async with client(server.url) as peer:
        audio_in = {
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {"type": "server_vad", "idle_timeout_ms": None},
        }
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": audio_in}},
        }
        reply = await answer(peer, update)
        assert reply["type"] == "session.updated"
        assert reply["session"]["audio"]["input"]["transcription"] is None
    async with client(server.url, BETA) as peer:
        session = {"input_audio_transcription": None, "input_audio_noise_reduction": None}
        reply = await answer(peer, {"type": "session.update", "session": session})
        assert reply["type"] == "session.updated"
        assert reply["session"]["input_audio_transcription"] is None
