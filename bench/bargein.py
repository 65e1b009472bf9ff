"""Barge-in: from the server's ``speech_started`` to silence, and where the cut falls.

One session (``connect(agent, url=..., audio_out=sink, raw_events=True)``) against the
local server, which runs in a process of its own (this file with ``--serve``) so that
the client's event loop does only the client's work. Server VAD with the energy
detector (deterministic), ``interrupt_response`` on and ``create_response`` off: the
bench's speech interrupts the assistant and starts no response. The playout's sink is
a ``ClockSink`` on a ``ManualClock``: the bench decides how much the listener has heard.
Server pacing: ``Pacing.times(10)`` (``--speed``; 0 for ``Pacing.instant()``, which
sends 1 s bursts), so that ``speech_started`` can come while the reply still streams.
The client keeps up with that stream, so ``speech_started`` finds it idle; ``--burst``
(replies of 10-30 s, sent at once) makes it come behind a backlog of audio deltas.

Each case, seeded: ask for a reply (``send_text``; the ``ScriptedResponder`` says one
of 40 seeded replies of 2-12 words, 0.75-3.3 s of speech); wait for a random number of
its audio deltas, or for all of it (the response is then over before the user speaks);
advance the clock by nothing, by part of the audio received, or by more than all of
it; note what the listener has heard (the sink's own count); then speak: 100 ms of
silence, "wait a moment" (synthetic speech, 785 ms), 700 ms of silence, in 20 ms
``send_audio`` frames. The frames go as fast as the send queue takes them up to the
one on which the server's VAD decides that speech began (the same detector, run here;
+2 frames), then the bench waits for ``speech_started`` before it sends the rest: as
with a microphone, whose next frame is 20 ms away, the client is not busy sending when
``speech_started`` comes back. The runtime stops the playout and truncates the item
(or deletes it, or leaves it alone). Before the next case the bench waits, on events,
never on time, for the answer to the cut, the end of the response, ``speech_stopped``
and the committed user item; then it clears the input buffer and waits for
``input_audio_buffer.cleared``.

(a) Latency: from when the bytes of the ``speech_started`` frame entered the client
process (websockets' ``data_received``, wrapped on the instance: the chunk that
completed the frame) to when ``ClockSink.clear()`` returned (the playout is silent).
In between is all the client's: parsing the chunk, the frames ahead of it (audio
deltas, when it comes in a burst), decode, the core, the playout's stop. A case's
arrival and clear are taken in its window only, and paired only if there is exactly
one of each, in that order. Figures: ms; as a share of one 20 ms playout frame (the
baseline: "within one frame" is the promise); as a multiple of an audio delta's own
path, from its arrival to the playout (``Playout.push``), for deltas with nothing
ahead of them, in the same session; in frames: ``floor(latency / 20 ms)``, the whole
frames elapsed (0: silent within the frame that was playing at the arrival), and
``ceil(latency / 20 ms)``, the frames a device could still start at the worst phase
of its frame clock. Bytes still in the socket have not arrived: so also the time from
the server's send of the frame (``perf_counter`` is the system's monotonic clock, the
same in both processes), which adds the wait in the socket while the client is busy.

(b) Cuts: ``|audio_end_ms - heard|`` over the truncates (heard: what the sink played
of the item; the runtime cuts at ``floor(heard)``, so it must stay under 1 ms); the
server's answer to every truncate and delete (``conversation.item.truncated`` or
``.deleted``, never an ``error``); ``audio_end_ms`` against the audio the client had
received of the item; the counts of truncated, deleted (nothing heard) and
nothing-to-cut (all heard). Exits 1 if the server refused a cut or sent any error, a cut
went beyond the audio received, or a case could not be measured.

Run: ``python bench/bargein.py [--quick] [--cases N] [--seed S] [--speed X] [--burst]``
(``--quick``: 50 cases at 40x pacing, a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import CLIENT_CPU, ChildServer, machine
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from realtime_agent.audio.playout import PlayoutHandle
from realtime_agent.audio.sinks import ClockSink, ManualClock
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, RealtimeSession, connect
from realtime_agent.runtime.transport import Endpoint, WebSocketTransport
from realtime_agent.schema import codec
from realtime_agent.schema import server as s
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.common import encode_base64
from realtime_agent.schema.session import ServerVad
from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, SyntheticVoice
from realtime_agent.server.vad import SpeechStarted, VoiceActivityDetector

RATE = 24000
FRAME_MS = 20
DELTA_MS = 40  # the server's audio per response.output_audio.delta
WORDS = "the quick brown fox jumps over a lazy dog while the cat sleeps in the sun".split()
POOL = 40  # distinct replies (the server's voice caches 64 renderings)
REPLY_WORDS = (2, 12)  # replies of 0.75-3.3 s
BURST_WORDS = (40, 120)  # --burst: replies of 10-30 s, sent at once
SPEECH = "wait a moment"
MARKER_TEXT = '"type":"input_audio_buffer.speech_started"'
MARKER = MARKER_TEXT.encode()
# A safety net so that a broken session fails the bench instead of hanging it; never a
# way to wait for something to happen.
TIMEOUT = 20.0


@dataclass(frozen=True)
class Plan:
    """What a run does (the bench and its server process agree on it)."""

    seed: int
    cases: int
    speed: float
    """Server pacing, x real time; 0: ``Pacing.instant()``."""
    words: tuple[int, int] = REPLY_WORDS
    """How many words a reply has, at least and at most."""

    @property
    def pacing(self) -> Pacing:
        """The server's pacing."""
        return Pacing.times(self.speed) if self.speed > 0 else Pacing.instant()

    def args(self) -> list[str]:
        """The command-line arguments that give this plan."""
        burst = ["--burst"] if self.words == BURST_WORDS else []
        return [
            "--seed",
            str(self.seed),
            "--cases",
            str(self.cases),
            "--speed",
            str(self.speed),
            *burst,
        ]

    def replies(self) -> tuple[list[str], list[int]]:
        """The reply pool, and which reply each case gets."""
        rng = random.Random(f"replies-{self.seed}")
        pool = [" ".join(rng.choices(WORDS, k=rng.randint(*self.words))) + "." for _ in range(POOL)]
        return pool, [rng.randrange(POOL) for _ in range(self.cases)]


