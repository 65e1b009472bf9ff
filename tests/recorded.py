"""A recorded conversation for the tests of the recording and of its report: spoken in
real time to the local server over a real socket, with a tool call and a barge-in.

The caller asks about the weather (a ``get_weather`` call, then a long answer); one
second after the answer's first audio came, they say "wait a second" over it (server
VAD hears it: the answer is cut where it was heard), and are answered "Yes?". The
caller's side is a microphone-like source: frames paced in real time, silence between
the utterances, the barge-in started by what the session shows (never a sleep to wait
for something). It takes about eight seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, RealtimeSession, connect
from realtime_agent.server import CallTool, LocalRealtimeServer, Pacing, ScriptedResponder
from tests.runtime.test_session import get_weather
from tests.speech import spoken

RATE = 24000
FRAME = RATE // 50 * 2  # 20 ms of pcm16
QUESTION = "what is the weather in paris today"
BARGE_IN = "wait a second"
LONG_ANSWER = (
    "It is clear in Paris today, twenty one degrees, with a light wind from the west "
    "and not a cloud in the sky, so it is a fine day for a long walk by the river."
)
SHORT_ANSWER = "Yes?"
TIMEOUT = 60.0


@dataclass
class Caller:
    """The caller's side: the question, silence, the barge-in once asked, silence."""

    question: bytes = field(default_factory=lambda: spoken(QUESTION))
    barge_in: bytes = field(default_factory=lambda: spoken(BARGE_IN, lead_ms=0))
    speak_over: asyncio.Event = field(default_factory=asyncio.Event)
    """Set: the barge-in starts with the next frame."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    barge_in_due_at: float | None = None
    """When the barge-in's first frame was due (``time.monotonic()``): the source's
    schedule, which a late frame (a busy loop) does not move."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0

        async def paced(frame: bytes) -> bytes:
            nonlocal sent
            await asyncio.sleep(max(0.0, start + sent * 0.02 - loop.time()))
            sent += 1
            return frame

        def due() -> float:
            """When the next frame is due: the source's own clock."""
            return start + sent * 0.02

        for offset in range(0, len(self.question), FRAME):
            yield await paced(self.question[offset : offset + FRAME])
        while not self.speak_over.is_set():
            yield await paced(bytes(FRAME))
        self.barge_in_due_at = due()
        for offset in range(0, len(self.barge_in), FRAME):
            yield await paced(self.barge_in[offset : offset + FRAME])
        while not self.done.is_set():
            yield await paced(bytes(FRAME))


@dataclass
class Recorded:
    """What the conversation gave: the directory, the session's events, and more."""

    directory: Path
    events: list[app.AppEvent]
    caller: Caller
    started_at: float
    """The recording's ``t = 0`` on the monotonic clock."""
    first_heard_at: dict[str, float]
    """Each assistant item's first sample played (the playout's own figure)."""
    audio: dict[str, bytes]
    """Each assistant item's audio as received."""


async def record_conversation(directory: Path) -> Recorded:
    """Hold the conversation (see the module docstring), recorded into ``directory``."""
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), LONG_ANSWER, SHORT_ANSWER],
        transcripts=[QUESTION, BARGE_IN],
    )
    caller = Caller()
    events: list[app.AppEvent] = []
    audio: dict[str, bytearray] = {}
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.realtime()) as server:
        agent = Agent(tools=[get_weather], input_transcription="gpt-4o-transcribe")
        session = connect(agent, url=server.url, audio_in=caller, record=directory)
        async with session:
            await asyncio.wait_for(_converse(session, caller, events, audio), TIMEOUT)
            first_heard_at = {
                key[0]: handle.first_heard_at
                for key, handle in session.playout.handles.items()
                if handle.first_heard_at is not None
            }
            assert session.recorder is not None and session.recorder.started_at is not None
            started_at = session.recorder.started_at
        events += [event async for event in session]
    return Recorded(
        directory,
        events,
        caller,
        started_at,
        first_heard_at,
        {item: bytes(pcm) for item, pcm in audio.items()},
    )


async def _converse(
    session: RealtimeSession,
    caller: Caller,
    events: list[app.AppEvent],
    audio: dict[str, bytearray],
) -> None:
    loop = asyncio.get_running_loop()
    answer_audio_at: float | None = None
    async for event in session:
        events.append(event)
        match event:
            case app.AudioDelta(item_id=item_id, audio=pcm):
                audio.setdefault(item_id, bytearray()).extend(pcm)
                tool_answered = any(isinstance(e, app.ToolEnd) for e in events)
                if tool_answered and answer_audio_at is None:
                    answer_audio_at = loop.time()
                    # One second of the answer, then the caller speaks over it.
                    loop.call_at(answer_audio_at + 1.0, caller.speak_over.set)
            case app.TurnMetrics(turn=2):  # the answer to the barge-in, heard to its end
                caller.done.set()
                return
            case app.Closed():
                raise AssertionError(f"the session ended first: {event}")
