"""Barge-in: the cut is exactly what the listener heard, and the server always accepts it.

Several hundred seeded cases against the local server, with a ClockSink on a manual
clock (so the test decides what was heard) and instant server pacing; then one case
in real time, barging in by speaking.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from realtime_agent.audio.sinks import ClockSink, ManualClock
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.schema.server import ConversationItemTruncated
from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, SyntheticVoice
from tests.runtime.conftest import collect_until, next_of

WORDS = "the quick brown fox jumps over a lazy dog while the cat sleeps in the sun".split()
CASES = 120


def replies(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(2, 9))) + "." for _ in range(count)]


def server_event(kind: str, item_id: str) -> Callable[[app.RawServerEvent], bool]:
    def match(event: app.RawServerEvent) -> bool:
        return (
            event.event.type in (kind, "error")
            and getattr(event.event, "item_id", item_id) == item_id
        )

    return match


def answer(seen: list[app.AppEvent], kind: str, item_id: str) -> app.RawServerEvent:
    """The server's answer to a cut: it comes before the echo of the message sent after it."""
    match = server_event(kind, item_id)
    return next(e for e in seen if isinstance(e, app.RawServerEvent) and match(e))


def is_mark(text: str) -> Callable[[app.HistoryAdded], bool]:
    def match(event: app.HistoryAdded) -> bool:
        content = getattr(event.item, "content", None) or []
        return any(getattr(part, "text", None) == text for part in content)

    return match


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_barge_in_at_random_points(seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    counts = {"truncated": 0, "deleted": 0, "finished": 0}
    marks: list[str] = []
    async with LocalRealtimeServer(
        responder=ScriptedResponder(replies(rng, CASES)), seed=seed
    ) as server:
        agent = Agent(turn_detection=None)  # push-to-talk: only the test interrupts
        async with connect(agent, url=server.url, audio_out=sink, raw_events=True) as session:
            for _ in range(CASES):
                await session.send_text("go")
                end = await next_of(session, app.AudioEnd)
                await next_of(session, app.AgentEnd)
                handle = session.playout.handle(end.item_id, end.content_index)
                received_ms = handle.received_samples / 24
                where = rng.choice(["before", "during", "during", "after"])
                if where == "during":
                    clock.advance(rng.uniform(0.001, received_ms / 1000))
                elif where == "after":
                    clock.advance(received_ms / 1000 + rng.uniform(0.001, 0.5))
                heard_ms = handle.played_ms
                await session.interrupt()
                # Whatever the cut emits is queued before this message's echo arrives.
                await session.send_text(f"mark {len(marks)}", respond=False)
                marks.append(f"mark {len(marks)}")
                seen = await collect_until(session, app.HistoryAdded, is_mark(marks[-1]))
                cuts = [e for e in seen if isinstance(e, app.AudioInterrupted)]
                if heard_ms >= received_ms - 0.05:
                    counts["finished"] += 1
                    assert cuts == []  # it had all been heard: nothing cut, nothing said
                    clock.advance(1.0)
                    continue
                (cut,) = cuts
                assert cut.item_id == end.item_id
                if cut.truncated_ms is not None:
                    counts["truncated"] += 1
                    reply = answer(seen, "conversation.item.truncated", cut.item_id)
                    assert reply.event.type == "conversation.item.truncated", reply.event
                    assert 0 < cut.truncated_ms <= received_ms
                    assert abs(cut.truncated_ms - heard_ms) < 1.0  # floor of what was heard
                else:
                    assert cut.deleted
                    counts["deleted"] += 1
                    assert heard_ms < 1.0
                    reply = answer(seen, "conversation.item.deleted", cut.item_id)
                    assert reply.event.type == "conversation.item.deleted", reply.event
                clock.advance(1.0)
            assert session.dropped_events == 0
    assert min(counts.values()) > 0, counts
    assert sum(counts.values()) == CASES


async def test_barge_in_by_speaking_in_real_time() -> None:
    long = " ".join(["I am telling you something rather long right now"] * 4)
    async with LocalRealtimeServer(
        responder=ScriptedResponder([long, "Yes?"]), pacing=Pacing.realtime()
    ) as server:
        async with connect(Agent(), url=server.url, raw_events=True) as session:
            await session.send_text("tell me")
            for _ in range(10):  # real-time pacing: about 400 ms in, most of it heard
                await next_of(session, app.AudioDelta)
            speech = (
                bytes(48 * 200)
                + SyntheticVoice(seed=4).synthesize("wait a second").pcm
                + bytes(48 * 600)
            )
            await session.send_audio(speech)
            events = await collect_until(session, app.AudioInterrupted)
            cut = events[-1]
            assert isinstance(cut, app.AudioInterrupted)
            assert any(isinstance(e, app.SpeechStarted) for e in events)
            reply = await next_of(
                session,
                app.RawServerEvent,
                server_event("conversation.item.truncated", cut.item_id),
            )
    assert reply.event.type == "conversation.item.truncated"
    assert isinstance(reply.event, ConversationItemTruncated)
    assert cut.truncated_ms is not None and cut.truncated_ms == reply.event.audio_end_ms
    assert cut.truncated_ms <= server.sessions[0].conversation.get(cut.item_id).audio_ms  # type: ignore[union-attr]


async def test_barge_in_cuts_every_reply_still_audible_not_only_the_newest() -> None:
    # A tool-call flow: the first reply still plays while the second has all arrived.
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    script = ScriptedResponder(["the quick brown fox jumps over the lazy dog.", "and then."])
    async with LocalRealtimeServer(responder=script) as server:
        agent = Agent(turn_detection=None)
        async with connect(agent, url=server.url, audio_out=sink, raw_events=True) as session:
            await session.send_text("one")
            first = await next_of(session, app.AudioEnd)
            await next_of(session, app.AgentEnd)
            clock.advance(0.3)
            await session.send_text("two")
            second = await next_of(session, app.AudioEnd)
            await next_of(session, app.AgentEnd)
            heard = session.playout.handle(first.item_id).played_ms
            await session.interrupt()
            cuts: dict[str, app.AudioInterrupted] = {}
            while len(cuts) < 2:
                cut = await next_of(session, app.AudioInterrupted)
                cuts[cut.item_id] = cut
            answers: set[str] = set()
            while len(answers) < 2:  # the server's answers to both cuts
                reply = await next_of(session, app.RawServerEvent)
                kind = reply.event.type
                if kind in ("conversation.item.truncated", "conversation.item.deleted", "error"):
                    answers.add(f"{kind} {getattr(reply.event, 'item_id', '')}")
            assert answers == {
                f"conversation.item.truncated {first.item_id}",
                f"conversation.item.deleted {second.item_id}",
            }
            clock.advance(1.0)  # the next audio must not count as the first reply's
            assert session.playout.handle(first.item_id).played_ms == heard
        truncated = server.sessions[0].conversation.get(first.item_id)
    assert 299 <= heard <= 300
    assert cuts[first.item_id].truncated_ms == int(heard)
    assert cuts[second.item_id].deleted
    assert truncated is not None and truncated.audio_ms == int(heard)