# --- the server (its own process) --------------------------------------------------------


class StampingServer(LocalRealtimeServer):
    """The local server, noting when it sends each ``speech_started`` (``perf_counter``).

    ``time.perf_counter`` is the system's monotonic clock (Linux, macOS, Windows): the
    same in both processes, so the bench can also time from the server's send.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sent: list[float] = []

    async def _serve(self, ws: ServerConnection) -> None:
        send_all = ws.send_all  # type: ignore[attr-defined]  # the server's batching write

        async def stamped_send_all(texts: list[str]) -> None:
            if any(len(text) < 1024 and MARKER_TEXT in text for text in texts):
                self.sent.append(time.perf_counter())
            await send_all(texts)

        ws.send_all = stamped_send_all  # type: ignore[attr-defined]
        await super()._serve(ws)


async def serve(plan: Plan) -> None:
    """The local server for this bench; serves until stdin closes.

    Prints a JSON line when it listens: its URL, and the audio deltas each reply of the
    pool takes; and one when it stops: when it sent each ``speech_started``.
    """
    pool, order = plan.replies()
    voice = SyntheticVoice()
    # Warm the voice's cache (no rendering while a case runs), and tell the bench how long
    # each reply is, so that it can wait for a random share of one.
    deltas = [math.ceil(voice.synthesize(text).duration_ms / DELTA_MS) for text in pool]
    server = StampingServer(
        responder=ScriptedResponder([pool[i] for i in order]),
        synthesizer=voice,
        pacing=plan.pacing,
        vad="energy",
        seed=plan.seed,
        delta_ms=DELTA_MS,
    )
    async with server:
        print(json.dumps({"url": server.url, "deltas": deltas}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps({"sent": server.sent}), flush=True)


@dataclass
class Served:
    """The server process: where it listens, its replies' lengths, and (once it ended)
    when it sent each ``speech_started``."""

    url: str
    deltas: list[int]
    sent: list[float] = field(default_factory=list)


@contextmanager
def server_process(plan: Plan) -> Iterator[Served]:
    """Run :func:`serve` in a child process."""
    with ChildServer([sys.executable, str(Path(__file__)), "--serve", *plan.args()]) as child:
        started = json.loads(child.first)
        served = Served(started["url"], started["deltas"])
        yield served
    if child.last:
        served.sent = json.loads(child.last)["sent"]


# --- instruments -------------------------------------------------------------------------


class TimedSink(ClockSink):
    """A ClockSink that notes when ``clear()`` returned (the playout is silent from then)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(rate=RATE, sample_width=2, clock=clock)
        self.armed = False
        self.clears: list[float] = []
        self.stray_clears = 0
        """Clears outside a case's window (there should be none)."""

    def clear(self) -> int:
        dropped = super().clear()
        if self.armed:
            self.clears.append(time.perf_counter())
        else:
            self.stray_clears += 1
        return dropped


