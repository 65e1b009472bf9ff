"""``realtime-agent demo``: a spoken conversation with a tool call, in one command.

With ``OPENAI_API_KEY`` set it talks to OpenAI; otherwise to the embedded local
Realtime server, which (with the ``voice`` extra) recognizes what was said, calls the
demo's weather tool for the city it heard, and speaks the answer in words. ``--url``
talks to any Realtime server instead, with ``OPENAI_API_KEY`` (or ``--api-key``) as its
key when one is set. Input: the microphone when one can be used (``--mic``), else a WAV
file (``--in``, by default a bundled question), followed by a second of silence (a
microphone would hear the quiet room: the server's VAD needs it to end the turn).
Output: the speaker (with ``--mic``), else real-time playback to nobody. Either way
``--out DIR`` gets the recording, on one timeline: ``user.wav``, ``assistant.wav`` (what
was played), ``conversation.wav`` (both, in stereo) and ``transcript.jsonl``; then
``realtime-agent report DIR`` draws it as a page.

It says what is happening: when it listens, when the server heard speech begin and end,
the transcripts, the tool calls, and each turn's figures (from the end of speech to the
first sound heard). The assistant's words appear as they are heard (:class:`SpokenWords`
holds each until the playout reaches its audio). A WAV in which the server heard no
speech ends the demo with exit status 1 once it has been sent, not after ``--timeout``.
Mistakes (a missing WAV, an ``--out`` that cannot be written) are one line on ``err``,
exit status 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import math
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from realtime_agent.audio.sinks import AudioSink, ClockSink
from realtime_agent.audio.sources import ArraySource, AudioSource, WavSource
from realtime_agent.errors import AuthenticationError, RealtimeAgentError
from realtime_agent.protocol import events as app
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.session import RealtimeSession, connect
from realtime_agent.tools.tool import tool

__all__ = ["SAMPLE_QUESTION", "DemoOptions", "SpokenWords", "out_problem", "run_demo"]

SAMPLE_QUESTION = "What is the weather like in Paris today?"
"""The words of the bundled sample utterance."""

PROG = "realtime-agent demo"

TAIL_MS = 1000
"""Silence sent after a WAV: the server VAD's silence window (OpenAI's default: 500 ms)
and as much again, so that speech reaching the end of the file still ends a turn."""

HEARD_WITHIN = 1.0
"""Seconds, once all of a WAV and its tail were handed to the session, within which the
server's ``speech_started`` must have come (the frames still queued, the round trip),
or no speech was detected."""

MIC_HINT_AFTER = 15.0
"""Seconds of listening to the microphone with no speech heard before a hint is shown."""


def sample_wav() -> Path:
    """The bundled sample utterance (24 kHz mono pcm16)."""
    return Path(str(importlib.resources.files("realtime_agent") / "data" / "sample_question.wav"))


@tool
def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city.

    Args:
        city: The city, e.g. "Paris".
    """
    return {"city": city, "sky": "clear", "celsius": 21}


AGENT = Agent(
    name="demo",
    instructions="You are a friendly voice assistant. Use get_weather for weather questions. "
    "Answer in one or two short sentences.",
    tools=[get_weather],
    input_transcription="gpt-4o-transcribe",
)


@dataclass
class DemoOptions:
    """What ``realtime-agent demo`` was asked to do."""

    wav_in: Path | None = None
    out: Path | None = Path("demo-output")
    url: str | None = None
    api_key: str | None = None
    """The key to send (to ``url``, else to OpenAI); None: ``OPENAI_API_KEY``, if set."""
    mic: bool = False
    fast: bool = False
    """Instant server pacing, unpaced input and instant playback (for tests): the
    conversation, not the timing."""
    timeout: float | None = 60.0
    """Give up after this many seconds (None: never; the microphone runs until Ctrl-C)."""
    half_duplex: float | None = None
    """Gate the microphone below this level (dBFS) while the agent speaks (no headphones)."""
    device: int | str | None = None
    """The microphone and speaker to use (index or part of the name); None for the defaults."""
    audio_out: AudioSink | None = None
    """Where the assistant's audio plays; None: the speaker with ``mic``, else playback to
    nobody (in real time; instant with ``fast``)."""


