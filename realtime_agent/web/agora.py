"""``POST /audio/chat/completions``: a custom LLM endpoint in Agora's audio-modalities
format, for Agora's Conversational AI Engine (AI Studio: ``"llm": {"vendor": "custom",
"url": "https://HOST/audio/chat/completions", "output_modalities": ["audio"]}``), which
then plays the audio this server sends instead of running its own TTS.

**The exchange**, as Agora's example server (``server-audio-modalities`` in Agora's
AI-Recipes-Starter, FastAPI) documents and does it:

* The request: ``{"messages": [...], "stream": true, "modalities": ["text", "audio"]}``
  (other fields tolerated: ``model``, ``audio``, ``stream_options``...) with an
  ``Authorization`` header. ``stream`` defaults to true; ``false`` is refused.
* The answer, ``text/event-stream``: first ``data: {"id": <message id>, "choices":
  [{"index": 0, "delta": {"audio": {"id": <audio id>, "transcript": <text>}},
  "finish_reason": null}]}``; then the audio, pcm16 mono at ``audio_sample_rate`` (16 kHz),
  in chunks ``data: {"id", "choices": [{"index": 0, "delta": {"audio": {"id", "data":
  <base64>}}, "finish_reason": null}]}`` of exactly ``audio_chunk_ms`` each (40 ms: 1280
  bytes; the last may be shorter); then ``data: [DONE]``. Both ids are 32 hex digits
  (``uuid4().hex``) unless the source names its audio.
* Errors are FastAPI's: ``{"detail": "..."}``. 401 without an ``Authorization`` header
  (even with ``--insecure``: Agora always sends its ``api_key``), or with a key other than
  ``REALTIME_AGENT_HTTP_KEY`` when that is set (unset: any key is taken); 400 for a body
  that is not JSON, without ``messages``, or with ``stream: false`` ("chat completions
  require streaming"); 413 over :data:`MAX_BODY_BYTES`; 404 when the source has no audio
  (:class:`AudioNotFound`), 500 when it cannot read it (:class:`AudioUnreadable`); 503
  while the server drains. All of them are decided before the stream starts, so the
  status is right.
* A stream that cannot go on (the drain cut it, or it started as the drain began) ends
  with the original's in-stream error, ``data: {"error": {"message": "...", "type":
  "server_error"}}``, and no ``[DONE]``: the client knows the answer is partial.

**Where the audio comes from**: an :class:`AudioSource`. :class:`StandInSource` (the
default) has the local stack's stand-in model (the same responder and voices as the
local Realtime server) answer the messages, its 24 kHz speech resampled to the endpoint's
rate; :class:`FileSource` (``WebSettings.audio_dir``) sends fixed files, as Agora's
example does; :class:`FixedSource` one clip given in memory (for tests, or a greeting).
``create_app(audio_source=...)`` takes any other, e.g. a TTS service.

**Pace and lifetime.** The audio goes out at the server's pacing (``realtime``: one
second of audio a second, from the stream's start; ``instant``: as fast as the client
reads). Each stream is registered with the web context (``/metrics``' active streams,
the drain waits for it); a client that goes away cancels it at once, which is logged
and counted (``realtime_agent_http_client_gone_total{route="audio"}``). Every
request's outcome is one log line (never the key).

The exception tree (each maps to the HTTP status it answers)::

    RealtimeAgentError
    └── AudioSourceError          an AudioSource cannot answer (``status``, ``detail``)
        ├── MessagesRefused       400: the messages cannot be answered (the client's fault)
        ├── AudioNotFound         404: there is no audio for them (a missing file)
        └── AudioUnreadable       500: there is, but it cannot be read (a corrupt file)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from realtime_agent.audio.resample import Resampler
from realtime_agent.errors import AudioError, RealtimeAgentError
from realtime_agent.schema.common import encode_base64
from realtime_agent.server.chat import ChatRequestError, ChatStandIn
from realtime_agent.server.speech import RATE as SPEECH_RATE
from realtime_agent.web.app import Refused
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

__all__ = [
    "MAX_BODY_BYTES",
    "AudioNotFound",
    "AudioSource",
    "AudioSourceError",
    "AudioUnreadable",
    "FileSource",
    "FixedSource",
    "MessagesRefused",
    "SpokenAnswer",
    "StandInSource",
    "audio_chat_completions",
    "chunk_bytes",
    "resample",
]

log = logging.getLogger("realtime_agent.web")

ROUTE = "audio"
"""The route's label in ``/metrics``."""
MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest request body taken (Agora sends the conversation as text)."""
NO_KEY = "API key is required. Provide it via Authorization header (Bearer <key>)."
"""The 401's detail without an ``Authorization`` header (the original's words)."""
NOT_STREAMING = "chat completions require streaming"
"""The 400's detail for ``stream: false`` (the original's words)."""


# -- what a source answers ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpokenAnswer:
    """An answer to send: its ``transcript`` and its audio, ``pcm`` (pcm16 mono little
    endian at the rate the endpoint asked for). ``audio_id`` names the audio in the
    stream (None: a new ``uuid4().hex``). Raises ValueError for an odd number of bytes."""

    transcript: str
    pcm: bytes
    audio_id: str | None = None

    def __post_init__(self) -> None:
        if len(self.pcm) % 2:
            raise ValueError(f"pcm16 has an even number of bytes, not {len(self.pcm)}")


class AudioSourceError(RealtimeAgentError):
    """An :class:`AudioSource` cannot answer: the endpoint answers ``status`` with
    ``{"detail": detail}`` (so ``detail`` is for the client: no server paths)."""

    status: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MessagesRefused(AudioSourceError):
    """The messages cannot be answered (400): the client's fault."""

    status = 400


