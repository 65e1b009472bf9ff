"""A spoken answer from the Chat Completions API, streamed: :func:`stream_chat_audio`.

It posts ``{"model", "messages", "modalities": ["text", "audio"], "audio": {"voice",
"format": "pcm16"}, "stream": true, "stream_options": {"include_usage": true}}`` (and the
``tools``) to ``POST /v1/chat/completions``: OpenAI's, or the local stack's
(``realtime-agent web``), or any server that speaks either shape
:mod:`~realtime_agent.http.chunks` reads (Agora's ``POST /audio/chat/completions``).
The answer's Server-Sent Events are parsed by :mod:`~realtime_agent.http.sse` and
read by :class:`~realtime_agent.http.chunks.ChatStreamDecoder`; this module does the
I/O, with httpx2 (the ``http`` extra: ``pip install 'realtime-agent[http]'``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from realtime_agent._version import __version__
from realtime_agent.errors import LocalProtocolError, excerpt
from realtime_agent.http.chunks import ChatAudioPiece, ChatStreamDecoder, api_error_fields
from realtime_agent.http.errors import (
    ChatAudioAPIError,
    ChatAudioAuthenticationError,
    ChatAudioConnectionError,
    ChatAudioError,
    ChatAudioStreamError,
    ChatAudioTimeout,
    EventStreamTooLarge,
    hide_secret,
)
from realtime_agent.http.sse import EventStreamParser
from realtime_agent.redact import Secret

if TYPE_CHECKING:
    import httpx2

__all__ = ["DEFAULT_MODEL", "OPENAI_URL", "chat_audio_request", "stream_chat_audio"]

DEFAULT_MODEL = "gpt-audio-1.5"
"""OpenAI's audio model for Chat Completions (audio in and out), as its model pages name
it; ``gpt-audio`` and ``gpt-4o-audio-preview`` are the earlier ones."""
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
"""Where the answer comes from by default, when there is a key."""
MAX_ERROR_BODY = 64 * 1024
"""How much of an error answer's body is read (an HTML page from a proxy can be long)."""

MAX_MESSAGE_CHARS = 300
"""How much of what the server says an error message keeps."""

_INSTALL = "stream_chat_audio needs httpx2: pip install 'realtime-agent[http]'"