# --- the assistant's words, as they are heard (no I/O) -----------------------------------


@dataclass
class _Item:
    """One assistant item's words: those heard, and those waiting for their audio."""

    content_index: int = 0
    response_id: str = ""
    received: int = 0
    """Samples of its audio that arrived so far."""
    waiting: deque[tuple[int, str]] = field(default_factory=deque)
    """(the position in its audio where the word arrived, the word), oldest first."""
    text: str = ""
    """Every word that came, released or not."""
    final: bool = False
    over: bool = False


Heard = Callable[[str, int], tuple[int, bool] | None]
"""An item's playout, by ``(item_id, content_index)``: (samples heard, all of it heard),
or None when none of its audio reached the playout."""


class SpokenWords:
    """The assistant's words, each released once the listener hears its audio begin.

    Transcript deltas arrive ahead of the audio they describe (the local server sends a
    word just before the audio delta its sound starts in; OpenAI's text runs further
    ahead). Each word is queued at the item's audio position when it arrived (the samples
    received before it) and released once the played position passes that point, or
    once all of the item was heard. An item with no audio (text output) is released when
    its transcript is final. An interrupted item's words not yet heard are dropped: they
    were never said. No I/O: the caller feeds the events and asks :meth:`due`.
    """

    def __init__(self) -> None:
        self._items: dict[str, _Item] = {}

    def _item(self, item_id: str) -> _Item:
        found = self._items.get(item_id)
        if found is None:
            found = self._items[item_id] = _Item()
            over = [key for key, item in self._items.items() if item.over]
            for key in over[: max(0, len(over) - 32)]:  # remember a few: late events
                del self._items[key]
        return found

    def audio(self, item_id: str, content_index: int, response_id: str, samples: int) -> None:
        """Audio of an item arrived (``AudioDelta``)."""
        item = self._item(item_id)
        if not item.received:
            item.content_index, item.response_id = content_index, response_id
        item.received += samples

    def word(self, item_id: str, delta: str) -> None:
        """A piece of an item's transcript arrived (``TranscriptDelta``)."""
        item = self._item(item_id)
        if not item.over and delta:
            item.waiting.append((item.received, delta))
            item.text += delta

    def final(self, item_id: str, text: str) -> None:
        """An item's whole transcript (``Transcript``): what no delta brought (dropped
        deltas) is queued after its audio."""
        item = self._item(item_id)
        if item.over:
            return
        if text.startswith(item.text) and len(text) > len(item.text):
            item.waiting.append((item.received, text[len(item.text) :]))
            item.text = text
        item.final = True

    def response_done(self, response_id: str) -> None:
        """A response ended (``AgentEnd``): no more words come for its items, final
        transcript or not."""
        for item in self._items.values():
            if item.response_id == response_id:
                item.final = True

    def cut(self, item_id: str) -> None:
        """The item was interrupted: its words not heard are dropped (call :meth:`due`
        first, for those that were)."""
        item = self._item(item_id)
        item.waiting.clear()
        item.over = True

    @property
    def waiting(self) -> bool:
        """True while some item's words are not all out (or its transcript not final)."""
        return any(not item.over for item in self._items.values())

    def due(self, heard: Heard) -> list[tuple[str, str, bool]]:
        """The words heard since the last call, in order: (item_id, text, the item's
        last). An item's last may carry no text (its words were out before it was final)."""
        released: list[tuple[str, str, bool]] = []
        for item_id, item in self._items.items():
            if item.over:
                continue
            playout = heard(item_id, item.content_index)
            if playout is None:
                played, finished = 0, item.final  # text only: out once final
            else:
                played, finished = playout
            text = ""
            while item.waiting and (finished or item.waiting[0][0] < played):
                text += item.waiting.popleft()[1]
            item.over = item.final and not item.waiting
            if text or item.over:
                released.append((item_id, text, item.over))
        return released


