"""The errors of the HTTP client (:mod:`realtime_agent.http`), in the package's tree
(:mod:`realtime_agent.errors`), named by who is at fault::

    RealtimeAgentError
    ├── RemoteProtocolError
    │   └── EventStreamTooLarge            a Server-Sent Events line or event passed the
    │                                      parser's bound (the peer sends without end)
    └── ChatAudioError                     anything stream_chat_audio raises on purpose:
        │                                  catch this to catch them all
        ├── ChatAudioAPIError              the API refused or failed the request: its HTTP
        │   │                              status and OpenAI's error fields (or FastAPI's
        │   │                              ``detail``), or an error sent mid-stream
        │   └── ChatAudioAuthenticationError   the key was refused (HTTP 401 or 403);
        │                                  also an errors.AuthenticationError
        ├── ChatAudioConnectionError       could not connect, or the connection dropped;
        │   │                              also an errors.TransportError
        │   └── ChatAudioTimeout           no answer, or no bytes, within the timeout
        └── ChatAudioStreamError           the stream broke the protocol: a chunk that is
            │                              not JSON, a field of the wrong type, bad base64;
            │                              also an errors.RemoteProtocolError
            └── ChatAudioIncomplete        the stream ended before ``data: [DONE]``

Every message is one line, and none carries the API key: what the server says is
scrubbed of it before it is kept, and no error keeps the HTTP library's exception (which
holds the request and its ``Authorization`` header) as its cause or context.
"""

from __future__ import annotations

from realtime_agent.errors import (
    AuthenticationError,
    RealtimeAgentError,
    RemoteProtocolError,
    TransportError,
    excerpt,
)
from realtime_agent.redact import Secret

__all__ = [
    "ChatAudioAPIError",
    "ChatAudioAuthenticationError",
    "ChatAudioConnectionError",
    "ChatAudioError",
    "ChatAudioIncomplete",
    "ChatAudioStreamError",
    "ChatAudioTimeout",
    "EventStreamTooLarge",
    "hide_secret",
]


class EventStreamTooLarge(RemoteProtocolError):
    """A Server-Sent Events line, or an event's data, is longer than the parser takes.

    Attributes:
        limit: the bound that was passed (bytes for a line, characters for an event).
    """

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class ChatAudioError(RealtimeAgentError):
    """The root of what :func:`~realtime_agent.http.stream_chat_audio` raises on purpose.

    Attributes:
        status: the HTTP status of the answer, when there was one and it was an error.
        message: what went wrong, as the server said it when it did (without the key).
        type: OpenAI's ``error.type`` (``"invalid_request_error"``...), if given.
        param: OpenAI's ``error.param``: the request field at fault, if given.
        code: OpenAI's ``error.code`` (``"invalid_api_key"``...), if given.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code


class ChatAudioAPIError(ChatAudioError):
    """The API refused the request (an HTTP error status), or failed it mid-stream (an
    ``{"error": ...}`` chunk: ``status`` is None then). Fix the request, or retry later
    for a 429 or a 5xx."""


class ChatAudioAuthenticationError(ChatAudioAPIError, AuthenticationError):
    """The server refused the key (HTTP 401 or 403)."""


class ChatAudioConnectionError(ChatAudioError, TransportError):
    """The connection could not be made (refused, unreachable, TLS), or dropped before
    the stream's end."""


class ChatAudioTimeout(ChatAudioConnectionError):
    """The server did not answer, or sent nothing more, within the timeout."""


class ChatAudioStreamError(ChatAudioError, RemoteProtocolError):
    """The stream broke the protocol. ``field`` names the offending field (dotted, from
    the chunk's top) when one is at fault; ``raw`` is a bounded excerpt of the chunk."""

    def __init__(self, message: str, *, field: str | None = None, raw: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.raw = excerpt(raw)


class ChatAudioIncomplete(ChatAudioStreamError):
    """The stream ended (the server closed it cleanly) before ``data: [DONE]``: the answer
    may be cut short."""


def hide_secret(text: str, secret: Secret | None) -> str:
    """``text`` with every occurrence of ``secret`` (and ``Bearer <secret>``) hidden."""
    if secret is None or not secret.reveal():
        return text
    value = secret.reveal()
    return text.replace(f"Bearer {value}", "***").replace(value, "***")
