"""Reconnect with replay, over real sockets: the local server's faults, and a hostile
server of plain websockets where the test must see every frame of the new connection."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from realtime_agent.errors import AuthenticationError, ConnectionLost
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.runtime.continuity import ReconnectPolicy
from realtime_agent.runtime.session import URGENT_LIMIT
from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    OutputTextPart,
)
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder, faults
from realtime_agent.server.faults import SESSION_EXPIRED_MESSAGE
from realtime_agent.testing import InstantSink
from realtime_agent.tools import tool
from tests.faults.hostile import HostileServer, Peer
from tests.runtime.conftest import FAST, collect_until

pytestmark = pytest.mark.usefixtures("no_task_left")

ANSWER = "One two three four five six seven eight nine ten eleven twelve."


def first_only(*plan: faults.Fault) -> Any:
    """Faults for the first connection only: the next one works."""
    return lambda n: list(plan) if n == 0 else []


def of(events: list[app.AppEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_drop_mid_answer_is_replayed_and_the_answer_owed_comes() -> None:
    drop = faults.drop(at_event="response.output_audio.delta", occurrence=3)
    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder([ANSWER]), faults=first_only(drop)
    ) as server:
        agent = Agent(instructions="Count.")
        async with connect(
            agent, url=server.url, reconnect=FAST, audio_out=InstantSink()
        ) as session:
            await session.send_text("count for me")
            events = await collect_until(session, app.AgentEnd)
    reconnecting, reconnected = of(events, app.Reconnecting), of(events, app.Reconnected)
    assert [(r.attempt, "dropped" in r.cause) for r in reconnecting] == [(1, True)]
    assert reconnected == [app.Reconnected(1, replayed=2)]
    assert events.index(reconnecting[0]) < events.index(reconnected[0])
    assert of(events, app.AgentEnd)[0].status == "completed"
    assert session.reconnects == 1 and len(server.sessions) == 2
    # The new server session: configured again, the question, what had come of the
    # answer (as text: two audio deltas' worth of transcript), then the answer again.
    fresh = server.sessions[1]
    assert fresh.config.instructions == "Count."  # type: ignore[union-attr]
    items = fresh.conversation.items()
    assert [type(i).__name__ for i in items] == ["MessageItem"] * 3
    first, partial, answer = items
    assert isinstance(first, MessageItem) and first.role == "user"
    assert first.content[0].text == "count for me"  # type: ignore[union-attr]
    assert isinstance(partial, MessageItem) and partial.role == "assistant"
    assert isinstance(partial.content[0], OutputTextPart)
    cut_short = partial.content[0].text or ""
    assert cut_short.endswith("...") and ANSWER.startswith(cut_short.removesuffix("..."))
    assert len(cut_short) > 3
    assert isinstance(answer, MessageItem) and answer.role == "assistant"
    # The partial answer kept its id on the new connection.
    old = [i for i in server.sessions[0].conversation.items() if isinstance(i, MessageItem)]
    assert partial.id == old[-1].id


async def test_a_drop_while_a_tool_runs_answers_the_call_once_on_the_new_connection() -> None:
    runs: list[str] = []
    reconnected = asyncio.Event()

    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        runs.append(city)
        await reconnected.wait()  # it returns after the connection was replaced
        return f"sunny in {city}"

    responder = ScriptedResponder(  # one script across both connections
        [CallTool("get_weather", {"city": "Paris"}), "It is sunny in Paris."]
    )
    plan = first_only(faults.drop(at_event="response.done"))
    async with LocalRealtimeServer(responder=responder, faults=plan) as server:
        agent = Agent(tools=[get_weather])
        async with connect(
            agent, url=server.url, reconnect=FAST, audio_out=InstantSink()
        ) as session:
            await session.send_text("weather in Paris?")
            events = await collect_until(session, app.Reconnected)
            reconnected.set()
            events += await collect_until(
                session, app.Transcript, lambda t: t.text == "It is sunny in Paris."
            )
    assert runs == ["Paris"]  # never run twice
    ends = of(events, app.ToolEnd)
    assert [(e.call_id, e.output) for e in ends] == [
        (of(events, app.ToolStart)[0].call_id, "sunny in Paris")
    ]
    items = server.sessions[1].conversation.items()
    calls = [i for i in items if isinstance(i, FunctionCallItem)]
    outputs = [i for i in items if isinstance(i, FunctionCallOutputItem)]
    assert [(c.call_id, c.name) for c in calls] == [(ends[0].call_id, "get_weather")]
    assert [(o.call_id, o.output) for o in outputs] == [(ends[0].call_id, "sunny in Paris")]
    assert items.index(calls[0]) < items.index(outputs[0])


async def test_the_cap_mid_answer_with_1001_goes_on_in_a_new_session() -> None:
    cap = faults.close(1001, SESSION_EXPIRED_MESSAGE, at_event="response.done")
    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder(["Hello.", "Still here."]), faults=first_only(cap)
    ) as server:
        async with connect(
            Agent(), url=server.url, reconnect=FAST, audio_out=InstantSink()
        ) as session:
            await session.send_text("hi")
            events = await collect_until(session, app.AgentEnd)
            await session.send_text("are you there?")
            events += await collect_until(session, app.AgentEnd)
    assert "60 minutes" in of(events, app.Reconnecting)[0].cause
    assert len(of(events, app.AgentEnd)) == 2 and not of(events, app.Closed)
    said = [t.text for t in of(events, app.Transcript) if t.role == "assistant"]
    assert said[-1] == "Still here."


async def test_a_refused_key_on_reconnect_ends_the_session_at_once() -> None:
    plan = first_only(faults.drop(at_event="response.created"))
    async with LocalRealtimeServer(api_key="sk-first", faults=plan) as server:
        async with connect(Agent(), url=server.url, api_key="sk-first", reconnect=FAST) as session:
            server.api_key = "sk-rotated"  # the key is revoked while the call goes on
            await session.send_text("hello")
            events = await collect_until(session, app.Closed)
    assert len(of(events, app.Reconnecting)) == 1  # no retry loop on a final error
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, AuthenticationError)
    assert "sk-first" not in repr(closed.error) and "sk-first" not in str(closed.error)


async def test_repeated_drops_give_up_after_the_attempts() -> None:
    async def drops(peer: Peer) -> None:
        await peer.expect("session.update")
        peer.ws.transport.abort()

    policy = ReconnectPolicy(attempts=3, initial_delay=0.01, max_delay=0.02)
    async with HostileServer(drops) as server:
        async with connect(Agent(), url=server.url, reconnect=policy) as session:
            events = await collect_until(session, app.Closed)
    assert [e.attempt for e in of(events, app.Reconnecting)] == [1, 2, 3]
    assert [e.attempt for e in of(events, app.Reconnected)] == [1, 2, 3]
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, ConnectionLost)
    assert len(server.peers) == 4  # the first connection and three more, then no more


def frames() -> list[bytes]:
    """Fifteen 20 ms pcm16 frames, each of its own byte (any mix-up shows)."""
    return [bytes([k + 1]) * 960 for k in range(15)]


async def test_the_utterance_in_flight_is_appended_again_byte_for_byte() -> None:
    async def server_side(peer: Peer) -> None:
        await peer.expect("session.update")
        if len(server.peers) > 1:
            await asyncio.Event().wait()  # the new connection: just listen
        await peer.expect("input_audio_buffer.append", count=4)
        await peer.send(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u1"}
        )
        await peer.expect("input_audio_buffer.append", count=10)
        peer.ws.transport.abort()

    said = frames()
    async with HostileServer(server_side) as server:
        async with connect(Agent(), url=server.url, reconnect=FAST) as session:
            for frame in said[:10]:
                await session.send_audio(frame)
            reconnected = await collect_until(session, app.Reconnected)
            for frame in said[10:]:
                await session.send_audio(frame)
            fresh = server.peers[1]
            await fresh.expect("input_audio_buffer.append", count=2)  # the tape, then more
            await _appended(fresh, sum(map(len, said)))
    assert reconnected[-1] == app.Reconnected(1, replayed=0, reappended_ms=200)
    kinds = [e["type"] for e in fresh.received]
    assert kinds[0] == "session.update" and set(kinds[1:]) == {"input_audio_buffer.append"}
    heard = b"".join(base64.b64decode(e["audio"]) for e in fresh.received[1:])
    assert heard == b"".join(said)  # what was in flight, then what followed, once each


async def _appended(peer: Peer, size: int) -> None:
    """Wait until ``peer`` has received ``size`` bytes of appended audio."""
    while True:
        got = sum(
            len(base64.b64decode(e["audio"]))
            for e in peer.received
            if e["type"] == "input_audio_buffer.append"
        )
        if got >= size:
            return
        waited = len(peer.of("input_audio_buffer.append"))
        await peer.expect("input_audio_buffer.append", count=waited + 1)  # the next one


@pytest.mark.loop_block_limit(
    0.3,
    reason="the replay of 1,124 items is planned and encoded in one go: about 45 us an item"
    " (50 ms here, 113 ms in a loaded CI run); a real hour is a few hundred items",
)
async def test_a_conversation_longer_than_the_urgent_limit_is_replayed_whole() -> None:
    # The replay is as long as the conversation: it is no sign of a server that does not
    # read (URGENT_LIMIT), and a long conversation survives its drop.
    count = URGENT_LIMIT + 100
    drop = faults.drop(at_event="conversation.item.added", occurrence=count)
    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder(["Done."]), faults=first_only(drop)
    ) as server:
        async with connect(
            Agent(), url=server.url, reconnect=FAST, audio_out=InstantSink()
        ) as session:
            for n in range(count):
                await session.send_text(f"note {n}", respond=False)
            reconnected = await collect_until(session, app.Reconnected)
            await session.send_text("that is all")
            events = await collect_until(session, app.AgentEnd)
    assert of(reconnected, app.Reconnected)[0].replayed == count
    assert not of(reconnected + events, app.Closed)
    said = [
        item.content[0].text  # type: ignore[union-attr]
        for item in server.sessions[1].conversation.items()
        if isinstance(item, MessageItem) and item.role == "user"
    ]
    assert said == [f"note {n}" for n in range(count)] + ["that is all"]


async def test_a_drop_during_the_reconnect_is_retried_and_the_conversation_arrives_once() -> None:
    def plan(connection: int) -> list[faults.Fault]:
        if connection == 0:  # mid-answer
            return [faults.drop(at_event="response.output_audio.delta", occurrence=3)]
        if connection == 1:  # the new connection dies as its configuration is confirmed
            return [faults.drop(at_event="session.updated")]
        return []

    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder([ANSWER]), faults=plan
    ) as server:
        async with connect(
            Agent(instructions="Count."), url=server.url, reconnect=FAST, audio_out=InstantSink()
        ) as session:
            await session.send_text("count for me")
            events = await collect_until(session, app.AgentEnd)
    assert [r.attempt for r in of(events, app.Reconnecting)] == [1, 2]
    assert of(events, app.AgentEnd)[0].status == "completed" and not of(events, app.Closed)
    assert len(server.sessions) == 3
    items = server.sessions[2].conversation.items()
    roles = [(type(i).__name__, getattr(i, "role", None)) for i in items]
    # The question, the answer as far as it came, the answer: each once.
    assert roles == [
        ("MessageItem", "user"),
        ("MessageItem", "assistant"),
        ("MessageItem", "assistant"),
    ]
    assert len({i.id for i in items}) == 3


async def test_drops_until_the_deadline_end_the_session_before_the_attempts_run_out() -> None:
    async def drops(peer: Peer) -> None:
        await peer.expect("session.update")
        peer.ws.transport.abort()

    policy = ReconnectPolicy(
        attempts=1000, initial_delay=0.02, max_delay=0.02, jitter=0.0, deadline=0.2
    )
    async with HostileServer(drops) as server:
        async with connect(Agent(), url=server.url, reconnect=policy) as session:
            events = await collect_until(session, app.Closed)
    attempts = [e.attempt for e in of(events, app.Reconnecting)]
    assert 1 <= len(attempts) <= 0.2 / 0.02 + 1  # the deadline, long before 1000 attempts
    assert attempts == list(range(1, len(attempts) + 1))
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, ConnectionLost)
    assert len(server.peers) == len(attempts) + 1
