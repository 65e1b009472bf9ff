"""RealtimeSession: the loop an application embeds. ``async with connect(agent) as session``.

One supervisor task per session owns a TaskGroup with every other task: the reader,
the writer (client events out), the capture (an audio source, if any) and one task per
running tool. Server events go into the core as their frames are parsed, inside the
connection's ``data_received`` (no queue, no task switch per event); the reader task
only takes what cannot come that way (a fragmented message) and the end of the
connection. The core decides; this module carries out its actions:

* events to send go to the writer through two queues: reactions of the core (a
  truncate, a cancel, a tool's output) jump ahead; what the application sends (audio,
  text, commit, response requests) keeps its order and applies backpressure: a full
  audio queue makes ``await send_audio()`` wait. When nothing waits, an audio frame
  leaves at once from the caller's task;
* assistant audio goes to the playout, which feeds the sink; on barge-in the playout
  stops within one frame and tells the core what was heard, so the cut is exact;
* events for the application go to a bounded queue that never blocks the reader: when
  it is full, audio and transcript deltas are dropped and counted
  (``dropped_events``), every other event is kept.

``close()`` is idempotent, bounded in time, and leaves no task behind. A session that
ends by itself (the server closed, the connection dropped) ends its event stream with
a ``Closed`` event that carries the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from realtime_agent.audio.playout import Playout
from realtime_agent.audio.sinks import AudioSink, ClockSink
from realtime_agent.audio.sources import AudioSource
from realtime_agent.errors import (
    AudioError,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import (
    Action,
    CallTool,
    Emit,
    EndAudio,
    PlayAudio,
    SendEvent,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol.core import SessionCore
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.recording import Recorder
from realtime_agent.runtime.transport import Endpoint, Secret, Transport, open_transport
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    SessionUpdate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import InputTextPart, MessageItem
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.server import ServerEvent
from realtime_agent.tools.dispatch import ToolResult, run_call
from realtime_agent.tools.handoff import Handoff

__all__ = ["RealtimeSession", "connect", "gate"]

logger = logging.getLogger("realtime_agent.session")


def gate(frame: bytes, level_dbfs: float) -> bytes:
    """The frame, or silence of the same length if it is quieter than ``level_dbfs``."""
    samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2")
    if samples.size == 0:
        return frame
    power = float(np.mean(samples.astype(np.float64) ** 2))
    if power > 0 and 10 * math.log10(power / 32768.0**2) >= level_dbfs:
        return frame
    return bytes(len(frame))


class RealtimeSession:
    """A live conversation with a Realtime server (see the module docstring).

    Use :func:`connect` to make one. ``async for event in session`` yields the
    application events (:mod:`realtime_agent.runtime.events`) until the session ends.
    """

    def __init__(
        self,
        agent: Agent,
        endpoint: Endpoint,
        *,
        audio_out: AudioSink | None = None,
        audio_in: AudioSource | None = None,
        raw_events: bool = False,
        event_queue: int = 512,
        audio_queue: int = 50,
        jitter_ms: float = 60.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
        record: Recorder | str | Path | None = None,
        half_duplex: float | None = None,
    ) -> None:
        self.agent = agent
        self.endpoint = endpoint
        self.core = SessionCore(tool_names=[t.name for t in agent.tool_list], raw_events=raw_events)
        fmt = agent.output_format
        self.sink: AudioSink = audio_out or ClockSink(rate=fmt.rate, sample_width=fmt.sample_width)
        self.playout = Playout(self.sink, jitter_ms=jitter_ms)
        self.audio_in = audio_in
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.dropped_events = 0
        """Audio and transcript deltas dropped because the application fell behind."""
        self.dropped_audio = 0
        """Input audio frames dropped by ``send_audio_nowait`` because the queue was full."""
        self._transport: Transport | None = None
        self._urgent: deque[ClientEvent] = deque()
        self._ordered: asyncio.Queue[ClientEvent | bytes] = asyncio.Queue(audio_queue)
        self._wake_writer = asyncio.Event()
        self._events: deque[app.AppEvent] = deque()
        self._event_limit = event_queue
        self._events_ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._ended = False
        self._closing = False
        self.half_duplex = half_duplex
        """With speakers and no echo cancellation: while the assistant is audible, input
        frames quieter than this level (dBFS, e.g. -25) are sent as silence, so that the
        assistant does not hear itself; louder speech still barges in."""
        self.recorder = (
            record if isinstance(record, Recorder) or record is None else Recorder(record)
        )
        """The recording tap, if recording is on (``record=`` a directory or a Recorder)."""

    def __repr__(self) -> str:
        state = "ended" if self._ended else "open" if self._supervisor else "new"
        return f"<RealtimeSession {self.agent.name!r} {self.endpoint.url} {state}>"

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect, configure the session from the agent, and start the tasks.

        Raises ConnectError (AuthenticationError when the key is refused).
        """
        if self._supervisor is not None:
            raise LocalProtocolError("the session is already started")
        self._transport = await open_transport(
            self.endpoint, open_timeout=self.open_timeout, close_timeout=self.close_timeout
        )
        self._execute(self.core.send(SessionUpdate(session=self.agent.session_config())))
        # The one task the session creates itself; it owns all the others.
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"realtime-session-{self.agent.name}"
        )

    async def close(self) -> None:
        """End the session: stop every task, close the connection. Idempotent, bounded."""
        if self._closing:
            if self._supervisor is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._supervisor), self.close_timeout)
            return
        self._closing = True
        supervisor = self._supervisor
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(supervisor, self.close_timeout)
        if self._transport is not None:
            await self._transport.close()
        self._end("closed by the application", None)
        if self.recorder is not None:
            self.recorder.close()

    @property
    def busy(self) -> bool:
        """True while a response is active or asked for, or a tool call is running."""
        sequencer = self.core.sequencer
        return sequencer.busy or sequencer.wanted or bool(self.core.calls.running())

    @property
    def ended(self) -> bool:
        """True once the session has ended (its last event is ``Closed``)."""
        return self._ended

    async def _supervise(self) -> None:
        error: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._read(), name="realtime-reader")
                group.create_task(self._write(), name="realtime-writer")
                if self.audio_in is not None:
                    group.create_task(self._capture(self.audio_in), name="realtime-capture")
        except* (TransportError, AudioError) as failure:
            error = failure.exceptions[0]
        except* Exception as failure:  # a bug, not the peer: end the session visibly
            error = failure.exceptions[0]
            logger.error("realtime session task failed", exc_info=error)
        finally:
            self._group = None
        if error is not None:
            self._end(str(error), error)

    def _end(self, reason: str, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._events.append(app.Closed(reason, error))
            self._events_ready.set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        if self._group is None:
            coroutine.close()  # the session is over: nothing may start
            return
        self._group.create_task(coroutine, name=name)

    # --- tasks ---------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._transport is not None
        # The fast path: events go into the core as their frames are parsed; recv() then
        # returns only what cannot come that way, and ends with ConnectionLost.
        self._transport.deliver(self._receive, self._receive_error)
        while True:
            try:
                event = await self._transport.recv()
            except RemoteProtocolError as error:
                self._receive_error(error)
                continue
            self._receive(event)

    def _receive(self, event: ServerEvent | UnknownServerEvent) -> None:
        self._execute(self.core.receive(event))

    def _receive_error(self, error: RemoteProtocolError) -> None:
        self._execute(self.core.receive_error(error))

    async def _write(self) -> None:
        assert self._transport is not None
        while True:
            if self._urgent:
                await self._transport.send(self._urgent.popleft())
            elif not self._ordered.empty():
                item = self._ordered.get_nowait()
                if isinstance(item, bytes):
                    await self._transport.send_audio(item)
                else:
                    await self._transport.send(item)
            else:
                self._wake_writer.clear()
                await self._wake_writer.wait()

    async def _capture(self, source: AudioSource) -> None:
        async for frame in source:
            if self.half_duplex is not None and self.playout.audible:
                frame = gate(frame, self.half_duplex)
            await self.send_audio(frame)

    async def _run_tool(self, call: ToolCall) -> None:
        tool = self.agent.tool_named(call.name)
        if tool is None:  # the agent changed since the call began (a handoff)
            message = f"There is no tool named {call.name!r} any more."
            result = ToolResult(f'{{"error": "{message}"}}', error=message)
        else:
            result = await run_call(tool, call.arguments)
        if result.handoff is not None:
            self._hand_off(result.handoff)
        self._execute(
            self.core.receive_tool_result(call.call_id, result.output, error=result.error)
        )

    def _hand_off(self, handoff: Handoff) -> None:
        given = handoff.agent
        if isinstance(given, Agent):
            target = given
        else:
            target = Agent(
                instructions=given.instructions,
                name=given.name,
                voice=given.voice,
                tools=list(given.tools),
                turn_detection=self.agent.turn_detection,
                input_transcription=self.agent.input_transcription,
                output=self.agent.output,
                input_format=self.agent.input_format,
                output_format=self.agent.output_format,
            )
        previous, spoken = self.agent, self.core.audio_spoken
        self.agent = target
        self.core.tool_names = {t.name for t in target.tool_list}
        config = target.session_config(include_voice=not spoken)
        self._execute(self.core.send(SessionUpdate(session=config)))
        voice_kept = spoken and target.voice is not None and target.voice != previous.voice
        self._emit(app.HandoffDone(previous.name, target.name, voice_kept=voice_kept))

    # --- actions -------------------------------------------------------------------------

    def _execute(self, actions: list[Action]) -> None:
        """Carry out the core's actions, in order (its sends jump the application's queue)."""
        for action in actions:
            match action:  # the most frequent first: this runs per server event
                case Emit(event=event):
                    self._emit(event)
                case PlayAudio(item_id=item_id, content_index=index, audio=audio):
                    self.playout.push(item_id, index, audio)
                    if self.recorder is not None:
                        self.recorder.assistant_audio(audio)
                case SendEvent(event=event):
                    self._urgent.append(event)
                    self._wake_writer.set()
                case EndAudio(item_id=item_id, content_index=index):
                    self.playout.end(item_id, index)
                case StopPlayout(items=items):
                    positions = self.playout.stop(items)
                    self._execute(self.core.playout_stopped(positions))
                case CallTool(call=call):
                    self._spawn(self._run_tool(call), name=f"realtime-tool-{call.name}")

    def _emit(self, event: app.AppEvent) -> None:
        if self.recorder is not None:
            self.recorder.event(event)
        if len(self._events) >= self._event_limit and isinstance(event, app.DROPPABLE):
            self.dropped_events += 1
            return
        self._events.append(event)
        self._events_ready.set()

    async def _submit(self, actions: list[Action]) -> None:
        """The application's own actions: its sends keep their order behind its audio."""
        self._check_open()
        for action in actions:
            if isinstance(action, SendEvent):
                await self._ordered.put(action.event)
                self._wake_writer.set()
            else:
                self._execute([action])

    def _check_open(self) -> None:
        if self._supervisor is None:
            raise LocalProtocolError("the session is not started: use `async with connect(...)`")
        if self._ended or self._closing:
            raise LocalProtocolError("the session has ended")

    # --- the application's side ----------------------------------------------------------

    def __aiter__(self) -> RealtimeSession:
        return self

    async def __anext__(self) -> app.AppEvent:
        while not self._events:
            if self._ended:
                raise StopAsyncIteration
            self._events_ready.clear()
            await self._events_ready.wait()
        return self._events.popleft()

    async def send_audio(self, audio: bytes) -> None:
        """Append input audio (pcm16 24 kHz, or G.711 per the agent); waits if the queue is full.

        When nothing is waiting to be sent, the audio goes out at once from the caller's
        task (the common case: one frame every 20 ms), without a hop through the writer
        task; otherwise it queues behind what waits. Raises ConnectionLost if the
        connection is gone (the session then ends with the same error).
        """
        self._check_open()
        if self.recorder is not None:
            self.recorder.user_audio(audio)
        if self._urgent or not self._ordered.empty() or self._transport is None:
            await self._ordered.put(bytes(audio))
            self._wake_writer.set()
            return
        await self._transport.send_audio(audio)

    def send_audio_nowait(self, audio: bytes) -> bool:
        """Append input audio without waiting; False (and counted) if the queue is full."""
        self._check_open()
        try:
            self._ordered.put_nowait(bytes(audio))
        except asyncio.QueueFull:
            self.dropped_audio += 1
            return False
        self._wake_writer.set()
        if self.recorder is not None:
            self.recorder.user_audio(audio)
        return True

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message; then ask for a response, unless ``respond`` is False."""
        item = MessageItem(role="user", content=[InputTextPart(text=text)])
        await self._submit(self.core.send(ConversationItemCreate(item=item)))
        if respond:
            await self.create_response()

    async def commit(self) -> None:
        """Commit the input audio sent so far as a user turn (push-to-talk)."""
        await self._submit(self.core.send(InputAudioBufferCommit()))

    async def clear_audio(self) -> None:
        """Drop the input audio sent since the last commit."""
        await self._submit(self.core.send(InputAudioBufferClear()))

    async def create_response(self, params: ResponseCreateParams | None = None) -> None:
        """Ask for a response; it is sent when no other response is active."""
        await self._submit(self.core.create_response(params))

    async def interrupt(self) -> None:
        """Cut the assistant off now: cancel its response and truncate at what was heard."""
        self._check_open()
        self._execute(self.core.interrupt())

    async def update_session(self, agent: Agent) -> None:
        """Switch to another agent's instructions, tools and turn-taking (voice permitting)."""
        self._check_open()
        self.agent = agent
        self.core.tool_names = {t.name for t in agent.tool_list}
        config = agent.session_config(include_voice=not self.core.audio_spoken)
        await self._submit(self.core.send(SessionUpdate(session=config)))

    async def send_event(self, event: ClientEvent) -> None:
        """Send any client event as it is (for what the methods above do not cover)."""
        await self._submit(self.core.send(event))


def connect(
    agent: Agent,
    *,
    url: str | None = None,
    api_key: str | Secret | None = None,
    model: str | None = None,
    beta: bool = False,
    azure_resource: str | None = None,
    azure_deployment: str | None = None,
    azure_api_version: str | None = None,
    azure_token: str | Secret | None = None,
    endpoint: Endpoint | None = None,
    **options: Any,
) -> RealtimeSession:
    """A session for ``agent``; use it as ``async with connect(agent, ...) as session``.

    Where to: ``endpoint``; or ``url`` (any Realtime server, such as the local one); or
    ``azure_resource`` and ``azure_deployment`` (with ``azure_api_version`` for the
    preview protocol); or else OpenAI (``model``, key from ``api_key`` or
    ``OPENAI_API_KEY``). ``beta`` speaks the beta dialect. Other options go to
    :class:`RealtimeSession` (``audio_out``, ``audio_in``, ``raw_events``, queue sizes,
    time-outs).
    """
    if endpoint is None:
        if url is not None:
            endpoint = Endpoint.local(url, api_key=api_key, beta=beta)
        elif azure_resource is not None or azure_deployment is not None:
            if azure_resource is None or azure_deployment is None:
                raise LocalProtocolError("Azure needs both azure_resource and azure_deployment")
            endpoint = Endpoint.azure(
                azure_resource,
                azure_deployment,
                api_key=api_key,
                token=azure_token,
                api_version=azure_api_version,
            )
        else:
            endpoint = Endpoint.openai(
                model or agent.model or "gpt-realtime", api_key=api_key, beta=beta
            )
    return RealtimeSession(agent, endpoint, **options)
