"""``WS /relay``: a browser's conversation, relayed to one upstream Realtime session.

The browser protocol (v1), in full; the README shows it too.

Client -> server:

* ``{"type": "hello", "token": T, "rate": R}`` first, within 5 s: ``T`` a signed token
  (:func:`realtime_agent.web.auth.mint_token`; none with ``--insecure``), ``R`` the
  sample rate of the microphone frames that follow (8000-96000; resampled here to 24 kHz).
* binary frames: the microphone, pcm16 little-endian mono at ``R``.
* ``{"type": "played", "epoch": E, "samples": N}``: the page has played ``N`` samples of
  the assistant's audio since epoch ``E`` began (samples really output, not silence).
  Reports of another epoch than the current one are ignored.
* ``{"type": "text", "text": S}``: a typed user message.

Server -> client:

* ``{"type": "ready", "rate": 24000, "epoch": 0, "upstream": ...}`` after the hello.
* binary frames: the assistant's audio, pcm16 little-endian mono 24 kHz, to play in order.
* ``{"type": "clear", "epoch": E}``: barge-in: drop every queued sample now, count from 0
  again, and report with epoch ``E``.
* ``speech_started``, ``speech_stopped`` (``item_id``: the caller's item); ``transcript_delta``
  and ``transcript`` (``role``, ``item_id``, ``delta``/``text``); ``tool_start``
  (``call_id``, ``name``, ``arguments``) and ``tool_end`` (``output``, ``error``);
  ``response_start`` and ``response_end``; ``interrupted`` (``item_id``, ``played_ms``,
  ``truncated_ms``, ``deleted``); ``turn`` once a turn with audio is over (its answer
  heard, or cut): ``turn`` (1 for the first), ``item_id`` (the caller's item its
  ``speech_stopped`` named; null for a typed turn) and ``latency_ms`` (from the turn's
  beginning to the answer's first sample played, as the page's reports place it; else
  to its first audio received). It may come after the next turn's ``speech_stopped``
  (a barge-in): match it by ``item_id``. ``error`` (``code``, ``message``); ``closed``
  (``reason``) just before the end.

Close codes: 1000 the end; 1001 the server shuts down; 1008 a policy (token, hello,
rate limit); 1009 a frame too big; 1011 the upstream failed; 1013 try again later.
A wrong ``Origin`` is refused at the upgrade (HTTP 403).

Exact truncation: the assistant's audio goes to the page as the playout writes it to a
:class:`~realtime_agent.audio.sinks.RemoteSink` (one timeline), and the page's reports
move the sink's played position. At a barge-in the sink is cleared at the last reported
position, which is where the item is truncated; the page starts a new epoch, so a
report already on its way, counted on the old timeline, cannot move the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime_agent.audio.resample import Resampler
from realtime_agent.audio.sinks import RemoteSink
from realtime_agent.errors import RealtimeAgentError
from realtime_agent.protocol import events as app
from realtime_agent.runtime.session import RealtimeSession, connect
from realtime_agent.web.app import Kind, Refused, WebContext
from realtime_agent.web.auth import RateLimit, TokenError, verify_token
from realtime_agent.web.calls import Policy, close_quietly, json_object, peer, remaining_events
from realtime_agent.web.metrics import turn_latency_ms

__all__ = ["Outbox", "PlaybackEpochs", "relay"]

log = logging.getLogger("realtime_agent.web.relay")

HELLO_TIMEOUT = 5.0
"""Seconds a client has to send its hello."""
OUTPUT_RATE = 24000
MAX_OUTBOX_BYTES = 8 * 1024 * 1024
"""What may wait for a client that does not read: about 3 minutes of audio."""


@dataclass
class PlaybackEpochs:
    """The page's played position, across the restarts a barge-in makes (pure).

    The page counts played samples from 0 in each epoch; epoch ``e`` starts on the
    sink's timeline at ``base``. :meth:`cleared` starts the next epoch where the sink
    froze; :meth:`position` turns a report into the sink's timeline (``None``: a report
    of another epoch, ignored).
    """

    epoch: int = 0
    base: int = 0

    def cleared(self, position: int) -> int:
        """A barge-in froze the sink at ``position``: the new epoch's number."""
        self.epoch += 1
        self.base = position
        return self.epoch

    def position(self, epoch: object, samples: object) -> int | None:
        """Where a report puts the page on the sink's timeline, or None to ignore it."""
        if type(epoch) is not int or type(samples) is not int or samples < 0:
            raise Policy("a played report has an int epoch and samples >= 0")
        if epoch != self.epoch:
            return None
        return self.base + samples


