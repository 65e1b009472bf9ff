"""Twilio's side of a Media Stream, as Twilio documents it ("Media Streams - WebSocket
Messages", "TwiML Voice: <Stream>"), written from the protocol, not from our bridge.

:func:`twilio_call` opens the stream (with ``X-Twilio-Signature`` if given), sends
``connected`` and ``start``, and then, like Twilio:

* **the caller's microphone**: a ``media`` message every 20 ms of (simulated) real time,
  160 bytes of μ-law each: what :meth:`TwilioCall.say` queued, else silence. Every message
  after ``connected`` has the ``streamSid`` and a string ``sequenceNumber`` (``"1"`` on
  ``start``, one more for each message); media have a ``chunk`` counter (from ``"1"``) and
  a ``timestamp`` (ms of audio since the stream started), as strings.
* **the caller's earpiece**: received ``media`` is played in order, on the loop's clock,
  from when it arrived (plus ``latency_ms``, the jitter buffer and the phone network);
  nothing queued is silence, and the next media starts when it arrives. A ``mark`` is
  placed in the queue after the media received before it and echoed when playback
  reaches it (at once if nothing is queued). ``clear`` empties the queue at once (the
  frame playing is cut where it is) and echoes every pending mark, as Twilio does.
* ``dtmf`` (:meth:`TwilioCall.press`) and ``stop`` (:meth:`TwilioCall.stop`).

``heard`` is every byte the caller heard, in order; ``clears`` where each ``clear`` cut it.
With ``acknowledge = False`` the caller echoes no mark (a broken far end).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RATE = 8000
FRAME = 160  # bytes of μ-law in 20 ms
SILENCE = b"\xff" * FRAME  # μ-law's zero


@dataclass
class Queued:
    """Audio in the earpiece's queue: it plays from ``start`` to ``end`` (loop time)."""

    payload: bytes
    start: float
    end: float
    marks: list[str] = field(default_factory=list)
    """Marks received after this audio (before the next): echoed once it has played."""
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class Clear:
    """A ``clear`` as the caller met it."""

    at: float
    heard: int
    """Bytes heard in all, when it came."""
    acknowledged: int
    """Bytes before the last mark the caller had echoed, when it came."""
    dropped_marks: int
    """Pending marks it echoed (or, not acknowledging, did not)."""


