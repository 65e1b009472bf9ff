"""``POST /v1/chat/completions``: the local stack's Chat Completions, spoken or written,
streamed over Server-Sent Events or whole, as OpenAI's API answers.

The stand-in model (:class:`~realtime_agent.server.chat.ChatStandIn`, the same responder
and voices as the local Realtime server) decides; this module puts its answer on the
wire. What a client sees, with ``modalities: ["text", "audio"]`` and
``audio: {"voice": "alloy", "format": "pcm16"}``:

* ``stream: true``: chunks ``{"id": "chatcmpl-...", "object": "chat.completion.chunk",
  "created", "model", "system_fingerprint", "choices": [{"index": 0, "delta": ...,
  "logprobs": null, "finish_reason": null}]}``. The first delta is
  ``{"role": "assistant", "content": null, "refusal": null}``; then ``delta.audio``
  carries the answer: ``{"id": "audio_...", "transcript": "Here "}`` first, each word of
  the transcript before the audio that speaks it, the audio as ``{"data": <base64
  pcm16, 24 kHz mono>}`` pieces of :data:`CHUNK_MS`, and last ``{"expires_at"}`` alone.
  Then ``{"delta": {}, "finish_reason": "stop"}`` (``"tool_calls"`` when it calls a
  tool: a ``delta.tool_calls`` entry with the call's ``id``, ``type``, ``function.name``
  and empty ``arguments``, then the arguments in pieces), with
  ``stream_options.include_usage`` a last chunk of ``"choices": []`` and the ``usage``,
  and ``data: [DONE]``. Only ``pcm16`` streams, as at OpenAI. A written answer
  (``modalities`` without audio) streams ``delta.content`` pieces.
* ``stream: false``: one ``chat.completion`` whose ``message.audio`` has ``id``,
  ``data`` (the whole answer in ``wav``, ``mp3``, ``flac``, ``opus`` or ``pcm16``),
  ``expires_at`` and ``transcript``, and ``content`` null.

Errors are OpenAI's: ``{"error": {"message", "type", "param", "code"}}``, 400 naming the
parameter, 401 without the key when one is configured (``REALTIME_AGENT_HTTP_KEY``;
without one any key, or none, is taken), 413 for a body over :data:`MAX_BODY_BYTES`.
The audio streams at the server's pacing (``realtime``: one second of audio a second).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from realtime_agent.server.chat import ChatAnswer, ChatRequest, ChatRequestError, new_id
from realtime_agent.server.speech import RATE
from realtime_agent.web.app import Refused, Stream
from realtime_agent.web.sse import (
    DONE,
    BodyTooLarge,
    EventStream,
    NotJSON,
    Pace,
    bearer,
    event,
    key_accepted,
    read_json,
)

if TYPE_CHECKING:
    from realtime_agent.web.app import WebContext

__all__ = ["CHUNK_MS", "MAX_BODY_BYTES", "chat_completions", "encode_audio"]

log = logging.getLogger("realtime_agent.web")

CHUNK_MS = 100
"""The duration of each streamed audio piece."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""The largest request body taken (spoken input rides in it as base64)."""
FINGERPRINT = "fp_local"
_ENCODINGS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
}


def _error(web: WebContext, error: ChatRequestError) -> Response:
    web.metrics.http_requests.labels("chat", str(error.status)).inc()
    log.info("web: chat completions refused (%d): %s", error.status, error.message)
    return JSONResponse(error.body(), status_code=error.status)


def _auth_error(given: str | None) -> ChatRequestError:
    if given is None:
        return ChatRequestError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status=401,
        )
    return ChatRequestError(
        "Incorrect API key provided. The local stack takes the key in REALTIME_AGENT_HTTP_KEY.",
        code="invalid_api_key",
        status=401,
    )


async def _body(request: Request) -> object:
    try:
        return await read_json(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise ChatRequestError(
            f"The request body is over the limit of {MAX_BODY_BYTES} bytes.",
            code="request_too_large",
            status=413,
        ) from None
    except NotJSON:
        raise ChatRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        ) from None


async def chat_completions(request: Request) -> Response:
    """The route (see the module docstring)."""
    web: WebContext = request.app.state.web
    given = bearer(request)
    if web.http_key is not None and not key_accepted(given, web.http_key):
        return _error(web, _auth_error(given))
    try:
        body = await _body(request)
        chat = await asyncio.to_thread(web.chat.parse, body)  # it may decode spoken input
    except ChatRequestError as error:
        return _error(web, error)
    except ClientDisconnect:
        return Response(status_code=400)
    if web.draining:
        return _error(web, ChatRequestError("The server is shutting down: try again.", status=503))
    answer = await asyncio.to_thread(web.chat.answer, chat)
    if not chat.stream:
        try:
            body = await asyncio.to_thread(_completion, chat, answer)  # it encodes the audio
        except ChatRequestError as error:
            return _error(web, error)
        web.metrics.http_requests.labels("chat", "200").inc()
        if answer.speech is not None:  # a stream counts its own as it goes
            web.metrics.http_audio_seconds.labels("chat").inc(answer.speech.duration_ms / 1000)
        return JSONResponse(body)
    web.metrics.http_requests.labels("chat", "200").inc()
    return EventStream(_stream(web, chat, answer))


