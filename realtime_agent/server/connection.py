"""One connection of the local server: a reader, a writer, a task per response.

The writer sends what waits in the connection's outbound queue, many events to a
system call (:class:`BatchingConnection`). The queue holds encoded frames, so what waits
for a client is known in bytes: past ``max_outbound_bytes`` (queued frames plus the
socket's unsent buffer) the client is not reading, and it is disconnected at once, as
the real server drops a client that does not keep up. A close frame could not reach a
client that does not read (it would wait behind everything already buffered), so the
TCP connection is aborted: the client sees the connection end without a close frame
(1006), and the memory held for it is released then.

How a response waits for the client follows its pacing: paced audio is sent at its pace
whether or not the client reads (as the real server streams); instant audio goes "as
fast as the socket takes it", so an instant response waits while the queue is long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import Protocol

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import codec, dialect
from realtime_agent.schema.beta import BetaSessionCreated, BetaSessionUpdated
from realtime_agent.schema.client import InputAudioBufferAppend, SessionUpdate
from realtime_agent.schema.common import ErrorDetail
from realtime_agent.schema.server import ErrorEvent, ResponseFunctionCallArgumentsDone, ServerEvent
from realtime_agent.server import messages, nulls
from realtime_agent.server.faults import Fault, Faults
from realtime_agent.server.pacing import Pacing
from realtime_agent.server.responses import ResponseRun
from realtime_agent.server.state import Effect, Recognize, Send, ServerSession, Start

__all__ = ["BatchingConnection", "Connection", "batching_gap", "warn_if_unbatched"]

logger = logging.getLogger("realtime_agent.server")

_HIGH_WATER = 512  # queued events above which an instant response waits for the writer
_LOW_WATER = 128
_HIGH_WATER_BYTES = 2 * 1024 * 1024  # the same, in bytes (large events: retrieved audio)
_BURST_MS = 1000.0  # unpaced audio sent between two looks at the client's events
Frames = str | list[str]  # one message: a whole frame, or a fragmented one's pieces


def _parsed(frame: str) -> object:
    """The frame's JSON, or None if it is not JSON (the decoder then says why)."""
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        return None


def batching_gap(connection: type[Any], protocol: type[Any]) -> str | None:
    """What a websockets version lacks for :class:`BatchingConnection`'s write, or None.

    The batched write frames several messages with ``protocol.send_text`` inside
    ``send_context()``, whose exit calls ``send_data()`` (overridden here) to write
    ``protocol.data_to_send()``: undocumented internals, present in websockets 15-17.
    """
    needed = [
        (connection, "send_context"),
        (connection, "send_data"),
        (protocol, "send_text"),
        (protocol, "data_to_send"),
    ]
    missing = [f"{cls.__name__}.{name}" for cls, name in needed if not hasattr(cls, name)]
    return ", ".join(missing) or None


_GAP = batching_gap(ServerConnection, Protocol)
_warned = False


def warn_if_unbatched() -> bool:
    """Log once per process that the batched write is off; True if it is."""
    global _warned
    if _GAP is not None and not _warned:
        _warned = True
        logger.warning(
            "this websockets version lacks %s: the local server sends one message a write",
            _GAP,
        )
    return _GAP is not None


class BatchingConnection(ServerConnection):
    """websockets' server connection, writing several messages with one system call.

    ``send_all`` frames every message, then writes the frames together: a burst of
    events costs one ``send`` instead of one each (the client, too, then reads them
    in a few large chunks, as from the real server). Where websockets lacks what this
    needs (:func:`batching_gap`), it sends one message at a time.
    """

    writes = 0
    """Writes to the socket so far (a burst of events should take few; without the batched
    write, websockets' own sends are counted instead, one a call)."""

    async def send_all(self, texts: list[str]) -> None:
        """Send each text as a message, in order, in one write. Raises ConnectionClosed."""
        if len(texts) == 1 or _GAP is not None:
            for text in texts:
                await self.send(text)
            return
        async with self.send_context():
            for text in texts:
                self.protocol.send_text(text.encode())

    def send_data(self) -> None:
        if _GAP is not None:  # websockets' own write, as this version has it
            self.writes += 1
            super().send_data()
            return
        data = self.protocol.data_to_send()
        if len(data) > 1 and all(data):  # frames only (no end of stream): join them
            self.writes += 1
            self.transport.write(b"".join(data))
            return
        for chunk in data:  # what websockets does: each chunk, b"" ends the stream
            if chunk:
                self.writes += 1
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
            else:
                self.transport.close()


