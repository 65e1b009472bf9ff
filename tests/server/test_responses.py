"""Responses: the GA event sequence, text, function calls, one active response, cancel."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from realtime_agent.schema import codec
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.server import CallTool, LocalRealtimeServer, Pacing, ScriptedResponder
from tests.server.client import Client, client, squeeze, types

USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
LONG = " ".join(["this reply is long enough to still be playing"] * 4)


async def ask(peer: Client, **response: object) -> list[dict[str, Any]]:
    await peer.send({"type": "conversation.item.create", "item": USER_TEXT})
    await peer.expect("conversation.item.done")
    await peer.send({"type": "response.create", **({"response": response} if response else {})})
    events = await peer.until("response.done")
    events.append(await peer.expect("rate_limits.updated"))
    return events


async def test_spoken_response_has_the_ga_sequence() -> None:
    text = "It is sunny in Paris, twenty one degrees."
    async with LocalRealtimeServer(responder=ScriptedResponder([text])) as server:
        async with client(server.url) as peer:
            events = await ask(peer)
    assert squeeze(types(events)) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        *squeeze(t for t in types(events) if "delta" in t),
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    transcript = "".join(
        str(e["delta"]) for e in events if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript == text
    done = {e["type"]: e for e in events}
    assert done["response.output_audio_transcript.done"]["transcript"] == text
    audio = b"".join(base64.b64decode(str(e["delta"])) for e in deltas)
    assert len(deltas) == -(-len(audio) // (40 * 48))  # 40 ms deltas
    assert 1500 < len(audio) / 48 < 6000  # about as long as the sentence takes to say
    response = done["response.done"]["response"]
    assert isinstance(response, dict)
    assert response["status"] == "completed" and response["conversation_id"].startswith("conv_")
    assert response["output"][0]["content"] == [{"type": "output_audio", "transcript": text}]
    assert response["usage"]["output_token_details"]["audio_tokens"] > 0
    ids = {e["item_id"] for e in deltas}
    assert ids == {response["output"][0]["id"]}
    for event in events:  # every event is valid GA, none unknown
        assert not isinstance(codec.decode(json.dumps(event)), UnknownServerEvent)


async def test_text_only_response() -> None:
    async with LocalRealtimeServer(responder=ScriptedResponder(["Just text here."])) as server:
        async with client(server.url) as peer:
            events = await ask(peer, output_modalities=["text"])
    assert "response.output_audio.delta" not in types(events)
    text = "".join(str(e["delta"]) for e in events if e["type"] == "response.output_text.delta")
    assert text == "Just text here."
    done = {e["type"]: e for e in events}
    assert done["response.output_text.done"]["text"] == "Just text here."
    assert done["response.done"]["response"]["output_modalities"] == ["text"]


async def test_function_call_turn_continues_after_the_output() -> None:
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), "It is sunny in Paris."]
    )
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        events = await ask(peer)
        assert squeeze(types(events)) == [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "response.function_call_arguments.delta*",
            "response.function_call_arguments.done",
            "conversation.item.done",
            "response.output_item.done",
            "response.done",
            "rate_limits.updated",
        ]
        added = events[1]["item"]
        assert isinstance(added, dict)
        assert added["type"] == "function_call" and added["status"] == "in_progress"
        assert added["name"] == "get_weather" and added["arguments"] == ""
        call = {e["type"]: e for e in events}["response.function_call_arguments.done"]
        assert call["name"] == "get_weather"
        assert json.loads(str(call["arguments"])) == {"city": "Paris"}
        fragments = "".join(
            str(e["delta"]) for e in events if e["type"] == "response.function_call_arguments.delta"
        )
        assert fragments == call["arguments"]
        await peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": '{"sky": "clear"}',
                },
            }
        )
        await peer.expect("conversation.item.done")
        await peer.send({"type": "response.create"})
        answer = await peer.until("response.done")
    assert "response.output_audio.delta" in types(answer)
    last = responder.contexts[1].last_item
    assert isinstance(last, FunctionCallOutputItem) and last.output == '{"sky": "clear"}'


async def test_only_one_response_at_a_time_in_the_default_conversation() -> None:
    responder = ScriptedResponder([LONG, "Out of band.", "After."])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.times(4)) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            created = await peer.expect("response.created")
            await peer.send({"type": "response.create", "event_id": "r2"})
            error = (await peer.expect("error"))["error"]
            response_id = created["response"]["id"]
            assert error["code"] == "conversation_already_has_active_response"
            assert error["message"] == (
                f"Conversation already has an active response in progress: {response_id}. "
                "Wait until the response is finished before creating a new one."
            )
            assert error["event_id"] == "r2"
            # An out-of-band response may run beside it.
            await peer.send(
                {
                    "type": "response.create",
                    "response": {
                        "conversation": "none",
                        "metadata": {"topic": "summary"},
                        "output_modalities": ["text"],
                    },
                }
            )
            events = await peer.until("response.done")
            oob = [e for e in events if e["type"] == "response.done"][-1]["response"]
            assert oob["conversation_id"] is None and oob["metadata"] == {"topic": "summary"}
            done = await peer.expect("response.done")
            assert done["response"]["id"] == response_id
            await peer.send({"type": "response.create"})  # free again
            assert (await peer.expect("response.created"))["response"]["id"] != response_id
            third = (await peer.expect("conversation.item.added"))["item"]["id"]
    # The out-of-band reply never entered the conversation.
    items = server.sessions[0].conversation.items()
    assert [item.id for item in items] == [done["response"]["output"][0]["id"], third]


async def test_cancel_ends_the_response_and_its_item() -> None:
    responder = ScriptedResponder([LONG])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.times(4)) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.cancel", "event_id": "c0"})
            error = (await peer.expect("error"))["error"]
            assert error["code"] == "response_cancel_not_active"
            assert error["message"] == "Cancellation failed: no active response found"
            assert error["event_id"] == "c0"
            await peer.send({"type": "response.create"})
            await peer.expect("response.output_audio.delta")
            await peer.send({"type": "response.cancel"})
            events = await peer.until("response.done")
    response = events[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    item = response["output"][0]
    assert item["status"] == "incomplete"
    transcript = item["content"][0]["transcript"]
    assert LONG.startswith(transcript) and len(transcript) < len(LONG)
    assert squeeze(types(events))[-6:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]


async def test_cancel_by_response_id_reaches_an_out_of_band_response() -> None:
    responder = ScriptedResponder([LONG])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.times(4)) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create", "response": {"conversation": "none"}})
            response_id = (await peer.expect("response.created"))["response"]["id"]
            await peer.send({"type": "response.cancel", "response_id": response_id})
            done = await peer.expect("response.done")
    assert done["response"]["id"] == response_id
    assert done["response"]["status"] == "cancelled"


async def test_realtime_pacing_takes_as_long_as_the_audio() -> None:
    async with LocalRealtimeServer(
        responder=ScriptedResponder(["One two three."]), pacing=Pacing.realtime()
    ) as server:
        async with client(server.url) as peer:
            loop = asyncio.get_running_loop()
            await peer.send({"type": "response.create"})
            first = await peer.expect("response.output_audio.delta")
            started = loop.time()
            events = await peer.until("response.output_audio.done")
            elapsed = loop.time() - started
    audio = sum(
        len(base64.b64decode(e["delta"]))
        for e in [first, *events]
        if e["type"] == "response.output_audio.delta"
    )
    # Paced: the audio after the first delta cannot arrive faster than it plays.
    assert elapsed >= (audio / 48 - 40) / 1000 * 0.9


async def test_max_output_tokens_makes_the_response_incomplete() -> None:
    async with (
        LocalRealtimeServer(responder=ScriptedResponder([LONG])) as server,
        client(server.url) as peer,
    ):
        events = await ask(peer, max_output_tokens=5)
    response = events[-2]["response"]
    assert response["status"] == "incomplete"
    assert response["status_details"]["reason"] == "max_output_tokens"
    assert len(response["output"][0]["content"][0]["transcript"]) <= 20


async def test_g711_output_is_8_bytes_a_ms() -> None:
    async with (
        LocalRealtimeServer(responder=ScriptedResponder(["Hello there."])) as server,
        client(server.url) as peer,
    ):
        await peer.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"output": {"format": {"type": "audio/pcmu"}}},
                },
            }
        )
        await peer.expect("session.updated")
        events = await ask(peer)
    deltas = [
        base64.b64decode(str(e["delta"]))
        for e in events
        if e["type"] == "response.output_audio.delta"
    ]
    assert all(len(d) == 320 for d in deltas[:-1])  # 40 ms at 8 bytes a ms
    done = {e["type"]: e for e in events}["response.done"]["response"]
    assert done["audio"]["output"]["format"] == {"type": "audio/pcmu"}