def _message(chat: ChatRequest, answer: ChatAnswer) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if chat.audio or not answer.text else answer.text,
        "refusal": None,
        "annotations": [],
    }
    if answer.speech is not None and chat.audio_format is not None:
        message["audio"] = {
            "id": answer.audio_id,
            "data": base64.b64encode(encode_audio(answer.speech.pcm, chat.audio_format)).decode(),
            "expires_at": answer.expires_at,
            "transcript": answer.text,
        }
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in answer.tool_calls
        ]
    return message


def _completion(chat: ChatRequest, answer: ChatAnswer) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": answer.created,
        "model": chat.model,
        "choices": [
            {
                "index": 0,
                "message": _message(chat, answer),
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": answer.usage(),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def encode_audio(pcm: bytes, audio_format: str) -> bytes:
    """pcm16 24 kHz mono in ``audio_format`` (``pcm16`` is the samples themselves)."""
    if audio_format == "pcm16":
        return pcm
    import numpy as np
    import soundfile

    container, subtype = _ENCODINGS[audio_format]
    out = io.BytesIO()
    samples = np.frombuffer(pcm, dtype="<i2")
    try:
        soundfile.write(out, samples, RATE, format=container, subtype=subtype)
    except (soundfile.LibsndfileError, TypeError, ValueError) as exc:
        raise ChatRequestError(
            f"Unsupported value: this machine's libsndfile cannot encode '{audio_format}' ({exc}).",
            param="audio.format",
            code="unsupported_value",
        ) from None
    return out.getvalue()


async def _stream(
    web: WebContext, chat: ChatRequest, answer: ChatAnswer
) -> AsyncGenerator[bytes, None]:
    started = time.monotonic()
    outcome = "failed"
    try:
        with web.streaming("chat") as stream:
            try:
                async for piece in _chunks(web, chat, answer, stream):
                    yield piece
                outcome = "cut off by the drain" if stream.stopped else "answered"
            except (asyncio.CancelledError, GeneratorExit):
                outcome = "stopped: the client went away"
                web.metrics.http_client_gone.labels("chat").inc()
                raise
            finally:
                log.info(
                    "web: chat completion %s: %.1f s of audio in %.1f s, %d tool call(s)",
                    outcome,
                    stream.audio_s,
                    time.monotonic() - started,
                    len(answer.tool_calls),
                )
    except Refused as refused:  # the drain began after the answer was made
        yield event(ChatRequestError(refused.reason, status=503, type="server_error").body())


async def _chunks(
    web: WebContext, chat: ChatRequest, answer: ChatAnswer, stream: Stream
) -> AsyncIterator[bytes]:
    completion_id = new_id("chatcmpl-", 29)
    head: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": answer.created,
        "model": chat.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body = {**head, "choices": [choice]}
        if chat.include_usage:
            body["usage"] = None
        return event(body)

    yield chunk({"role": "assistant", "content": None, "refusal": None})
    pace = Pace(1.0 if web.settings.pacing == "realtime" else None)
    if answer.speech is not None:
        speech, step = answer.speech, RATE * CHUNK_MS // 1000
        words = list(speech.words) or [(0, answer.text)]
        spoken = said = 0  # samples and words sent
        total = len(speech.pcm) // 2
        while spoken < total and not stream.stopped:
            end = min(spoken + step, total)
            while said < len(words) and words[said][0] < end:  # its words first
                audio: dict[str, Any] = {"transcript": words[said][1]}
                yield chunk({"audio": {"id": answer.audio_id, **audio} if not said else audio})
                said += 1
            data = base64.b64encode(speech.pcm[spoken * 2 : end * 2]).decode()
            yield chunk({"audio": {"data": data}})
            seconds = (end - spoken) / RATE
            stream.audio_s += seconds
            spoken = end
            await pace.sent(seconds)
        yield chunk({"audio": {"expires_at": answer.expires_at}})  # the last: its expiry alone
    elif answer.text:
        for piece in _pieces(answer.text):
            if stream.stopped:
                break
            yield chunk({"content": piece})
            await pace.sent(0)
    if not stream.stopped:
        for index, call in enumerate(answer.tool_calls):
            function = {"name": call.name, "arguments": ""}
            yield chunk(
                {"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                 "function": function}]}
            )  # fmt: skip
            for piece in _pieces(call.arguments, 16):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    # Cut off by the drain: a well-formed end, its reason "length" (the answer is partial).
    yield chunk({}, "length" if stream.stopped else answer.finish_reason)
    if chat.include_usage:
        yield event({**head, "choices": [], "usage": answer.usage()})
    yield DONE


def _pieces(text: str, size: int = 0) -> list[str]:
    """``text`` in the pieces a stream sends: words with their spaces, or ``size`` chars."""
    if not text:
        return []
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    pieces, start = [], 0
    for index in range(1, len(text)):
        if text[index] == " " and text[index - 1] != " ":
            pieces.append(text[start:index])
            start = index
    pieces.append(text[start:])
    return pieces