class Connection:
    """Drives one session over one WebSocket (see the module docstring)."""

    def __init__(
        self,
        ws: BatchingConnection,
        session: ServerSession,
        pacing: Pacing,
        faults: Faults,
        max_outbound_bytes: int | None,
    ) -> None:
        self.ws = ws
        self.session = session
        self.pacing = pacing
        self.faults = faults
        self.max_outbound_bytes = max_outbound_bytes
        self.beta = session.dialect == "beta"
        self.outbound: deque[tuple[str, str]] = deque()  # (event type, frame), in order
        self.outbound_bytes = 0
        # An instant response waits for the writer well before the limit is near: queued
        # frames and one batch in the socket's buffer stay under half of it.
        limit = max_outbound_bytes
        self.high_water_bytes = (
            _HIGH_WATER_BYTES if limit is None else min(_HIGH_WATER_BYTES, limit // 4)
        )
        self.low_water_bytes = self.high_water_bytes // 4
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.seen: Counter[str] = Counter()
        self.group: asyncio.TaskGroup | None = None
        self.idle_armed = -1
        self.warmed = False
        self.recognizing: dict[str, asyncio.Future[None]] = {}
        """User turns being recognized, by item id: done when their words are known."""

    async def serve(self) -> None:
        self.apply(self.session.open())
        try:
            async with asyncio.TaskGroup() as group:
                self.group = group
                self.spawn(self.write())
                for fault in self.faults.timed():
                    self.spawn(self.timed(fault))
                await self.read()
                for task in self.tasks:
                    task.cancel()
        except* ConnectionClosed:
            pass
        finally:
            self.release()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        assert self.group is not None
        task = self.group.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.enqueue(effect.event)
            elif isinstance(effect, Start):
                self.spawn(self.drive(effect.run))
            else:
                # Known at once, so that a response started next waits for these words.
                self.recognizing[effect.item_id] = asyncio.get_running_loop().create_future()
                self.spawn(self.recognize(effect))
        self.arm_idle_timer()

    async def recognize(self, job: Recognize) -> None:
        """Recognize a user turn in a worker thread (it is slow), then report the words."""
        recognizer = self.session.recognizer
        assert recognizer is not None
        try:
            try:
                text = await asyncio.to_thread(
                    recognizer.recognize, job.audio, job.audio_format, job.hints
                )
            except Exception:
                logger.exception("speech recognition failed")
                text = None
            self.apply(self.session.recognized(job.item_id, text))
        finally:
            done = self.recognizing.pop(job.item_id)
            done.set_result(None)

    def arm_idle_timer(self) -> None:
        """Start the idle timer the session asks for, once per arming."""
        wait_ms, epoch = self.session.idle_wait_ms, self.session.idle_epoch
        if wait_ms is not None and epoch != self.idle_armed:
            self.idle_armed = epoch
            self.spawn(self.idle(epoch, wait_ms))

    async def idle(self, epoch: int, wait_ms: float) -> None:
        await asyncio.sleep(wait_ms / 1000)
        self.apply(self.session.idle_timeout(epoch))

    # --- the outbound queue ------------------------------------------------------------------

    def enqueue(self, event: ServerEvent) -> None:
        """Queue an event for the writer; disconnect a client that lets too much wait."""
        if self.session.disconnected:
            return
        text = self.frame(event)
        if text is None:
            return
        waiting = self.outbound_bytes + self.ws.transport.get_write_buffer_size()
        if self.max_outbound_bytes is not None and waiting > self.max_outbound_bytes:
            self.disconnect(waiting)
            return
        self.outbound.append((str(event.type), text))
        self.outbound_bytes += len(text)
        self.session.outbound_peak = max(self.session.outbound_peak, waiting + len(text))
        if len(self.outbound) > _HIGH_WATER or self.outbound_bytes > self.high_water_bytes:
            self.drained.clear()
        self.wake.set()

    def pop(self) -> tuple[str, str]:
        kind, text = self.outbound.popleft()
        self.outbound_bytes -= len(text)
        if len(self.outbound) <= _LOW_WATER and self.outbound_bytes <= self.low_water_bytes:
            self.drained.set()
        return kind, text

    def disconnect(self, waiting: int) -> None:
        """The client does not read: drop what waits for it and abort the connection."""
        logger.warning(
            "disconnecting a client that does not read: %d bytes wait for it "
            "(max_outbound_bytes=%s)",
            waiting,
            self.max_outbound_bytes,
        )
        self.session.disconnected = "not reading"
        self.release()
        self.ws.transport.abort()

    def release(self) -> None:
        """Free what waits for the client (the connection is over)."""
        self.outbound.clear()
        self.outbound_bytes = 0
        self.drained.set()  # responses waiting for the writer go on, and end

    # --- reading -----------------------------------------------------------------------------

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.apply(self.receive(frame))

    def receive(self, frame: str | bytes) -> list[Effect]:
        if isinstance(frame, bytes):
            detail = messages.invalid_event(
                "Expected a text WebSocket message; binary frames are not supported."
            )
            return [self.error(detail)]
        # Only a frame that spells null can hold one: the common frames (audio appends)
        # are parsed once, by the decoder.
        raw = _parsed(frame) if "null" in frame else None
        refused = nulls.null_refused(raw, beta=self.beta)
        if refused is not None:
            return [self.error(refused)]
        try:
            if self.beta:
                event = dialect.client_to_ga(codec.decode_beta_client(frame))
            else:
                event = codec.decode_client(frame)
        except RemoteProtocolError as error:
            return self.session.reject(error, codec.sniff_event_id(frame))
        if isinstance(event, InputAudioBufferAppend) and not self.warmed:
            self.warmed = True  # the recognizer starts while the first turn is spoken
            warm = getattr(self.session.recognizer, "warm", None)
            if warm is not None:
                warm()
        type_given = True
        if isinstance(event, SessionUpdate) and not self.beta:
            whole = raw if raw is not None else _parsed(frame)
            session = whole.get("session") if isinstance(whole, dict) else None
            type_given = isinstance(session, dict) and "type" in session
        return self.session.handle(event, session_type_given=type_given)

    def error(self, detail: ErrorDetail) -> Send:
        return Send(ErrorEvent(event_id=self.session.ids.new("event"), error=detail))

    # --- responses ---------------------------------------------------------------------------

    async def drive(self, run: ResponseRun) -> None:
        waiting = [self.recognizing[i] for i in run.waiting_for if i in self.recognizing]
        if waiting:
            await asyncio.wait(waiting)  # the responder needs the user's words
        run.decide()
        if run.speaks and not run.finished:
            await asyncio.to_thread(run.prepare)  # synthesis off the loop: it is slow
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        unpaced_ms = 0.0
        for step in run:
            self.enqueue(step.event)
            if step.audio_ms:
                if self.pacing.speed is None:
                    # As fast as the socket takes it, in bursts (the client reads many
                    # frames at a time, as from the real server), yet reading the
                    # client's events (a cancel) every second of audio.
                    unpaced_ms += step.audio_ms
                    if unpaced_ms >= _BURST_MS:
                        unpaced_ms = 0.0
                        await asyncio.sleep(0)
                else:
                    deadline = max(deadline, loop.time() - 0.5)
                    deadline += step.audio_ms / 1000 / self.pacing.speed
                    await asyncio.sleep(max(0.0, deadline - loop.time()))
            if self.pacing.speed is None and not self.drained.is_set():
                await self.drained.wait()
        self.arm_idle_timer()

    # --- writing -----------------------------------------------------------------------------

    def frame(self, event: ServerEvent) -> str | None:
        if not self.beta:
            return codec.encode(event)
        translated = dialect.server_to_beta(event)
        match translated:
            case None:
                return None
            case BetaSessionCreated() | BetaSessionUpdated():
                translated.session.temperature = self.session.beta_temperature
            case ResponseFunctionCallArgumentsDone():
                # The beta server does not name the function here; the client knows it
                # from response.output_item.added. (The dialect keeps ``name``: its
                # translation is lossless; leaving it out is this server's fidelity.)
                kept = translated.model_fields_set - {"name"}
                values = {key: getattr(translated, key) for key in kept}
                unnamed = ResponseFunctionCallArgumentsDone.model_construct(kept, **values)
                return codec.encode(unnamed)
        return codec.encode(translated)

    async def next_frame(self) -> tuple[str, str]:
        while not self.outbound:
            self.wake.clear()
            await self.wake.wait()
        return self.pop()

    async def write(self) -> None:
        while True:
            kind, text = await self.next_frame()
            if not self.faults.pending:  # the usual case: nothing to count or inject
                texts, size = [text], len(text)
                # All that waits, at once (up to a bound: then the socket drains).
                while self.outbound and len(texts) < _HIGH_WATER and size < self.high_water_bytes:
                    more = self.pop()[1]
                    texts.append(more)
                    size += len(more)
                self.session.events_sent += len(texts)
                await self.ws.send_all(texts)
                self.session.socket_writes = self.ws.writes
                continue
            self.seen[kind] += 1
            frames: list[Frames] = [text]
            sent, seen = self.session.events_sent, self.seen[kind]
            for fault in self.faults.take(sent, kind, seen):
                if not await self.inject(fault, frames):
                    return
                if fault.action == "reorder":
                    frames.insert(0, (await self.next_frame())[1])
            self.session.events_sent += 1
            for message in frames:
                await self.ws.send(message)

    async def timed(self, fault: Fault) -> None:
        assert fault.after_seconds is not None
        await asyncio.sleep(fault.after_seconds)
        if self.faults.consume(fault):
            frames: list[Frames] = []
            if await self.inject(fault, frames):
                for text in frames:
                    await self.ws.send(text)

    def error_frame(self, detail: ErrorDetail) -> str:
        event = ErrorEvent(event_id=self.session.ids.new("event"), error=detail)
        return codec.encode(event)

    async def inject(self, fault: Fault, frames: list[Frames]) -> bool:
        """Carry out a fault around ``frames`` (the event about to go); False ends the writer."""
        logger.info("injecting fault %s", fault.action)
        match fault.action:
            case "drop":
                self.ws.transport.abort()
                return False
            case "close":
                await self.ws.close(fault.code, fault.reason)
                return False
            case "expire":
                detail = ErrorDetail(
                    type="invalid_request_error", code="session_expired", message=fault.reason
                )
                await self.ws.send(self.error_frame(detail))
                await self.ws.close(1001, fault.reason)
                return False
            case "delay":
                await asyncio.sleep(fault.seconds)
            case "duplicate":
                frames.append(frames[-1])
            case "error":
                detail = ErrorDetail(
                    type="server_error", code=fault.error_code, message=fault.reason
                )
                frames.insert(0, self.error_frame(detail))
            case "malformed":
                frames.insert(0, fault.text)
            case "fragment":
                text = frames[-1]
                if isinstance(text, str):
                    size = -(-len(text) // fault.pieces)
                    frames[-1] = [text[i : i + size] for i in range(0, len(text), size)]
            case "reorder":
                pass  # the writer swaps the next event in
        return True
