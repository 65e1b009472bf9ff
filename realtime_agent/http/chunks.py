"""The streamed Chat Completions answer, read: one event's data in, typed pieces out.
Sans-I/O: :func:`~realtime_agent.http.stream_chat_audio` feeds it; tests feed it tables.

Two shapes are read, chunk by chunk (``data: <JSON>``), until ``data: [DONE]``:

* **OpenAI's** ``chat.completion.chunk``: ``choices[0].delta`` carries ``content`` (text
  answers), ``audio`` (``{"id", "transcript"}`` pieces, ``{"data": <base64 pcm16>}``
  pieces, and last ``{"id", "expires_at"}``), ``tool_calls`` (the first delta of a call
  has its ``index``, ``id``, ``function.name``; the next ones ``function.arguments``
  pieces); ``choices[0].finish_reason`` ends the choice (``"stop"``, ``"tool_calls"``,
  ``"length"``...); with ``stream_options.include_usage`` a last chunk has
  ``"choices": []`` and the ``usage``.
* **Agora's** audio modalities (``POST /audio/chat/completions``): a first chunk with
  ``choices[0].delta.audio {"id", "transcript"}``, then chunks ``{"audio": {"id",
  "data"}}`` at the top level; no ``finish_reason``.

The pieces (:data:`ChatAudioPiece`) come in the stream's order: :class:`TranscriptPiece`
and :class:`AudioPiece` as their deltas arrive, each :class:`ToolCall` whole once its
arguments have all arrived (at the ``finish_reason``, or at ``[DONE]`` without one), and
:class:`Finished` last, at ``[DONE]``.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import pybase64

from realtime_agent.errors import excerpt
from realtime_agent.http.errors import (
    ChatAudioAPIError,
    ChatAudioIncomplete,
    ChatAudioStreamError,
    hide_secret,
)
from realtime_agent.redact import Secret

__all__ = [
    "DONE",
    "AudioPiece",
    "ChatAudioPiece",
    "ChatStreamDecoder",
    "Finished",
    "ToolCall",
    "TranscriptPiece",
    "Usage",
    "api_error_fields",
]

DONE = "[DONE]"
"""The data of the stream's last event."""
_NOT_JSON = object()


@dataclass(frozen=True, slots=True)
class TranscriptPiece:
    """The next words of the answer: of its spoken transcript (``audio_id`` set), or of
    a text answer (``delta.content``: ``audio_id`` None)."""

    text: str
    audio_id: str | None


