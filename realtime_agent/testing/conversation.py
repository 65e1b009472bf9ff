"""Conversations for tests: say something to an agent, then assert what it did.

::

    async with converse(agent, realtime_server) as talk:
        await talk.say("What's the weather in Paris?")
        talk.assert_called("get_weather", city="Paris")
        talk.assert_said("sunny")

:func:`converse` connects the agent (:func:`realtime_agent.connect`) and reads the
session's events for you: each :meth:`Conversation.say` (typed text) or
:meth:`Conversation.say_audio` (speech: pcm16 or a WAV file) waits until the assistant's
turn is over, every response ended and every tool call answered, follow-ups included,
and returns a :class:`Turn`: what the user said, the tool calls with their arguments and
outputs, what the assistant said, the errors. The ``assert_*`` methods look at the
latest turn, and fail with what was expected and what happened.

Assistant audio goes to an :class:`InstantSink` unless you pass ``audio_out``: it is
heard the moment it arrives, so a test's next turn never barges in on the previous one.

A scripted server's failed expectation (:mod:`realtime_agent.server.script`) reaches the
client as an ``error`` event: the helper raises it at once, as a
:class:`~realtime_agent.server.script.ScriptExpectationError` (an ``AssertionError``).

It runs on asyncio (pytest-asyncio, or anyio's asyncio backend). Text spoken by a voice
is not made here yet: synthesise it yourself and give the audio to ``say_audio``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from realtime_agent.audio.format import AudioFormat
from realtime_agent.audio.g711 import pcm16_to_alaw, pcm16_to_ulaw
from realtime_agent.audio.resample import Resampler
from realtime_agent.audio.sinks import AudioSink
from realtime_agent.audio.sources import read_wav
from realtime_agent.errors import excerpt
from realtime_agent.runtime import events as app
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.session import RealtimeSession, connect
from realtime_agent.schema.session import SemanticVad, ServerVad

if TYPE_CHECKING:
    from realtime_agent.server.speech import EspeakVoice
from realtime_agent.server.script import (
    EXPECTATION_FAILED,
    ConversationScript,
    ScriptExpectationError,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Conversation",
    "ConversationTimeout",
    "InstantSink",
    "ToolCall",
    "Turn",
    "converse",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds a turn may take before the helper gives up (:class:`ConversationTimeout`)."""

_CHUNK_MS = 100  # audio is sent in appends of this much, as a microphone would
_TAIL_MS = 500  # silence after the VAD's own silence duration, so that the turn surely ends
_SEMANTIC_SILENCE_MS = {"low": 1500, "medium": 700, "auto": 700, "high": 300}


class ConversationTimeout(AssertionError):
    """A turn did not end in time; the message says what had happened by then."""


class InstantSink:
    """An :class:`~realtime_agent.audio.sinks.AudioSink` whose listener hears all audio the
    moment it arrives: nothing is ever queued, so nothing can be cut off."""

    def __init__(self, *, rate: int = 24000, sample_width: int = 2) -> None:
        self._rate = rate
        self._width = sample_width
        self._samples = 0

    @property
    def rate(self) -> int:
        """Samples per second."""
        return self._rate

    @property
    def sample_width(self) -> int:
        """Bytes per sample."""
        return self._width

    @property
    def played_samples(self) -> int:
        """Every sample written."""
        return self._samples

    @property
    def written_samples(self) -> int:
        """The same: all was heard."""
        return self._samples

    def write(self, audio: bytes) -> None:
        """Hear it."""
        self._samples += len(audio) // self._width

    def clear(self) -> int:
        """Nothing is queued: nothing to drop."""
        return 0


