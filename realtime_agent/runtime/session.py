"""RealtimeSession: the loop an application embeds. ``async with connect(agent) as session``.

One supervisor task per session owns a TaskGroup with every other task: the reader,
the writer (client events out), the capture (an audio source, if any) and one task per
tool call. Server events go into the core as their frames are parsed, inside the
connection's ``data_received`` (no queue, no task switch per event); the reader task
only takes what cannot come that way (a fragmented message) and the end of the
connection. The core decides; this module carries out its actions:

* events to send go to the writer through two queues: reactions of the core (a
  truncate, a cancel, a tool's output) jump ahead, up to :data:`URGENT_LIMIT` waiting
  (past that the server is not reading, and the session ends); what the application
  sends (audio, text, commit, response requests) keeps its order in a bounded
  :class:`~realtime_agent.runtime.queues.Outbox` that applies backpressure: a full
  outbox makes ``await send_audio()`` wait. When nothing waits, an audio frame leaves
  at once from the caller's task;
* assistant audio goes to the playout, which feeds the sink; on barge-in the playout
  stops within one frame and tells the core what was heard, so the cut is exact;
* events for the application go to a bounded queue that never blocks the reader
  (:class:`~realtime_agent.runtime.queues.AppEvents`: deltas dropped and counted,
  history updates coalesced).

Ending: ``close()`` is idempotent and returns within ``close_timeout`` whatever a tool
does; a tool may call it (a "hang up" tool: it is neither cancelled nor waited for);
a caller cancelled while closing gets its ``CancelledError`` (the close goes on, in
its own task, to the end). A task that ignores its cancellation is abandoned at the
bound, and logged. A session that ends by itself (the server closed, the connection
dropped, the application stopped reading) ends the same way. Either way the event
stream ends with a ``Closed`` event (with the error, when the session was not closed
by the application), and every sender still waiting gets the session's end error.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import math
import secrets
import string
import time
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
    ConnectionLost,
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
    HistoryChanged,
    PlayAudio,
    SendEvent,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol.core import SessionCore
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.connections import ROLLOVER_AFTER, Connections
from realtime_agent.runtime.continuity import ReconnectPolicy
from realtime_agent.runtime.queues import AppEvents, Outbox
from realtime_agent.runtime.recording import Recorder
from realtime_agent.runtime.telemetry import LAG_PROBE_INTERVAL, TRACKED, TurnTracker
from realtime_agent.runtime.tracing import Tracing
from realtime_agent.runtime.transport import (
    Endpoint,
    Secret,
    Transport,
    TransportFactory,
    open_transport,
)
from realtime_agent.schema import codec, dialect
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemTruncate,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ResponseCreate,
    SessionUpdate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.dialect import Dialect
from realtime_agent.schema.items import InputTextPart, MessageItem
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.server import ServerEvent
from realtime_agent.tools.dispatch import DEFAULT_THREADS, ToolRunner, failure
from realtime_agent.tools.handoff import Handoff

__all__ = ["URGENT_LIMIT", "RealtimeSession", "connect", "current_session", "gate"]

logger = logging.getLogger("realtime_agent.session")

#: The core's own sends (truncates, cancels, tool outputs) that may wait for the socket.
URGENT_LIMIT = 1024

_current: contextvars.ContextVar[RealtimeSession] = contextvars.ContextVar("realtime_session")


def current_session() -> RealtimeSession:
    """The session running the current tool call (or any task of that session).

    For a tool that acts on its session, a "hang up" tool for one::

        @tool
        async def hang_up() -> str:
            \"\"\"End the call.\"\"\"
            session = current_session()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await session.wait_for_playout()  # let the goodbye be heard
            await session.close()
            return "ended"

    Raises LocalProtocolError outside a session's tasks.
    """
    try:
        return _current.get()
    except LookupError:
        raise LocalProtocolError("current_session() is known only in a session's tool") from None


def gate(frame: bytes, level_dbfs: float) -> bytes:
    """The frame, or silence of the same length if it is quieter than ``level_dbfs``."""
    samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2")
    if samples.size == 0:
        return frame
    power = float(np.mean(samples.astype(np.float64) ** 2))
    if power > 0 and 10 * math.log10(power / 32768.0**2) >= level_dbfs:
        return frame
    return bytes(len(frame))


def _new_item_id() -> str:
    """An item id as the API makes them: ``item_`` and 21 letters and digits."""
    return "item_" + "".join(secrets.choice(_ID_CHARS) for _ in range(21))


_ID_CHARS = string.ascii_letters + string.digits


def _sendable(event: ClientEvent, beta: bool) -> ClientEvent:
    """The event, if it can be written as JSON text (in the beta dialect too, if that is the
    connection's); else LocalProtocolError, at the call, not later in the writer."""
    try:
        codec.encode(dialect.client_to_beta(event) if beta else event).encode("utf-8")
    except (ValueError, UnicodeError) as exc:  # lone surrogates, what beta cannot say
        raise LocalProtocolError(f"cannot send {event.type}: {exc}") from None
    return event


class RealtimeSession:
    """A live conversation with a Realtime server (see the module docstring).

    Use :func:`connect` to make one. ``async for event in session`` yields the
    application events (:mod:`realtime_agent.runtime.events`) until the session ends.

    Args:
        agent: who the assistant is (instructions, voice, tools, turn-taking).
        endpoint: where to connect and with which key.
        audio_out: where assistant audio plays; default a ``ClockSink`` (real time, to
            nobody). Use a ``Speaker`` or a ``RemoteSink`` (your far end reports).
        audio_in: a source of input frames (a ``Microphone``, ``WavSource``,
            ``ArraySource``, any async iterator of pcm16 frames), sent as they come.
        raw_events: also give the application every server event (``RawServerEvent``).
        event_queue: events waiting for the application before deltas are dropped; the
            session ends if 16 times as many pile up (the application is not reading).
        audio_queue: the application's sends that may wait for the socket before
            ``send_audio()`` and the other sends wait.
        jitter_ms: audio held before playback starts (and after an underrun).
        open_timeout: seconds to connect.
        close_timeout: the bound on ``close()``, whatever the tools do.
        record: a directory (or a ``Recorder``) to record both sides to, on one timeline
            (see :mod:`realtime_agent.runtime.recording`); it starts once connected.
        half_duplex: see :attr:`half_duplex`.
        transport: how to open the connection (default: websockets); any coroutine
            function taking ``(endpoint, *, open_timeout, close_timeout)`` and returning
            a :class:`~realtime_agent.runtime.transport.Transport`.
        tool_threads: worker threads for sync tools.
        reconnect: how to come back after a transient failure (a drop, 1001 at the
            60-minute cap, 1011, 1012, 1013); None ends the session at the first one.
            See :mod:`realtime_agent.runtime.continuity` for what is replayed.
        rollover_after: seconds after which a connection is replaced, make-before-break,
            at the next turn boundary (default 55 minutes: the API closes at 60); None
            never rolls over.
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
        transport: TransportFactory = open_transport,
        tool_threads: int = DEFAULT_THREADS,
        reconnect: ReconnectPolicy | None = ReconnectPolicy(),  # noqa: B008 (frozen)
        rollover_after: float | None = ROLLOVER_AFTER,
    ) -> None:
        self.agent = agent
        self.reconnect = reconnect
        self.rollover_after = rollover_after
        self._connections = Connections(self, reconnect, rollover_after)
        self.endpoint = endpoint
        self.core = SessionCore(tool_names=[t.name for t in agent.tool_list], raw_events=raw_events)
        fmt = agent.output_format
        self.sink: AudioSink = audio_out or ClockSink(rate=fmt.rate, sample_width=fmt.sample_width)
        self.recorder = (
            record if isinstance(record, Recorder) or record is None else Recorder(record)
        )
        """The recording tap, if recording is on (``record=`` a directory or a Recorder)."""
        # The recording sees the playout: what is written to the sink, where it plays.
        played_to = self.sink if self.recorder is None else self.recorder.tap(self.sink)
        self.playout = Playout(played_to, jitter_ms=jitter_ms)
        self.audio_in = audio_in
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.dropped_audio = 0
        """Input audio frames dropped by ``send_audio_nowait`` because the queue was full."""
        self._open = transport
        self._transport: Transport | None = None
        self._seed: deque[ClientEvent] = deque()  # a new connection's replay: sent first
        self._urgent: deque[ClientEvent] = deque()
        self._outbox: Outbox[ClientEvent | bytes] = Outbox(audio_queue)
        self._wake_writer = asyncio.Event()
        self._events = AppEvents(event_queue, self.core.conversation.items)
        self._tracing: Tracing | None = None  # from start(): a session never started has none
        self._turns = TurnTracker(
            self._turn_done, lambda: self.busy, lambda key: self.playout.handles.get(key)
        )
        self._urgent_high_water = 0
        self._lag_max = 0.0  # seconds: the event loop's worst lag seen by the probe
        self._started_at = 0.0
        self._tools = ToolRunner(threads=tool_threads)
        self._supervisor: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._started = False
        self._ended = False
        self._ended_event = asyncio.Event()
        self._end_error: BaseException | None = None  # why it ended, when not closed by the app
        self.half_duplex = half_duplex
        """With speakers and no echo cancellation: while the assistant is audible, input
        frames quieter than this level (dBFS, e.g. -25) are sent as silence, so that the
        assistant does not hear itself; louder speech still barges in."""

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

        Raises ConnectError (AuthenticationError when the key is refused); the session
        has then ended. Raises LocalProtocolError if it was started before.
        """
        if self._started:
            raise LocalProtocolError("a session starts once: make a new one with connect()")
        self._started = True
        self._tracing = Tracing.start(self.agent, self.endpoint)
        try:
            self._transport = await self._open(
                self.endpoint, open_timeout=self.open_timeout, close_timeout=self.close_timeout
            )
        except BaseException as exc:
            self._finish(f"could not connect: {exc}", exc if isinstance(exc, Exception) else None)
            raise
        if self._ended:  # close() came while it connected
            await self._transport.close()
            raise LocalProtocolError("the session was closed while it connected")
        if self.recorder is not None:  # only now: a failed start leaves an old recording be
            agent = self.agent
            self.recorder.start(input_format=agent.input_format, output_format=agent.output_format)
        self._started_at = time.monotonic()
        self._execute(self.core.send(SessionUpdate(session=self.agent.session_config())))
        # The one task the session creates itself; it owns all the others.
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"realtime-session-{self.agent.name}", context=self._context()
        )

    async def close(self) -> None:
        """End the session: stop every task, close the connection; then ``Closed`` comes.

        Idempotent; returns within ``close_timeout``. From inside a tool (a "hang up"
        tool) the calling tool is neither cancelled nor waited for: it goes on once
        this returns, and its result is dropped. If the calling task is cancelled
        meanwhile, its ``CancelledError`` propagates; the close goes on to its end.
        """
        if self._supervisor is None:  # never started, or could not connect
            self._finish("closed by the application", None)
            return
        current = asyncio.current_task()
        if current is not None:
            self._tools.detach(current)
        closer = self._begin_close(None, "closed by the application")
        if current is not closer:
            await asyncio.shield(closer)

    async def wait_ended(self) -> None:
        """Wait until the session has ended, without reading its events (they stay queued)."""
        await self._ended_event.wait()

    async def wait_for_playout(self) -> bool:
        """Wait until the assistant audio received so far has been heard (or was cut).

        True once it has; False if the session ended first. It looks at the sink's
        position as often as the audio left needs (bound it with ``asyncio.timeout``: a
        ``RemoteSink`` moves only when the far end reports).
        """
        while not self._ended:
            pending = [h for h in self.playout.handles.values() if not h.done()]
            if not pending:
                return True
            left = max(h.received_samples - h.played_samples for h in pending)
            await asyncio.sleep(max(0.005, min(0.1, left / self.sink.rate)))
        return False

    @property
    def transport(self) -> Transport | None:
        """The connection, once started."""
        return self._transport

    @property
    def busy(self) -> bool:
        """True while a response is active or asked for, or a tool call is running."""
        sequencer = self.core.sequencer
        return sequencer.busy or sequencer.wanted or bool(self.core.calls.running())

    @property
    def reconnects(self) -> int:
        """Connections that replaced a lost one."""
        return self._connections.reconnects

    @property
    def rollovers(self) -> int:
        """Connections replaced, make-before-break, before their cap."""
        return self._connections.rollovers

    @property
    def rollover_waiting(self) -> bool:
        """True while the next connection is open and waits for a turn boundary to take
        over (see ``rollover_after``)."""
        return self._connections.waiting

    @property
    def closing(self) -> bool:
        """True once the session is ending (``close()`` or a failure)."""
        return self._closer is not None

    @property
    def ended(self) -> bool:
        """True once the session has ended (its last event is ``Closed``)."""
        return self._ended

    @property
    def dropped_events(self) -> int:
        """Application events dropped because the application fell behind (deltas, raw)."""
        return self._events.dropped

    @property
    def abandoned_calls(self) -> int:
        """Tool calls given up on while their tool still ran (see ``ToolRunner.abandoned``)."""
        return self._tools.abandoned

    def _begin_close(self, error: BaseException | None, reason: str) -> asyncio.Task[None]:
        """Start ending the session (once); the task that does it."""
        if self._closer is None:
            self._end_error = error
            self._outbox.fail(self._ended_error)
            self._closer = asyncio.get_running_loop().create_task(
                self._shutdown(error, reason), name=f"realtime-session-close-{self.agent.name}"
            )
        return self._closer

    def _ended_error(self) -> BaseException:
        """What a send raises once the session is ending or has ended."""
        if self._end_error is not None:
            return self._end_error
        return LocalProtocolError("the session has ended (closed by the application)")

    async def _shutdown(self, error: BaseException | None, reason: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        supervisor = self._supervisor
        waiting: set[asyncio.Task[Any]] = set(self._tools.cancel())
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            waiting.add(supervisor)
        stuck: set[asyncio.Task[Any]] = set()
        if waiting:
            _, stuck = await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()))
        if stuck:
            logger.warning(
                "realtime session %r: %s did not stop within close_timeout=%g s; abandoned",
                self.agent.name,
                ", ".join(sorted(task.get_name() for task in stuck)),
                self.close_timeout,
            )
        self._tools.stop(still_running=len(stuck - {supervisor}))
        if self._transport is not None:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await self._transport.close()
            except TimeoutError:
                self._transport.abort()
        self._finish(reason, error)

    def _finish(self, reason: str, error: BaseException | None) -> None:
        if not self._ended:
            if self._supervisor is not None:  # it ran: what it did, before Closed
                self._turns.close()
                summary = self.summary()
                self._emit(summary)
                if self._tracing is not None:
                    self._tracing.end(summary, self._started_at, error)
            elif self._tracing is not None:  # it never connected: its span ends all the same
                self._tracing.end(self.summary(), 0.0, error)
            self._ended = True
            self._ended_event.set()
            self._events.end(app.Closed(reason, error))
            if self.recorder is not None:
                self.recorder.close()

    async def _probe_lag(self) -> None:
        """How late the event loop wakes this session (its worst, for the summary)."""
        loop = asyncio.get_running_loop()
        while True:
            asleep = loop.time()
            await asyncio.sleep(LAG_PROBE_INTERVAL)
            lag = loop.time() - asleep - LAG_PROBE_INTERVAL
            if lag > self._lag_max:
                self._lag_max = lag

    def _turn_done(self, metrics: app.TurnMetrics, began_at: float) -> None:
        self._emit(metrics)
        if self._tracing is not None:
            self._tracing.turn(metrics, began_at, time.monotonic())

    def summary(self) -> app.SessionSummary:
        """The session so far, as the ``SessionSummary`` event gives it at the end."""
        loop_now = time.monotonic()
        return app.SessionSummary(
            seconds=round(loop_now - self._started_at, 3) if self._started_at else 0.0,
            turns=self._turns.turns,
            barge_ins=self._turns.barge_ins,
            tool_calls=self._turns.tool_calls,
            reconnects=self.reconnects,
            rollovers=self.rollovers,
            underruns=self.playout.underruns,
            dropped_events=self._events.dropped,
            dropped_audio=self.dropped_audio,
            events_high_water=self._events.high_water,
            outbox_high_water=self._outbox.high_water,
            urgent_high_water=self._urgent_high_water,
            loop_lag_max_ms=round(self._lag_max * 1000, 1),
        )

    async def _supervise(self) -> None:
        error: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                if self.audio_in is not None:
                    group.create_task(self._capture(self.audio_in), name="realtime-capture")
                group.create_task(self._probe_lag(), name="realtime-lag-probe")
                await self._connections.run()
        except* (TransportError, AudioError, LocalProtocolError) as failure:
            error = failure.exceptions[0]  # the peer, a device, or bad audio from audio_in
        except* Exception as failure:  # a bug, not the peer: end the session visibly
            error = failure.exceptions[0]
            logger.error("realtime session task failed", exc_info=error)
        finally:
            self._group = None
        if error is not None:
            self._begin_close(error, str(error))  # not awaited: it waits for this task

    def _replace_transport(self, fresh: Transport | None) -> None:
        """The connection from now on: ``fresh`` replaces one that rolled over (closed in
        the background), or None one that was lost (aborted)."""
        old, self._transport = self._transport, fresh
        if old is None:
            return
        if fresh is None or self._group is None or self._closer is not None:
            old.abort()
        else:
            self._spawn(old.close(), name="realtime-close-old-connection")

    def _seed_connection(self, events: list[ClientEvent]) -> None:
        """What re-creates the conversation on a new connection: it goes before anything
        else, and replaces what the core had queued for the old one."""
        self._urgent.clear()
        self._seed.clear()
        for event in events:
            for action in self.core.send(self._sendable(event)):
                assert isinstance(action, SendEvent)
                self._seed.append(action.event)
        self._wake_writer.set()

    def _context(self) -> contextvars.Context:
        """A context for a task of the session: current_session() is this session there."""
        context = contextvars.copy_context()
        context.run(_current.set, self)
        return context

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        if self._group is None or self._closer is not None:
            coroutine.close()  # the session is ending: nothing may start
            return
        # Called from the socket's callbacks, whose context is not the session's.
        self._group.create_task(coroutine, name=name, context=self._context())

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
        self._connections.seen(event)

    def _receive_error(self, error: RemoteProtocolError) -> None:
        self._execute(self.core.receive_error(error))

    async def _write(self) -> None:
        transport = self._transport
        assert transport is not None
        while True:
            if self._connections.switching:  # the rest goes on the new connection
                await asyncio.Event().wait()  # until this connection's tasks are cancelled
            if self._seed:
                await transport.send(self._seed.popleft())
            elif self._urgent:
                event = self._urgent.popleft()
                await transport.send(event)
                if type(event) is ConversationItemTruncate:
                    self._turns.truncate_sent()
            elif not self._outbox.empty():
                item = self._outbox.get_nowait()
                try:
                    if isinstance(item, bytes):
                        await transport.send_audio(item)
                        self._connections.tape.record(item)
                    else:
                        await transport.send(item)
                except (ConnectionLost, asyncio.CancelledError):
                    self._outbox.put_back(item)  # it goes first on the next connection
                    raise
            else:
                self._wake_writer.clear()
                await self._wake_writer.wait()

    async def _capture(self, source: AudioSource) -> None:
        async for frame in source:
            if self._closer is not None:
                return  # the session is ending: the rest of the audio is not sent
            frame = self._audio(frame)  # not audio: the session ends with LocalProtocolError
            if self.half_duplex is not None and self.playout.audible:
                frame = gate(frame, self.half_duplex)
            try:
                await self._send_audio(frame)
            except LocalProtocolError:
                if self._closer is not None:
                    return  # closed while this frame waited for room
                raise

    async def _run_tool(self, call: ToolCall) -> None:
        tool = self.agent.tool_named(call.name)
        if tool is None:  # the agent changed since the call began (a handoff)
            result = failure(f"There is no tool named {call.name!r} any more.")
        else:
            result = await self._tools.run(tool, call.arguments)
        if self._closer is not None:
            return  # the session ended while it ran (a tool that hung up): nobody to tell
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
        if (target.input_format, target.output_format) != (
            previous.input_format,
            previous.output_format,
        ):
            # The microphone, the sink and the far end (a phone line) stay what they are:
            # the audio formats are the session's, not the agent's.
            target = dataclasses.replace(
                target, input_format=previous.input_format, output_format=previous.output_format
            )
        self.agent = target
        self.core.tool_names = {t.name for t in target.tool_list}
        config = target.session_config(include_voice=not spoken, previous=previous)
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
                case SendEvent(event=event):
                    self._urgent.append(event)
                    self._wake_writer.set()
                    if len(self._urgent) > self._urgent_high_water:
                        self._urgent_high_water = len(self._urgent)
                    if len(self._urgent) > URGENT_LIMIT:
                        self._fail(
                            ConnectionLost(
                                f"the server is not reading: {len(self._urgent)} events "
                                "wait to be sent"
                            )
                        )
                case EndAudio(item_id=item_id, content_index=index):
                    self.playout.end(item_id, index)
                case StopPlayout(items=items):
                    positions = self.playout.stop(items)
                    self._execute(self.core.playout_stopped(positions))
                case CallTool(call=call):
                    self._spawn(self._run_tool(call), name=f"realtime-tool-{call.name}")
                case HistoryChanged():
                    self._events.history_changed()

    def _emit(self, event: app.AppEvent) -> None:
        if self.recorder is not None:
            self.recorder.event(event)
        if not self._events.put(event):
            waiting = len(self._events)
            self._fail(
                LocalProtocolError(
                    f"the application did not read its events: {waiting} were waiting "
                    f"(event_queue={self._events.limit})"
                )
            )
        if type(event) in TRACKED:  # a set lookup: this runs per event
            self._turns.seen(event)  # a turn it ends is reported after it

    def _fail(self, error: BaseException) -> None:
        """End the session from inside (the reader's call): it cannot go on."""
        if self._closer is None:
            logger.warning("realtime session %r ends: %s", self.agent.name, error)
            self._begin_close(error, str(error))

    async def _submit(self, actions: list[Action]) -> None:
        """The application's own actions: its sends keep their order behind its audio."""
        self._connections.try_switch()  # a boundary, if a rollover waits: before this
        for action in actions:
            if isinstance(action, SendEvent):
                await self._outbox.put(action.event)
                self._wake_writer.set()
            else:
                self._execute([action])

    def _sendable(self, event: ClientEvent) -> ClientEvent:
        return _sendable(event, self.endpoint.dialect is Dialect.BETA)

    def _check_open(self) -> None:
        if not self._started:
            raise LocalProtocolError("the session is not started: use `async with connect(...)`")
        if self._closer is not None or self._ended:
            raise self._ended_error()

    # --- the application's side ----------------------------------------------------------

    def __aiter__(self) -> RealtimeSession:
        return self

    async def __anext__(self) -> app.AppEvent:
        if not self._started:
            raise LocalProtocolError(
                "the session is not started: use `async with connect(...) as session`"
            )
        event = await self._events.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def send_audio(self, audio: bytes) -> None:
        """Append input audio (pcm16 24 kHz, or G.711 per the agent); waits if the queue is full.

        When nothing is waiting to be sent, the audio goes out at once from the caller's
        task (the common case: one frame every 20 ms), without a hop through the writer
        task; otherwise it queues behind what waits. Raises LocalProtocolError for what
        is not audio (not bytes, or pcm16 of an odd length) or once the session has
        ended, ConnectionLost if the connection is gone.
        """
        self._check_open()
        await self._send_audio(self._audio(audio))

    def _audio(self, audio: bytes) -> bytes:
        if not isinstance(audio, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"audio is bytes, not {type(audio).__name__}")
        if self.agent.input_format.sample_width == 2 and len(audio) % 2:
            raise LocalProtocolError(f"pcm16 audio has an even length, not {len(audio)} bytes")
        return bytes(audio)

    async def _send_audio(self, audio: bytes) -> None:
        if self.recorder is not None:
            self.recorder.user_audio(audio)
        if (
            self._seed
            or self._urgent
            or not self._outbox.empty()
            or self._transport is None
            or self._connections.switching
        ):
            await self._outbox.put(audio)
            self._wake_writer.set()
            return
        try:
            await self._transport.send_audio(audio)
        except ConnectionLost:
            if self._closer is not None:
                raise self._ended_error() from None
            if self.reconnect is None:
                raise
            await self._outbox.put(audio)  # the next connection sends it, if one comes
            self._wake_writer.set()
            return
        self._connections.tape.record(audio)

    def send_audio_nowait(self, audio: bytes) -> bool:
        """Append input audio without waiting; False (and counted) if the queue is full."""
        self._check_open()
        audio = self._audio(audio)
        if not self._outbox.put_nowait(audio):
            self.dropped_audio += 1
            return False
        self._wake_writer.set()
        if self.recorder is not None:
            self.recorder.user_audio(audio)
        return True

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message; then ask for a response, unless ``respond`` is False.

        Raises LocalProtocolError for text that cannot be sent (lone surrogates).
        """
        self._check_open()
        # An id of our own: were the connection lost before the server reports the item,
        # the replay on the next one still has it.
        item = MessageItem(id=_new_item_id(), role="user", content=[InputTextPart(text=text)])
        await self._submit(self.core.send(self._sendable(ConversationItemCreate(item=item))))
        if respond:
            await self.create_response()

    async def commit(self) -> None:
        """Commit the input audio sent so far as a user turn (push-to-talk)."""
        self._check_open()
        await self._submit(self.core.send(InputAudioBufferCommit()))

    async def clear_audio(self) -> None:
        """Drop the input audio sent since the last commit."""
        self._check_open()
        await self._submit(self.core.send(InputAudioBufferClear()))

    async def create_response(self, params: ResponseCreateParams | None = None) -> None:
        """Ask for a response; it is sent when no other response is active.

        Each request is kept with its parameters, in order (at most 16 waiting: then
        LocalProtocolError). Out-of-band responses (``conversation="none"``) go at once.
        """
        self._check_open()
        if params is not None:
            self._sendable(ResponseCreate(response=params))
        if params is None or params.conversation != "none":  # out of band: no turn
            self._turns.asked()
        await self._submit(self.core.create_response(params))

    async def interrupt(self) -> None:
        """Cut the assistant off now: cancel its response and truncate at what was heard."""
        self._check_open()
        self._execute(self.core.interrupt())

    async def update_session(self, agent: Agent) -> None:
        """Switch to another agent's instructions, tools and turn-taking (voice permitting)."""
        self._check_open()
        config = agent.session_config(include_voice=not self.core.audio_spoken, previous=self.agent)
        update = self._sendable(SessionUpdate(session=config))
        self.agent = agent
        self.core.tool_names = {t.name for t in agent.tool_list}
        await self._submit(self.core.send(update))

    async def send_event(self, event: ClientEvent) -> None:
        """Send any client event as it is (for what the methods above do not cover)."""
        self._check_open()
        await self._submit(self.core.send(self._sendable(event)))


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
    transport: TransportFactory = open_transport,
    tool_threads: int = DEFAULT_THREADS,
    reconnect: ReconnectPolicy | None = ReconnectPolicy(),  # noqa: B008 (frozen)
    rollover_after: float | None = ROLLOVER_AFTER,
) -> RealtimeSession:
    """A session for ``agent``; use it as ``async with connect(agent, ...) as session``.

    Where to: ``endpoint``; or ``url`` (any Realtime server, such as the local one); or
    ``azure_resource`` and ``azure_deployment`` (with ``azure_api_version`` for the
    preview protocol, and ``azure_token`` for Entra ID instead of a key); or else OpenAI
    (``model``, key from ``api_key`` or ``OPENAI_API_KEY``). ``beta`` speaks the beta
    dialect. The other arguments are :class:`RealtimeSession`'s, documented there.
    Raises LocalProtocolError when the arguments cannot make an endpoint (no key).
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
    return RealtimeSession(
        agent,
        endpoint,
        audio_out=audio_out,
        audio_in=audio_in,
        raw_events=raw_events,
        event_queue=event_queue,
        audio_queue=audio_queue,
        jitter_ms=jitter_ms,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        record=record,
        half_duplex=half_duplex,
        transport=transport,
        tool_threads=tool_threads,
        reconnect=reconnect,
        rollover_after=rollover_after,
    )
