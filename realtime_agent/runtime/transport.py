"""The connection: where to connect, with which key, in which dialect; and the socket.

:class:`Endpoint` says where: OpenAI (GA, or beta with the ``OpenAI-Beta`` header),
Azure OpenAI (GA path, or the preview path with ``api-version`` and ``deployment``, which
speaks beta), or any URL (the local server). Keys come from the argument or the
environment (``OPENAI_API_KEY``, ``AZURE_OPENAI_API_KEY``) and are held in a
:class:`Secret`: they never show in a repr, a log line or an exception.

:class:`WebSocketTransport` is the socket (websockets' asyncio client, compression off,
messages up to :data:`MAX_MESSAGE_BYTES`) and the edge codec: frames in become GA
events, GA events out become frames in the connection's dialect. Opening is bounded by
``open_timeout``; ``close()`` is bounded by ``close_timeout`` even when the peer never
answers the close frame. A peer that breaks the WebSocket protocol itself (a reserved
opcode, an invalid close code) ends the connection at once, with ``ConnectionLost``.

It reaches into websockets (supported: 15.0 to 17.x) at two documented-by-source points,
``ClientConnection.process_event`` and ``data_received``; if a version lacks them, the
fast path stays off (a warning says so once) and everything still works through
``recv()``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State

from realtime_agent._version import __version__
from realtime_agent.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionLost,
    LocalProtocolError,
    RemoteProtocolError,
)
from realtime_agent.redact import Secret, redacting_logger
from realtime_agent.schema import codec, dialect
from realtime_agent.schema.client import ClientEvent
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.common import encode_base64
from realtime_agent.schema.dialect import Dialect
from realtime_agent.schema.server import ServerEvent

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Endpoint",
    "Secret",
    "Transport",
    "TransportFactory",
    "WebSocketTransport",
    "open_transport",
]

logger = logging.getLogger("realtime_agent.transport")

#: The largest server message accepted (a bigger one closes the connection with 1009).
#: Real events are far smaller: audio deltas carry tens of ms; the largest, a retrieved
#: item with all its audio, is about 3.9 MiB of base64 per minute of speech.
MAX_MESSAGE_BYTES = 64 * 2**20

EventHandler: TypeAlias = Callable[[ServerEvent | UnknownServerEvent], None]
ErrorHandler: TypeAlias = Callable[[RemoteProtocolError], None]

OPENAI_URL = "wss://api.openai.com/v1/realtime"
_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL = '"}'
DEFAULT_MODEL = "gpt-realtime"
AZURE_PREVIEW_VERSION = "2025-04-01-preview"


def _key(api_key: str | Secret | None, variable: str | None) -> Secret | None:
    if isinstance(api_key, Secret):
        return api_key
    if api_key is not None:
        return Secret(api_key)
    value = os.environ.get(variable) if variable else None
    return Secret(value) if value else None


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and how to authenticate (see the module docstring)."""

    url: str
    dialect: Dialect = Dialect.GA
    key: Secret | None = field(default=None, repr=False)
    key_header: str = field(default="Authorization", repr=False)
    """``Authorization`` (sent as ``Bearer <key>``) or Azure's ``api-key``."""

    @classmethod
    def openai(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | Secret | None = None,
        beta: bool = False,
        url: str = OPENAI_URL,
    ) -> Endpoint:
        """OpenAI's Realtime API. Raises LocalProtocolError without a key."""
        key = _key(api_key, "OPENAI_API_KEY")
        if key is None:
            raise LocalProtocolError("no OpenAI API key: pass api_key= or set OPENAI_API_KEY")
        return cls(f"{url}?model={quote(model)}", Dialect.BETA if beta else Dialect.GA, key)

    @classmethod
    def azure(
        cls,
        resource: str,
        deployment: str,
        *,
        api_key: str | Secret | None = None,
        token: str | Secret | None = None,
        api_version: str | None = None,
    ) -> Endpoint:
        """Azure OpenAI: ``resource`` is ``https://NAME.openai.azure.com`` (or just NAME).

        With ``api_version`` (e.g. ``"2025-04-01-preview"``) the preview protocol, which
        speaks beta; without, the GA path. ``token`` is an Entra ID bearer token, used
        instead of an API key (``AZURE_OPENAI_API_KEY``).
        """
        host = resource if "." in resource or "://" in resource else f"{resource}.openai.azure.com"
        host = urlsplit(host if "://" in host else f"https://{host}").netloc
        if api_version:
            url = (
                f"wss://{host}/openai/realtime?api-version={quote(api_version)}"
                f"&deployment={quote(deployment)}"
            )
            chosen = Dialect.BETA
        else:
            url = f"wss://{host}/openai/v1/realtime?model={quote(deployment)}"
            chosen = Dialect.GA
        if token is not None:
            return cls(url, chosen, _key(token, None))
        key = _key(api_key, "AZURE_OPENAI_API_KEY")
        if key is None:
            raise LocalProtocolError(
                "no Azure key: pass api_key= or token=, or set AZURE_OPENAI_API_KEY"
            )
        return cls(url, chosen, key, key_header="api-key")

    @classmethod
    def local(
        cls, url: str, *, api_key: str | Secret | None = None, beta: bool = False
    ) -> Endpoint:
        """Any Realtime server by URL (the local server's ``server.url``); the key is optional."""
        if not url.startswith(("ws://", "wss://")):
            raise LocalProtocolError(f"a Realtime URL starts with ws:// or wss://, not {url!r}")
        return cls(url, Dialect.BETA if beta else Dialect.GA, _key(api_key, None))

    def headers(self) -> list[tuple[str, str]]:
        """The handshake headers (with the key: never log them)."""
        headers: list[tuple[str, str]] = []
        if self.key is not None:
            value = self.key.reveal()
            headers.append(
                (
                    self.key_header,
                    f"Bearer {value}" if self.key_header == "Authorization" else value,
                )
            )
        if self.dialect is Dialect.BETA:
            headers.append(("OpenAI-Beta", "realtime=v1"))
        return headers