class Probe:
    """When frames entered this process, and when the runtime was done with them.

    A bench-only instrument: it wraps, on the instance, two methods of the session's
    websockets connection, reached through private attributes (``session._transport._ws``),
    and the playout's ``push``. ``data_received`` is where the bytes enter the process
    (the time is taken first thing); websockets calls ``process_event``, from within it,
    for each frame it parsed: each text frame is stamped with the time of the chunk that
    completed it, and with the frames ahead of it: those before it in its chunk, and
    those of earlier chunks not yet through the session's core (``core.events_received``;
    the runtime hands frames to the core inside ``process_event``, or, on its queued
    path, from a reader task). The ``speech_started`` frame of a case is noted apart.
    ``push`` is where an audio delta's audio reaches the playout: the time from its
    frame's arrival, for deltas with nothing ahead of them, is the baseline: the same
    path as ``speech_started`` to ``clear()``, for an ordinary frame.
    """

    def __init__(self, session: RealtimeSession) -> None:
        transport = session._transport
        assert isinstance(transport, WebSocketTransport)
        ws = transport._ws
        core = session.core
        playout = session.playout
        self.armed = False
        self.arrivals: list[tuple[float, int]] = []  # (perf_counter, frames ahead)
        self.stray_starts = 0
        self.deliveries: list[float] = []
        """Seconds from an audio delta's arrival (nothing ahead) to its push to the playout."""
        # Frames already in the connection (session.created may come with the handshake).
        self.frames_in = core.events_received + len(ws.recv_messages.frames)
        self._stamps: deque[tuple[float, int]] = deque()  # (arrival, ahead) per frame
        self._first = self.frames_in  # the frame index of _stamps[0]
        chunk_at = 0.0
        pending = 0  # frames of earlier chunks not through the core when this one came
        in_chunk = 0  # text frames of this chunk so far
        data_received = ws.data_received
        process_event = ws.process_event
        push = playout.push

        def timed_data_received(data: bytes) -> None:
            nonlocal chunk_at, pending, in_chunk
            chunk_at = time.perf_counter()
            pending, in_chunk = self.frames_in - core.events_received, 0
            data_received(data)

        def stamped_process_event(event: Event) -> None:
            nonlocal in_chunk
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                ahead = pending + in_chunk
                in_chunk += 1
                if len(event.data) < 1024 and MARKER in bytes(event.data):
                    if self.armed:
                        self.arrivals.append((chunk_at, ahead))
                    else:
                        self.stray_starts += 1
                self._stamps.append((chunk_at, ahead))
                self.frames_in += 1
            process_event(event)

        def timed_push(item_id: str, content_index: int, audio: bytes) -> None:
            now = time.perf_counter()
            index = core.events_received - 1  # the frame being dispatched
            while self._first < index and self._stamps:
                self._stamps.popleft()
                self._first += 1
            if self._first == index and self._stamps:
                arrival, ahead = self._stamps[0]
                if ahead == 0:
                    self.deliveries.append(now - arrival)
            push(item_id, content_index, audio)

        ws.data_received = timed_data_received  # type: ignore[method-assign]
        ws.process_event = stamped_process_event  # type: ignore[method-assign]
        playout.push = timed_push  # type: ignore[method-assign]


