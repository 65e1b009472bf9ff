"""``POST /twilio/voice`` and ``WS /twilio/stream``: a phone call through Twilio Media Streams.

Set the number's voice webhook to ``https://HOST/twilio/voice`` (POST). It answers::

    <Response><Connect><Stream url="wss://HOST/twilio/stream">
      <Parameter name="callSid" value="CA..."/>
    </Stream></Connect></Response>

``HOST`` is ``WebSettings.public_url`` (the server's public base URL, as Twilio reaches it)
or else the request's ``Host``. Twilio then opens the stream: a bidirectional Media Stream
(Twilio's "Media Streams - WebSocket Messages" and "TwiML Voice: <Stream>").

**Who may call.** Both requests carry ``X-Twilio-Signature`` (HMAC-SHA1 with the account's
auth token, ``TWILIO_AUTH_TOKEN``): over the webhook's full URL and its sorted form
parameters, and over the stream's ``wss://`` URL as the TwiML wrote it. A bad or missing
one is refused with HTTP 403 (on the stream, before the upgrade). Without an auth token
every request is refused (and the log says why, once) unless ``--insecure``.

**One call, one session.** After Twilio's ``start``, the call is admitted
(:meth:`~realtime_agent.web.app.WebContext.admit`; refused with close code 1013 while
draining or at capacity) and gets one :class:`~realtime_agent.runtime.session.RealtimeSession`
with the agent's settings but G.711 μ-law in and out (``audio/pcmu``): the caller's
8 kHz μ-law goes upstream as it comes, and the answer comes back in it, so nothing is
resampled on the way and every byte is one sample on both timelines (the measurements
behind this choice: ``bench/phone_formats.py``).

**Audio out, and what was heard.** The playout writes the answer to a
:class:`~realtime_agent.audio.sinks.RemoteSink`; the bridge sends each write as 20 ms
``media`` messages, each followed by a ``mark``, and moves the sink's played position
only when Twilio echoes a mark (:class:`~realtime_agent.web.marks.MarkBook`). On
barge-in (the upstream's ``speech_started``) the playout clears the sink: the bridge
drops the media it has not sent yet, sends ``clear``, and the session truncates the item
at the last acknowledged mark, which is at most one frame (and the echo's trip) short of
what the caller heard, and never beyond it.

**The rest of the protocol.** A ``dtmf`` digit becomes a user message in the conversation,
``"[the caller pressed 5]"``, without asking for a response (the model sees it at the
next turn), is passed to the application's ``on_event`` hook as a
:class:`~realtime_agent.web.calls.DtmfPressed`, and is counted
(``realtime_agent_dtmf_digits_total``). ``stop`` ends the
session cleanly; so does the socket closing. A policy breach (not JSON, too big, too
fast) closes the stream with 1008; an upstream failure with 1011. Each ending is one log
line, never a traceback; the call is released in every case.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import dataclasses
import json
import logging
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime_agent.audio.format import ULAW_8K
from realtime_agent.audio.sinks import RemoteSink
from realtime_agent.errors import RealtimeAgentError
from realtime_agent.protocol import events as app
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.session import RealtimeSession, connect
from realtime_agent.web.app import Kind, Refused, WebContext
from realtime_agent.web.auth import RateLimit, verify_twilio_signature
from realtime_agent.web.calls import (
    DtmfPressed,
    Policy,
    close_quietly,
    json_object,
    peer,
    remaining_events,
)
from realtime_agent.web.marks import MAX_PENDING, MarkBook

__all__ = ["PhoneCall", "phone_agent", "twilio_stream", "twilio_voice", "twiml"]

log = logging.getLogger("realtime_agent.web.twilio")

VOICE_PATH = "/twilio/voice"
STREAM_PATH = "/twilio/stream"
START_TIMEOUT = 10.0
"""Seconds Twilio has, after the upgrade, to send its ``start``."""
MAX_WEBHOOK_BYTES = 64 * 1024
"""The largest webhook body read (Twilio's are a couple of kilobytes)."""
MAX_OUTBOX_CHARS = 4 * 1024 * 1024
"""What may wait to be written to Twilio: about four minutes of audio and marks."""
DIGITS = frozenset("0123456789*#ABCD")
BURST = 32
"""Messages read or written in a row before the bridge lets the loop run other calls (a
whole answer goes out at once; the pending marks come back at once after a clear)."""

_TOLD_NO_TOKEN: weakref.WeakSet[WebContext] = weakref.WeakSet()


# -- who may call ------------------------------------------------------------------------


def _public_base(web: WebContext, scheme: str, host: str | None, root_path: str) -> str:
    """The server's base URL as Twilio reaches it: ``public_url``, or the request's Host."""
    public = web.settings.public_url
    if public:
        return public.rstrip("/")
    return f"{scheme}://{host or 'localhost'}{root_path}"


def _stream_url(web: WebContext, host: str | None, root_path: str) -> str:
    """The ``wss://`` URL of the stream, as the TwiML writes it and Twilio signs it."""
    base = _public_base(web, "https", host, root_path)
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + STREAM_PATH


def _allowed(
    web: WebContext,
    signature: str | None,
    url: str,
    params: Iterable[tuple[str, str]] = (),
    *,
    who: str = "a client",
) -> bool:
    """True if the request may go on: signed by Twilio, or ``--insecure``. ``who``: the
    peer, for the log."""
    if web.settings.insecure:
        return True
    token = web.twilio_auth_token
    if token is None:
        if web not in _TOLD_NO_TOKEN:
            _TOLD_NO_TOKEN.add(web)
            log.warning(
                "twilio: refusing every call: TWILIO_AUTH_TOKEN is not set, so Twilio's "
                "signatures cannot be checked (set it, or run with --insecure for local tests)"
            )
        web.metrics.errors.labels("phone", "auth").inc()
        return False
    if verify_twilio_signature(token, signature, url, list(params)):
        return True
    web.metrics.errors.labels("phone", "auth").inc()
    log.info(
        "twilio: %s refused (HTTP 403): a request to %s with %s X-Twilio-Signature",
        who,
        url,
        "a wrong" if signature else "no",
    )
    return False


def twiml(stream_url: str, parameters: dict[str, str] | None = None) -> str:
    """The TwiML that connects a call to the stream at ``stream_url``."""
    children = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in (parameters or {}).items()
    )
    stream = (
        f"<Stream url={quoteattr(stream_url)}>{children}</Stream>"
        if children
        else f"<Stream url={quoteattr(stream_url)}/>"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect>{stream}</Connect></Response>'


async def _form(request: Request) -> list[tuple[str, str]] | None:
    """The webhook's form parameters (None: the body is too big)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return None
    if kind != "application/x-www-form-urlencoded":
        return []
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


async def twilio_voice(request: Request) -> Response:
    """``POST /twilio/voice``: the TwiML that connects the call to ``/twilio/stream``."""
    web: WebContext = request.app.state.web
    params = await _form(request)
    if params is None:
        return PlainTextResponse("the request is too big", status_code=413)
    if web.settings.public_url:
        url = web.settings.public_url.rstrip("/") + VOICE_PATH
        if request.url.query:
            url += "?" + request.url.query
    else:
        url = str(request.url)
    who = f"{request.client.host}:{request.client.port}" if request.client else "a client"
    if not _allowed(web, request.headers.get("x-twilio-signature"), url, params, who=who):
        return PlainTextResponse("forbidden", status_code=403)
    stream = _stream_url(web, request.headers.get("host"), request.scope.get("root_path", ""))
    call_sid = dict(params).get("CallSid", "")
    parameters = {"callSid": call_sid[:64]} if call_sid else {}
    return Response(twiml(stream, parameters), media_type="text/xml")


# -- the call --------------------------------------------------------------------------


def phone_agent(agent: Agent) -> Agent:
    """``agent`` with G.711 μ-law in and out (``audio/pcmu``), as the phone carries it."""
    if agent.input_format == ULAW_8K and agent.output_format == ULAW_8K:
        return agent
    return dataclasses.replace(agent, input_format=ULAW_8K, output_format=ULAW_8K)


@dataclass(frozen=True)
class StreamStart:
    """What Twilio's ``start`` message says about the stream."""

    stream_sid: str
    call_sid: str
    account_sid: str
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, message: dict[str, Any]) -> StreamStart:
        """Raises Policy for a ``start`` this bridge cannot serve."""
        start = message.get("start")
        if not isinstance(start, dict):
            raise Policy("the start message has no start object")
        sid = start.get("streamSid", message.get("streamSid"))
        if not isinstance(sid, str) or not sid or len(sid) > 64:
            raise Policy("the start message has no streamSid")
        media = start.get("mediaFormat") or {}
        if not isinstance(media, dict) or (
            media.get("encoding", "audio/x-mulaw"),
            media.get("sampleRate", 8000),
            media.get("channels", 1),
        ) != ("audio/x-mulaw", 8000, 1):
            raise Policy(f"the stream's media format is not μ-law 8 kHz mono: {media}"[:160])
        custom = start.get("customParameters") or {}
        parameters = {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}
        return cls(
            sid,
            str(start.get("callSid", ""))[:64],
            str(start.get("accountSid", ""))[:64],
            parameters,
        )