class AudioNotFound(AudioSourceError):
    """There is no audio for these messages (404), e.g. a missing file."""

    status = 404


class AudioUnreadable(AudioSourceError):
    """The audio exists but cannot be read (500), e.g. a corrupt file."""

    status = 500


class AudioSource(Protocol):
    """Where the endpoint's answers come from."""

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        """The answer to ``messages`` (the request's, as sent: OpenAI chat messages), its
        audio pcm16 mono at ``rate`` Hz. Called before the stream starts; raises
        :class:`AudioSourceError` (:class:`MessagesRefused`, :class:`AudioNotFound`,
        :class:`AudioUnreadable`) for the status to answer with. Must not block the event
        loop: do file reads and synthesis in a thread."""
        ...


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    """pcm16 mono at ``in_rate`` as pcm16 mono at ``out_rate`` (soxr, HQ), exactly
    ``ceil(n * out_rate / in_rate)`` samples long. CPU work: call it in a thread for
    more than a few seconds of audio."""
    if in_rate == out_rate:
        return pcm
    resampler = Resampler(in_rate, out_rate, frame_ms=1000)
    return b"".join([*resampler.push(pcm), *resampler.flush()])


def chunk_bytes(rate: int, chunk_ms: int) -> int:
    """The size of each audio chunk: ``rate * 2 * chunk_ms / 1000`` bytes, in whole samples
    (16 kHz, 40 ms: 1280). Raises ValueError when that is not one sample at least."""
    samples = rate * chunk_ms // 1000
    if rate <= 0 or samples <= 0:
        raise ValueError(f"audio chunks of {chunk_ms} ms at {rate} Hz hold no sample")
    return 2 * samples


class FixedSource:
    """Every request gets the same answer: ``transcript`` and ``pcm`` (pcm16 mono at
    ``rate`` Hz, resampled to the endpoint's rate if it differs)."""

    def __init__(self, transcript: str, pcm: bytes, rate: int = 16000) -> None:
        self.fixed = SpokenAnswer(transcript, pcm)
        self.rate = rate

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        """The fixed answer at ``rate``."""
        fixed = self.fixed
        if rate == self.rate:
            return fixed
        pcm = await asyncio.to_thread(resample, fixed.pcm, self.rate, rate)
        return SpokenAnswer(fixed.transcript, pcm)


