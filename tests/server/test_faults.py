"""Injected faults: each one as a client sees it."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder, faults
from realtime_agent.server.faults import SESSION_EXPIRED_MESSAGE, Fault
from tests.server.client import Client, client, types


async def read_all(peer: Client) -> list[dict[str, object]]:
    """Events until the connection closes."""
    with pytest.raises(ConnectionClosed):
        while True:
            await peer.recv()
    return peer.received


async def test_drop_cuts_the_socket_without_a_close_frame() -> None:
    plan = [faults.drop(at_event="response.output_audio.delta", occurrence=3)]
    async with LocalRealtimeServer(
        faults=plan, responder=ScriptedResponder(["Hello there, friend."])
    ) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            events = await read_all(peer)
            assert peer.ws.close_code == 1006  # abnormal: no close frame
    assert types(events).count("response.output_audio.delta") == 2


@pytest.mark.parametrize("code", [1011, 1012])
async def test_close_with_a_code(code: int) -> None:
    async with LocalRealtimeServer(faults=[faults.close(code, "bye", after_events=1)]) as server:
        async with client(server.url, opened=False) as peer:
            events = await read_all(peer)
            assert peer.ws.close_code == code and peer.ws.close_reason == "bye"
    assert types(events) == ["session.created"]


async def test_expire_sends_the_error_then_closes_1001() -> None:
    async with LocalRealtimeServer(faults=[faults.expire(after_seconds=0.05)]) as server:
        async with client(server.url) as peer:
            events = await read_all(peer)
            assert peer.ws.close_code == 1001
            assert peer.ws.close_reason == SESSION_EXPIRED_MESSAGE
    error = events[-1]
    assert error["type"] == "error"
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "session_expired",
        "message": "Your session hit the maximum duration of 60 minutes.",
    }


async def test_duplicate_and_reorder() -> None:
    plan = [
        faults.duplicate(at_event="response.output_item.added"),
        faults.reorder(at_event="response.content_part.added"),
    ]
    async with LocalRealtimeServer(faults=plan, responder=ScriptedResponder(["Hi."])) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            events = await peer.until("response.done")
    names = types(events)
    assert names[:5] == [
        "response.created",
        "response.output_item.added",
        "response.output_item.added",
        "conversation.item.added",
        names[4],
    ]
    assert events[1] == events[2]  # the same event, event_id included
    part = names.index("response.content_part.added")
    assert names[part - 1] != "conversation.item.added"  # the next event went first
    assert names[part - 1] in (
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
    )


async def test_injected_error_and_malformed_frame_come_before_the_event() -> None:
    plan = [
        faults.inject_error("boom", "server_error", at_event="response.created"),
        faults.malformed(at_event="response.done"),
    ]
    async with LocalRealtimeServer(faults=plan, responder=ScriptedResponder(["Hi."])) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            error = await peer.recv()
            assert error["type"] == "error"
            assert error["error"] == {
                "type": "server_error",
                "code": "server_error",
                "message": "boom",
            }
            assert (await peer.recv())["type"] == "response.created"
            raw: str | bytes = ""
            while True:
                raw = await peer.ws.recv()
                try:
                    if json.loads(raw)["type"] == "response.done":
                        pytest.fail("the malformed frame did not come first")
                except json.JSONDecodeError:
                    break
            assert raw == Fault("malformed", after_events=0).text
            assert (await peer.recv())["type"] == "response.done"


async def test_delay_holds_the_event_back_in_order() -> None:
    plan = [faults.delay(0.2, at_event="response.done")]
    async with LocalRealtimeServer(faults=plan, responder=ScriptedResponder(["Hi."])) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            before = await peer.until("response.output_item.done")
            loop = asyncio.get_running_loop()
            start = loop.time()
            done = await peer.recv()
            assert done["type"] == "response.done"
            assert loop.time() - start >= 0.15
    assert types(before)[-1] == "response.output_item.done"


async def test_faults_per_connection() -> None:
    def plan(index: int) -> list[Fault]:
        return [faults.close(1012, "restart", after_events=0)] if index == 0 else []

    async with LocalRealtimeServer(faults=plan) as server:
        async with client(server.url, opened=False) as first:
            await read_all(first)
            assert first.ws.close_code == 1012
        async with client(server.url) as second:
            assert types(second.received) == ["session.created", "conversation.created"]


def test_a_fault_needs_one_trigger() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Fault("drop")
    with pytest.raises(ValueError, match="by event"):
        Fault("duplicate", after_seconds=1.0)


async def test_fragment_sends_one_event_in_pieces() -> None:
    plan = [faults.fragment(3, at_event="response.created")]
    async with LocalRealtimeServer(faults=plan, responder=ScriptedResponder(["Hi."])) as server:
        async with client(server.url) as peer:
            await peer.send({"type": "response.create"})
            pieces = [piece async for piece in peer.ws.recv_streaming()]
            assert all(isinstance(p, str) for p in pieces)
            assert len([p for p in pieces if p]) == 3  # (websockets adds an empty last frame)
            created = json.loads("".join(str(p) for p in pieces))
            assert created["type"] == "response.created"
            assert (await peer.recv())["type"] == "response.output_item.added"


def test_fragment_needs_two_pieces() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        faults.fragment(1, after_events=0)
