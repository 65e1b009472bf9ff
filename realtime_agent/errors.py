"""The exception tree of realtime_agent.

Every exception the package raises on purpose derives from one root, and is
named by who is at fault::

    RealtimeAgentError                 the root: catch this to catch them all
    ├── LocalProtocolError             this side misused the protocol or the API
    │                                  (an event that cannot be sent, a bad argument);
    │                                  fix the calling code
    ├── RemoteProtocolError            the peer sent something that breaks the protocol
    │                                  (invalid JSON, a known event with wrong fields,
    │                                  audio that is not base64); the session can go on
    ├── AudioError                     an audio device or file cannot be used (no PortAudio,
    │                                  no such device, an unreadable WAV)
    └── TransportError                 the connection could not be made, or was lost
        ├── ConnectError               could not connect (unreachable, refused, timed out,
        │   │                          an HTTP error instead of the upgrade)
        │   └── AuthenticationError    the key was refused (HTTP 401 or 403)
        └── ConnectionLost             the connection dropped or the server closed it
                                       (``code`` and ``reason`` say how)

Parts with errors of their own derive from the same root, next to their code:
``realtime_agent.http.errors`` (``ChatAudioError`` and its kinds, each also one of the
classes above), ``realtime_agent.web.agora`` (``AudioSourceError``: the status an audio
source answers), ``realtime_agent.report`` (``RecordingError``: not a recording).

Errors from the peer carry what is needed to log them without a second look:
the event type when it could be read, the field path, and a bounded excerpt of
the raw frame. The underlying cause (a pydantic ``ValidationError``, a
``binascii.Error``) is chained with ``from``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AudioError",
    "AuthenticationError",
    "ConnectError",
    "ConnectionLost",
    "LocalProtocolError",
    "RealtimeAgentError",
    "RemoteProtocolError",
    "TransportError",
]

#: How much of a raw frame an error keeps: enough to recognise it, never megabytes.
RAW_EXCERPT_CHARS = 200


def excerpt(raw: str | bytes | bytearray | memoryview, limit: int = RAW_EXCERPT_CHARS) -> str:
    """A bounded, printable excerpt of a raw frame for error messages (never decodes more
    of a long frame than it keeps)."""
    if isinstance(raw, str):
        text, size, unit = raw[: limit + 1], len(raw), "chars"
    else:
        text, size, unit = bytes(raw[: 4 * limit + 4]).decode("utf-8", "replace"), len(raw), "bytes"
    if len(text) <= limit and (unit == "chars" or size <= 4 * limit):
        return text
    return f"{text[:limit]}... ({size} {unit})"


class RealtimeAgentError(Exception):
    """The root of every exception realtime_agent raises on purpose."""


class LocalProtocolError(RealtimeAgentError):
    """This side misused the protocol or the API; the calling code must change."""


class RemoteProtocolError(RealtimeAgentError):
    """The peer sent a frame that breaks the protocol.

    Attributes:
        event_type: the ``type`` of the offending event when it could be read, else None.
        field: the dotted path of the offending field inside the event, or None when
            the frame as a whole is wrong (invalid JSON, not an object, no ``type``).
        raw: a bounded excerpt of the raw frame (see :data:`RAW_EXCERPT_CHARS`).
        ids: the identifiers the frame carried at its top level (``call_id``,
            ``item_id``, ``response_id``, ...) when it was a JSON object, read even
            though the event as a whole is invalid: so that a broken function call can
            still be answered.
    """

    def __init__(
        self,
        message: str,
        *,
        event_type: str | None = None,
        field: str | None = None,
        raw: str | bytes | bytearray | memoryview = "",
        ids: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.field = field
        self.raw = excerpt(raw)
        self.ids: Mapping[str, str] = ids or {}


class TransportError(RealtimeAgentError):
    """The connection could not be made, or was lost. Never carries an API key."""


class ConnectError(TransportError):
    """Could not connect: the host is unreachable, refused, timed out, or answered HTTP.

    Attributes:
        status: the HTTP status the server answered instead of upgrading, if it did.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(ConnectError):
    """The server refused the key (HTTP 401 or 403)."""


class ConnectionLost(TransportError):
    """The connection dropped, or the server closed it.

    Attributes:
        code: the WebSocket close code (1006 when it dropped without a close frame).
        reason: the close reason the server gave, if any.
    """

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class AudioError(RealtimeAgentError):
    """An audio device or file cannot be used; the message says what to do about it."""