class FileSource:
    """Every request gets the files of ``directory``, read anew each time, as Agora's
    example server does: the transcript from ``file.txt`` (UTF-8, surrounding whitespace
    stripped) and the audio from ``file.pcm`` (raw pcm16 mono at ``pcm_rate``; None: at
    the endpoint's rate, as Agora's example assumes) or else ``file.wav`` (any audio file
    libsndfile reads, any rate or channels, resampled).

    A missing file raises :class:`AudioNotFound` (404); one that cannot be read, or is not
    UTF-8 text, or pcm16, or audio, :class:`AudioUnreadable` (500).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        transcript: str = "file.txt",
        pcm: str = "file.pcm",
        wav: str = "file.wav",
        pcm_rate: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.transcript_name = transcript
        self.pcm_name = pcm
        self.wav_name = wav
        self.pcm_rate = pcm_rate

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        """The files' answer at ``rate`` (read in a thread)."""
        return await asyncio.to_thread(self.read, rate)

    def read(self, rate: int) -> SpokenAnswer:
        """The files' answer at ``rate`` (blocking)."""
        return SpokenAnswer(self._transcript(), self._audio(rate))

    def _transcript(self) -> str:
        name = self.transcript_name
        try:
            raw = (self.directory / name).read_bytes()
        except FileNotFoundError:
            raise AudioNotFound(
                f"Text file not found: {name}. Please ensure the file exists."
            ) from None
        except OSError as exc:
            raise AudioUnreadable(f"Error reading text file {name}: {exc.strerror}") from exc
        try:
            return raw.decode("utf-8-sig").strip()
        except UnicodeDecodeError as exc:
            raise AudioUnreadable(f"Error reading text file {name}: not UTF-8 text") from exc

    def _audio(self, rate: int) -> bytes:
        name = self.pcm_name
        try:
            pcm = (self.directory / name).read_bytes()
        except FileNotFoundError:
            return self._wav(rate)
        except OSError as exc:
            raise AudioUnreadable(f"Error reading audio file {name}: {exc.strerror}") from exc
        if len(pcm) % 2:
            raise AudioUnreadable(
                f"Error reading audio file {name}: not pcm16 (an odd number of bytes)"
            )
        return resample(pcm, self.pcm_rate or rate, rate)

    def _wav(self, rate: int) -> bytes:
        from realtime_agent.audio.sources import read_wav

        path = self.directory / self.wav_name
        if not path.exists():
            raise AudioNotFound(
                f"Audio file not found: {self.pcm_name} (or {self.wav_name}). Please ensure "
                "the file exists."
            )
        try:
            return read_wav(path, rate=rate)
        except AudioError as exc:
            # The error names the server's path: the log has it, the client does not.
            log.warning("web: audio chat completions: %s", exc)
            raise AudioUnreadable(
                f"Error reading audio file {self.wav_name}: not an audio file libsndfile reads"
            ) from exc