@dataclass
class ToolCall:
    """A tool call of a turn, with its answer once it came."""

    call_id: str
    name: str
    arguments_json: str
    """The arguments as the model sent them (JSON text)."""
    output: str | None = None
    """What the tool returned (None while it runs)."""
    error: str | None = None
    """What went wrong, if the tool failed (its output says so to the model too)."""

    @property
    def arguments(self) -> dict[str, Any] | None:
        """The arguments as an object; None if they are not a JSON object."""
        try:
            value = json.loads(self.arguments_json)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def __str__(self) -> str:
        shown = f"{self.name}({_call_arguments(self.arguments, self.arguments_json)})"
        if self.error is not None:
            return f"{shown} -> error: {excerpt(self.error, 120)}"
        if self.output is not None:
            return f"{shown} -> {excerpt(self.output, 120)!r}"
        return f"{shown} (not answered)"


def _call_arguments(arguments: dict[str, Any] | None, raw: str) -> str:
    if arguments is None:
        return f"<not a JSON object: {excerpt(raw, 80)!r}>"
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


@dataclass
class Turn:
    """What happened after the user said something, until the assistant was done."""

    user: str | None = None
    """What the user typed, or the transcript of what they said (when the agent asks for
    input transcription); None for audio without one."""
    audio_ms: float = 0.0
    """The user's audio, in ms (speech and the silence sent after it)."""
    calls: list[ToolCall] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    """The assistant's messages (transcripts of its speech, or its text), in order."""
    responses: list[app.AgentEnd] = field(default_factory=list)
    """How each response ended (``status``: completed, cancelled, failed, incomplete)."""
    errors: list[app.ErrorRaised] = field(default_factory=list)
    interruptions: list[app.AudioInterrupted] = field(default_factory=list)
    closed: app.Closed | None = None
    """The session ended during the turn (a dropped connection, say)."""
    events: list[app.AppEvent] = field(default_factory=list, repr=False)
    """Every event of the turn, in order."""

    @property
    def text(self) -> str:
        """What the assistant said, its messages joined by spaces."""
        return " ".join(self.said)

    def describe(self) -> str:
        """The turn, one line per thing that happened (for failure messages)."""
        lines = [f"  user: {self.user!r}" if self.user is not None else "  user: (audio)"]
        lines += [f"  tool: {call}" for call in self.calls]
        lines += [f"  assistant: {text!r}" for text in self.said]
        lines += [f"  error: {error.code}: {error.message}" for error in self.errors]
        lines += [
            f"  response {end.status}" + (f" ({end.reason})" if end.reason else "")
            for end in self.responses
            if end.status != "completed"
        ]
        if not self.calls and not self.said and not self.errors:
            lines.append("  (the assistant did not answer)")
        if self.closed is not None:
            lines.append(f"  session ended: {self.closed.reason}")
        return "\n".join(lines)

    def _fail(self, message: str) -> AssertionError:
        return AssertionError(f"{message}\nthe turn:\n{self.describe()}")

    def assert_called(self, tool: str, /, **arguments: Any) -> ToolCall:
        """Assert that ``tool`` was called, with these arguments among its own (compared
        as JSON values: ``city="Paris"``); return that call."""
        calls = [call for call in self.calls if call.name == tool]
        wanted = f"{tool}({_call_arguments(arguments, '')})" if arguments else tool
        if not calls:
            made = ", ".join(str(call) for call in self.calls) or "no tool was called"
            raise self._fail(f"expected a call to {wanted}; {made}")
        for call in calls:
            given = call.arguments
            if given is not None and all(
                key in given and given[key] == value for key, value in arguments.items()
            ):
                return call
        made = "; ".join(str(call) for call in calls)
        raise self._fail(f"expected a call to {wanted}; it was called as {made}")

    def assert_not_called(self, tool: str | None = None, /) -> None:
        """Assert that no tool (or not ``tool``) was called."""
        calls = [call for call in self.calls if tool is None or call.name == tool]
        if calls:
            what = "no tool call" if tool is None else f"no call to {tool}"
            raise self._fail(f"expected {what}; {'; '.join(str(c) for c in calls)}")

    def assert_said(self, expected: str | re.Pattern[str]) -> None:
        """Assert that the assistant said ``expected``: a substring (in any case) of its
        messages, or a regular expression found in them."""
        text = self.text
        if isinstance(expected, re.Pattern):
            if expected.search(text):
                return
            shown = f"something matching {expected.pattern!r}"
        else:
            if expected.lower() in text.lower():
                return
            shown = repr(expected)
        said = f"it said {text!r}" if self.said else "it said nothing"
        raise self._fail(f"expected the assistant to say {shown}; {said}")


