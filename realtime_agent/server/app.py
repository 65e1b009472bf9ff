"""The local Realtime server: a WebSocket server that speaks the Realtime protocol.

::

    async with LocalRealtimeServer(responder=ScriptedResponder(["Hello!"])) as server:
        ...connect any Realtime client to server.url...

One connection is one server-side session (:class:`~realtime_agent.server.state.ServerSession`).
Paths: OpenAI's ``/v1/realtime?model=...``, Azure's GA ``/openai/v1/realtime?model=...``
and Azure's preview ``/openai/realtime?api-version=...&deployment=...``. The dialect is
GA, or beta when the client sends ``OpenAI-Beta: realtime=v1`` (or the
``openai-beta.realtime-v1`` subprotocol) or uses the Azure preview path. Keys come
from ``Authorization: Bearer``, Azure's ``api-key`` header, or a browser's
``openai-insecure-api-key.<key>`` subprotocol: any key is accepted, or, when the
server was given one, only that one (a wrong or missing key gets HTTP 401 before the
upgrade).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Self, cast
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.redact import redacting_logger
from realtime_agent.schema import codec, dialect
from realtime_agent.schema.beta import BetaSessionCreated, BetaSessionUpdated
from realtime_agent.schema.client import SessionUpdate
from realtime_agent.schema.common import ErrorDetail
from realtime_agent.schema.server import ErrorEvent, ResponseFunctionCallArgumentsDone, ServerEvent
from realtime_agent.server import messages
from realtime_agent.server.conversation import Ids
from realtime_agent.server.faults import Fault, FaultPlan, Faults
from realtime_agent.server.responder import Responder, RuleResponder
from realtime_agent.server.responses import ResponseRun
from realtime_agent.server.speech import SpeechSynthesizer, SyntheticVoice
from realtime_agent.server.state import Effect, Send, ServerSession, Start
from realtime_agent.server.vad import Detector

__all__ = ["LocalRealtimeServer", "Pacing"]

logger = logging.getLogger("realtime_agent.server")

_GA_PATHS = ("/v1/realtime", "/openai/v1/realtime")
_AZURE_PREVIEW_PATH = "/openai/realtime"
_HIGH_WATER = 512  # queued outbound events above which a response waits for the writer
_LOW_WATER = 128
_BURST_MS = 1000.0  # unpaced audio sent between two looks at the client's events
Frames = str | list[str]  # one message: a whole frame, or a fragmented one's pieces


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast responses send their audio: ``speed`` times real time, or as fast as possible.

    The real server sends audio faster than real time. ``Pacing()`` (instant) suits tests;
    ``Pacing.realtime()`` suits a demo that plays the audio as it comes.
    """

    speed: float | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and self.speed <= 0:
            raise ValueError(f"pacing speed must be positive, not {self.speed}")

    @classmethod
    def instant(cls) -> Pacing:
        """As fast as the socket takes it."""
        return cls(None)

    @classmethod
    def realtime(cls) -> Pacing:
        """One second of audio a second."""
        return cls(1.0)

    @classmethod
    def times(cls, speed: float) -> Pacing:
        """``speed`` seconds of audio a second."""
        return cls(speed)


def _json_response(status: HTTPStatus, message: str, code: str) -> Response:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": code,
                "param": None,
            }
        }
    ).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