@dataclass
class TwilioCall:
    """One stream, from Twilio's side (see the module docstring)."""

    socket: ClientConnection
    stream_sid: str = "MZ00000000000000000000000000000001"
    call_sid: str = "CA00000000000000000000000000000001"
    account_sid: str = "AC00000000000000000000000000000001"
    latency_ms: float = 0.0
    """From a media message's arrival to its playback (Twilio's buffer)."""
    network_ms: float = 0.0
    """One way, each way: what the bridge sends arrives this much later, and the reverse."""
    speed: float = 1.0
    """How fast the microphone runs (1.0: real time)."""
    acknowledge: bool = True
    heard: bytearray = field(default_factory=bytearray)
    clears: list[Clear] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every message from the bridge but media, in order."""
    events: list[str] = field(default_factory=list)
    """The event of every message from the bridge, in order (media included)."""
    media_sizes: list[int] = field(default_factory=list)
    received_bytes: int = 0
    echoed: list[str] = field(default_factory=list)
    acknowledged: int = 0
    """Bytes heard before the last mark echoed."""
    unacknowledged: int = 0
    """Marks not echoed because ``acknowledge`` was off."""
    bad: list[str] = field(default_factory=list)
    """What the bridge sent that Twilio would not accept."""
    sent_at: list[tuple[float, str, int]] = field(default_factory=list)
    """(loop time, event, media bytes) of each message from the bridge as it left the
    bridge's socket (before ``network_ms``: over loopback, when the bridge sent it)."""
    close_code: int | None = None
    close_reason: str = ""
    sequence: int = 0
    chunk: int = 0
    _queue: deque[Queued] = field(default_factory=deque)
    _speech: deque[tuple[bytes, asyncio.Future[None]]] = field(default_factory=deque)
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)
    _outgoing: asyncio.Queue[tuple[float, str] | None] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopped: bool = False
    _read_count: int = 0

    # -- sending, as Twilio numbers its messages ------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if message["event"] != "connected":
            self.sequence += 1
            message = {"event": message["event"], "sequenceNumber": str(self.sequence), **message}
            message.setdefault("streamSid", self.stream_sid)
        due = asyncio.get_running_loop().time() + self.network_ms / 1000
        self._outgoing.put_nowait((due, json.dumps(message)))

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while (item := await self._outgoing.get()) is not None:
            due, text = item
            if due > loop.time():
                await asyncio.sleep(due - loop.time())  # the network's delay
            try:
                await self.socket.send(text)
            except ConnectionClosed:
                return

    def begin(self, parameters: dict[str, str] | None = None) -> None:
        """``connected``, then ``start``; then the microphone runs."""
        self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send(
            {
                "event": "start",
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": parameters or {},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
        self._tasks.append(asyncio.create_task(self._microphone()))

    async def _microphone(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        pending = b""
        done: asyncio.Future[None] | None = None
        while not self._stopped:
            if not pending and self._speech:
                pending, done = self._speech.popleft()
            frame, pending = (pending[:FRAME], pending[FRAME:]) if pending else (SILENCE, b"")
            frame = frame.ljust(FRAME, b"\xff")
            self.chunk += 1
            self._send(
                {
                    "event": "media",
                    "media": {
                        "track": "inbound",
                        "chunk": str(self.chunk),
                        "timestamp": str((self.chunk - 1) * 20),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
            if not pending and done is not None:
                done.set_result(None)
                done = None
            self._notify()  # the tests' conditions are checked at least every frame
            # The microphone's clock: the next frame is due 20 ms of audio later.
            await asyncio.sleep(max(0.0, began + self.chunk * 0.02 / self.speed - loop.time()))

    async def say(self, ulaw: bytes) -> None:
        """Speak ``ulaw`` (8 kHz μ-law) into the call; returns once the last frame is sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._speech.append((ulaw, done))
        await done

    def press(self, digit: str) -> None:
        """The caller presses a key."""
        self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    def stop(self) -> None:
        """The caller hangs up: ``stop`` (then the socket closes)."""
        self._stopped = True
        self._send(
            {"event": "stop", "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}}
        )

    # -- receiving, and the earpiece ---------------------------------------------------

    async def _reader(self) -> None:
        try:
            async for text in self.socket:
                self._read_count += 1
                if self._read_count % 16 == 0:
                    await asyncio.sleep(0)  # a burst of a whole answer: let the loop run
                if not isinstance(text, str):
                    self.bad.append("a binary message")
                    continue
                message = json.loads(text)
                self._sent_by_bridge(message)
                if self.network_ms:
                    loop = asyncio.get_running_loop()
                    loop.call_later(self.network_ms / 1000, self._receive, message)
                else:
                    self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.socket.close_code
            self.close_reason = self.socket.close_reason or ""
            self._notify()

    def _sent_by_bridge(self, message: dict[str, Any]) -> None:
        event = str(message.get("event"))
        size = 0
        if event == "media":
            size = len(message["media"]["payload"]) * 3 // 4 - message["media"]["payload"].count(
                "="
            )
        self.sent_at.append((asyncio.get_running_loop().time(), event, size))

    def _receive(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        self.events.append(str(event))
        if message.get("streamSid") != self.stream_sid:
            self.bad.append(f"{event} without the streamSid")
        now = asyncio.get_running_loop().time()
        match event:
            case "media":
                payload = base64.b64decode(message["media"]["payload"], validate=True)
                self.media_sizes.append(len(payload))
                self.received_bytes += len(payload)
                self._play(payload, now)
            case "mark":
                self.received.append(message)
                self._mark(message["mark"]["name"], now)
            case "clear":
                self.received.append(message)
                self._clear(now)
            case _:
                self.received.append(message)
                self.bad.append(f"an unknown event {event!r}")
        self._notify()

    def _play(self, payload: bytes, now: float) -> None:
        self._advance(now)
        start = max(now + self.latency_ms / 1000, self._queue[-1].end if self._queue else 0.0)
        queued = Queued(payload, start, start + len(payload) / RATE)
        queued.timer = asyncio.get_running_loop().call_at(queued.end, self._played, queued)
        self._queue.append(queued)

    def _mark(self, name: str, now: float) -> None:
        self._advance(now)
        if self._queue:
            self._queue[-1].marks.append(name)
        else:
            self._echo([name])

    def _played(self, queued: Queued) -> None:
        self._advance(asyncio.get_running_loop().time())
        self._notify()

    def _advance(self, now: float) -> None:
        """Everything that has finished playing by ``now`` is heard; its marks echo."""
        while self._queue and self._queue[0].end <= now:
            done = self._queue.popleft()
            self.heard += done.payload
            self._echo(done.marks)

    def _echo(self, marks: list[str]) -> None:
        for name in marks:
            if self.acknowledge:
                self.echoed.append(name)
                self.acknowledged = len(self.heard)
                self._send({"event": "mark", "mark": {"name": name}})
            else:
                self.unacknowledged += 1

    def _clear(self, now: float) -> None:
        self._advance(now)
        pending: list[str] = []
        if self._queue and self._queue[0].start < now:  # cut the frame playing where it is
            head = self._queue[0]
            self.heard += head.payload[: int((now - head.start) * RATE)]
        for queued in self._queue:
            if queued.timer is not None:
                queued.timer.cancel()
            pending += queued.marks
        self._queue.clear()
        self.clears.append(Clear(now, len(self.heard), self.acknowledged, len(pending)))
        acknowledged = self.acknowledged
        self._echo(pending)  # "causes any mark messages to be sent back"
        self.acknowledged = acknowledged  # ... though their audio was not played

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- what the tests wait for --------------------------------------------------------

    def position(self) -> int:
        """Bytes heard so far, the frame playing counted to this instant."""
        now = asyncio.get_running_loop().time()
        self._advance(now)
        if self._queue and self._queue[0].start < now:
            return len(self.heard) + int((now - self._queue[0].start) * RATE)
        return len(self.heard)

    @property
    def queued(self) -> int:
        """Bytes waiting in the earpiece."""
        return sum(len(q.payload) for q in self._queue)

    async def wait_until(self, condition: Any, timeout: float = 30.0) -> None:
        """Wait until ``condition()`` holds (checked at each message and each frame played)."""
        async with asyncio.timeout(timeout):
            while not condition() and self.close_code is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
        if not condition():
            raise AssertionError(
                f"the stream closed ({self.close_code} {self.close_reason}) before the condition"
            )

    async def wait_heard(self, nbytes: int, timeout: float = 30.0) -> None:
        """Wait until the caller has heard ``nbytes`` of audio in all."""
        await self.wait_until(lambda: len(self.heard) >= nbytes, timeout)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 30.0) -> dict[str, Any]:
        """The ``count``-th message of type ``event`` received (waits for it)."""
        await self.wait_until(
            lambda: sum(1 for m in self.received if m.get("event") == event) >= count, timeout
        )
        return [m for m in self.received if m.get("event") == event][count - 1]

    async def wait_closed(self, timeout: float = 15.0) -> int | None:
        """Wait until the bridge closed the stream; its close code."""
        async with asyncio.timeout(timeout):
            await self.socket.wait_closed()
            while self.close_code is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
        return self.close_code

    async def hang_up(self) -> None:
        """The socket closes without a ``stop`` (the call dropped)."""
        self._stopped = True
        await self.socket.close()


@contextlib.asynccontextmanager
async def twilio_call(
    url: str,
    *,
    signature: str | None = None,
    parameters: dict[str, str] | None = None,
    begin: bool = True,
    **options: Any,
) -> AsyncIterator[TwilioCall]:
    """Open a stream to ``url`` as Twilio would; ``options`` are :class:`TwilioCall`'s."""
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    async with connect(url, additional_headers=headers, max_size=None) as socket:
        call = TwilioCall(socket, **options)
        call._tasks += [asyncio.create_task(call._reader()), asyncio.create_task(call._writer())]
        if begin:
            call.begin(parameters)
        try:
            yield call
        finally:
            call._stopped = True
            await call._outgoing.put(None)
            for task in call._tasks:
                task.cancel()
            await asyncio.gather(*call._tasks, return_exceptions=True)
            for queued in call._queue:
                if queued.timer is not None:
                    queued.timer.cancel()