class _HasUrl(Protocol):
    @property
    def url(self) -> str: ...


class Conversation:
    """A session driven turn by turn (see the module docstring). Make one with
    :func:`converse`; it reads the session's events: do not iterate the session too."""

    def __init__(
        self,
        session: RealtimeSession,
        *,
        turn_timeout: float = DEFAULT_TIMEOUT,
        script: ConversationScript | None = None,
    ) -> None:
        self.session = session
        self.turn_timeout = turn_timeout
        self.script = script
        """The script the server plays, when known (a ``ServerThread``'s): its failed
        expectations are raised after the turn in which they failed."""
        """Seconds each turn may take."""
        self.turns: list[Turn] = []
        """Every turn so far, oldest first."""

    @property
    def last(self) -> Turn:
        """The latest turn. Raises AssertionError before the first."""
        if not self.turns:
            raise AssertionError("nothing was said yet: say() or say_audio() first")
        return self.turns[-1]

    # --- saying ------------------------------------------------------------------------

    async def say(self, text: str, *, turn_timeout: float | None = None) -> Turn:
        """Type ``text`` as the user's message, ask for a response, and wait for the turn."""
        turn = Turn(user=text)
        await self.session.send_text(text)
        return await self._wait(turn, spoken=False, turn_timeout=turn_timeout)

    async def say_audio(
        self,
        audio: bytes | str | os.PathLike[str],
        *,
        silence_ms: float | None = None,
        turn_timeout: float | None = None,
    ) -> Turn:
        """Say ``audio`` (pcm16 24 kHz mono bytes, or a WAV file of any format) and wait
        for the turn.

        With server VAD (the agent's default) the audio is followed by ``silence_ms`` of
        silence (default: the VAD's silence duration and half a second), so that the
        server hears the turn end, commits it and responds; with push-to-talk
        (``turn_detection=None``) it is committed and a response asked for.
        """
        agent = self.session.agent
        fmt = agent.input_format
        detection = _detection(agent)
        pause = 0.0
        if detection is not None:
            pause = _silence_ms(detection) + _TAIL_MS if silence_ms is None else silence_ms
        # Reading, resampling and encoding take a while for long audio: not on the loop.
        pcm = await asyncio.to_thread(_input_audio, audio, fmt, pause)
        turn = Turn(audio_ms=fmt.ms(len(pcm)))
        chunk = fmt.nbytes(_CHUNK_MS)
        for start in range(0, len(pcm), chunk):
            await self.session.send_audio(pcm[start : start + chunk])
        if detection is None:
            await self.session.commit()
            await self.session.create_response()
        return await self._wait(turn, spoken=True, turn_timeout=turn_timeout)

    async def speak(
        self, text: str, *, voice: str = "marin", turn_timeout: float | None = None
    ) -> Turn:
        """Say ``text`` aloud: espeak-ng speaks it (the ``voice`` extra), the audio goes
        as :meth:`say_audio`'s, and the server recognizes it as it would a user's.

        ``voice`` is one of the server's voice names (``marin`` and ``sage`` are the ones
        its recognizer hears best: ``bench/stt.py``). Raises RuntimeError without the
        extra."""
        speech = await asyncio.to_thread(_spoken, text, voice)
        return await self.say_audio(bytes(48 * 200) + speech, turn_timeout=turn_timeout)

    async def listen(self, *, turn_timeout: float | None = None) -> Turn:
        """Wait for a turn the user did not start (the server's idle timeout, a response
        asked for with ``session.create_response``)."""
        return await self._wait(Turn(), spoken=True, turn_timeout=turn_timeout)

    # --- assertions on the latest turn --------------------------------------------------

    def assert_called(self, tool: str, /, **arguments: Any) -> ToolCall:
        """:meth:`Turn.assert_called` on the latest turn."""
        return self.last.assert_called(tool, **arguments)

    def assert_not_called(self, tool: str | None = None, /) -> None:
        """:meth:`Turn.assert_not_called` on the latest turn."""
        self.last.assert_not_called(tool)

    def assert_said(self, expected: str | re.Pattern[str]) -> None:
        """:meth:`Turn.assert_said` on the latest turn."""
        self.last.assert_said(expected)

    # --- reading the turn -----------------------------------------------------------------

    async def _wait(self, turn: Turn, *, spoken: bool, turn_timeout: float | None) -> Turn:
        self.turns.append(turn)
        state = _TurnState()
        failed_before = len(self.script.failures) if self.script is not None else 0
        limit = self.turn_timeout if turn_timeout is None else turn_timeout
        try:
            async with asyncio.timeout(limit):
                while not state.over(turn, self.session):
                    try:
                        event = await anext(self.session)
                    except StopAsyncIteration:
                        break  # the session ended: its Closed was read already
                    state.note(turn, event)
        except TimeoutError:
            raise ConversationTimeout(
                f"the turn did not end within {limit:g} s: {state.progress(spoken)}\n"
                f"the turn so far:\n{turn.describe()}"
            ) from None
        if self.script is not None and len(self.script.failures) > failed_before:
            # A refusal the client sees only as a failed response (when the server
            # decided after recognising speech): the script has the words.
            failures = self.script.failures[failed_before:]
            raise ScriptExpectationError(
                "\n".join(failure.message for failure in failures), failures
            )
        return turn