class StandInSource:
    """The local stack's stand-in model answers the messages
    (:class:`~realtime_agent.server.chat.ChatStandIn`: the responder and the voices of the
    local Realtime server), in ``voice``; its 24 kHz speech is resampled to the
    endpoint's rate. Messages it cannot read raise :class:`MessagesRefused` (400)."""

    def __init__(self, chat: ChatStandIn | None = None, *, voice: str = "marin") -> None:
        self.chat = chat if chat is not None else ChatStandIn()
        self.voice = voice

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        """The stand-in's spoken answer at ``rate`` (made in a thread: it synthesizes)."""
        return await asyncio.to_thread(self.speak, messages, rate)

    def speak(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        """The stand-in's spoken answer at ``rate`` (blocking)."""
        body = {
            "model": "agora-audio-modalities",
            "messages": list(messages),
            "modalities": ["text", "audio"],
            "audio": {"voice": self.voice, "format": "pcm16"},
            "stream": True,
        }
        try:
            request = self.chat.parse(body)
        except ChatRequestError as error:
            raise MessagesRefused(error.message) from error
        said = self.chat.answer(request)
        pcm = b"" if said.speech is None else resample(said.speech.pcm, SPEECH_RATE, rate)
        return SpokenAnswer(said.text, pcm, said.audio_id)


def _source(web: WebContext) -> AudioSource:
    """The application's source, else the settings' directory, else the stand-in."""
    if web.audio_source is not None:
        return web.audio_source
    if web.settings.audio_dir is not None:
        return FileSource(web.settings.audio_dir)
    return StandInSource(web.chat)


# -- the route ----------------------------------------------------------------------------


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
"""What a 401 asks for (RFC 9110: a 401 names its scheme)."""


class _Refusal(Exception):
    """The request is refused before any audio is made."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _refuse(
    web: WebContext, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    web.metrics.http_requests.labels(ROUTE, str(status)).inc()
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(level, "web: audio chat completion refused (%d): %s", status, detail)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _body(request: Request) -> object:
    try:
        return await read_json(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise _Refusal(
            413, f"the request body is over the limit of {MAX_BODY_BYTES} bytes"
        ) from None
    except NotJSON as exc:
        raise _Refusal(400, f"the request body is not JSON: {exc}") from None


def _messages(body: object) -> list[Mapping[str, Any]]:
    """The request's messages; raises :class:`_Refusal` (400) for a body it cannot take."""
    if not isinstance(body, dict):
        raise _Refusal(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if messages is None:
        raise _Refusal(400, "'messages' is required: the conversation, as chat messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _Refusal(400, "'messages' must be a list of message objects")
    if not messages:
        raise _Refusal(400, "'messages' is empty: there is nothing to answer")
    stream = body.get("stream", True)  # the original's default
    if not isinstance(stream, bool):
        raise _Refusal(400, "'stream' must be true or false")
    if not stream:
        raise _Refusal(400, NOT_STREAMING)
    return messages


async def audio_chat_completions(request: Request) -> Response:
    """``POST /audio/chat/completions`` (see the module docstring)."""
    web: WebContext = request.app.state.web
    given = bearer(request)
    if given is None:
        return _refuse(web, 401, NO_KEY, _CHALLENGE)
    if not key_accepted(given, web.http_key):
        return _refuse(web, 401, "Invalid API key.", _CHALLENGE)
    if web.draining:
        return _refuse(web, 503, "the server is shutting down: try again")
    try:
        messages = _messages(await _body(request))
    except _Refusal as refusal:
        return _refuse(web, refusal.status, refusal.detail)
    except ClientDisconnect:
        web.metrics.http_client_gone.labels(ROUTE).inc()
        log.info("web: audio chat completion: the client went away while sending its request")
        return Response(status_code=400)
    rate = web.settings.audio_sample_rate  # WebSettings holds it and the chunks to sane bounds
    size = chunk_bytes(rate, web.settings.audio_chunk_ms)
    source = _source(web)
    try:
        spoken = await source.answer(messages, rate)
    except AudioSourceError as error:
        return _refuse(web, error.status, error.detail)
    except Exception:
        log.exception("web: audio chat completions: %s failed", type(source).__name__)
        return _refuse(web, 500, f"the audio source ({type(source).__name__}) failed")
    web.metrics.http_requests.labels(ROUTE, "200").inc()
    events = _events(web, spoken, rate, size, type(source).__name__)
    return EventStream(events)


def _delta(message_id: str, audio: dict[str, str]) -> bytes:
    choice = {"index": 0, "delta": {"audio": audio}, "finish_reason": None}
    return event({"id": message_id, "choices": [choice]})


def _server_error(message: str) -> bytes:
    return event({"error": {"message": message, "type": "server_error"}})


async def _events(
    web: WebContext, spoken: SpokenAnswer, rate: int, size: int, source: str
) -> AsyncGenerator[bytes, None]:
    """The answer's events: the transcript, the audio in chunks of ``size`` bytes, [DONE]."""
    started = time.monotonic()
    message_id = uuid.uuid4().hex
    audio_id = spoken.audio_id or uuid.uuid4().hex
    pcm = spoken.pcm
    try:
        with web.streaming(ROUTE) as stream:
            outcome, chunks = "failed", 0
            try:
                yield _delta(message_id, {"id": audio_id, "transcript": spoken.transcript})
                pace = Pace(1.0 if web.settings.pacing == "realtime" else None)
                for offset in range(0, len(pcm), size):
                    if stream.stopped:
                        break
                    piece = pcm[offset : offset + size]
                    yield _delta(message_id, {"id": audio_id, "data": encode_base64(piece)})
                    chunks += 1
                    seconds = len(piece) / 2 / rate
                    stream.audio_s += seconds  # counted in /metrics when the stream ends
                    await pace.sent(seconds)
                if chunks * size < len(pcm):
                    outcome = "cut off by the drain"
                    yield _server_error("the server is shutting down: the answer was cut off")
                else:
                    outcome = "answered"
                    yield DONE
            except (asyncio.CancelledError, GeneratorExit):
                outcome = "stopped: the client went away"
                web.metrics.http_client_gone.labels(ROUTE).inc()
                raise
            finally:
                log.info(
                    "web: audio chat completion %s: %.2f s of audio in %d chunk(s), %.2f s (%s)",
                    outcome,
                    stream.audio_s,
                    chunks,
                    time.monotonic() - started,
                    source,
                )
    except Refused as refused:  # the drain began after the answer was made
        log.info("web: audio chat completion not sent: %s", refused.reason)
        yield _server_error(refused.reason)