@dataclass(frozen=True, slots=True)
class AudioPiece:
    """The next audio of the answer: pcm16 little-endian mono (24 kHz from OpenAI),
    decoded from base64."""

    pcm: bytes
    audio_id: str | None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model calls, whole: answer it with a ``{"role": "tool",
    "tool_call_id": id, "content": ...}`` message. ``arguments`` is JSON text, as the
    model wrote it (it may not parse)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens the request used (the stream's last chunk, with ``include_usage``)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_audio_tokens: int | None = None
    completion_audio_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The answer is complete (``data: [DONE]`` came).

    Attributes:
        finish_reason: ``"stop"``, ``"tool_calls"``, ``"length"``, ``"content_filter"``;
            None when the server sends none (Agora's shape).
        audio_id: the spoken answer's id (refer to it in the next request's assistant
            message: ``{"role": "assistant", "audio": {"id": audio_id}}``), if spoken.
        expires_at: until when (Unix seconds) that id may be referred to, if told.
        usage: the tokens used, when the server reported them.
    """

    finish_reason: str | None
    audio_id: str | None
    expires_at: int | None
    usage: Usage | None


ChatAudioPiece: TypeAlias = TranscriptPiece | AudioPiece | ToolCall | Finished
"""What :func:`~realtime_agent.http.stream_chat_audio` yields."""


@dataclass
class _PendingCall:
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ChatStreamDecoder:
    """One streamed answer's chunks in (:meth:`receive`), pieces out.

    Call :meth:`receive` with each event's data, in order, until :attr:`done`; call
    :meth:`end` if the stream ends first (it raises). Raises
    :class:`~realtime_agent.http.errors.ChatAudioStreamError` for a chunk that breaks
    the protocol, :class:`~realtime_agent.http.errors.ChatAudioAPIError` for an error
    sent mid-stream. ``secret``: the key the request carried, hidden from every error
    (a server may echo it).
    """

    def __init__(self, *, secret: Secret | None = None) -> None:
        self._secret = secret
        self.done = False
        """True once ``[DONE]`` came (and :class:`Finished` was given)."""
        self.chunks = 0
        """How many chunks were read."""
        self.audio_id: str | None = None
        self.expires_at: int | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._calls: dict[int, _PendingCall] = {}

    def receive(self, data: str) -> list[ChatAudioPiece]:
        """Read one event's data: a JSON chunk, or ``[DONE]``."""
        if self.done:
            return []  # nothing follows [DONE]; a server that goes on is not listened to
        if data.strip() == DONE:
            self.done = True
            return [*self._flush_calls(), self._finished()]
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = _NOT_JSON  # raised below: the JSONDecodeError holds all the data
        if chunk is _NOT_JSON:
            raise ChatAudioStreamError(
                f"a chunk of the stream is not JSON (after {self.chunks} chunks)",
                raw=hide_secret(data, self._secret),
            )
        if not isinstance(chunk, dict):
            raise ChatAudioStreamError(
                "a chunk of the stream is not a JSON object", raw=hide_secret(data, self._secret)
            )
        self.chunks += 1
        error = chunk.get("error")
        if error is not None:
            message, type_, param, code = api_error_fields(chunk)
            said = excerpt(" ".join(hide_secret(message, self._secret).split()), 300)
            raise ChatAudioAPIError(
                f"the server failed the answer mid-stream: {said or '(no message)'}",
                type=type_,
                param=param,
                code=code,
            )
        pieces: list[ChatAudioPiece] = []
        choices = chunk.get("choices")
        if choices is not None:
            if not isinstance(choices, list):
                raise self._wrong("choices", "an array", data)
            for index, choice in enumerate(choices):
                self._choice(choice, index, data, pieces)
        audio = chunk.get("audio")  # Agora's shape: the audio at the top level
        if audio is not None:
            self._audio(audio, "audio", data, pieces)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = _usage(usage)
        return pieces

    def end(self) -> list[ChatAudioPiece]:
        """The stream ended: nothing if ``[DONE]`` came, else raises
        :class:`~realtime_agent.http.errors.ChatAudioIncomplete`."""
        if self.done:
            return []
        raise ChatAudioIncomplete(
            f"the stream ended before data: [DONE] (after {self.chunks} chunks): "
            "the answer may be cut short"
        )

    def _choice(self, choice: object, index: int, raw: str, pieces: list[ChatAudioPiece]) -> None:
        where = f"choices[{index}]"
        if not isinstance(choice, dict):
            raise self._wrong(where, "an object", raw)
        if choice.get("index", 0) != 0:
            return  # one choice is asked for (n=1); another is not ours to read
        delta = choice.get("delta")
        if delta is not None:
            if not isinstance(delta, dict):
                raise self._wrong(f"{where}.delta", "an object", raw)
            content = delta.get("content")
            if content is not None:
                if not isinstance(content, str):
                    raise self._wrong(f"{where}.delta.content", "a string", raw)
                if content:
                    pieces.append(TranscriptPiece(content, None))
            audio = delta.get("audio")
            if audio is not None:
                self._audio(audio, f"{where}.delta.audio", raw, pieces)
            calls = delta.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, list):
                    raise self._wrong(f"{where}.delta.tool_calls", "an array", raw)
                for position, call in enumerate(calls):
                    self._tool_call(call, f"{where}.delta.tool_calls[{position}]", raw)
        reason = choice.get("finish_reason")
        if reason is not None:
            if not isinstance(reason, str):
                raise self._wrong(f"{where}.finish_reason", "a string", raw)
            self.finish_reason = reason
            pieces.extend(self._flush_calls())

    def _audio(self, audio: object, where: str, raw: str, pieces: list[ChatAudioPiece]) -> None:
        if not isinstance(audio, dict):
            raise self._wrong(where, "an object", raw)
        audio_id = self._string(audio, "id", where, raw)
        if audio_id is not None:
            self.audio_id = audio_id
        transcript = self._string(audio, "transcript", where, raw)
        if transcript:
            pieces.append(TranscriptPiece(transcript, self.audio_id))
        data = self._string(audio, "data", where, raw)
        if data is not None:
            if data:
                try:
                    pcm = pybase64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    raise ChatAudioStreamError(
                        f"the stream's {where}.data is not valid base64", field=f"{where}.data"
                    ) from None
                pieces.append(AudioPiece(pcm, self.audio_id))
        expires_at = audio.get("expires_at")
        if expires_at is not None:
            if not isinstance(expires_at, int) or isinstance(expires_at, bool):
                raise self._wrong(f"{where}.expires_at", "an integer", raw)
            self.expires_at = expires_at

    def _tool_call(self, call: object, where: str, raw: str) -> None:
        if not isinstance(call, dict):
            raise self._wrong(where, "an object", raw)
        index = call.get("index")
        if index is None:  # some servers leave it out: a new id starts a new call
            index = self._index_of(call.get("id"))
        if not isinstance(index, int) or isinstance(index, bool):
            raise self._wrong(f"{where}.index", "an integer", raw)
        pending = self._calls.setdefault(index, _PendingCall())
        call_id = self._string(call, "id", where, raw)
        if call_id is not None:
            pending.id = call_id
        function = call.get("function")
        if function is None:
            return
        if not isinstance(function, dict):
            raise self._wrong(f"{where}.function", "an object", raw)
        name = self._string(function, "name", f"{where}.function", raw)
        if name is not None:
            pending.name = name
        pending.arguments += self._string(function, "arguments", f"{where}.function", raw) or ""

    def _index_of(self, call_id: object) -> int:
        for index, pending in self._calls.items():
            if call_id is not None and pending.id == call_id:
                return index
        if not self._calls:
            return 0
        last = max(self._calls)
        return last + 1 if call_id is not None else last

    def _flush_calls(self) -> list[ChatAudioPiece]:
        calls: list[ChatAudioPiece] = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending.id or not pending.name:
                missing = "id" if not pending.id else "function.name"
                raise ChatAudioStreamError(
                    f"the stream's tool call {index} has no {missing}",
                    field=f"choices[0].delta.tool_calls[{index}].{missing}",
                )
            calls.append(ToolCall(pending.id, pending.name, pending.arguments))
        self._calls.clear()
        return calls

    def _string(self, holder: dict[str, Any], key: str, where: str, raw: str) -> str | None:
        """``holder[key]``: a string, or None when it is absent or null."""
        value = holder.get(key)
        if value is not None and not isinstance(value, str):
            raise self._wrong(f"{where}.{key}", "a string", raw)
        return value

    def _wrong(self, field: str, expected: str, raw: str) -> ChatAudioStreamError:
        return ChatAudioStreamError(
            f"the stream's {field} is not {expected}",
            field=field,
            raw=hide_secret(raw, self._secret),
        )

    def _finished(self) -> Finished:
        return Finished(self.finish_reason, self.audio_id, self.expires_at, self.usage)