@dataclass
class _TurnState:
    """What the events of a turn tell about whether it is over."""

    started: int = 0
    ended: int = 0
    calls_open: set[str] = field(default_factory=set)
    calls_in_response: int = 0
    follow_up_owed: bool = False
    refused: bool = False
    heard_speech: bool = False

    def note(self, turn: Turn, event: app.AppEvent) -> None:
        turn.events.append(event)
        match event:
            case app.AgentStart():
                self.started += 1
                self.calls_in_response = 0
            case app.AgentEnd():
                self.ended += 1
                turn.responses.append(event)
                self.follow_up_owed = self.calls_in_response > 0 and event.status != "cancelled"
            case app.ToolStart():
                self.calls_in_response += 1
                self.calls_open.add(event.call_id)
                turn.calls.append(ToolCall(event.call_id, event.name, event.arguments))
            case app.ToolEnd():
                self.calls_open.discard(event.call_id)
                for call in turn.calls:
                    if call.call_id == event.call_id:
                        call.output, call.error = event.output, event.error
            case app.Transcript(role="assistant"):
                turn.said.append(event.text)
            case app.Transcript(role="user"):
                turn.user = event.text
            case app.SpeechStarted():
                self.heard_speech = True
            case app.AudioInterrupted():
                turn.interruptions.append(event)
            case app.ErrorRaised():
                turn.errors.append(event)
                if event.code == EXPECTATION_FAILED:
                    raise ScriptExpectationError(event.message)
                # An error naming a request of ours, before any response: it was refused.
                detail = event.detail
                self.refused = self.refused or (detail is not None and detail.event_id is not None)
            case app.Closed():
                turn.closed = event
            case _:
                pass

    def over(self, turn: Turn, session: RealtimeSession) -> bool:
        """True once every response begun has ended, every call is answered, and no
        follow-up is owed (or the session ended, or our request was refused)."""
        if turn.closed is not None:
            return True
        if self.started == 0:
            return self.refused and not session.busy
        return (
            self.ended >= self.started
            and not self.calls_open
            and not self.follow_up_owed
            and not session.busy
        )

    def progress(self, spoken: bool) -> str:
        if self.started == 0:
            if spoken and not self.heard_speech:
                return "no response began, and the server's VAD heard no speech in the audio"
            return "no response began"
        words = [f"{self.started} response(s) began, {self.ended} ended"]
        if self.calls_open:
            words.append(f"{len(self.calls_open)} tool call(s) still running")
        elif self.follow_up_owed:
            words.append("the response to the tools' outputs has not begun")
        return "; ".join(words)