@dataclass
class Watch:
    """What the application has seen of the current case (fed every session event)."""

    session: RealtimeSession
    updated: bool = False
    response_id: str | None = None
    item_id: str | None = None
    deltas: int = 0
    audio_end: bool = False
    agent_end: app.AgentEnd | None = None
    starts: int = 0
    speech_item: str | None = None
    speech_stopped: bool = False
    user_item_done: bool = False
    cut: app.AudioInterrupted | None = None
    cuts: int = 0
    reply: str | None = None
    """``conversation.item.truncated`` or ``.deleted`` for the case's item."""
    reply_ms: int | None = None
    errors: list[str] = field(default_factory=list)
    all_errors: int = 0
    """Error events over the whole run (``errors`` are the current case's)."""
    cleared: bool = False

    def reset(self) -> None:
        """Forget the previous case."""
        self.response_id = self.item_id = self.speech_item = self.reply = None
        self.agent_end = self.cut = None
        self.reply_ms = None
        self.deltas = self.starts = self.cuts = 0
        self.audio_end = self.speech_stopped = self.user_item_done = self.cleared = False
        self.errors = []

    def feed(self, event: app.AppEvent) -> None:
        match event:
            case app.AgentStart(response_id=response_id) if self.response_id is None:
                self.response_id = response_id
            case app.AudioDelta(response_id=response_id) if response_id == self.response_id:
                self.deltas += 1
                self.item_id = event.item_id
            case app.AudioEnd(item_id=item_id) if self.item_id in (None, item_id):
                self.item_id = item_id  # (its deltas may all have been dropped: --burst)
                self.audio_end = True
            case app.AgentEnd(response_id=response_id) if response_id == self.response_id:
                self.agent_end = event
            case app.SpeechStarted(item_id=item_id):
                self.starts += 1
                self.speech_item = item_id
            case app.SpeechStopped():
                self.speech_stopped = True
            case app.AudioInterrupted():
                self.cuts += 1
                self.cut = event
            case app.RawServerEvent(event=raw):
                self._raw(raw)
            case app.Closed():
                raise RuntimeError(f"the session ended: {event}")
            case _:
                pass

    def _raw(self, raw: s.ServerEvent | UnknownServerEvent) -> None:
        match raw:
            case s.ErrorEvent(error=error):
                self.errors.append(f"{error.code}: {error.message}")
                self.all_errors += 1
            case s.SessionUpdated():
                self.updated = True
            case s.InputAudioBufferCleared():
                self.cleared = True
            case s.ConversationItemTruncated(item_id=item_id) if item_id == self.item_id:
                self.reply = raw.type
                self.reply_ms = raw.audio_end_ms
            case s.ConversationItemDeleted(item_id=item_id) if item_id == self.item_id:
                self.reply = raw.type
            case s.ConversationItemDone(item=item) if self.speech_item is not None:
                self.user_item_done = self.user_item_done or item.id == self.speech_item
            case _:
                pass

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Consume the session's events until ``done()``."""

        async def consume() -> None:
            while not done():
                self.feed(await anext(self.session))

        try:
            await asyncio.wait_for(consume(), TIMEOUT)
        except TimeoutError:
            raise RuntimeError(f"no {what} within {TIMEOUT:g} s: {self}") from None

    def settled(self) -> bool:
        """The case is over: cut answered, response ended, the user's turn committed."""
        if self.agent_end is None or not (self.speech_stopped and self.user_item_done):
            return False
        if self.cut is None:
            return True  # heard in full: nothing was cut, and no event says so
        needs_reply = self.cut.truncated_ms is not None or self.cut.deleted
        return not needs_reply or self.reply is not None or bool(self.errors)