def chat_audio_request(
    messages: str | Sequence[Mapping[str, Any]],
    *,
    model: str = DEFAULT_MODEL,
    voice: str = "alloy",
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body :func:`stream_chat_audio` posts (a ``str`` is one user message)."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    body: dict[str, Any] = {
        "model": model,
        "messages": [dict(message) for message in messages],
        "modalities": ["text", "audio"],
        "audio": {"voice": voice, "format": "pcm16"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = [dict(tool) for tool in tools]
    if tool_choice is not None:
        body["tool_choice"] = tool_choice if isinstance(tool_choice, str) else dict(tool_choice)
    body.update(extra_body or {})
    return body


async def stream_chat_audio(
    messages: str | Sequence[Mapping[str, Any]],
    *,
    model: str = DEFAULT_MODEL,
    voice: str = "alloy",
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    url: str | None = None,
    api_key: str | Secret | None = None,
    # Not the whole call's deadline (asyncio.timeout is for that) but each step's: the
    # connect, and every wait for more of the stream, as httpx2 times them.
    timeout: float = 60.0,  # noqa: ASYNC109
    client: httpx2.AsyncClient | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> AsyncGenerator[ChatAudioPiece, None]:
    """Ask for a spoken answer to ``messages``; yield its pieces as they stream in.

    The pieces (:mod:`~realtime_agent.http.chunks`): :class:`TranscriptPiece` and
    :class:`AudioPiece` (pcm16 mono, 24 kHz from OpenAI) as they come, each
    :class:`ToolCall` once its arguments are whole, and :class:`Finished` last. To
    answer a tool call, post again with the assistant's ``tool_calls`` message and a
    ``tool`` message per call.

    Args:
        messages: Chat Completions messages (``{"role": "user", "content": ...}``...),
            or a ``str``: one user message.
        model, voice: the model and its voice.
        tools, tool_choice: function tools, as Chat Completions takes them.
        url: the endpoint's full URL (``http://127.0.0.1:8000/v1/chat/completions``,
            ``.../audio/chat/completions``); default :data:`OPENAI_URL`, which needs a key.
        api_key: sent as ``Authorization: Bearer``; default ``OPENAI_API_KEY``. It never
            shows in an error, whatever the server sends back.
        timeout: seconds to connect, and the longest wait for the next bytes.
        client: an ``httpx2.AsyncClient`` to send with (its timeouts are overridden);
            default a new one, closed at the end.
        extra_body: more fields for the request's body (``temperature``...).

    Raises (on iteration) :class:`~realtime_agent.http.errors.ChatAudioError`: its
    ``ChatAudioAuthenticationError`` for a refused key, ``ChatAudioAPIError`` for any
    other error answer, ``ChatAudioConnectionError`` (``ChatAudioTimeout``),
    ``ChatAudioStreamError`` (``ChatAudioIncomplete``: no ``[DONE]``), also when
    httpx2 is missing; :class:`~realtime_agent.errors.LocalProtocolError` for no URL
    and no key, or a URL that is not http(s). Stopping early (``break``) closes the
    stream.
    """
    try:
        if "httpx2" not in sys.modules:  # ~0.1 s the first time: not in the loop's thread
            await asyncio.to_thread(importlib.import_module, "httpx2")
        import httpx2
    except ImportError:
        raise ChatAudioError(_INSTALL) from None
    key = api_key if isinstance(api_key, Secret) else _secret(api_key)
    if key is None:
        key = _secret(os.environ.get("OPENAI_API_KEY"))
    if url is None:
        if key is None:
            raise LocalProtocolError(
                "no url and no key: set OPENAI_API_KEY (or pass api_key) for OpenAI, or pass "
                "the url of a local stack (realtime-agent web)"
            )
        url = OPENAI_URL
    where = _where(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise LocalProtocolError(f"not an http(s) URL: {where}")
    body = chat_audio_request(
        messages,
        model=model,
        voice=voice,
        tools=tools,
        tool_choice=tool_choice,
        extra_body=extra_body,
    )
    headers = {
        "Accept": "text/event-stream",
        "User-Agent": f"realtime-agent/{__version__}",
    }
    if key is not None:
        headers["Authorization"] = f"Bearer {key.reveal()}"
    failure: ChatAudioError | None = None
    async with AsyncExitStack() as stack:
        if client is None:
            # Loading the CA certificates takes ~30 ms: not in the loop's thread either.
            tls = await asyncio.to_thread(httpx2.create_ssl_context)
            client = await stack.enter_async_context(httpx2.AsyncClient(verify=tls))
        try:
            response = await stack.enter_async_context(
                client.stream(
                    "POST", url, json=body, headers=headers, timeout=httpx2.Timeout(timeout)
                )
            )
            if response.status_code != 200:
                failure = await _status_error(response, where, key)
            elif response.headers.get("content-type", "").startswith("application/json"):
                failure = ChatAudioStreamError(
                    f"{where} answered JSON, not a stream (text/event-stream)"
                )
            else:
                async with aclosing(_pieces(response, key)) as pieces:
                    async for piece in pieces:
                        yield piece
        except httpx2.ConnectTimeout:
            failure = ChatAudioTimeout(f"cannot connect to {where} within {timeout:g} s")
        except httpx2.ReadTimeout:
            failure = ChatAudioTimeout(f"{where} sent nothing for {timeout:g} s")
        except httpx2.TimeoutException as exc:
            failure = ChatAudioTimeout(f"{where}: {type(exc).__name__} after {timeout:g} s")
        except httpx2.ConnectError as exc:
            failure = ChatAudioConnectionError(f"cannot connect to {where}: {_reason(exc)}")
        except httpx2.TransportError as exc:
            failure = ChatAudioConnectionError(
                f"the connection to {where} failed: {type(exc).__name__}: {_reason(exc)}"
            )
        except httpx2.InvalidURL:
            failure = ChatAudioConnectionError(f"not a valid URL: {where}")
    if failure is not None:
        # Raised outside the except: no __context__ holding httpx2's request (its headers
        # carry the key) or the server's answer.
        raise failure


async def _pieces(
    response: httpx2.Response, key: Secret | None
) -> AsyncGenerator[ChatAudioPiece, None]:
    """The pieces of a streamed answer (status 200), until ``[DONE]``."""
    parser = EventStreamParser()
    decoder = ChatStreamDecoder(secret=key)
    async for data in response.aiter_bytes():
        try:
            events = parser.feed(data)
        except EventStreamTooLarge as exc:
            raise ChatAudioStreamError(str(exc)) from None
        for event in events:
            for piece in decoder.receive(event.data):
                yield piece
            if decoder.done:
                return
    parser.close()
    for piece in decoder.end():  # raises ChatAudioIncomplete
        yield piece


async def _status_error(
    response: httpx2.Response, where: str, key: Secret | None
) -> ChatAudioError:
    """The error an HTTP error answer is (its body read, up to MAX_ERROR_BODY)."""
    status = response.status_code
    raw = bytearray()
    async for data in response.aiter_bytes():
        raw += data
        if len(raw) >= MAX_ERROR_BODY:
            break
    text = hide_secret(raw[:MAX_ERROR_BODY].decode("utf-8", "replace"), key)
    try:
        body: object = json.loads(text)
    except ValueError:
        body = None
    message, type_, param, code = api_error_fields(body)
    # One line, and not all of a long HTML page.
    message = excerpt(" ".join((message or text).split()), MAX_MESSAGE_CHARS)
    message = message or response.reason_phrase or "no reason given"
    told = ", ".join(
        part
        for part in (type_, f"code {code}" if code else None, f"param {param}" if param else None)
        if part
    )
    kind = ChatAudioAuthenticationError if status in (401, 403) else ChatAudioAPIError
    if status in (401, 403):
        what = "refused the key" if key is not None else "asks for a key (none was sent)"
    else:
        what = "answered"
    return kind(
        f"{where} {what}: HTTP {status}: {message}" + (f" ({told})" if told else ""),
        status=status,
        type=type_,
        param=param,
        code=code,
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _where(url: str) -> str:
    """The URL without its query string and credentials (either may carry a key)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url.split("?", 1)[0].rpartition("@")[2]
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
