"""``realtime-agent demo``: a spoken conversation with a tool call, in one command.

With ``OPENAI_API_KEY`` set it talks to OpenAI; otherwise to the embedded local
Realtime server, which (with the ``voice`` extra) recognizes what was said, calls the
demo's weather tool for the city it heard, and speaks the answer in words. Input: the
microphone when one can be used (``--mic``), else a WAV file (``--in``, by default a
bundled question). Output: the speaker (with ``--mic``), else real-time playback to
nobody. Either way ``--out DIR`` gets the recording: ``user.wav``, ``assistant.wav``
and ``transcript.jsonl``. It prints the transcripts, the tool calls and each turn's
figures (from the end of speech to the first sound heard).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from realtime_agent.audio.sinks import AudioSink, ClockSink
from realtime_agent.audio.sources import AudioSource, WavSource
from realtime_agent.errors import RealtimeAgentError
from realtime_agent.protocol import events as app
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.session import RealtimeSession, connect
from realtime_agent.tools.tool import tool

__all__ = ["SAMPLE_QUESTION", "DemoOptions", "run_demo"]

SAMPLE_QUESTION = "What is the weather like in Paris today?"
"""The words of the bundled sample utterance."""


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
    mic: bool = False
    fast: bool = False
    """Instant server pacing and unpaced input (for tests): the conversation, not the timing."""
    timeout: float | None = 60.0
    """Give up after this many seconds (None: never; the microphone runs until Ctrl-C)."""
    half_duplex: float | None = None
    """Gate the microphone below this level (dBFS) while the agent speaks (no headphones)."""
    device: int | str | None = None
    """The microphone and speaker to use (index or part of the name); None for the defaults."""


class _Tracked:
    """A source that says when it has run out."""

    def __init__(self, source: AudioSource) -> None:
        self.source = source
        self.finished = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for frame in self.source:
            yield frame
        self.finished.set()


async def _events(
    session: RealtimeSession, input_ended: asyncio.Event
) -> AsyncIterator[app.AppEvent | None]:
    """The session's events, and None once, when the input runs out (the turn may have
    ended before its last frames of silence were sent)."""
    ended: asyncio.Future[bool] = asyncio.ensure_future(input_ended.wait())
    upcoming: asyncio.Future[app.AppEvent] | None = None
    said = False
    try:
        while True:
            upcoming = asyncio.ensure_future(anext(session))
            while not upcoming.done():
                waiting: set[asyncio.Future[Any]] = {upcoming} if said else {upcoming, ended}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not said and ended.done():
                    said = True
                    yield None
            try:
                event = upcoming.result()
            except StopAsyncIteration:
                return
            yield event
    finally:
        ended.cancel()
        if upcoming is not None:
            upcoming.cancel()


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


async def _converse(
    session: RealtimeSession, source: _Tracked, out: TextIO, *, play_out: bool
) -> None:
    answered = False  # the last response was an answer (no tool calls: nothing follows it)
    reported = False  # and its turn's figures came (once it was heard)
    calls = False  # the response in progress called tools (a response to their answers follows)
    async for event in _events(session, source.finished):
        match event:
            case None if reported:  # the input ran out after the answer was heard
                break
            case app.SpeechStarted():
                answered = reported = False
            case app.AgentStart():
                answered = reported = calls = False
            case app.TurnMetrics() as turn:
                out.write(describe_turn(turn))
                reported = answered
                if reported and source.finished.is_set():
                    break
            case app.Transcript(role="user", text=text):
                out.write(f"[you]        {text}\n")
            case app.ToolStart(name=name, arguments=arguments):
                calls = True
                out.write(f"[tool call]  {name}({arguments})\n")
            case app.ToolEnd(output=output, error=error):
                out.write(f"[tool done]  {error or output}\n")
            case app.Transcript(role="assistant", text=text):
                out.write(f"[assistant]  {text}\n")
            case app.AudioInterrupted(played_ms=played):
                out.write(f"  (interrupted after {played} ms)\n")
            case app.ErrorRaised(message=message):
                out.write(f"[error]      {message}\n")
            case app.Closed(reason=reason, error=error) if error is not None:
                out.write(f"[closed]     {reason}\n")
                return
            case app.AgentEnd(status="completed") if not calls:
                answered = True  # its figures come once it was heard
        out.flush()
    if play_out:
        await session.wait_for_playout()


def microphone_available() -> bool:
    """True when pyaudio is installed and PortAudio sees an input and an output device."""
    from realtime_agent.audio.devices import list_devices

    try:
        found = list_devices()
    except RealtimeAgentError:
        return False
    return any(d.inputs for d in found) and any(d.outputs for d in found)


def _input(options: DemoOptions) -> tuple[AudioSource, str]:
    if options.mic:
        from realtime_agent.audio.devices import Microphone

        microphone = Microphone(options.device)
        microphone.resolve()  # a missing device is a clear error now, not mid-conversation
        return microphone, f"the microphone ({options.device or 'default'})"
    path = options.wav_in or sample_wav()
    described = f"{path}" if options.wav_in else f'the bundled question ("{SAMPLE_QUESTION}")'
    return WavSource(path, realtime=not options.fast), described


def _output(options: DemoOptions) -> tuple[AudioSink, str]:
    if options.mic:
        from realtime_agent.audio.devices import Speaker

        return Speaker(options.device), f"the speaker ({options.device or 'default'})"
    return ClockSink(), "real-time playback to nobody (no speaker)"


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; the exit status. Errors are one line on ``out``, never a traceback."""
    from realtime_agent.server import LocalRealtimeServer, Pacing, RuleResponder

    try:
        source, source_name = _input(options)
        sink, sink_name = _output(options)
    except RealtimeAgentError as exc:
        out.write(f"realtime-agent demo: {exc}\n")
        return 2
    tracked = _Tracked(source)
    key = os.environ.get("OPENAI_API_KEY")
    server = LocalRealtimeServer(
        responder=lambda: RuleResponder(transcripts=list(transcripts)),
        pacing=Pacing.instant() if options.fast else Pacing.realtime(),
    )
    # The server recognizes speech with the voice extra; without it, the bundled
    # question's words are given, so the stand-in model still knows what was asked.
    bundled = options.wav_in is None and not options.mic
    transcripts = [SAMPLE_QUESTION] if bundled and server.recognizer is None else []
    try:
        async with server:
            url: str | None
            if options.url:
                url, where = options.url, options.url
            elif key:
                url, where = None, "OpenAI (OPENAI_API_KEY is set)"
            else:
                url, where = server.url, f"the local Realtime server at {server.url}"
            out.write(f"realtime-agent demo: talking to {where}\n")
            out.write(f"  input: {source_name}\n  output: {sink_name}\n")
            if options.out is not None:
                out.write(f"  recording to {options.out}/\n")
            out.flush()
            session = connect(
                AGENT,
                url=url,
                audio_in=tracked,
                audio_out=sink,
                record=options.out,
                half_duplex=options.half_duplex,
            )
            async with session:
                await asyncio.wait_for(
                    _converse(session, tracked, out, play_out=not options.fast), options.timeout
                )
    except TimeoutError:
        out.write(f"realtime-agent demo: no answer within {options.timeout} s\n")
        return 1
    except RealtimeAgentError as exc:
        out.write(f"realtime-agent demo: {exc}\n")
        return 2
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            close()  # release the sound card
    if options.out is not None:
        names = ", ".join(p.name for p in sorted(options.out.iterdir()))
        out.write(f"wrote {options.out}/: {names}\n")
    return 0
