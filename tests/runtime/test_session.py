"""Sessions against the local server: spoken turns with tools, failures, close, slow readers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from realtime_agent.audio.sources import ArraySource
from realtime_agent.errors import LocalProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.runtime.session import gate
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.server import (
    CallTool,
    LocalRealtimeServer,
    Pacing,
    Say,
    ScriptedResponder,
    SyntheticVoice,
)
from realtime_agent.tools import tool
from tests.runtime.conftest import collect_until, next_of

VOICE = SyntheticVoice(pitch_hz=170.0, seed=11)


def speech(text: str = "what is the weather in paris today") -> bytes:
    return bytes(48 * 300) + VOICE.synthesize(text).pcm + bytes(48 * 700)


@tool
async def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    return {"city": city, "sky": "clear", "celsius": 21}


def outputs(server: LocalRealtimeServer) -> dict[str, str]:
    """call_id -> output of every function_call_output in the server's conversation."""
    items = server.sessions[-1].conversation.items()
    return {i.call_id: i.output for i in items if isinstance(i, FunctionCallOutputItem)}


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
async def test_a_spoken_turn_with_a_tool_call(beta: bool) -> None:
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), "It is clear in Paris."]
    )
    async with LocalRealtimeServer(responder=responder) as server:
        agent = Agent(instructions="Weather bot.", tools=[get_weather])
        async with connect(agent, url=server.url, beta=beta) as session:
            await session.send_audio(speech())
            events = await collect_until(session, app.Transcript, lambda e: e.role == "assistant")
            await next_of(session, app.AgentEnd)
    kinds = [type(e).__name__ for e in events]
    for expected in (
        "SpeechStarted",
        "SpeechStopped",
        "AgentStart",
        "ToolStart",
        "ToolEnd",
        "AgentEnd",
        "AudioDelta",
        "AudioEnd",
    ):
        assert expected in kinds, expected
    assert kinds.index("SpeechStopped") < kinds.index("ToolStart") < kinds.index("ToolEnd")
    start = next(e for e in events if isinstance(e, app.ToolStart))
    end = next(e for e in events if isinstance(e, app.ToolEnd))
    assert (start.name, json.loads(start.arguments)) == ("get_weather", {"city": "Paris"})
    assert end.error is None and json.loads(end.output) == {
        "city": "Paris",
        "sky": "clear",
        "celsius": 21,
    }
    assert outputs(server) == {start.call_id: end.output}
    last = events[-1]
    assert isinstance(last, app.Transcript)
    assert (last.role, last.text) == ("assistant", "It is clear in Paris.")
    audio = sum(len(e.audio) for e in events if isinstance(e, app.AudioDelta))
    assert audio > 48 * 500
    session_config = server.sessions[-1].config
    assert session_config.instructions == "Weather bot."  # type: ignore[union-attr]
    assert server.sessions[-1].dialect == ("beta" if beta else "ga")


@tool(timeout=0.2)
async def hangs(minutes: int) -> str:
    """Never answers."""
    await asyncio.sleep(minutes * 60)
    return "late"


@tool(timeout=0.2)
def hangs_in_a_thread(seconds: float) -> str:
    """Blocks its thread."""
    time.sleep(seconds)
    return "late"


@tool
def raises(value: int) -> str:
    """Always fails."""
    raise ValueError(f"bad value {value}")


async def test_every_failing_call_is_answered_once_and_the_session_goes_on() -> None:
    turns: list[list[Say | CallTool] | str] = [
        [
            CallTool("raises", {"value": 3}),
            CallTool("hangs", {"minutes": 5}),
            CallTool("hangs_in_a_thread", {"seconds": 3}),
            CallTool("no_such_tool", {}),
            CallTool("get_weather", "this is not JSON"),
            CallTool("get_weather", {"town": "Paris"}),
        ],
        "Sorry, my tools failed.",
    ]
    async with LocalRealtimeServer(responder=ScriptedResponder(turns)) as server:
        agent = Agent(tools=[raises, hangs, hangs_in_a_thread, get_weather])
        async with connect(agent, url=server.url) as session:
            await session.send_text("do everything")
            events = await collect_until(session, app.Transcript, lambda e: e.role == "assistant")
    ends = {e.call_id: e for e in events if isinstance(e, app.ToolEnd)}
    starts = [e for e in events if isinstance(e, app.ToolStart)]
    assert len(starts) == len(ends) == 6
    errors = {start.name + ":" + start.arguments[:8]: ends[start.call_id].error for start in starts}
    assert all(error for error in errors.values()), errors
    by_name = {s.name: ends[s.call_id] for s in starts if s.name != "get_weather"}
    assert "ValueError: bad value 3" in str(by_name["raises"].error)
    assert "timed out after 0.2 s" in str(by_name["hangs"].error)
    assert "timed out after 0.2 s" in str(by_name["hangs_in_a_thread"].error)
    assert "no tool named 'no_such_tool'" in str(by_name["no_such_tool"].error)
    weather = [ends[s.call_id] for s in starts if s.name == "get_weather"]
    assert all("Invalid arguments for get_weather" in str(w.error) for w in weather)
    answered = outputs(server)
    assert set(answered) == set(ends)  # exactly one output per call, each the model can read
    assert all("error" in json.loads(output) for output in answered.values())
    assert events[-1].text == "Sorry, my tools failed."  # type: ignore[union-attr]