class Transport(Protocol):
    """A connection carrying GA events both ways (swappable for tests and other carriers)."""

    @property
    def dialect(self) -> Dialect:
        """The dialect on the wire."""
        ...

    async def send(self, event: ClientEvent) -> None:
        """Send one client event. Raises ConnectionLost."""
        ...

    async def send_audio(self, audio: bytes) -> None:
        """Send ``input_audio_buffer.append`` with this audio. Raises ConnectionLost."""
        ...

    async def recv(self) -> ServerEvent | UnknownServerEvent:
        """The next server event. Raises ConnectionLost, or RemoteProtocolError for a bad frame."""
        ...

    def deliver(self, on_event: EventHandler, on_error: ErrorHandler) -> None:
        """From now on, hand server events to ``on_event`` as soon as they are parsed.

        A fast path: the events it delivers never come out of :meth:`recv`, which still
        returns the rest (and raises ConnectionLost at the end). A carrier may deliver
        nothing this way; ``on_error`` gets the frames that fail to decode.
        """
        ...

    async def close(self) -> None:
        """Close, within the close time-out; idempotent. Must honour cancellation."""
        ...

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (``close()`` took too long)."""
        ...


class TransportFactory(Protocol):
    """Opens a :class:`Transport`: ``connect(..., transport=factory)`` (default
    :func:`open_transport`). Raises ConnectError when it cannot."""

    def __call__(
        self, endpoint: Endpoint, *, open_timeout: float, close_timeout: float
    ) -> Awaitable[Transport]: ...


_FAST_PATH = hasattr(ClientConnection, "process_event") and hasattr(
    ClientConnection, "data_received"
)
_warned = False


def _warn_fast_path_off() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "this websockets version lacks ClientConnection.process_event: server events "
            "take the slower recv() path (supported: websockets 15 to 17)"
        )


class _DirectConnection(ClientConnection):
    """websockets' client connection, handing whole text frames straight to a callback.

    websockets parses frames in ``data_received`` and queues each message for ``recv()``,
    which another task then awaits: per message, a queue, a future and a task switch,
    about a third of a client's CPU per event (bench/session_cpu.py). Here each whole
    text frame goes to ``on_text`` as soon as it is parsed, in the same call. Control
    frames, the handshake and closing stay websockets' own. A fragmented or binary
    message turns the fast path off for good, so that messages keep their order (it
    then arrives through ``recv()`` like everything after it).
    """

    on_text: Callable[[bytes | bytearray | memoryview], None] | None = None
    failure: BaseException | None = None
    direct_messages = 0
    """Messages handed to ``on_text`` (tests check the fast path is really taken)."""

    def process_event(self, event: Event) -> None:
        on_text = self.on_text
        if on_text is not None and isinstance(event, Frame) and self.response is not None:
            if event.opcode is Opcode.TEXT and event.fin:
                self.direct_messages += 1
                try:
                    on_text(event.data)  # bytes, bytearray or memoryview (per version): no copy
                except Exception as exc:  # a bug in the handler: end the connection, loudly
                    self.failure = exc
                    self.on_text = None
                    self.transport.abort()
                return
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self.on_text = None
        super().process_event(event)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if getattr(self.protocol, "parser_exc", None) is not None and self.failure is None:
            # The peer broke the WebSocket protocol (a reserved opcode, an invalid close
            # code): websockets sent its close frame and would wait for the peer to close
            # the TCP connection, until the next send. Waiting for a broken peer is
            # pointless: end it now.
            self.failure = self._broken()
            self.transport.abort()

    def _broken(self) -> ConnectionLost:
        sent = self.protocol.close_sent
        code = sent.code if sent is not None else 1002
        return ConnectionLost(
            f"the server broke the WebSocket protocol: {self.protocol.parser_exc}",
            code=code,
            reason=sent.reason if sent is not None else "",
        )


class WebSocketTransport:
    """A Realtime connection over websockets (see the module docstring)."""

    def __init__(self, ws: ClientConnection, endpoint: Endpoint, close_timeout: float) -> None:
        self._ws = ws
        self._endpoint = endpoint
        self._close_timeout = close_timeout
        self._beta = endpoint.dialect is Dialect.BETA

    def __repr__(self) -> str:
        return f"<WebSocketTransport {self._endpoint.url} {self._endpoint.dialect.value}>"

    @property
    def dialect(self) -> Dialect:
        """The dialect on the wire."""
        return self._endpoint.dialect

    def _lost(self, exc: ConnectionClosed) -> ConnectionLost:
        close = exc.rcvd
        code = close.code if close is not None else 1006
        reason = close.reason if close is not None else ""
        what = f"closed by the server ({code} {reason})".strip() if close else "dropped"
        return ConnectionLost(f"the Realtime connection was {what}", code=code, reason=reason)

    async def send(self, event: ClientEvent) -> None:
        """Send one client event (translated for beta). Raises ConnectionLost."""
        await self._send(codec.encode(dialect.client_to_beta(event) if self._beta else event))

    async def send_audio(self, audio: bytes) -> None:
        """Send ``input_audio_buffer.append`` (the same in both dialects) with this audio.

        The frame is written straight from a template: 50 times a second per session,
        building and serialising the model would cost more than the rest of the send.
        """
        await self._send(_APPEND_HEAD + encode_base64(audio) + _APPEND_TAIL)

    async def _send(self, frame: str) -> None:
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            raise self._ended(exc) from None

    def _ended(self, exc: ConnectionClosed) -> BaseException:
        failure = getattr(self._ws, "failure", None)
        return failure if failure is not None else self._lost(exc)

    async def recv(self) -> ServerEvent | UnknownServerEvent:
        """The next server event, in GA form. Raises ConnectionLost or RemoteProtocolError."""
        try:
            frame = await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._ended(exc) from None
        return self._decode(frame)

    @property
    def fast_path_messages(self) -> int:
        """Messages that took the fast path so far (0 when it is off)."""
        return getattr(self._ws, "direct_messages", 0)

    def _decode(
        self, frame: str | bytes | bytearray | memoryview
    ) -> ServerEvent | UnknownServerEvent:
        try:
            if self._beta:
                return dialect.server_to_ga(codec.decode_beta(frame))
            return codec.decode(frame)
        except RemoteProtocolError as error:
            hidden = self._scrubbed(error)
            if hidden is None:
                raise
        raise hidden  # outside the except: no __context__ holding the frame

    def _scrubbed(self, error: RemoteProtocolError) -> RemoteProtocolError | None:
        """A copy of the error with our key hidden, if the server echoed it into the broken
        frame (without the parser's error, which quotes the frame); None if it did not."""
        key = self._endpoint.key.reveal() if self._endpoint.key is not None else ""
        if not key or (key not in error.raw and key not in str(error)):
            return None
        return RemoteProtocolError(
            str(error).replace(key, "***"),
            event_type=error.event_type,
            field=error.field,
            raw=error.raw.replace(key, "***"),
            ids={name: value.replace(key, "***") for name, value in error.ids.items()},
        )

    def deliver(self, on_event: EventHandler, on_error: ErrorHandler) -> None:
        """Hand each whole text frame's event to ``on_event`` as it is parsed (see
        :class:`Transport`); an exception from either handler ends the connection and
        comes out of :meth:`recv`."""
        if not isinstance(self._ws, _DirectConnection):
            return
        if not _FAST_PATH:
            _warn_fast_path_off()
            return

        def on_text(frame: bytes | bytearray | memoryview) -> None:
            try:
                event = self._decode(frame)
            except RemoteProtocolError as error:
                on_error(error)
            else:
                on_event(event)

        self._ws.on_text = on_text

    async def close(self) -> None:
        """Close, waiting at most the close time-out for the server's close frame."""
        try:
            await asyncio.wait_for(self._ws.close(), self._close_timeout)
        except (TimeoutError, OSError):
            self.abort()

    def abort(self) -> None:
        """Drop the connection now."""
        self._ws.transport.abort()

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._ws.state is State.CLOSED


async def open_transport(
    endpoint: Endpoint, *, open_timeout: float = 10.0, close_timeout: float = 2.0
) -> WebSocketTransport:
    """Connect. Raises ConnectError (AuthenticationError for a refused key, or a key asked
    for and none sent: the message says which).

    The error carries no trace of the key: not in its message, and no ``__context__``
    (websockets' exception holds the server's response, which may echo the key).
    """
    failure: ConnectError
    try:
        ws = await connect(
            endpoint.url,
            additional_headers=endpoint.headers(),
            user_agent_header=f"realtime-agent/{__version__}",
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            ping_interval=20,
            ping_timeout=20,
            logger=redacting_logger(
                "realtime_agent.websockets", secrets=() if endpoint.key is None else (endpoint.key,)
            ),
            create_connection=_DirectConnection,
        )
        return WebSocketTransport(ws, endpoint, close_timeout)
    except InvalidStatus as exc:
        status = exc.response.status_code
        kind = AuthenticationError if status in (401, 403) else ConnectError
        if status not in (401, 403):
            what = "answered"
        elif endpoint.key is None:
            what = "asks for a key (none was sent)"
        else:
            what = "refused the key"
        failure = kind(f"{_where(endpoint)} {what}: HTTP {status}", status=status)
    except InvalidURI:
        failure = ConnectError(f"not a WebSocket URL: {_where(endpoint)}")
    except TimeoutError:
        failure = ConnectError(f"{_where(endpoint)} did not answer within {open_timeout:g} s")
    except OSError as exc:
        failure = ConnectError(f"cannot connect to {_where(endpoint)}: {exc}")
    except InvalidHandshake as exc:  # its text may quote the server's headers: not shown
        failure = ConnectError(f"cannot connect to {_where(endpoint)}: {type(exc).__name__}")
    raise failure  # outside the except: no __context__ holding the server's answer


def _where(endpoint: Endpoint) -> str:
    parts = urlsplit(endpoint.url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
