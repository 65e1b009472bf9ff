"""Bad frames from a hostile server: each is an error event, and the session goes on."""

from __future__ import annotations

import asyncio
import json
import tracemalloc

import pytest

from realtime_agent.errors import LocalProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from tests.faults.hostile import TIMEOUT, HostileServer, Peer
from tests.runtime.conftest import collect_until

BAD_FRAMES: list[str | bytes] = [
    "this is not JSON",
    "[1, 2, 3]",
    '{"no": "type"}',
    '{"type": 5}',
    '{"type": ["response.done"]}',
    '{"type":"conversation.item.added","event_id":"e1","item":{"type":["message"]}}',
    '{"type":"conversation.item.added","event_id":"e2","item":{"type":{"nested":1}}}',
    '{"type":"conversation.item.added","event_id":"e3","item":{"id":"x","type":"message",'
    '"role":"user","content":[{"type":["input_text"]}]}}',
    '{"type":"session.updated","event_id":"e4","session":{"type":"realtime","audio":'
    '{"output":{"format":{"type":{"a":[]}}}}}}',
    '{"type":"response.output_audio.delta","event_id":"e5","response_id":"r","item_id":"i",'
    '"output_index":0,"content_index":0,"delta":"@@@ not base64"}',
    '{"type":"response.output_audio.delta","event_id":"e6","response_id":"r","item_id":"i",'
    '"output_index":0,"content_index":0,"delta":5}',
    '{"type":"rate_limits.updated","event_id":"e7","rate_limits":[{"name":"requests",'
    '"limit":1,"remaining":1,"reset_seconds":NaN}]}',
    '{"type":"input_audio_buffer.speech_started","event_id":"e8","audio_start_ms":1e999,'
    '"item_id":"u"}',
    '{"type":"x","deep":' + "[" * 5000 + "]" * 5000 + "}",
    b"\xff\xfe binary, not JSON",
]


async def greet_then(peer: Peer, frames: list[str | bytes]) -> None:
    await peer.expect("session.update")
    for frame in frames:
        await peer.send(frame)
    await peer.send(
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 7, "item_id": "u1"}
    )
    await peer.ws.wait_closed()


async def test_every_bad_frame_is_an_error_event_and_the_session_goes_on() -> None:
    async with HostileServer(lambda peer: greet_then(peer, BAD_FRAMES)) as server:
        async with connect(Agent(), url=server.url) as session:
            events = await collect_until(session, app.SpeechStarted)
    errors = [e for e in events if isinstance(e, app.ErrorRaised)]
    assert len(errors) == len(BAD_FRAMES)
    assert all(e.code == "remote_protocol_error" for e in errors)
    assert all(len(e.raw or "") <= 250 for e in errors)  # a bounded excerpt, never the frame
    assert isinstance(events[-1], app.SpeechStarted) and events[-1].audio_start_ms == 7


@pytest.mark.loop_block_limit(2.0, reason="the hostile server floods from the test's own loop")
async def test_unknown_events_are_dropped_when_the_application_falls_behind() -> None:
    count = 5_000  # under tracemalloc; held, they took 134 MB per 50,000

    async def flood(peer: Peer) -> None:
        await peer.expect("session.update")
        frame = json.dumps({"type": "response.output_audio.timing", "event_id": "e", "ms": 40})
        for _ in range(count):
            await peer.ws.send(frame)
        await peer.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 9, "item_id": "u1"}
        )

    tracemalloc.start()
    try:
        async with HostileServer(flood) as server:
            async with connect(Agent(), url=server.url, event_queue=64) as session:
                await asyncio.wait_for(session.wait_ended(), TIMEOUT)  # read nothing till then
                _, peak = tracemalloc.get_traced_memory()
                events = [e async for e in session]
    finally:
        tracemalloc.stop()
    assert session.core.events_received == count + 2
    assert session.dropped_events == count - 64  # the queue held 64 of them
    tail = [type(e).__name__ for e in events[-4:]]
    assert tail == ["SpeechStopped", "TurnMetrics", "SessionSummary", "Closed"]
    assert len(events) == 64 + 4
    assert peak < 6 * 2**20  # held, these took 13 MB


@pytest.mark.loop_block_limit(2.0, reason="the hostile server floods from the test's own loop")
async def test_an_application_that_never_reads_ends_the_session_cleanly() -> None:
    async def errors(peer: Peer) -> None:
        await peer.expect("session.update")
        for n in range(10_000):
            await peer.error("server_error", f"error {n}")
        await peer.ws.wait_closed()

    async with HostileServer(errors) as server:
        async with connect(Agent(), url=server.url, event_queue=16) as session:
            await asyncio.wait_for(session.wait_ended(), TIMEOUT)
            events = [e async for e in session]
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, LocalProtocolError)
    assert "did not read its events: 256 were waiting (event_queue=16)" in str(closed.error)
    assert len(events) == 16 * 16 + 1  # the bound, and the Closed


@pytest.mark.loop_block_limit(1.0, reason="the hostile server floods from the test's own loop")
async def test_a_long_conversation_costs_no_stall_and_its_history_updates_coalesce() -> None:
    count = 8_000  # each put first: inserting in order cost O(n) (4.7 s in data_received)

    async def history(peer: Peer) -> None:
        await peer.expect("session.update")
        for n in range(count):
            item = {"id": f"item_{n}", "type": "message", "role": "user", "content": []}
            await peer.send(
                {"type": "conversation.item.added", "previous_item_id": None, "item": item}
            )
        for n in range(count):
            item = {
                "id": f"item_{n}",
                "type": "message",
                "role": "user",
                "content": [],
                "status": "completed",
            }
            await peer.send({"type": "conversation.item.done", "item": item})

    async with HostileServer(history) as server:
        async with connect(Agent(), url=server.url) as session:
            await asyncio.wait_for(session.wait_ended(), TIMEOUT)  # read nothing till then
            events = [e async for e in session]
    added = [e for e in events if isinstance(e, app.HistoryAdded)]
    updates = [e for e in events if isinstance(e, app.HistoryUpdated)]
    assert len(added) == count  # never dropped
    (update,) = updates  # 8,000 changes while nobody read: one update, the latest state
    assert [i.id for i in update.items] == [f"item_{n}" for n in reversed(range(count))]
    assert all(getattr(i, "status", None) == "completed" for i in update.items)