def _spoken(text: str, voice: str) -> bytes:
    return _espeak().synthesize(text, voice).pcm


@functools.cache
def _espeak() -> EspeakVoice:
    from realtime_agent.server.speech import EspeakVoice

    return EspeakVoice()


def _input_audio(audio: bytes | str | os.PathLike[str], fmt: AudioFormat, pause_ms: float) -> bytes:
    """``audio`` (pcm16 24 kHz, or a file) and ``pause_ms`` of silence, in ``fmt``."""
    if isinstance(audio, bytes | bytearray | memoryview):
        pcm, rate = bytes(audio), 24000
    else:
        pcm, rate = read_wav(os.fspath(audio), rate=fmt.rate), fmt.rate
    pcm += bytes(2 * int(rate * pause_ms / 1000))
    if rate != fmt.rate:
        resampler = Resampler(rate, fmt.rate, frame_ms=1000)
        pcm = b"".join(resampler.push(pcm) + resampler.flush())
    if fmt.encoding == "ulaw":
        return pcm16_to_ulaw(pcm)
    if fmt.encoding == "alaw":
        return pcm16_to_alaw(pcm)
    return pcm


def _detection(agent: Agent) -> ServerVad | SemanticVad | None:
    match agent.turn_detection:
        case "server_vad":
            return ServerVad()
        case "semantic_vad":
            return SemanticVad()
        case _:
            return agent.turn_detection


def _silence_ms(detection: ServerVad | SemanticVad) -> float:
    if isinstance(detection, ServerVad):
        return float(detection.silence_duration_ms or 500)
    return float(_SEMANTIC_SILENCE_MS.get(detection.eagerness or "auto", 700))


@contextlib.asynccontextmanager
async def converse(
    agent: Agent | RealtimeSession,
    url: str | _HasUrl | None = None,
    *,
    turn_timeout: float = DEFAULT_TIMEOUT,
    audio_out: AudioSink | None = None,
    **connect_options: Any,
) -> AsyncIterator[Conversation]:
    """A :class:`Conversation` with ``agent``: ``async with converse(agent, url) as talk``.

    ``agent`` is an :class:`~realtime_agent.Agent` (connected to ``url``, a URL or anything
    with a ``url``, like the ``realtime_server`` fixture, with ``connect_options`` for
    :func:`realtime_agent.connect`; closed at the end), or a session of yours (started if
    it is not; left open at the end). ``turn_timeout``: seconds each turn may take.
    """
    script = getattr(url, "script", None)
    if not isinstance(script, ConversationScript):
        script = None
    if isinstance(agent, RealtimeSession):
        if url is not None:
            raise TypeError("converse(session) uses the session's own URL: give no url")
        session, owned = agent, False
        if not session.transport:
            await session.start()
    else:
        if url is not None and not isinstance(url, str):
            url = url.url
        fmt = agent.output_format
        sink = audio_out or InstantSink(rate=fmt.rate, sample_width=fmt.sample_width)
        session, owned = connect(agent, url=url, audio_out=sink, **connect_options), True
        await session.start()
    try:
        yield Conversation(session, turn_timeout=turn_timeout, script=script)
    finally:
        if owned:
            await session.close()
