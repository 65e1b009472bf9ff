"""The official openai-python client works against the local server unchanged.

Needs the ``openai`` package (the ``bench`` extra; CI installs it); skipped without it.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder

openai = pytest.importorskip("openai")


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