class LocalRealtimeServer:
    """An offline stand-in for the OpenAI Realtime API (see the module docstring).

    Args:
        host, port: where to listen (port 0: any free port; read ``port`` or ``url``).
        responder: the stand-in model; an instance shared by every connection, or a
            function making one per connection. Default: a new ``RuleResponder`` each.
        synthesizer: the voice of the replies. Default: ``SyntheticVoice()``.
        pacing: how fast audio is sent. Default: instant.
        api_key: if set, the only key accepted.
        vad: the server VAD's detector, ``"webrtc"`` or ``"energy"`` (deterministic, cheap).
        model: the model name sessions report.
        faults: faults to inject (see :mod:`realtime_agent.server.faults`).
        seed: makes ids repeatable.
        delta_ms: the audio carried by each ``response.output_audio.delta``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Responder | Callable[[], Responder] | None = None,
        synthesizer: SpeechSynthesizer | None = None,
        pacing: Pacing = Pacing(),
        api_key: str | None = None,
        vad: Detector = "webrtc",
        model: str = "gpt-realtime",
        faults: FaultPlan = (),
        seed: int | None = None,
        delta_ms: int = 40,
    ) -> None:
        self.host = host
        self._port = port
        self._responder = responder
        self.synthesizer = synthesizer or SyntheticVoice()
        self.pacing = pacing
        self._api_key = api_key
        self.vad: Detector = vad
        self.model = model
        self._faults = faults
        self._seed = seed
        self.delta_ms = delta_ms
        self.sessions: list[ServerSession] = []
        """Every session opened so far, in order (for tests to inspect)."""
        self._server: Server | None = None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "any"
        sessions = len(self.sessions)
        return f"<LocalRealtimeServer {self.host}:{self._port} key={key} sessions={sessions}>"

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI-style URL of a GA session: ``ws://host:port/v1/realtime?model=...``."""
        return f"{self.base_url}/v1/realtime?model={self.model}"

    async def start(self) -> None:
        """Start listening."""
        self._server = await serve(
            self._serve,
            self.host,
            self._port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=None,
            ping_interval=None,
            logger=redacting_logger("realtime_agent.server.websockets"),
            create_connection=_BatchingConnection,
        )

    async def close(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

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

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    # --- handshake ---------------------------------------------------------------------------

    @staticmethod
    def _offered(request: Request) -> list[str]:
        offered = request.headers.get_all("Sec-WebSocket-Protocol")
        return [p.strip() for value in offered for p in value.split(",") if p.strip()]

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return Subprotocol("realtime") if "realtime" in offered else None

    def _key(self, request: Request) -> str | None:
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        if "api-key" in request.headers:
            return request.headers["api-key"].strip()
        for protocol in self._offered(request):
            if protocol.startswith("openai-insecure-api-key."):
                return protocol.removeprefix("openai-insecure-api-key.")
        return None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if url.path not in (*_GA_PATHS, _AZURE_PREVIEW_PATH):
            return _json_response(
                HTTPStatus.NOT_FOUND, f"Invalid URL (GET {url.path})", "not_found"
            )
        if url.path == _AZURE_PREVIEW_PATH and not (
            query.get("api-version") and query.get("deployment")
        ):
            return _json_response(
                HTTPStatus.BAD_REQUEST,
                "The Azure preview path needs the api-version and deployment query parameters.",
                "missing_required_parameter",
            )
        key = self._key(request)
        if self._api_key is not None and key != self._api_key:
            if key is None:
                message = "You didn't provide an API key."
            else:
                message = "Incorrect API key provided."  # never echo the key
            return _json_response(HTTPStatus.UNAUTHORIZED, message, "invalid_api_key")
        return None

    def _dialect(self, request: Request) -> Literal["ga", "beta"]:
        beta_header = request.headers.get("OpenAI-Beta", "").replace(" ", "") == "realtime=v1"
        beta_protocol = "openai-beta.realtime-v1" in self._offered(request)
        preview = urlsplit(request.path).path == _AZURE_PREVIEW_PATH
        return "beta" if beta_header or beta_protocol or preview else "ga"

    @staticmethod
    def _intent(request: Request) -> Literal["realtime", "transcription"]:
        intent = parse_qs(urlsplit(request.path).query).get("intent", [""])[0]
        return "transcription" if intent == "transcription" else "realtime"

    # --- connections -------------------------------------------------------------------------

    def _new_responder(self) -> Responder:
        if self._responder is None:
            return RuleResponder()
        if hasattr(self._responder, "respond"):
            return cast(Responder, self._responder)
        return self._responder()

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None and isinstance(ws, _BatchingConnection)
        index = len(self.sessions)
        seed = None if self._seed is None else self._seed + index
        session = ServerSession(
            responder=self._new_responder(),
            synthesizer=self.synthesizer,
            ids=Ids(seed),
            model=self.model,
            detector=self.vad,
            delta_ms=self.delta_ms,
            dialect=self._dialect(ws.request),
            intent=self._intent(ws.request),
        )
        self.sessions.append(session)
        plan = self._faults(index) if callable(self._faults) else self._faults
        connection = _Connection(ws, session, self.pacing, Faults(list(plan)))
        await connection.serve()


class _BatchingConnection(ServerConnection):
    """websockets' server connection, writing several messages with one system call.

    ``send_all`` frames every message, then writes the frames together: a burst of
    events costs one ``send`` instead of one each (the client, too, then reads them
    in a few large chunks, as from the real server).
    """

    async def send_all(self, texts: list[str]) -> None:
        """Send each text as a message, in order, in one write. Raises ConnectionClosed."""
        if len(texts) == 1:
            await self.send(texts[0])
            return
        async with self.send_context():
            for text in texts:
                self.protocol.send_text(text.encode())

    def send_data(self) -> None:
        data = self.protocol.data_to_send()
        if len(data) > 1 and all(data):  # frames only (no end of stream): join them
            self.transport.write(b"".join(data))
            return
        for chunk in data:  # what websockets does: each chunk, b"" ends the stream
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
            else:
                self.transport.close()


class _Connection:
    """Drives one session over one WebSocket: a reader, a writer, a task per response."""

    def __init__(
        self, ws: _BatchingConnection, session: ServerSession, pacing: Pacing, faults: Faults
    ) -> None:
        self.ws = ws
        self.session = session
        self.pacing = pacing
        self.faults = faults
        self.beta = session.dialect == "beta"
        self.outbound: deque[ServerEvent | str] = deque()
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.seen: Counter[str] = Counter()
        self.group: asyncio.TaskGroup | None = None
        self.idle_armed = -1

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
        self.arm_idle_timer()

    def arm_idle_timer(self) -> None:
        """Start the idle timer the session asks for, once per arming."""
        wait_ms, epoch = self.session.idle_wait_ms, self.session.idle_epoch
        if wait_ms is not None and epoch != self.idle_armed:
            self.idle_armed = epoch
            self.spawn(self.idle(epoch, wait_ms))

    async def idle(self, epoch: int, wait_ms: float) -> None:
        await asyncio.sleep(wait_ms / 1000)
        self.apply(self.session.idle_timeout(epoch))

    def enqueue(self, event: ServerEvent | str) -> None:
        self.outbound.append(event)
        if len(self.outbound) > _HIGH_WATER:
            self.drained.clear()
        self.wake.set()

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
            return [Send(ErrorEvent(event_id=self.session.ids.new("event"), error=detail))]
        try:
            if self.beta:
                event = dialect.client_to_ga(codec.decode_beta_client(frame))
            else:
                event = codec.decode_client(frame)
        except RemoteProtocolError as error:
            return self.session.reject(error, codec.sniff_event_id(frame))
        type_given = True
        if isinstance(event, SessionUpdate) and not self.beta:
            session = json.loads(frame).get("session")
            type_given = isinstance(session, dict) and "type" in session
        return self.session.handle(event, session_type_given=type_given)

    # --- responses ---------------------------------------------------------------------------

    async def drive(self, run: ResponseRun) -> None:
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
            if not self.drained.is_set():
                await self.drained.wait()
        self.arm_idle_timer()

    # --- writing -----------------------------------------------------------------------------

    def frame(self, event: ServerEvent | str) -> str | None:
        if isinstance(event, str):
            return event
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

    async def next_event(self) -> ServerEvent | str:
        while not self.outbound:
            self.wake.clear()
            await self.wake.wait()
        event = self.outbound.popleft()
        if len(self.outbound) <= _LOW_WATER:
            self.drained.set()
        return event

    async def write(self) -> None:
        while True:
            event = await self.next_event()
            text = self.frame(event)
            if text is None:
                continue
            if not self.faults.pending:  # the usual case: nothing to count or inject
                texts = [text]
                while self.outbound and len(texts) < _HIGH_WATER:  # all that waits, at once
                    more = self.frame(self.outbound.popleft())
                    if more is not None:
                        texts.append(more)
                if len(self.outbound) <= _LOW_WATER:
                    self.drained.set()
                self.session.events_sent += len(texts)
                await self.ws.send_all(texts)
                continue
            event_type = "" if isinstance(event, str) else str(event.type)
            self.seen[event_type] += 1
            frames: list[Frames] = [text]
            sent, seen = self.session.events_sent, self.seen[event_type]
            for fault in self.faults.take(sent, event_type, seen):
                if not await self.inject(fault, frames):
                    return
                if fault.action == "reorder":
                    following = self.frame(await self.next_event())
                    if following is not None:
                        frames.insert(0, following)
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
