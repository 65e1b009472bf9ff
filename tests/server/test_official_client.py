"""The official openai-python client works against the local server unchanged.

Needs the ``openai`` package (the ``bench`` extra; CI installs it); skipped without it.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder

openai = pytest.importorskip("openai")


@pytest.mark.loop_block_limit(
    0.5, reason="the openai SDK builds its pydantic models on first use, in the loop"
)
async def test_openai_python_realtime_client_runs_a_tool_turn() -> None:
    responder = ScriptedResponder([CallTool("get_weather", {"city": "Paris"}), "Sunny in Paris."])
    async with LocalRealtimeServer(responder=responder) as server:
        sdk: Any = openai.AsyncOpenAI(api_key="sk-test", websocket_base_url=f"{server.base_url}/v1")
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
            await connection.session.update(session={"type": "realtime", "tools": [tool]})
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "weather?"}],
                }
            )
            await connection.response.create()
            seen = []
            async for event in connection:
                seen.append(event.type)
                if event.type == "response.function_call_arguments.done":
                    call = event
                if event.type == "response.done":
                    break
            assert call.name == "get_weather"
            await connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
            )
            await connection.response.create()
            transcript = ""
            async for event in connection:
                if event.type == "response.output_audio_transcript.delta":
                    transcript += event.delta
                if event.type == "response.done":
                    status = event.response.status
                    break
    assert seen[:2] == ["session.created", "conversation.created"]
    assert transcript == "Sunny in Paris." and status == "completed"


async def test_every_event_of_a_turn_validates_against_the_sdk_types() -> None:
    """openai-agents validates server events with the SDK's types: ours must all pass."""
    from pydantic import TypeAdapter

    from tests.server.client import client

    types_module = pytest.importorskip("openai.types.realtime")
    adapter: Any = TypeAdapter(types_module.RealtimeServerEvent)
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), "Sunny in Paris.", "In text."]
    )
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
        await peer.send(
            {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}
        )
        await peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        await peer.send({"type": "response.create"})
        first = await peer.until("response.done")
        call = next(e for e in first if e["type"] == "response.function_call_arguments.done")
        await peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "sunny",
                },
            }
        )
        await peer.send({"type": "response.create"})
        await peer.until("response.done")
        await peer.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await peer.until("response.done")
        await peer.send({"type": "conversation.item.delete", "item_id": "nope"})
        await peer.until("error")
    assert len(peer.received) > 50
    for event in peer.received:
        adapter.validate_python(event)  # raises on any event the SDK's types refuse