def api_error_fields(body: object) -> tuple[str, str | None, str | None, str | None]:
    """``(message, type, param, code)`` of an error body: OpenAI's ``{"error": {"message",
    "type", "param", "code"}}``, FastAPI's ``{"detail": "..."}`` or ``{"detail": [{"loc",
    "msg"}...]}`` (what Agora-style servers send), else ``("", None, None, None)``."""
    if not isinstance(body, Mapping):
        return "", None, None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        return (
            _text(error.get("message")),
            _optional(error.get("type")),
            _optional(error.get("param")),
            _optional(error.get("code")),
        )
    if isinstance(error, str):
        return error, None, None, None
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail, None, None, None
    if isinstance(detail, list):
        said = []
        param = None
        for item in detail[:3]:
            if isinstance(item, Mapping):
                location = item.get("loc")
                where = ".".join(map(str, location)) if isinstance(location, list) else ""
                param = param or where or None
                said.append(
                    f"{where}: {_text(item.get('msg'))}" if where else _text(item.get("msg"))
                )
        more = f" (and {len(detail) - 3} more)" if len(detail) > 3 else ""
        return "; ".join(said) + more, None, param, None
    if detail is not None:
        return _text(detail), None, None, None
    return "", None, None, None


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _optional(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _usage(usage: Mapping[str, Any]) -> Usage:
    def count(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def detail(name: str) -> int | None:
        details = usage.get(name)
        return count(details.get("audio_tokens")) if isinstance(details, dict) else None

    return Usage(
        prompt_tokens=count(usage.get("prompt_tokens")) or 0,
        completion_tokens=count(usage.get("completion_tokens")) or 0,
        total_tokens=count(usage.get("total_tokens")) or 0,
        prompt_audio_tokens=detail("prompt_tokens_details"),
        completion_audio_tokens=detail("completion_tokens_details"),
    )