class Outbox:
    """What waits to go to one client, bounded in bytes; ``clear`` drops queued audio.

    Audio and control messages keep their order; a clear removes every audio frame not
    yet sent (the page would drop it anyway) so that it reaches the page first.
    """

    def __init__(self, limit: int = MAX_OUTBOX_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.overflowed = False
        self._items: deque[bytes | str] = deque()
        self._ready = asyncio.Event()

    def audio(self, pcm: bytes) -> None:
        """Queue assistant audio (never blocks; past the limit the client is too slow)."""
        self._put(pcm)

    def control(self, message: dict[str, Any]) -> None:
        """Queue a JSON message."""
        self._put(json.dumps(message, separators=(",", ":")))

    def text(self, message: str) -> None:
        """Queue a message already in JSON."""
        self._put(message)

    def clear(self) -> None:
        """Drop the audio not yet sent."""
        kept: deque[bytes | str] = deque(i for i in self._items if isinstance(i, str))
        self.size = sum(len(item) for item in kept)
        self._items = kept

    def _put(self, item: bytes | str) -> None:
        self.size += len(item)
        if self.size > self.limit:
            self.overflowed = True
        self._items.append(item)
        self._ready.set()

    async def get(self) -> bytes | str:
        """The next message to send (waits for one)."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        self.size -= len(item)
        return item


class BrowserCall:
    """One page's conversation: the session upstream and the three loops of the relay."""

    kind: Kind = "browser"

    def __init__(self, websocket: WebSocket, web: WebContext) -> None:
        self.websocket = websocket
        self.web = web
        self.settings = web.settings
        self.outbox = Outbox()
        self.epochs = PlaybackEpochs()
        self.sink = RemoteSink(rate=OUTPUT_RATE, on_write=self._audio_out, on_clear=self._clear)
        self.session: RealtimeSession | None = None
        self.resampler: Resampler | None = None
        self.subject = ""
        self._ending: tuple[str, int] | None = None
        self._last: str | None = None  # the ``closed`` message: the writer's last
        self._ended = asyncio.Event()
        self._done = asyncio.Event()
        self._control = RateLimit(self.settings.control_rate, 4 * self.settings.control_rate)
        self._audio: RateLimit | None = None

    def __repr__(self) -> str:
        return f"<BrowserCall subject={self.subject!r}>"

    def _audio_out(self, pcm: bytes) -> None:
        self.outbox.audio(pcm)

    def _clear(self) -> None:
        self.outbox.clear()
        epoch = self.epochs.cleared(self.sink.played_samples)
        self.outbox.control({"type": "clear", "epoch": epoch})

    async def close(self, reason: str) -> None:
        """End the call: tell the page why, then close (1001: the server shuts down)."""
        self._end(reason, 1001)
        await self._done.wait()

    def _end(self, reason: str, code: int) -> None:
        if self._ending is None:
            self._ending = (reason, code)
            self._last = json.dumps({"type": "closed", "reason": reason})
            self.outbox.text(self._last)
        self._ended.set()

    # -- the call -------------------------------------------------------------------

    async def run(self) -> None:
        """Hello, session, relay; always ends with ``closed`` and a close code."""
        web = self.web
        who = peer(self.websocket)
        try:
            await self._hello()
            web.admit(self)
        except (Policy, Refused) as exc:  # a token's reason never holds the token
            if isinstance(exc, Policy):
                web.metrics.errors.labels("browser", "client").inc()
            log.info("relay: %s refused (%d): %s", who, exc.code, exc.reason)
            await self._refuse(exc.reason, exc.code)
            return
        log.info("relay: %s connected: a browser call, subject %r", who, self.subject[:80])
        began = asyncio.get_running_loop().time()
        try:
            await self._converse()
        finally:
            reason, code = self._ending or ("the call ended", 1000)
            web.release(self, reason)
            self._done.set()
            elapsed = asyncio.get_running_loop().time() - began
            log.info("relay: %s ended after %.1f s (%d): %s", who, elapsed, code, reason)

    async def _refuse(self, reason: str, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.send_text(json.dumps({"type": "closed", "reason": reason}))
            await self.websocket.close(code, reason[:120])

    async def _hello(self) -> None:
        try:
            message = await asyncio.wait_for(self.websocket.receive(), HELLO_TIMEOUT)
        except TimeoutError:
            raise Policy("no hello within 5 s") from None
        text = message.get("text")
        if message["type"] != "websocket.receive" or text is None:
            raise Policy("the first message is a JSON hello")
        hello = json_object(text)
        if hello.get("type") != "hello":
            raise Policy("the first message is a JSON hello")
        if not self.settings.insecure:
            if self.web.secret is None:
                raise Policy("tokens are required and the server has no secret set")
            try:
                self.subject = verify_token(self.web.secret, hello.get("token"))
            except TokenError as exc:
                self.web.metrics.errors.labels("browser", "auth").inc()
                raise Policy(str(exc)) from None
        rate = hello.get("rate", OUTPUT_RATE)
        if type(rate) is not int or not 8000 <= rate <= 96000:
            raise Policy("hello.rate is the microphone's sample rate, 8000-96000")
        self.resampler = Resampler(rate, OUTPUT_RATE, frame_ms=20)
        # A page catching up after a stall may send a few seconds at once: bursts of 5 s.
        self._audio = RateLimit(rate * 2 * self.settings.audio_rate_factor, rate * 2 * 5.0)

    async def _converse(self) -> None:
        web = self.web
        session = connect(
            web.agent,
            endpoint=web.endpoint(),
            audio_out=self.sink,
            jitter_ms=self.settings.jitter_ms,
        )
        self.session = session
        try:
            await session.start()
        except RealtimeAgentError as exc:
            web.metrics.errors.labels("browser", "upstream").inc()
            log.warning("relay: the upstream refused the session: %s", exc)
            self._ending = ("the voice service is unavailable", 1011)
            await self._refuse(*self._ending)
            return
        self.outbox.control(
            {"type": "ready", "rate": OUTPUT_RATE, "epoch": 0, "upstream": web.upstream_description}
        )
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._read(session)),
                    group.create_task(self._events(session)),
                    group.create_task(self._write()),
                ]
                await self._ended.wait()
                for task in tasks[:2]:
                    task.cancel()
                await session.close()
                await self._last_events(session)
                with contextlib.suppress(TimeoutError):  # the page gets the ``closed`` message
                    await asyncio.wait_for(tasks[2], 1.0)
        finally:
            await session.close()
        reason, code = self._ending or ("", 1000)
        await close_quietly(self.websocket, code, reason)

    async def _write(self) -> None:
        websocket = self.websocket
        try:
            while True:
                item = await self.outbox.get()
                if self.outbox.overflowed:
                    self.web.metrics.errors.labels("browser", "limit").inc()
                    self.outbox.clear()
                    self._end("the page does not keep up with the audio", 1008)
                if isinstance(item, bytes):
                    await websocket.send_bytes(item)
                else:
                    await websocket.send_text(item)
                    if item is self._last:
                        return
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._end("the page went away", 1000)

    async def _read(self, session: RealtimeSession) -> None:
        websocket = self.websocket
        assert self.resampler is not None and self._audio is not None
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    self._end("the page went away", 1000)
                    return
                data = message.get("bytes")
                if data is not None:
                    if not self._audio.take(len(data)):
                        raise Policy("audio faster than real time")
                    if len(data) % 2:
                        raise Policy("audio frames are pcm16: an even number of bytes")
                    for frame in self.resampler.push(data):
                        await session.send_audio(frame)
                    continue
                control = json_object(message.get("text") or "")
                # Playback reports come every few ms from a page that plays: a fifth each.
                if not self._control.take(0.2 if control.get("type") == "played" else 1.0):
                    raise Policy("too many control messages")
                await self._control_message(session, control)
        except Policy as exc:
            self.web.metrics.errors.labels("browser", "client").inc()
            self._end(exc.reason, exc.code)
        except RealtimeAgentError as exc:  # the session ended under us
            self._end(f"the conversation ended: {exc}", 1011)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._end("the page went away", 1000)

    async def _control_message(self, session: RealtimeSession, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "played":
            position = self.epochs.position(message.get("epoch"), message.get("samples"))
            if position is not None:
                self.sink.report(position)
        elif kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > 4000:
                raise Policy("a text message has 1-4000 characters")
            await session.send_text(text)
        else:
            raise Policy(f"unknown message type {str(kind)[:40]!r}")

    async def _last_events(self, session: RealtimeSession) -> None:
        """What the session said as it closed, once ``_events`` had stopped: counted and
        passed to the hook (the page is told no more: ``closed`` went out already)."""
        async for event in remaining_events(session):
            self.web.metrics.count("browser", event)
            self.web.notify(self, event)

    async def _events(self, session: RealtimeSession) -> None:
        metrics = self.web.metrics
        send = self.outbox.control
        async for event in session:
            metrics.count("browser", event)
            self.web.notify(self, event)
            match event:
                case app.SpeechStarted():
                    send({"type": "speech_started"})
                case app.SpeechStopped(item_id=item_id):
                    send({"type": "speech_stopped", "item_id": item_id})
                case app.TurnMetrics(turn=number, item_id=item_id):
                    latency = turn_latency_ms(event)
                    if latency is not None:
                        send(
                            {
                                "type": "turn",
                                "turn": number,
                                "item_id": item_id,
                                "latency_ms": round(latency),
                            }
                        )
                case app.TranscriptDelta(item_id=item_id, role=role, delta=delta):
                    send(
                        {
                            "type": "transcript_delta",
                            "role": role,
                            "item_id": item_id,
                            "delta": delta,
                        }
                    )
                case app.Transcript(item_id=item_id, role=role, text=text):
                    send({"type": "transcript", "role": role, "item_id": item_id, "text": text})
                case app.ToolStart(call_id=call_id, name=name, arguments=arguments):
                    send(
                        {
                            "type": "tool_start",
                            "call_id": call_id,
                            "name": name,
                            "arguments": arguments,
                        }
                    )
                case app.ToolEnd(call_id=call_id, name=name, output=output, error=error):
                    send(
                        {
                            "type": "tool_end",
                            "call_id": call_id,
                            "name": name,
                            "output": output,
                            "error": error,
                        }
                    )
                case app.AgentStart(response_id=response_id):
                    send({"type": "response_start", "response_id": response_id})
                case app.AgentEnd(response_id=response_id, status=status):
                    send({"type": "response_end", "response_id": response_id, "status": status})
                case app.AudioInterrupted(
                    item_id=item_id, played_ms=played, truncated_ms=cut, deleted=deleted
                ):
                    send(
                        {
                            "type": "interrupted",
                            "item_id": item_id,
                            "played_ms": played,
                            "truncated_ms": cut,
                            "deleted": deleted,
                        }
                    )
                case app.ErrorRaised(message=text, code=code):
                    send({"type": "error", "code": code, "message": text})
                case app.Closed(reason=reason, error=error):
                    self._end(f"the conversation ended: {reason}", 1000 if error is None else 1011)
                    return
                case _:
                    pass
        self._end("the conversation ended", 1000)


async def relay(websocket: WebSocket) -> None:
    """The ``WS /relay`` endpoint (see the module docstring)."""
    web: WebContext = websocket.app.state.web
    if not web.origins.permits(websocket.headers.get("origin"), websocket.headers.get("host")):
        web.metrics.errors.labels("browser", "auth").inc()
        origin = str(websocket.headers.get("origin"))[:80]
        log.info(
            "relay: %s refused (HTTP 403): the page's origin %r is not allowed",
            peer(websocket),
            origin,
        )
        await websocket.close(1008)  # before accept: HTTP 403
        return
    await websocket.accept()
    call = BrowserCall(websocket, web)
    try:
        await call.run()
    finally:
        await close_quietly(websocket, 1000, "")