class _Outbox:
    """Messages waiting to go to Twilio, in order, bounded; ``drop_audio`` at a clear.

    Media and marks not yet written when the caller barges in are dropped (Twilio would
    drop them at the clear anyway); control messages stay.
    """

    def __init__(self, limit: int = MAX_OUTBOX_CHARS) -> None:
        self.limit = limit
        self.size = 0
        self.overflowed = False
        self._items: deque[tuple[bool, str]] = deque()
        self._ready = asyncio.Event()

    def put(self, text: str, *, audio: bool) -> None:
        self.size += len(text)
        if self.size > self.limit:
            self.overflowed = True
        self._items.append((audio, text))
        self._ready.set()

    def drop_audio(self) -> None:
        kept = deque(item for item in self._items if not item[0])
        self.size = sum(len(text) for _, text in kept)
        self._items = kept

    async def get(self) -> str:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        _, text = self._items.popleft()
        self.size -= len(text)
        return text


class PhoneCall:
    """One phone call: Twilio's stream on one side, a Realtime session on the other."""

    kind: Kind = "phone"

    def __init__(self, websocket: WebSocket, web: WebContext, start: StreamStart) -> None:
        self.websocket = websocket
        self.web = web
        self.start = start
        self.marks = MarkBook(max_pending=MAX_PENDING)
        self.sink = RemoteSink(
            rate=ULAW_8K.rate, sample_width=1, on_write=self._audio_out, on_clear=self._clear
        )
        self.outbox = _Outbox()
        self.session: RealtimeSession | None = None
        self.dtmf_digits = 0
        self._dtmf_count = web.metrics.dtmf_digits.labels("phone")
        self.media_in = 0
        """Bytes of the caller's audio received."""
        settings = web.settings
        per_second = ULAW_8K.rate * settings.audio_rate_factor
        # Bursts of 5 s worth: what Twilio sent while the upstream session opened.
        self._audio_limit = RateLimit(per_second, 5 * per_second)
        # Marks come back at the rate they were sent (50 a second), and all at once after
        # a clear: the burst allows for every pending one.
        self._message_limit = RateLimit(200.0 + settings.control_rate, MAX_PENDING + 1000.0)
        self._dtmf_limit = RateLimit(settings.control_rate, 4 * settings.control_rate)
        sid = json.dumps(start.stream_sid)
        # The two messages sent 50 times a second, from templates (JSON-escaped once).
        self._media = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        self._mark = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":"'
        self._clear_text = '{"event":"clear","streamSid":' + sid + "}"
        self._ending: tuple[str, int] | None = None
        self._ended = asyncio.Event()
        self._finished = asyncio.Event()
        self._began = 0.0  # the loop's time when the call was admitted

    def __repr__(self) -> str:
        return f"<PhoneCall {self.start.call_sid or self.start.stream_sid}>"

    # -- the sink's side: what the playout writes, and the barge-in -------------------

    def _audio_out(self, audio: bytes) -> None:
        put = self.outbox.put
        media, mark = self._media, self._mark
        for frame in self.marks.send(audio):
            payload = binascii.b2a_base64(frame.payload, newline=False).decode()
            put(media + payload + '"}}', audio=True)
            if frame.mark is not None:
                put(mark + frame.mark + '"}}', audio=True)

    def _clear(self) -> None:
        self.outbox.drop_audio()
        self.outbox.put(self._clear_text, audio=False)
        self.marks.clear()

    # -- ending -------------------------------------------------------------------------

    async def close(self, reason: str) -> None:
        """End the call (the drain): the stream is closed with 1001, the session cleanly."""
        self._end(reason, 1001)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), 10.0)

    def _end(self, reason: str, code: int) -> None:
        if self._ending is None:
            self._ending = (reason, code)
        self._ended.set()

    # -- the call -------------------------------------------------------------------------

    async def run(self) -> None:
        """Admit the call, run it to its end, release it (always)."""
        web = self.web
        try:
            web.admit(self)
        except Refused as exc:
            log.info("twilio: call %s refused (%d): %s", self.start.call_sid, exc.code, exc.reason)
            await close_quietly(self.websocket, exc.code, exc.reason)
            self._finished.set()
            return
        log.info(
            "twilio: call %s connected from %s (stream %s)",
            self.start.call_sid,
            peer(self.websocket),
            self.start.stream_sid,
        )
        self._began = asyncio.get_running_loop().time()
        try:
            await self._converse()
        finally:
            web.release(self, (self._ending or ("the call ended", 1000))[0])
            self._finished.set()
        reason, code = self._ending or ("the call ended", 1000)
        await close_quietly(self.websocket, code, reason)  # after the release: nothing is left

    async def _converse(self) -> None:
        web = self.web
        session = connect(
            phone_agent(web.agent),
            endpoint=web.endpoint(),
            audio_out=self.sink,
            jitter_ms=web.settings.jitter_ms,
        )
        self.session = session
        try:
            await session.start()
        except RealtimeAgentError as exc:
            web.metrics.errors.labels("phone", "upstream").inc()
            log.warning(
                "twilio: call %s: the upstream refused the session: %s", self.start.call_sid, exc
            )
            self._end("the voice service is unavailable", 1011)
            return
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._read(session)),
                    group.create_task(self._events(session)),
                    group.create_task(self._write()),
                ]
                await self._ended.wait()
                for task in tasks:
                    task.cancel()
                await session.close()
                # What it said as it closed (the last turn's metrics, the summary).
                async for event in remaining_events(session):
                    web.metrics.count("phone", event)
                    web.notify(self, event)
        finally:
            await session.close()
        reason, code = self._ending or ("the call ended", 1000)
        log.info(
            "twilio: call %s ended after %.1f s (%d): %s (%d ms of the caller's audio, %d digits)",
            self.start.call_sid,
            asyncio.get_running_loop().time() - self._began,
            code,
            reason,
            self.media_in // 8,
            self.dtmf_digits,
        )

    async def _write(self) -> None:
        websocket = self.websocket
        sent = 0
        try:
            while True:
                text = await self.outbox.get()
                if self.outbox.overflowed:
                    self.web.metrics.errors.labels("phone", "limit").inc()
                    self.outbox.drop_audio()
                    self._end("Twilio does not read the stream", 1008)
                    return
                await websocket.send_text(text)  # it does not wait while the socket takes it
                sent += 1
                if sent % BURST == 0:
                    await asyncio.sleep(0)  # a long answer, sent at once: let others run
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._end("the stream closed", 1000)

    async def _read(self, session: RealtimeSession) -> None:
        read = 0
        try:
            while True:
                read += 1
                if read % BURST == 0:
                    await asyncio.sleep(0)  # the marks echoed at a clear come all at once
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    self._end("the stream closed (hung up)", 1000)
                    return
                text = message.get("text")
                if text is None:
                    raise Policy("Twilio sends JSON text messages")
                if len(text) > self.web.settings.max_frame_bytes:
                    raise Policy("a message is too big", 1009)
                if not self._message_limit.take():
                    raise Policy("too many messages")
                if await self._message(session, json_object(text)):
                    return
        except Policy as exc:
            self.web.metrics.errors.labels("phone", "client").inc()
            self._end(exc.reason, exc.code)
        except RealtimeAgentError as exc:  # the session ended under us
            self._end(f"the conversation ended: {exc}", 1011)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._end("the stream closed (hung up)", 1000)

    async def _message(self, session: RealtimeSession, message: dict[str, Any]) -> bool:
        """Handle one message from Twilio; True at the end of the stream."""
        match message.get("event"):
            case "media":
                media = message.get("media")
                if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
                    raise Policy("a media message has media.payload")
                if media.get("track", "inbound") != "inbound":
                    return False
                try:
                    audio = binascii.a2b_base64(media["payload"], strict_mode=True)
                except binascii.Error:
                    raise Policy("media.payload is not base64") from None
                if not self._audio_limit.take(len(audio)):
                    raise Policy("audio faster than real time")
                self.media_in += len(audio)
                if audio:
                    await session.send_audio(audio)
            case "mark":
                mark = message.get("mark")
                position = self.marks.echoed(mark.get("name") if isinstance(mark, dict) else None)
                if position is not None:
                    self.sink.report(position)
            case "dtmf":
                dtmf = message.get("dtmf")
                digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
                if not isinstance(digit, str) or digit not in DIGITS:
                    raise Policy("a dtmf message has a digit 0-9, * or #")
                if not self._dtmf_limit.take():
                    raise Policy("too many digits")
                self.dtmf_digits += 1
                self._dtmf_count.inc()
                self.web.notify(self, DtmfPressed(digit))
                await session.send_text(f"[the caller pressed {digit}]", respond=False)
            case "stop":
                self._end("the call ended (stop)", 1000)
                return True
            case "connected" | "start":
                pass  # a repeat: nothing new
            case _:
                pass  # a message type this bridge does not know: ignored
        return False

    async def _events(self, session: RealtimeSession) -> None:
        metrics = self.web.metrics
        async for event in session:
            metrics.count("phone", event)
            self.web.notify(self, event)
            match event:
                case app.AudioInterrupted(played_ms=played, truncated_ms=cut, deleted=deleted):
                    log.debug(
                        "twilio: barge-in: heard %d ms, %s",
                        played,
                        "deleted" if deleted else f"truncated at {cut} ms",
                    )
                case app.ErrorRaised(message=text, code=code):
                    log.warning(
                        "twilio: call %s: the upstream says %s: %s", self.start.call_sid, code, text
                    )
                case app.Closed(reason=reason, error=error):
                    self._end(f"the conversation ended: {reason}", 1000 if error is None else 1011)
                    return
                case _:
                    pass
        self._end("the conversation ended", 1000)


