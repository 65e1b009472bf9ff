"""A small Realtime client written from PROTOCOL.md alone completes a conversation.

It uses only websockets and json, not realtime_agent: connect, configure a function
tool, speak a turn, receive the tool call, answer it, hear the spoken answer, barge in
while it plays, and truncate the answer at what was heard. In GA and in beta.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from realtime_agent.server import LocalRealtimeServer, Pacing, RuleResponder
from tests.speech import spoken

TIMEOUT = 20.0  # a safety net against a hung server, never a way to wait


def speech(text: str, silence_ms: int = 700) -> bytes:
    return spoken(text, silence_ms=silence_ms)


class MiniClient:
    """What PROTOCOL.md says a client must do, and nothing more."""

    def __init__(self, ws: Any, beta: bool) -> None:
        self.ws = ws
        self.beta = beta
        self.audio_delta = "response.audio.delta" if beta else "response.output_audio.delta"
        self.item_added = "conversation.item.created" if beta else "conversation.item.added"
        self.received_bytes: dict[str, int] = {}  # audio received per assistant item
        self.function_names: dict[str, str] = {}  # call_id -> name (beta omits it in .done)
        self.sent = 0

    async def send(self, event: dict[str, Any]) -> str:
        self.sent += 1
        event_id = f"evt_{self.sent}"
        await self.ws.send(json.dumps({**event, "event_id": event_id}))
        return event_id

    async def next(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        if event["type"] == "error":
            raise AssertionError(f"server error: {event['error']}")
        if event["type"] == self.audio_delta:
            item = event["item_id"]
            self.received_bytes[item] = self.received_bytes.get(item, 0) + len(
                base64.b64decode(event["delta"])
            )
        if (
            event["type"] == "response.output_item.added"
            and event["item"]["type"] == "function_call"
        ):
            self.function_names[event["item"]["call_id"]] = event["item"]["name"]
        return event

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        events = []
        while True:
            events.append(await self.next())
            if events[-1]["type"] == event_type:
                return events

    async def speak(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), 4800):  # 100 ms chunks
            chunk = base64.b64encode(pcm[start : start + 4800]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})


async def conversation(url: str, headers: list[tuple[str, str]], beta: bool) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    session: dict[str, Any] = {"instructions": "You are a weather bot.", "tools": [tool]}
    if not beta:
        session["type"] = "realtime"
    async with connect(url, additional_headers=headers, max_size=None, max_queue=None) as ws:
        peer = MiniClient(ws, beta)
        first = await peer.next()
        assert first["type"] == "session.created"  # always first
        await peer.until("conversation.created")
        await peer.send({"type": "session.update", "session": session})
        updated = (await peer.until("session.updated"))[-1]
        assert updated["session"]["tools"][0]["name"] == "get_weather"

        # A spoken turn: server VAD commits it and the model calls the tool.
        await peer.speak(speech("what is the weather in paris today"))
        events = await peer.until("response.done")
        names = [e["type"] for e in events]
        assert names.index("input_audio_buffer.speech_started") < names.index(
            "input_audio_buffer.committed"
        )
        user_item = events[names.index("input_audio_buffer.committed")]["item_id"]
        assert any(e["type"] == peer.item_added and e["item"]["id"] == user_item for e in events)
        call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert peer.function_names[call["call_id"]] == "get_weather"
        if not beta:
            assert call["name"] == "get_weather"
        arguments = json.loads(call["arguments"])
        assert arguments == {"city": "Paris"}

        # Answer the call, then ask for the spoken answer (after response.done).
        await peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": json.dumps({"forecast": "sunny", "celsius": 21}),
                },
            }
        )
        await peer.send({"type": "response.create"})
        events = await peer.until(peer.audio_delta)
        answer_item = events[-1]["item_id"]

        # Barge in while the answer plays: stop, then truncate at what was heard.
        await peer.speak(speech("wait stop", silence_ms=50))
        while True:
            event = await peer.next()
            if event["type"] == "input_audio_buffer.speech_started":
                break
        heard_ms = peer.received_bytes[answer_item] // 48  # all received counts as played here
        events = await peer.until("response.done")
        assert events[-1]["response"]["status"] == "cancelled"
        assert events[-1]["response"]["status_details"]["reason"] == "turn_detected"
        assert peer.received_bytes[answer_item] // 48 >= heard_ms
        truncate_id = await peer.send(
            {
                "type": "conversation.item.truncate",
                "item_id": answer_item,
                "content_index": 0,
                "audio_end_ms": heard_ms,
            }
        )
        while True:
            event = await peer.next()  # an error here would fail the test
            if event["type"] == "conversation.item.truncated":
                break
        assert event == {
            **event,
            "item_id": answer_item,
            "content_index": 0,
            "audio_end_ms": heard_ms,
        }
        assert truncate_id.startswith("evt_")


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
async def test_mini_client_completes_a_conversation(beta: bool) -> None:
    async with LocalRealtimeServer(
        responder=RuleResponder(), pacing=Pacing.times(2), seed=5
    ) as server:
        headers = [("Authorization", "Bearer sk-test")]
        if beta:
            headers.append(("OpenAI-Beta", "realtime=v1"))
        await conversation(server.url, headers, beta)
