"""Per-turn telemetry over real sockets: one TurnMetrics per turn, once it is over, and a
SessionSummary just before Closed. The figures are checked for what they must be
(their order, their ids, what was cut), never against a wall-clock budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import pytest

from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.server import (
    CallTool,
    LocalRealtimeServer,
    Pacing,
    ScriptedResponder,
    SyntheticVoice,
)
from realtime_agent.testing import InstantSink
from tests.runtime.conftest import collect_until
from tests.runtime.test_session import get_weather, speech

pytestmark = pytest.mark.usefixtures("no_task_left")


E = TypeVar("E")


def of(events: list[app.AppEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_spoken_turn_with_a_tool_gives_its_figures_once_it_is_over(
    tmp_path: Path,
) -> None:
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), "It is clear in Paris."]
    )
    async with LocalRealtimeServer(responder=responder) as server:
        agent = Agent(tools=[get_weather])
        session = connect(agent, url=server.url, audio_out=InstantSink(), record=tmp_path)
        async with session:
            await session.send_audio(speech())
            events = await collect_until(session, app.TurnMetrics)
        rest = [e async for e in session]
    turn = events[-1]
    assert isinstance(turn, app.TurnMetrics)
    stopped = of(events, app.SpeechStopped)[0]
    starts = of(events, app.AgentStart)
    tool_start = of(events, app.ToolStart)[0]
    assert isinstance(stopped, app.SpeechStopped) and isinstance(tool_start, app.ToolStart)
    # Over once its last response ended and its answer was heard: after both AgentEnds.
    assert len(of(events, app.AgentEnd)) == 2 and len(of(events, app.TurnMetrics)) == 1
    assert (turn.turn, turn.began, turn.item_id) == (1, "speech", stopped.item_id)
    assert turn.response_ids == tuple(s.response_id for s in starts)
    assert turn.status == "completed" and not turn.interrupted and turn.barge_in_ms is None
    [timing] = turn.tools
    assert (timing.call_id, timing.name, timing.error) == (tool_start.call_id, "get_weather", False)
    # The tool ran before the answer's audio came, which was heard after it came.
    assert turn.first_audio_ms is not None and turn.first_heard_ms is not None
    assert 0 <= timing.started_ms <= timing.started_ms + timing.ms <= turn.first_audio_ms
    assert turn.first_audio_ms <= turn.first_heard_ms
    # The end: the summary, then Closed.
    assert [type(e).__name__ for e in rest[-2:]] == ["SessionSummary", "Closed"]
    summary = rest[-2]
    assert isinstance(summary, app.SessionSummary)
    assert (summary.turns, summary.tool_calls, summary.barge_ins) == (1, 1, 0)
    assert (summary.reconnects, summary.rollovers, summary.dropped_events) == (0, 0, 0)
    assert summary.underruns == 0  # an InstantSink never runs dry mid-answer
    assert summary.events_high_water >= 1 and summary.outbox_high_water >= 1
    assert summary.seconds > 0 and summary.loop_lag_max_ms >= 0
    # Both are in the recording, the tool's timing with them.
    lines = [json.loads(line) for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    recorded = {line["event"]: line for line in lines}
    assert recorded["TurnMetrics"]["first_audio_ms"] == turn.first_audio_ms
    assert recorded["TurnMetrics"]["tools"][0]["name"] == "get_weather"
    assert recorded["TurnMetrics"]["response_ids"] == list(turn.response_ids)
    assert recorded["SessionSummary"]["turns"] == 1


async def test_text_turns_are_numbered_and_begin_when_asked() -> None:
    responder = ScriptedResponder(["One.", "Two."])
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(Agent(), url=server.url, audio_out=InstantSink()) as session:
            await session.send_text("first")
            first = await collect_until(session, app.TurnMetrics)
            await session.send_text("second")
            second = await collect_until(session, app.TurnMetrics)
    turns = of([first[-1], second[-1]], app.TurnMetrics)
    assert [(t.turn, t.began, t.item_id, t.status) for t in turns] == [
        (1, "text", None, "completed"),
        (2, "text", None, "completed"),
    ]
    for events, turn in zip([first, second], turns, strict=True):
        [start] = of(events, app.AgentStart)
        assert turn.response_ids == (start.response_id,)
        assert turn.first_audio_ms is not None and turn.first_heard_ms is not None
        assert 0 < turn.first_audio_ms <= turn.first_heard_ms


async def test_a_barge_in_marks_the_turn_it_cut_and_times_the_truncate() -> None:
    long = " ".join(["I am telling you something rather long right now"] * 4)
    async with LocalRealtimeServer(
        responder=ScriptedResponder([long, "Yes?"]), pacing=Pacing.realtime()
    ) as server:
        async with connect(Agent(), url=server.url) as session:  # a ClockSink, real time
            await session.send_text("tell me")
            for _ in range(10):  # real-time pacing: about 400 ms in, most of it heard
                await collect_until(session, app.AudioDelta)
            said = bytes(48 * 200) + SyntheticVoice(seed=4).synthesize("wait").pcm
            await session.send_audio(said + bytes(48 * 600))
            events = await collect_until(session, app.TurnMetrics)
            cut = events[-1]
            events += await collect_until(session, app.TurnMetrics)
            after = events[-1]
    assert isinstance(cut, app.TurnMetrics) and isinstance(after, app.TurnMetrics)
    assert of(events, app.AudioInterrupted)
    assert (cut.turn, cut.began, cut.interrupted) == (1, "text", True)
    assert cut.first_heard_ms is not None  # some of it was heard before the cut
    assert cut.barge_in_ms is None  # nothing was cut before it
    stopped = of(events, app.SpeechStopped)[0]
    assert (after.turn, after.began, after.item_id) == (2, "speech", stopped.item_id)
    assert after.barge_in_ms is not None and after.barge_in_ms >= 0
    assert not after.interrupted and after.status == "completed"
