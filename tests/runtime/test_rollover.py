"""Rollover before the cap, over real sockets: the next connection opens while the
current one runs, is seeded with the conversation, and takes over between two turns."""

from __future__ import annotations

import asyncio

import pytest

from realtime_agent.audio.sinks import ClockSink, ManualClock
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, RealtimeSession, connect
from realtime_agent.schema.items import MessageItem
from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, faults
from realtime_agent.testing import InstantSink
from tests.runtime.conftest import FAST, collect_until

pytestmark = pytest.mark.usefixtures("no_task_left")


def texts(items: list[object]) -> list[tuple[str, str]]:
    """(role, text) of each message: its text, or its transcript."""
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, MessageItem):
            part = item.content[0] if item.content else None
            said = getattr(part, "text", None) or getattr(part, "transcript", None) or ""
            out.append((item.role, said))
    return out


async def test_the_next_connection_takes_over_between_two_turns() -> None:
    responder = ScriptedResponder(["First answer.", "Second answer."])  # one script for both
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(
            Agent(instructions="Be brief."),
            url=server.url,
            audio_out=InstantSink(),
            rollover_after=0.2,
        ) as session:
            await session.send_text("one")
            events = await collect_until(session, app.AgentEnd)
            events += await collect_until(session, app.RolledOver)
            await session.send_text("two")
            events += await collect_until(session, app.AgentEnd)
            assert session.rollovers == 1 and session.reconnects == 0
    rolled = [e for e in events if isinstance(e, app.RolledOver)]
    assert rolled == [app.RolledOver(replayed=2)]
    assert not [e for e in events if isinstance(e, app.Reconnecting | app.ErrorRaised)]
    assert len(server.sessions) == 2
    fresh = server.sessions[1]
    assert fresh.config.instructions == "Be brief."  # type: ignore[union-attr]
    assert texts(list(fresh.conversation.items())) == [
        ("user", "one"),
        ("assistant", "First answer."),
        ("user", "two"),
        ("assistant", "Second answer."),
    ]


async def ready(session: RealtimeSession) -> None:
    """Until the next connection is open and waits for a boundary (loop turns, no time)."""
    while not session.rollover_waiting:  # noqa: ASYNC110 (no time: one loop turn each)
        await asyncio.sleep(0)


def frames(count: int, first: int = 1) -> list[bytes]:
    """20 ms pcm16 frames, each of its own byte (any loss or mix-up shows)."""
    return [bytes([first + k]) * 960 for k in range(count)]


async def test_what_the_caller_says_across_the_switch_reaches_the_new_session() -> None:
    # Push-to-talk: the whole buffer is the utterance until the commit. Half of it goes
    # to the old connection, the rest after the switch; the new session hears all of it.
    before, after = frames(10), frames(10, first=11)
    async with LocalRealtimeServer(responder=ScriptedResponder(["Heard."])) as server:
        async with connect(
            Agent(turn_detection=None),
            url=server.url,
            audio_out=InstantSink(),
            rollover_after=0.2,
        ) as session:
            for frame in before:
                await session.send_audio(frame)
            rolled = await collect_until(session, app.RolledOver)
            for frame in after:
                await session.send_audio(frame)
            await session.commit()
            await session.create_response()
            await collect_until(session, app.AgentEnd)
    assert rolled[-1] == app.RolledOver(replayed=0, reappended_ms=200)
    users = [e for e in server.sessions[1].conversation.entries() if e.item.type == "message"]
    assert users[0].item.role == "user"  # type: ignore[union-attr]
    assert bytes(users[0].audio) == b"".join(before + after)


async def test_an_old_connection_that_dies_before_the_switch_falls_back_to_reconnect() -> None:
    # The next connection is ready early, but an answer plays in real time (no turn
    # boundary) when the old connection drops: the session reconnects instead.
    long = "This answer is long enough to be playing when the connection drops. " * 3
    drop = faults.drop(at_event="response.output_audio.delta", occurrence=20)
    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder([long]),
        pacing=Pacing.realtime(),
        faults=lambda n: [drop] if n == 0 else [],
    ) as server:
        async with connect(Agent(), url=server.url, reconnect=FAST, rollover_after=0.05) as session:
            await session.send_text("talk")
            events = await collect_until(session, app.Reconnected)
            assert session.rollovers == 0 and session.reconnects == 1
    assert not [e for e in events if isinstance(e, app.RolledOver)]
    assert len(server.sessions) == 3  # the first, the rollover's (given up), the reconnect's