async def _start(websocket: WebSocket) -> StreamStart:
    """Wait for Twilio's ``start`` (after ``connected``)."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise Policy("the stream closed before its start", 1000)
            text = message.get("text")
            if text is None:
                raise Policy("Twilio sends JSON text messages")
            event = json_object(text)
            match event.get("event"):
                case "connected":
                    continue
                case "start":
                    return StreamStart.parse(event)
                case other:
                    raise Policy(f"the stream sent {str(other)[:40]!r} before its start")


async def twilio_stream(websocket: WebSocket) -> None:
    """``WS /twilio/stream``: one call (see the module docstring)."""
    web: WebContext = websocket.app.state.web
    url = _stream_url(web, websocket.headers.get("host"), websocket.scope.get("root_path", ""))
    if not _allowed(web, websocket.headers.get("x-twilio-signature"), url, who=peer(websocket)):
        await websocket.close(1008)  # before accept: HTTP 403
        return
    await websocket.accept()
    try:
        try:
            start = await _start(websocket)
        except TimeoutError:
            raise Policy("no start within 10 s") from None
        await PhoneCall(websocket, web, start).run()
    except Policy as exc:
        web.metrics.errors.labels("phone", "client").inc()
        log.info("twilio: %s: stream refused (%d): %s", peer(websocket), exc.code, exc.reason)
        await close_quietly(websocket, exc.code, exc.reason)
    except (WebSocketDisconnect, OSError):
        pass  # gone before its start
    except Exception as exc:  # one line, never a traceback (a bug, if it comes here)
        log.error("twilio: the call failed: %s", _describe(exc))
        await close_quietly(websocket, 1011, "the call failed")
    finally:
        await close_quietly(websocket, 1000, "")


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