# --- what the demo prints --------------------------------------------------------------


class _Lines:
    """The demo's output: whole lines, and the assistant's words, each item's on a line
    that grows as they are heard (a line printed meanwhile ends it; the rest follows on
    a new one)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._open: str | None = None  # the item whose words' line is under way

    def line(self, text: str) -> None:
        self.end()
        self.out.write(text + "\n")
        self.out.flush()

    def words(self, item_id: str, text: str) -> None:
        if not text:
            return
        if self._open != item_id:
            self.end()
            self.out.write("[assistant]  ")
            text = text.lstrip()
            self._open = item_id
        self.out.write(text)
        self.out.flush()

    def end(self, item_id: str | None = None) -> None:
        """End the words' line (only ``item_id``'s, if given)."""
        if self._open is not None and item_id in (None, self._open):
            self.out.write("\n")
            self.out.flush()
            self._open = None


def describe_turn(turn: app.TurnMetrics) -> str:
    """One line of a turn's figures, as the demo prints them."""
    since = "you stopped speaking" if turn.began == "speech" else "the request"
    parts = []
    if turn.first_heard_ms is not None:
        parts.append(f"first sound {turn.first_heard_ms:.0f} ms after {since}")
    if turn.first_audio_ms is not None:
        parts.append(f"first audio from the server at {turn.first_audio_ms:.0f} ms")
    parts += [f"{tool.name} ran {tool.ms:.1f} ms" for tool in turn.tools]
    if turn.barge_in_ms is not None:
        parts.append(f"silenced and cut {turn.barge_in_ms:.1f} ms after you spoke over it")
    return f"  (turn {turn.turn}: {'; '.join(parts) or 'no answer'})\n"


# --- the conversation -------------------------------------------------------------------


class _Tracked:
    """A source, then ``tail`` (silence after a WAV), that says when both have run out."""

    def __init__(self, source: AudioSource, tail: AudioSource | None = None) -> None:
        self.source = source
        self.tail = tail
        self.finished = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for frame in self.source:
            yield frame
        if self.tail is not None:
            async for frame in self.tail:
                yield frame
        self.finished.set()


class _Mark(Enum):
    INPUT_ENDED = "the input ran out"
    TICK = "time passed"