async def test_close_while_everything_runs_is_bounded_and_leaves_no_task() -> None:
    started = asyncio.Event()

    @tool(timeout=60)
    async def forever() -> str:
        """Runs until cancelled."""
        started.set()
        await asyncio.sleep(3600)
        return "never"

    @tool(timeout=60)
    def blocks() -> str:
        """Blocks a thread for a long time."""
        time.sleep(30)
        return "never"

    long_reply = " ".join(["and this goes on"] * 30)
    responder = ScriptedResponder([[CallTool("forever"), CallTool("blocks")], long_reply])
    before = asyncio.all_tasks()
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.realtime()) as server:
        session = connect(Agent(tools=[forever, blocks]), url=server.url, close_timeout=1.0)
        await session.start()
        await session.send_text("go")
        await asyncio.wait_for(started.wait(), 20)
        await session.send_audio(speech())  # and audio flowing in
        loop = asyncio.get_running_loop()
        began = loop.time()
        await session.close()
        elapsed = loop.time() - began
        await session.close()  # idempotent
        assert session.ended
        assert elapsed < 2.5
        with pytest.raises(LocalProtocolError, match="ended"):
            await session.send_audio(b"\x00\x00")
        events = [e async for e in session]
        assert isinstance(events[-1], app.Closed)
    left = asyncio.all_tasks() - before
    assert left == set(), left


async def test_a_slow_reader_loses_only_deltas_and_memory_stays_bounded() -> None:
    finished_talking = asyncio.Event()

    @tool
    def mark() -> str:
        """Called after the long answer: by then the reader has queued all of it."""
        finished_talking.set()
        return "ok"

    long_reply = " ".join(["a long answer that nobody reads in time"] * 20)
    responder = ScriptedResponder([[Say(long_reply), CallTool("mark")], "Done."])
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(Agent(tools=[mark]), url=server.url, event_queue=16) as session:
            await session.send_text("talk a lot")
            await asyncio.wait_for(finished_talking.wait(), 20)  # read nothing until then
            events = await collect_until(session, app.ToolEnd)
    assert session.dropped_events > 100
    assert len(events) <= 16 + 10  # the limit, plus control events, which are never dropped
    kinds = {type(e).__name__ for e in events}
    assert {"AgentStart", "AgentEnd", "Transcript", "ToolStart", "ToolEnd"} <= kinds


async def test_push_to_talk_commits_then_asks_in_order() -> None:
    responder = ScriptedResponder(["Heard you."], transcripts=["what's up"])
    async with LocalRealtimeServer(responder=responder) as server:
        agent = Agent(turn_detection=None, input_transcription="gpt-4o-transcribe")
        async with connect(agent, url=server.url, audio_queue=4) as session:
            for start in range(0, len(speech()), 960):  # 20 ms frames through a small queue
                await session.send_audio(speech()[start : start + 960])
            await session.commit()
            await session.create_response()
            events = await collect_until(session, app.Transcript, lambda e: e.role == "assistant")
    user = next(e for e in events if isinstance(e, app.Transcript) and e.role == "user")
    assert user.text == "what's up"
    assert not [
        e for e in events if isinstance(e, app.ErrorRaised)
    ]  # the commit came after the audio
    assert responder.contexts[0].user_text == "what's up"


@pytest.mark.parametrize("beta", [False, True])
async def test_input_audio_reaches_the_server_byte_exact(beta: bool) -> None:
    audio = speech()
    frames = [audio[start : start + 960] for start in range(0, len(audio), 960)]
    async with LocalRealtimeServer() as server:
        agent = Agent(turn_detection=None)
        async with connect(agent, url=server.url, beta=beta) as session:
            for frame in frames[:10]:  # nothing waits: each leaves from this task
                await session.send_audio(frame)
            await session.update_session(agent)  # now something waits: the next queue behind
            for frame in frames[10:]:
                await session.send_audio(frame)
            await session.commit()
            await next_of(
                session, app.HistoryAdded, lambda e: getattr(e.item, "role", "") == "user"
            )
        user = server.sessions[0].conversation.entries()[-1]
    assert bytes(user.audio) == audio


async def test_audio_in_from_a_source() -> None:
    responder = ScriptedResponder(["You spoke."])
    async with LocalRealtimeServer(responder=responder) as server:
        source = ArraySource(speech(), frame_ms=20)
        async with connect(Agent(), url=server.url, audio_in=source) as session:
            events = await collect_until(session, app.AgentEnd)
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("SpeechStarted") < kinds.index("SpeechStopped") < kinds.index("AgentEnd")


def test_half_duplex_gate_passes_only_loud_frames() -> None:
    quiet = (np.sin(np.arange(480) / 5) * 300).astype("<i2").tobytes()  # about -43 dBFS
    loud = (np.sin(np.arange(480) / 5) * 12000).astype("<i2").tobytes()  # about -11 dBFS
    assert gate(quiet, -25.0) == bytes(len(quiet))
    assert gate(loud, -25.0) == loud
    assert gate(b"", -25.0) == b""


async def test_half_duplex_keeps_the_assistant_from_hearing_itself() -> None:
    long_reply = " ".join(["I keep talking"] * 5)
    responder = ScriptedResponder([long_reply, "You interrupted me."])
    echo = (np.sin(np.arange(24000) / 5) * 300).astype("<i2").tobytes()  # quiet speaker echo

    async def source() -> AsyncIterator[bytes]:
        await first_audio.wait()  # the assistant is speaking now
        for start in range(0, len(echo), 960):
            yield echo[start : start + 960]

    first_audio = asyncio.Event()
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.realtime()) as server:
        async with connect(
            Agent(), url=server.url, audio_in=source(), half_duplex=-25.0
        ) as session:
            await session.send_text("talk")
            await next_of(session, app.AudioDelta)
            first_audio.set()
            events = await collect_until(session, app.AgentEnd)
    assert not any(isinstance(e, app.AudioInterrupted) for e in events)  # no self-interruption
    sent = np.frombuffer(bytes(server.sessions[0].buffer), "<i2")
    assert sent.size and not sent.any()  # the echo reached the server as silence