async def test_the_switch_waits_for_the_answer_to_be_heard_and_leaves_no_gap_in_it() -> None:
    # A ClockSink on a manual clock: the answer plays only as the test moves the clock.
    # The next connection opens while the answer is still queued (no turn boundary);
    # the switch comes once it has all been heard, and nothing of it is lost or cut.
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    opened = asyncio.Event()

    def plan(connection: int) -> list[faults.Fault]:
        if connection == 1:
            opened.set()  # the rollover's connection: the old one still plays
        return []

    answers = ["The first answer is here.", "The second one follows."]
    async with LocalRealtimeServer(responder=ScriptedResponder(answers), faults=plan) as server:
        async with connect(
            Agent(), url=server.url, audio_out=sink, rollover_after=0.05, reconnect=FAST
        ) as session:
            await session.send_text("one")
            first = await collect_until(session, app.AudioEnd)
            await asyncio.wait_for(opened.wait(), 20)
            assert session.rollovers == 0 and session.playout.audible
            received = sum(len(e.audio) for e in first if isinstance(e, app.AudioDelta)) // 2
            clock.advance(received / sink.rate)  # heard to its last sample, not one more
            events = await collect_until(session, app.RolledOver)
            assert sink.played_samples == received and sink.queued_samples == 0
            await session.send_text("two")
            second = await collect_until(session, app.AudioEnd)
            more = sum(len(e.audio) for e in second if isinstance(e, app.AudioDelta)) // 2
            clock.advance(more / sink.rate)
            assert sink.played_samples == received + more
    # The sink fell silent between the answers, never within one.
    assert session.rollovers >= 1 and session.playout.underruns == 0
    assert not [e for e in first + events if isinstance(e, app.AudioInterrupted)]
    assert texts(list(server.sessions[1].conversation.items()))[:2] == [
        ("user", "one"),
        ("assistant", answers[0]),
    ]


async def test_an_application_that_asks_again_the_moment_an_answer_ends_still_rolls_over() -> None:
    # The boundary lasts from the answer's last sample to the next request: no server
    # event and no poll falls in it, so the request itself looks for it.
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    answers = ["The first answer is here.", "The second one follows."]
    async with LocalRealtimeServer(responder=ScriptedResponder(answers)) as server:
        async with connect(
            Agent(), url=server.url, audio_out=sink, rollover_after=0.05, reconnect=FAST
        ) as session:
            await session.send_text("one")
            first = await collect_until(session, app.AgentEnd)
            await asyncio.wait_for(ready(session), 20)
            clock.advance(
                sum(len(e.audio) for e in first if isinstance(e, app.AudioDelta)) / 2 / 24000
            )
            await session.send_text("two")  # at once: the same moment the answer ended
            events = await collect_until(session, app.AgentEnd)
    kinds = [type(e).__name__ for e in events]
    assert "RolledOver" in kinds and kinds.index("RolledOver") < kinds.index("AgentStart")
    assert session.rollovers == 1
    assert texts(list(server.sessions[1].conversation.items())) == [
        ("user", "one"),
        ("assistant", answers[0]),
        ("user", "two"),
        ("assistant", answers[1]),
    ]


async def test_a_rollover_before_the_cap_leaves_no_1001_to_see() -> None:
    responder = ScriptedResponder(["First answer.", "Second answer."])
    cap = [faults.expire(after_seconds=5.0)]  # each connection's "60 minutes"
    async with LocalRealtimeServer(responder=responder, faults=lambda n: cap) as server:
        async with connect(
            Agent(), url=server.url, audio_out=InstantSink(), rollover_after=0.2
        ) as session:
            await session.send_text("one")
            events = await collect_until(session, app.AgentEnd)
            events += await collect_until(session, app.RolledOver)
            await session.send_text("two")
            events += await collect_until(session, app.AgentEnd)
            assert session.rollovers >= 1 and session.reconnects == 0
    assert not [e for e in events if isinstance(e, app.Reconnecting | app.ErrorRaised)]
    said = [t.text for t in events if isinstance(t, app.Transcript) and t.role == "assistant"]
    assert said == ["First answer.", "Second answer."]