async def _events(
    session: RealtimeSession, input_ended: asyncio.Event, wake: Callable[[], float | None]
) -> AsyncIterator[app.AppEvent | _Mark]:
    """The session's events; ``INPUT_ENDED`` once, when the input runs out (the turn may
    have ended before its last frames of silence were sent); ``TICK`` when ``wake()``
    seconds (None: no limit) passed with neither."""
    ended: asyncio.Future[bool] = asyncio.ensure_future(input_ended.wait())
    upcoming: asyncio.Future[app.AppEvent] = asyncio.ensure_future(anext(session))
    said = False
    try:
        while True:
            waiting: set[asyncio.Future[Any]] = {upcoming} if said else {upcoming, ended}
            done, _ = await asyncio.wait(
                waiting, timeout=wake(), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                yield _Mark.TICK
            if ended in done:
                said = True
                yield _Mark.INPUT_ENDED
            if upcoming.done():
                try:
                    event = upcoming.result()
                except StopAsyncIteration:
                    return
                upcoming = asyncio.ensure_future(anext(session))
                yield event
    finally:
        ended.cancel()
        upcoming.cancel()


@dataclass
class _Input:
    """What the user's audio is, for what the demo says about it."""

    source: AudioSource
    described: str
    name: str | None = None
    """The WAV's name in messages (None: the microphone)."""
    pcm: bytes = b""


class _NoSpeech(Exception):
    """The WAV was sent and the server heard no speech in it."""


class _Talk:
    """One run of the conversation: the session's events to lines (see the module
    docstring). :meth:`run` returns when a WAV's answer was heard; raises _NoSpeech."""

    def __init__(
        self, session: RealtimeSession, source: _Tracked, given: _Input, lines: _Lines
    ) -> None:
        self.session = session
        self.source = source
        self.given = given
        self.lines = lines
        self.words = SpokenWords()
        self.held: list[app.TurnMetrics] = []  # a turn's figures wait for its words
        self.speech = False  # the server heard speech (a speech_started came)
        self.speech_at: int | None = None  # its audio_start_ms
        self.answered = False  # the last response was an answer (no tool calls follow it)
        self.reported = False  # and its turn's figures came (once it was heard)
        self.calls = False  # the response in progress called tools (a response follows)
        self.ended_at: float | None = None  # when the input (and its tail) was all sent
        self.listening_since = time.monotonic()
        self.hinted = False  # the microphone's hint (no speech heard yet) was shown

    def _heard(self, item_id: str, content_index: int) -> tuple[int, bool] | None:
        handle = self.session.playout.handles.get((item_id, content_index))
        if handle is None:
            return None
        played = handle.played_samples
        heard_all = handle.ended and not handle.interrupted and played >= handle.received_samples
        return played, heard_all

    def _wake(self) -> float | None:
        """Seconds until something is due without an event: a word, or a deadline."""
        waits: list[float] = []
        if self.words.waiting:
            waits.append(0.02)  # the playout moves with the sink's clock: look often
        now = time.monotonic()
        if not self.speech and self.ended_at is not None:
            waits.append(max(0.0, self.ended_at + HEARD_WITHIN - now))
        elif not self.speech and self.given.name is None and not self.hinted:
            waits.append(max(0.0, self.listening_since + MIC_HINT_AFTER - now))
        return min(waits) if waits else None

    def _release(self) -> None:
        for item_id, text, last in self.words.due(self._heard):
            self.lines.words(item_id, text)
            if last:
                self.lines.end(item_id)
        if self.held and not self.words.waiting:
            for turn in self.held:
                self.lines.line(describe_turn(turn).rstrip("\n"))
            self.held.clear()
            if self.given.name is None and self.reported:
                self._listen()

    def _listen(self) -> None:
        heard = self.given.name or f"{self.given.described}: speak now (Ctrl-C to stop)"
        self.lines.line(f"[listening]  to {heard}")

    def _check_silence(self) -> None:
        if self.speech:
            return
        now = time.monotonic()
        if self.ended_at is not None and now >= self.ended_at + HEARD_WITHIN:
            raise _NoSpeech
        if self.given.name is None and not self.hinted:
            if now >= self.listening_since + MIC_HINT_AFTER:
                self.hinted = True
                self.lines.line(
                    f"  (no speech heard for {MIC_HINT_AFTER:g} s: is the microphone muted or "
                    "too quiet? `realtime-agent devices` lists them; --device picks one)"
                )

    @property
    def done(self) -> bool:
        """A WAV's answer was heard, every word of it out."""
        return (
            self.ended_at is not None and self.reported and not self.held and not self.words.waiting
        )

    async def run(self) -> str | None:
        """Converse; None when done, else why the session ended."""
        self._listen()
        async for event in _events(self.session, self.source.finished, self._wake):
            self._release()  # before the event: what was heard before it came
            match event:
                case _Mark.INPUT_ENDED:
                    self.ended_at = time.monotonic()
                case _Mark.TICK:
                    pass
                case app.AudioDelta(
                    item_id=item_id, content_index=index, response_id=response, audio=audio
                ):
                    width = self.session.sink.sample_width
                    self.words.audio(item_id, index, response, len(audio) // width)
                case app.TranscriptDelta(role="assistant", item_id=item_id, delta=delta):
                    self.words.word(item_id, delta)
                case app.Transcript(role="assistant", item_id=item_id, text=text):
                    self.words.final(item_id, text)
                case app.SpeechStarted(audio_start_ms=start):
                    self.answered = self.reported = False
                    self.speech, self.speech_at = True, start
                    self.lines.line("  (hearing you...)")
                case app.SpeechStopped(audio_end_ms=end):
                    spoke = (
                        "" if self.speech_at is None else f": {(end - self.speech_at) / 1000:.1f} s"
                    )
                    self.lines.line(f"  (heard you{spoke})")
                case app.AgentStart():
                    self.answered = self.reported = self.calls = False
                case app.TurnMetrics() as turn:
                    self.held.append(turn)
                    self.reported = self.answered
                case app.Transcript(role="user", text=text):
                    self.lines.line(f"[you]        {text}")
                case app.ToolStart(name=name, arguments=arguments):
                    self.calls = True
                    self.lines.line(f"[tool call]  {name}({arguments})")
                case app.ToolEnd(output=output, error=error):
                    self.lines.line(f"[tool done]  {error or output}")
                case app.AudioInterrupted(item_id=item_id, played_ms=played):
                    self.words.cut(item_id)  # the words not heard were never said
                    self.lines.line(f"  (interrupted after {played} ms)")
                case app.ErrorRaised(message=message):
                    self.lines.line(f"[error]      {message}")
                case app.Closed(reason=reason, error=error) if error is not None:
                    self.lines.end()
                    return reason
                case app.AgentEnd(response_id=response, status=status):
                    self.words.response_done(response)
                    if status == "completed" and not self.calls:
                        self.answered = True  # its figures come once it was heard
            self._release()
            self._check_silence()
            if self.done:
                return None
        self.lines.end()
        return None


# --- the run -------------------------------------------------------------------------------


def microphone_available() -> bool:
    """True when pyaudio is installed and PortAudio sees an input and an output device."""
    from realtime_agent.audio.devices import list_devices

    try:
        found = list_devices()
    except RealtimeAgentError:
        return False
    return any(d.inputs for d in found) and any(d.outputs for d in found)


def out_problem(out: Path) -> str | None:
    """What stops the recording going to the folder ``out`` (None: nothing), checked by
    making (and removing) a file in it, or a folder beside it: ``os.access`` does not
    know a read-only mount or /proc, and says yes to root."""
    try:
        if out.exists() and not out.is_dir():
            return f"--out {out}: a file is there, not a folder"
        if out.is_dir():
            with tempfile.TemporaryFile(dir=out):
                return None
        parent = out.parent
        if not parent.exists():
            return f"--out {out}: its folder {parent} does not exist"
        if not parent.is_dir():
            return f"--out {out}: {parent} is not a folder"
        with tempfile.TemporaryDirectory(dir=parent):
            return None
    except OSError as exc:
        return f"--out {out}: cannot write there ({exc.strerror or exc})"


def _input(options: DemoOptions) -> _Input:
    if options.mic:
        from realtime_agent.audio.devices import Microphone

        microphone = Microphone(options.device)
        microphone.resolve()  # a missing device is a clear error now, not mid-conversation
        return _Input(microphone, f"the microphone ({options.device or 'default'})")
    path = options.wav_in or sample_wav()
    source = WavSource(path, realtime=not options.fast)
    seconds = len(source.audio) / 48000
    if options.wav_in is None:
        described = f'the bundled question ("{SAMPLE_QUESTION}", {seconds:.1f} s)'
        return _Input(source, described, "the bundled question", source.audio)
    return _Input(source, f"{path} ({seconds:.1f} s)", str(path), source.audio)


def _output(options: DemoOptions) -> tuple[AudioSink, str]:
    if options.audio_out is not None:
        return options.audio_out, f"the sink given ({type(options.audio_out).__name__})"
    if options.mic:
        from realtime_agent.audio.devices import Speaker

        return Speaker(options.device), f"the speaker ({options.device or 'default'})"
    if options.fast:
        from realtime_agent.testing.conversation import InstantSink

        return InstantSink(), "instant playback to nobody (--fast)"
    return ClockSink(), "real-time playback to nobody (no speaker)"


def _no_speech(given: _Input) -> str:
    """Why no speech may have been heard in the WAV, as far as its audio tells."""
    samples = np.frombuffer(given.pcm, dtype="<i2")
    peak = int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0
    if peak == 0:
        return f"no speech was detected in {given.name} (is it silent? every sample is 0)"
    level = 20 * math.log10(peak / 32768)
    return (
        f"no speech was detected in {given.name} (is it silent? its loudest sample is "
        f"{level:.0f} dBFS; speech is usually louder than -30 dBFS)"
    )


def _key_source(options: DemoOptions) -> tuple[str | None, str]:
    """The key to send, and how the demo names it."""
    if options.api_key:
        return options.api_key, "with the --api-key key"
    key = os.environ.get("OPENAI_API_KEY")
    return (key, "with OPENAI_API_KEY") if key else (None, "no key sent")


async def run_demo(
    options: DemoOptions, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the demo; the exit status: 0 done, 1 no speech heard, no answer in time or the
    session failed, 2 a mistake (a WAV that cannot be read, an ``--out`` that cannot be
    written, a refused key). What went wrong is one line on ``err`` (default stderr),
    never a traceback; the conversation goes to ``out`` (default stdout)."""
    from realtime_agent.server import LocalRealtimeServer, Pacing, RuleResponder

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    problem = None if options.out is None else out_problem(options.out)
    if problem is not None:
        err.write(f"{PROG}: {problem}\n")
        return 2
    try:
        given = _input(options)
        sink, sink_name = _output(options)
    except RealtimeAgentError as exc:
        err.write(f"{PROG}: {exc}\n")
        return 2
    tail = None if options.mic else ArraySource(bytes(48 * TAIL_MS), realtime=not options.fast)
    tracked = _Tracked(given.source, tail)
    key, key_name = _key_source(options)
    try:
        async with contextlib.AsyncExitStack() as stack:
            url: str | None
            if options.url:
                url, where = options.url, f"{options.url} ({key_name})"
            elif key:
                url, where = None, f"OpenAI ({key_name})"
            else:
                server = LocalRealtimeServer(
                    responder=lambda: RuleResponder(transcripts=list(transcripts)),
                    pacing=Pacing.instant() if options.fast else Pacing.realtime(),
                )
                # The server recognizes speech with the voice extra; without it, the
                # bundled question's words are given, so the stand-in still knows them.
                bundled = options.wav_in is None and not options.mic
                transcripts = [SAMPLE_QUESTION] if bundled and server.recognizer is None else []
                await stack.enter_async_context(server)
                url, where = server.url, f"the local Realtime server at {server.url}"
            out.write(f"{PROG}: talking to {where}\n")
            out.write(f"  input: {given.described}\n  output: {sink_name}\n")
            if options.out is not None:
                out.write(f"  recording to {options.out}/\n")
            out.flush()
            session = connect(
                AGENT,
                url=url,
                api_key=key,
                audio_in=tracked,
                audio_out=sink,
                record=options.out,
                half_duplex=options.half_duplex,
            )
            async with session:
                talk = _Talk(session, tracked, given, _Lines(out))
                failed = await asyncio.wait_for(talk.run(), options.timeout)
                if failed is not None:
                    err.write(f"{PROG}: the session ended: {failed}\n")
                    return 1
                if not options.fast:
                    await session.wait_for_playout()
    except _NoSpeech:
        out.flush()
        err.write(f"{PROG}: {_no_speech(given)}\n")
        return 1
    except TimeoutError:
        out.flush()
        err.write(f"{PROG}: no answer within {options.timeout} s\n")
        return 1
    except AuthenticationError as exc:
        hint = "" if key else " (set OPENAI_API_KEY, or pass --api-key)"
        err.write(f"{PROG}: {exc}{hint}\n")
        return 2
    except RealtimeAgentError as exc:
        err.write(f"{PROG}: {exc}\n")
        return 2
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            close()  # release the sound card
    if options.out is not None:
        names = ", ".join(p.name for p in sorted(options.out.iterdir()))
        out.write(
            f"wrote {options.out}/: {names} (realtime-agent report {options.out}: a page of it)\n"
        )
    return 0