@dataclass
class Case:
    """One barge-in, measured."""

    index: int
    wait: str  # "deltas" or "all"
    where: str  # clock: "none", "part", "all"
    latency: float | None  # s, arrival -> clear
    arrived_at: float | None  # perf_counter: the speech_started frame entered the process
    ahead: int  # frames queued ahead of speech_started at its arrival
    mid_stream: bool  # the speech cancelled the response (it was still streaming)
    heard_ms: float  # what the sink played of the item
    handle_ms: float  # what the playout handle said before the speech, and after the cut
    handle_cut_ms: float
    received_ms: float  # audio of the item the client had received at the cut
    outcome: str  # "truncated", "deleted", "nothing"
    audio_end_ms: int | None
    accepted: bool  # the server's answer was the expected one, and no error
    errors: list[str]
    problem: str | None = None  # why it could not be measured


# --- the bench ---------------------------------------------------------------------------


def speech_frames() -> tuple[list[bytes], int]:
    """The user's barge-in as 20 ms frames (silence, speech, silence for the VAD to stop).

    And how many of them to send before waiting for ``speech_started``: up to the frame
    on which the server's VAD (the same detector, run here) decides that speech began,
    plus two frames of margin (the server's decimator carries state from earlier audio).
    """
    speech = SyntheticVoice(pitch_hz=210.0, seed=4).synthesize(SPEECH).pcm
    pcm = bytes(RATE * 2 * 100 // 1000) + speech + bytes(RATE * 2 * 700 // 1000)
    step = RATE * 2 * FRAME_MS // 1000
    pcm += bytes(-len(pcm) % step)
    frames = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    vad = VoiceActivityDetector(detector="energy")  # the server's defaults
    for index, frame in enumerate(frames):
        if any(isinstance(event, SpeechStarted) for event in vad.feed(frame)):
            return frames, index + 3
    raise RuntimeError("the VAD does not hear the bench's speech")


async def run_cases(
    plan: Plan, url: str, deltas_of: list[int]
) -> tuple[list[Case], list[float], dict[str, int]]:
    """Run the cases; their figures, the baseline deliveries (s), and counters."""
    _, order = plan.replies()
    frames, onset = speech_frames()
    rng = random.Random(f"cases-{plan.seed}")
    clock = ManualClock()
    sink = TimedSink(clock)
    agent = Agent(turn_detection=ServerVad(create_response=False, interrupt_response=True))
    results: list[Case] = []
    async with connect(agent, url=url, audio_out=sink, raw_events=True) as session:
        probe = Probe(session)
        watch = Watch(session)

        def deltas_or_end(count: int) -> Callable[[], bool]:
            return lambda: watch.deltas >= count or watch.audio_end

        await watch.until(lambda: watch.updated, "session.updated")
        for index in range(plan.cases):
            wait = "all" if rng.random() < 1 / 3 else "deltas"
            k = rng.randint(1, deltas_of[order[index]])
            where = rng.choice(("none", "part", "part", "all"))
            assert sink.queued_samples == 0  # nothing left of the previous case
            played_before = sink.played_samples
            watch.reset()
            await session.send_text("go")
            if wait == "all":
                await watch.until(lambda: watch.audio_end and watch.agent_end is not None, "reply")
            else:
                await watch.until(deltas_or_end(k), f"{k} deltas")
            assert watch.item_id is not None
            handle = session.playout.handle(watch.item_id)
            received_s = handle.received_samples / RATE
            if where == "part":
                clock.advance(rng.uniform(0.001, received_s))
            elif where == "all":
                clock.advance(received_s + rng.uniform(0.001, 0.5))
            heard_ms = (sink.played_samples - played_before) * 1000 / RATE
            handle_ms = handle.played_ms
            probe.arrivals.clear()
            sink.clears.clear()
            probe.armed = sink.armed = True
            # As from a microphone: the next frame is 20 ms away when the frame that starts
            # the speech goes, so the client is not sending when speech_started comes back.
            for frame in frames[:onset]:
                await session.send_audio(frame)
            await watch.until(lambda: watch.starts > 0, "speech_started")
            for frame in frames[onset:]:
                await session.send_audio(frame)
            await watch.until(watch.settled, "settled case")
            probe.armed = sink.armed = False
            results.append(
                measure(index, (wait, where), watch, probe, sink, handle, (heard_ms, handle_ms))
            )
            await session.clear_audio()
            await watch.until(lambda: watch.cleared, "input_audio_buffer.cleared")
        counts = {
            "dropped_events": session.dropped_events,
            "stray_clears": sink.stray_clears,
            "stray_starts": probe.stray_starts,
            "frames_miscounted": int(probe.frames_in < session.core.events_received),
            "error_events": watch.all_errors,
        }
    return results, probe.deliveries, counts


def measure(
    index: int,
    choice: tuple[str, str],
    watch: Watch,
    probe: Probe,
    sink: TimedSink,
    handle: PlayoutHandle,
    heard: tuple[float, float],
) -> Case:
    """The figures of a settled case (``heard``: by the sink, by the handle, before the speech)."""
    cut = watch.cut
    assert watch.agent_end is not None
    problems = []
    if len(probe.arrivals) != 1 or watch.starts != 1:
        problems.append(f"{len(probe.arrivals)} speech_started frames ({watch.starts} events)")
    if len(sink.clears) != 1 or watch.cuts > 1:
        problems.append(f"{len(sink.clears)} clears ({watch.cuts} AudioInterrupted)")
    if cut is not None and cut.item_id != watch.item_id:
        problems.append(f"cut {cut.item_id}, not the case's item {watch.item_id}")
    latency, arrival, ahead = None, None, 0
    if not problems:
        arrival, ahead = probe.arrivals[0]
        latency = sink.clears[0] - arrival
        if latency < 0:
            problems.append("silence before the speech_started frame arrived")
            latency = arrival = None
    if cut is None:
        outcome, expected = "nothing", None
    elif cut.truncated_ms is not None:
        outcome, expected = "truncated", "conversation.item.truncated"
    elif cut.deleted:
        outcome, expected = "deleted", "conversation.item.deleted"
    else:
        outcome, expected = "nothing", None
    accepted = not watch.errors and watch.reply == expected
    if cut is not None and outcome == "truncated":
        accepted = accepted and watch.reply_ms == cut.truncated_ms
    return Case(
        index=index,
        wait=choice[0],
        where=choice[1],
        latency=latency,
        arrived_at=arrival,
        ahead=ahead,
        mid_stream=watch.agent_end.status == "cancelled",
        heard_ms=heard[0],
        handle_ms=heard[1],
        handle_cut_ms=handle.played_ms,
        received_ms=handle.received_samples * 1000 / RATE,
        outcome=outcome,
        audio_end_ms=None if cut is None else cut.truncated_ms,
        accepted=accepted,
        errors=list(watch.errors),
        problem="; ".join(problems) or None,
    )


def dispatch_cost(rounds: int = 5, count: int = 2000) -> float:
    """Seconds to decode and dispatch one 40 ms audio delta (the runtime's own work).

    ``codec.decode`` of the frame text, ``core.receive``, then the session's own
    ``_execute`` of the actions (playout push, application events), on a session that
    is never started. The median of ``rounds``.
    """
    pcm = SyntheticVoice().synthesize("the quick brown fox").pcm[: RATE * 2 * DELTA_MS // 1000]
    frame = codec.encode(
        s.ResponseOutputAudioDelta(
            event_id="event_bench",
            response_id="resp_bench",
            item_id="item_bench",
            output_index=0,
            content_index=0,
            delta=encode_base64(pcm),
        )
    )
    per_frame = []
    for _ in range(rounds):
        scratch = RealtimeSession(
            Agent(),
            Endpoint.local("ws://127.0.0.1:9/v1/realtime"),
            audio_out=ClockSink(clock=ManualClock()),
            raw_events=True,
            event_queue=4 * count,
        )
        start = time.perf_counter()
        for _ in range(count):
            scratch._execute(scratch.core.receive(codec.decode(frame)))
        per_frame.append((time.perf_counter() - start) / count)
    return float(np.median(per_frame))


# --- the report --------------------------------------------------------------------------


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, p99, max."""
    array = np.asarray(values, dtype=float)
    return float(np.median(array)), float(np.percentile(array, 99)), float(array.max())


def describe(case: Case) -> str:
    """One line about a case that went wrong."""
    cut = {"truncated": f"truncated at {case.audio_end_ms} ms", "deleted": "deleted"}
    text = (
        f"case {case.index} ({case.wait}/{case.where}): {cut.get(case.outcome, 'left alone')}, "
        f"heard {case.heard_ms:.3f} ms (handle {case.handle_ms:.3f}, at the cut "
        f"{case.handle_cut_ms:.3f}), received {case.received_ms:.3f} ms"
    )
    if case.errors:
        text += f"; server: {' | '.join(case.errors)}"
    if case.problem:
        text += f"; unmeasured: {case.problem}"
    return text


def report(
    cases: list[Case],
    deliveries: list[float],
    sent: list[float],
    counts: dict[str, int],
    plan: Plan,
    dispatch: float,
) -> int:
    """Print the figures; return the exit status."""
    frame_s = FRAME_MS / 1000
    pacing = (
        f"Pacing.times({plan.speed:g}), {plan.speed:g}x real time"
        if plan.speed > 0
        else "Pacing.instant(), 1 s bursts"
    )
    low, high = plan.words
    print(f"server: own process; pacing {pacing}; {DELTA_MS} ms audio deltas; energy VAD")
    print(
        f"cases: {len(cases)}, seed {plan.seed}; replies of {low}-{high} words; the user says "
        f"{SPEECH!r} in {FRAME_MS} ms frames"
    )
    delivery = float(np.median(deliveries)) if deliveries else math.nan
    print(
        f"baseline: an audio delta, its arrival -> the playout, nothing ahead of it: median "
        f"{delivery * 1000:.3f} ms ({len(deliveries)} deltas; its decode + dispatch alone, "
        f"in a hot loop: {dispatch * 1e6:.1f} µs)"
    )
    timed = [(c, c.latency) for c in cases if c.latency is not None]
    lat = [latency for _, latency in timed]
    print()
    print(f"(a) the speech_started frame in the client -> playout silent ({len(lat)} cases)")
    print(f"    {'':38} {'median':>8} {'p99':>8} {'max':>8}")

    def row(label: str, values: list[float], fmt: str) -> None:
        if values:
            cells = " ".join(f"{v:>8{fmt}}" for v in spread(values))
            print(f"    {label:38} {cells}")

    if lat:
        row("ms", [v * 1000 for v in lat], ".3f")
        row(f"x one {FRAME_MS} ms frame (the baseline)", [v / frame_s for v in lat], ".4f")
        row("x an audio delta's arrival -> playout", [v / delivery for v in lat], ".2f")
        row("frames elapsed, floor(ms / 20)", [float(math.floor(v / frame_s)) for v in lat], ".0f")
        row("frames, worst device phase, ceil", [float(math.ceil(v / frame_s)) for v in lat], ".0f")
        if len(sent) == len(cases):
            # The same clock in both processes: from the server's send, the socket included
            # (a frame waits in the kernel while the client's loop is busy elsewhere).
            socket = [
                (c.arrived_at - sent[c.index], v) for c, v in timed if c.arrived_at is not None
            ]
            if all(before >= 0 for before, _ in socket):
                row("ms from the server's send", [(b + v) * 1000 for b, v in socket], ".3f")
                row("  of which in the socket", [b * 1000 for b, _ in socket], ".3f")
            else:
                print("    (the server's clock is not this one: no figures from its send)")
        else:
            print(f"    ({len(sent)} speech_started sent for {len(cases)} cases: none paired)")
        mid = [v * 1000 for c, v in timed if c.mid_stream]
        after = [v * 1000 for c, v in timed if not c.mid_stream]
        queued = [(c, v) for c, v in timed if c.ahead > 0]
        row(f"ms, reply still streaming ({len(mid)})", mid, ".3f")
        row(f"ms, reply over ({len(after)})", after, ".3f")
        row(f"ms, behind other frames ({len(queued)})", [v * 1000 for _, v in queued], ".3f")
        most = max((c.ahead for c, _ in queued), default=0)
        over = sum(1 for v in lat if v > frame_s)
        print(
            f"    behind other frames in the client: in {len(queued)} of {len(lat)} cases (at "
            f"most {most} frames ahead); over one frame ({FRAME_MS} ms): {over}"
        )

    truncated = [c for c in cases if c.outcome == "truncated"]
    deleted = [c for c in cases if c.outcome == "deleted"]
    nothing = [c for c in cases if c.outcome == "nothing"]
    refused = [c for c in cases if not c.accepted]
    beyond = [c for c in truncated if c.audio_end_ms is not None and c.audio_end_ms > c.received_ms]
    print()
    print(
        f"(b) cuts: {len(truncated)} truncated, {len(deleted)} deleted (nothing heard), "
        f"{len(nothing)} nothing to cut (all heard)"
    )
    print(
        f"    accepted by the server: {len(cases) - len(refused)}/{len(cases)} "
        f"(truncated {sum(c.accepted for c in truncated)}/{len(truncated)}, "
        f"deleted {sum(c.accepted for c in deleted)}/{len(deleted)}); "
        f"error events: {counts['error_events']}"
    )
    ends = [(c.audio_end_ms, c) for c in truncated if c.audio_end_ms is not None]
    if ends:
        median, _, worst = spread([abs(end - c.heard_ms) for end, c in ends])
        print(f"    |audio_end_ms - heard|: median {median:.3f} ms, max {worst:.3f} ms")
        margin = max(end - c.received_ms for end, c in ends)
        print(
            f"    audio_end_ms beyond the audio received: {len(beyond)} "
            f"(the most: audio_end_ms - received = {margin:+.3f} ms)"
        )
    floor_cut = [
        c for end, c in ends if end != min(math.floor(c.heard_ms), math.floor(c.received_ms))
    ]
    wrong_delete = [c for c in deleted if c.heard_ms >= 1.0]
    wrong_nothing = [c for c in nothing if c.heard_ms < c.received_ms - 1000 / RATE]
    drift = [
        c
        for c in cases
        if abs(c.handle_ms - c.heard_ms) > 1e-6 or abs(c.handle_cut_ms - c.heard_ms) > 1e-6
    ]
    print(
        f"    cut != min(floor(heard), floor(received)): {len(floor_cut)}; deleted though "
        f"heard: {len(wrong_delete)}; left alone though not all heard: {len(wrong_nothing)}"
    )
    print(f"    playout handle's played_ms != what the sink played: {len(drift)}")
    unmeasured = [c for c in cases if c.problem is not None]
    strays = counts["stray_clears"] + counts["stray_starts"] + counts["frames_miscounted"]
    print(
        f"    unmeasured cases: {len(unmeasured)}; clears or speech_started outside a case: "
        f"{strays}; deltas the bench fell behind on (dropped_events): {counts['dropped_events']}"
    )
    shown = [*refused, *beyond, *floor_cut, *wrong_delete, *wrong_nothing, *drift, *unmeasured]
    for case in list({c.index: c for c in shown}.values())[:10]:
        print(f"    ! {describe(case)}")
    return 1 if refused or beyond or unmeasured or strays or counts["error_events"] else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="50 cases at 40x pacing (smoke: a few seconds)"
    )
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--speed", type=float, help="server pacing, x real time; 0: instant (bursts); default 10"
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="replies of 10-30 s at instant pacing: speech_started queues behind audio",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    words = BURST_WORDS if args.burst else REPLY_WORDS
    if args.speed is not None:
        speed = args.speed
    else:
        speed = 0.0 if args.burst else 40.0 if args.quick else 10.0
    plan = Plan(args.seed, 50 if args.quick else args.cases, speed, words)
    if args.serve:
        asyncio.run(serve(plan))
        return
    if CLIENT_CPU is not None:  # this process is the client
        os.sched_setaffinity(0, {CLIENT_CPU})
    print(f"machine: {machine()}")
    dispatch = dispatch_cost()  # before the run: a quiet process
    with server_process(plan) as served:
        results, deliveries, counts = asyncio.run(run_cases(plan, served.url, served.deltas))
    raise SystemExit(report(results, deliveries, served.sent, counts, plan, dispatch))


if __name__ == "__main__":
    main()
