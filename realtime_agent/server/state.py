"""One server-side session of the local Realtime server, without I/O.

:class:`ServerSession` takes client events (in GA form: the app translates a beta
connection's events first) and returns effects: events to send, in order, and
responses to start. A started :class:`~realtime_agent.server.responses.ResponseRun`
is driven by the app, which paces its audio; everything else happens here,
synchronously, in the order the client's events arrive. The rules enforced are the
real server's (PROTOCOL.md section 4), with its error codes and messages
(:mod:`realtime_agent.server.messages`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import client as c
from realtime_agent.schema import server as s
from realtime_agent.schema.beta import BETA_CLIENT_EVENT_TYPES
from realtime_agent.schema.codec import UnknownClientEvent
from realtime_agent.schema.common import ErrorDetail
from realtime_agent.schema.items import (
    InputAudioPart,
    MessageItem,
)
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.session import (
    SemanticVad,
    ServerVad,
    SessionConfig,
    TranscriptionSessionConfig,
)
from realtime_agent.server import items, messages, planning
from realtime_agent.server.config import (
    EAGERNESS_SILENCE_MS,
    SERVER_VAD_DEFAULTS,
    apply_update,
    check_range,
    default_config,
    default_transcription_config,
    parameter_name,
)
from realtime_agent.server.conversation import Conversation, Entry, Ids
from realtime_agent.server.responder import (
    Output,
    Responder,
    ResponseRefused,
    placeholder_transcript,
)
from realtime_agent.server.responses import ResponseRun
from realtime_agent.server.speech import SpeechSynthesizer
from realtime_agent.server.stt import SpeechRecognizer, session_hints
from realtime_agent.server.vad import Detector, SpeechStarted, VoiceActivityDetector

__all__ = ["Effect", "Recognize", "Send", "ServerSession", "Start"]

MAX_APPEND_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Send:
    """Send this event to the client."""

    event: s.ServerEvent


@dataclass(frozen=True, slots=True)
class Start:
    """Drive this response (its ``response.created`` is already in the effects before it)."""

    run: ResponseRun


@dataclass(frozen=True, slots=True)
class Recognize:
    """Recognize this committed user audio (slow: in a worker thread), then hand the
    words to :meth:`ServerSession.recognized`."""

    item_id: str
    audio: bytes
    audio_format: AudioFormat
    hints: str
    """The session's words (tools, instructions, transcription prompt): see stt.py."""


Effect = Send | Start | Recognize


class ServerSession:
    """The state of one connection: configuration, input buffer, VAD, conversation, responses."""

    def __init__(
        self,
        *,
        responder: Responder,
        synthesizer: SpeechSynthesizer,
        recognizer: SpeechRecognizer | None = None,
        ids: Ids | None = None,
        model: str = "gpt-realtime",
        detector: Detector = "webrtc",
        delta_ms: int = 40,
        dialect: Literal["ga", "beta"] = "ga",
        intent: Literal["realtime", "transcription"] = "realtime",
        now: float | None = None,
    ) -> None:
        self.responder = responder
        self.synthesizer = synthesizer
        self.recognizer = recognizer
        """Recognizes user audio; None: user audio gets a placeholder transcript."""
        self.ids = ids or Ids()
        self.detector: Detector = detector
        self.delta_ms = delta_ms
        self.dialect = dialect
        self.id = self.ids.new("sess")
        self.conversation = Conversation(self.ids.new("conv"))
        self.created_at = time.time() if now is None else now
        self.config: SessionConfig | TranscriptionSessionConfig
        if intent == "transcription":
            self.config = default_transcription_config(self.id, self.created_at)
        else:
            self.config = default_config(self.id, model, self.created_at)
        self.input_format = self._input_format_of(self.config)
        """The input audio format in effect (follows ``config``)."""
        self.typed = False  # GA: the first session.update must name session.type
        self.beta_temperature = 0.8
        """The beta dialect's sampling temperature (GA has none); reported to beta clients."""
        self.events_sent = 0
        """Events written to the client so far (counted by the connection's writer)."""
        self.socket_writes = 0
        """Writes to the socket so far: a burst of events takes few (counted likewise)."""
        self.outbound_peak = 0
        """The most bytes that ever waited for the client (queued frames, unsent buffer)."""
        self.disconnected: str | None = None
        """Why the server dropped the client (``"not reading"``), if it did."""
        self.audio_spoken = False
        self.active: ResponseRun | None = None
        self.out_of_band: dict[str, ResponseRun] = {}
        self.buffer = bytearray()
        self.input_ms = 0.0  # all input audio appended so far
        self.buffer_start_ms = 0.0
        self.vad: VoiceActivityDetector | None = None
        self.vad_origin_ms = 0.0
        self.speech_item_id: str | None = None
        self.speech_start_ms = 0.0
        self.idle_epoch = 0
        self.idle_wait_ms: float | None = None
        """Set when the idle timeout is armed: how long to wait (ms) before ``idle_timeout``."""
        self._configure_vad()

    # --- configuration -----------------------------------------------------------------------

    @staticmethod
    def _input_format_of(config: SessionConfig | TranscriptionSessionConfig) -> AudioFormat:
        audio_in = config.audio.input if config.audio else None
        wire = audio_in.format if audio_in else None
        return PCM16_24K if wire is None else AudioFormat.from_wire(wire)

    @property
    def turn_detection(self) -> ServerVad | SemanticVad | None:
        """The turn detection in effect (None: VAD off)."""
        audio = self.config.audio
        detection = audio.input.turn_detection if audio and audio.input else None
        return detection if isinstance(detection, ServerVad | SemanticVad) else None

    def _configure_vad(self) -> None:
        detection = self.turn_detection
        self.vad_origin_ms = self.input_ms
        self.speech_item_id = None
        if detection is None:
            self.vad = None
            return
        defaults = SERVER_VAD_DEFAULTS
        threshold, prefix = defaults["threshold"], defaults["prefix_padding_ms"]
        if isinstance(detection, ServerVad):
            if detection.threshold is not None:
                threshold = detection.threshold
            if detection.prefix_padding_ms is not None:
                prefix = detection.prefix_padding_ms
            silence = detection.silence_duration_ms
            if silence is None:
                silence = defaults["silence_duration_ms"]
        else:
            silence = EAGERNESS_SILENCE_MS.get(detection.eagerness or "auto", 700)
        self.vad = VoiceActivityDetector(
            input_format=self.input_format,
            detector=self.detector,
            threshold=threshold,
            prefix_padding_ms=prefix,
            silence_duration_ms=silence,
        )

    # --- entry points ------------------------------------------------------------------------

    def open(self) -> list[Effect]:
        """The events that open a connection: ``session.created``, ``conversation.created``."""
        return [
            Send(s.SessionCreated(event_id=self._event_id(), session=self.config)),
            Send(
                s.ConversationCreated(
                    event_id=self._event_id(),
                    conversation=s.ConversationInfo(
                        id=self.conversation.id, object="realtime.conversation"
                    ),
                )
            ),
        ]

    def handle(
        self, event: c.ClientEvent | UnknownClientEvent, *, session_type_given: bool = True
    ) -> list[Effect]:
        """The effects of one client event, in order.

        ``session_type_given`` says whether a ``session.update`` named ``session.type``
        in its JSON (GA requires it of the first update).
        """
        match event:
            case c.SessionUpdate():
                return self._session_update(event, session_type_given)
            case c.InputAudioBufferAppend():
                return self._append(event)
            case c.InputAudioBufferCommit():
                return self._commit(event)
            case c.InputAudioBufferClear():
                return self._clear()
            case c.ConversationItemCreate():
                return self._answer(
                    items.create(self.conversation, self.ids, event, self.input_format)
                )
            case c.ConversationItemRetrieve():
                return self._answer(items.retrieve(self.conversation, self.ids, event))
            case c.ConversationItemTruncate():
                return self._answer(items.truncate(self.conversation, self.ids, event))
            case c.ConversationItemDelete():
                return self._answer(items.delete(self.conversation, self.ids, event))
            case c.ResponseCreate():
                return self._response_create(event.response, event.event_id)
            case c.ResponseCancel():
                return self._response_cancel(event)
            case c.OutputAudioBufferClear() | c.TranscriptionSessionUpdate() | UnknownClientEvent():
                # Not events of a GA WebSocket session: the real server answers as to any
                # type it does not support.
                if self.dialect == "beta" and not isinstance(event, UnknownClientEvent):
                    # Real beta events, for WebRTC or transcription sessions: say so.
                    message = f"The local Realtime server does not handle '{event.type}'."
                    return [self._error(messages.invalid_value("type", message, event.event_id))]
                return [self._error(self._invalid_type(event.type, event.event_id))]

    def reject(self, error: RemoteProtocolError, event_id: str | None = None) -> list[Effect]:
        """The error event for a client frame that failed to decode."""
        cause = error.__cause__
        kind = ""
        if isinstance(cause, ValidationError) and cause.errors():
            kind = cause.errors()[0]["type"]
        param = parameter_name(error.field)
        if kind == "json_invalid" or (error.event_type is None and "invalid JSON" in str(error)):
            detail = messages.invalid_json(str(error).rsplit(": ", 1)[-1], event_id)
        elif error.event_type is None or not param:
            detail = messages.invalid_event(str(error), event_id)
        elif kind == "missing":
            detail = messages.missing_parameter(param, event_id)
        else:
            detail = messages.invalid_value(
                param,
                f"Invalid value for '{param}': {str(error).rsplit(': ', 1)[-1]}",
                event_id,
                code="invalid_type" if kind.endswith("_type") else "invalid_value",
            )
        return [self._error(detail)]

    def _invalid_type(self, event_type: str, event_id: str | None) -> ErrorDetail:
        if self.dialect == "beta":
            supported = ", ".join(f"'{t}'" for t in sorted(BETA_CLIENT_EVENT_TYPES))
        else:
            supported = messages.GA_SUPPORTED_CLIENT_TYPES
        return messages.invalid_type(event_type, event_id, supported)

    # --- RunOwner ------------------------------------------------------------------------------

    def run_finished(self, run: ResponseRun) -> None:
        """A response ended: the default conversation is free again."""
        if self.active is run:
            self.active = None
            detection = self.turn_detection
            if isinstance(detection, ServerVad) and detection.idle_timeout_ms is not None:
                # Counted from response.done plus the time the client takes to play it.
                self._idle(run.audio_ms + detection.idle_timeout_ms)
        self.out_of_band.pop(run.id, None)

    def _idle(self, wait_ms: float | None) -> None:
        self.idle_epoch += 1
        self.idle_wait_ms = wait_ms

    def idle_timeout(self, epoch: int) -> list[Effect]:
        """``idle_timeout_ms`` passed without speech: commit the silence and respond.

        ``epoch`` is the ``idle_epoch`` the timer was armed in; anything that happened
        since (speech, a response, a commit) disarmed it, and then nothing happens.
        """
        if epoch != self.idle_epoch or self.idle_wait_ms is None:
            return []
        self._idle(None)
        item_id = self.ids.new("item")
        effects: list[Effect] = [
            Send(
                s.InputAudioBufferTimeoutTriggered(
                    event_id=self._event_id(),
                    audio_start_ms=int(self.buffer_start_ms),
                    audio_end_ms=int(self.input_ms),
                    item_id=item_id,
                )
            )
        ]
        audio = bytes(self.buffer)
        self.buffer.clear()
        self.buffer_start_ms = self.input_ms
        if self.vad is not None:
            self.vad.reset()
        effects += self._commit_audio(audio, item_id)
        return effects + self._response_create(None, None)

    def audio_produced(self) -> None:
        """The assistant has spoken: the voice is fixed from now on."""
        self.audio_spoken = True

    # --- helpers -------------------------------------------------------------------------------

    def _event_id(self) -> str:
        return self.ids.new("event")

    def _error(self, detail: ErrorDetail) -> Send:
        return Send(s.ErrorEvent(event_id=self._event_id(), error=detail))

    def _answer(self, result: list[s.ServerEvent] | ErrorDetail) -> list[Effect]:
        if isinstance(result, ErrorDetail):
            return [self._error(result)]
        return [Send(event) for event in result]

    # --- session.update ------------------------------------------------------------------------

    # --- session.update ------------------------------------------------------------------------

    def _session_update(self, event: c.SessionUpdate, type_given: bool) -> list[Effect]:
        if self.dialect == "ga" and not self.typed and not type_given:
            return [self._error(messages.missing_parameter("session.type", event.event_id))]
        source = getattr(event.session, "_beta_source", None) or {}
        temperature = source.get("temperature")
        if temperature is not None:
            problem = check_range("session.temperature", temperature, 0.6, 1.2, event.event_id)
            if problem is not None:
                return [self._error(problem)]
        result = apply_update(
            self.config, event.session, event_id=event.event_id, voice_locked=self.audio_spoken
        )
        if isinstance(result, ErrorDetail):
            return [self._error(result)]
        old = (self.turn_detection, self.input_format)
        if temperature is not None:
            self.beta_temperature = float(temperature)
        self.config = result
        self.input_format = self._input_format_of(result)
        self.typed = True
        if (self.turn_detection, self.input_format) != old:
            self._configure_vad()
        return [Send(s.SessionUpdated(event_id=self._event_id(), session=result))]

    # --- input audio -------------------------------------------------------------------------

    def _append(self, event: c.InputAudioBufferAppend) -> list[Effect]:
        try:
            audio = event.audio_bytes
        except RemoteProtocolError:
            return [self._error(messages.invalid_audio(event.event_id))]
        if len(audio) > MAX_APPEND_BYTES:
            return [
                self._error(
                    messages.invalid_value(
                        "audio",
                        f"Invalid 'audio': string too long. Expected at most "
                        f"{MAX_APPEND_BYTES} bytes of audio, but got {len(audio)}.",
                        event.event_id,
                    )
                )
            ]
        self.buffer += audio
        self.input_ms += self.input_format.ms(len(audio))
        if self.vad is None:
            return []
        effects: list[Effect] = []
        for vad_event in self.vad.feed(audio):
            if isinstance(vad_event, SpeechStarted):
                effects += self._speech_started(self.vad_origin_ms + vad_event.audio_start_ms)
            else:
                effects += self._speech_stopped(self.vad_origin_ms + vad_event.audio_end_ms)
        return effects

    def _speech_started(self, start_ms: float) -> list[Effect]:
        self._idle(None)
        self.speech_item_id = self.ids.new("item")
        self.speech_start_ms = start_ms
        effects: list[Effect] = [
            Send(
                s.InputAudioBufferSpeechStarted(
                    event_id=self._event_id(),
                    audio_start_ms=int(start_ms),
                    item_id=self.speech_item_id,
                )
            )
        ]
        detection = self.turn_detection
        interrupt = detection is None or detection.interrupt_response is not False
        if interrupt and self.active is not None:
            effects += [Send(step.event) for step in self.active.cancel("turn_detected")]
        return effects

    def _speech_stopped(self, end_ms: float) -> list[Effect]:
        item_id = self.speech_item_id or self.ids.new("item")
        self.speech_item_id = None
        effects: list[Effect] = [
            Send(
                s.InputAudioBufferSpeechStopped(
                    event_id=self._event_id(), audio_end_ms=int(end_ms), item_id=item_id
                )
            )
        ]
        fmt = self.input_format
        start_ms = max(self.buffer_start_ms, self.speech_start_ms)
        first = fmt.nbytes(start_ms - self.buffer_start_ms)
        last = min(len(self.buffer), fmt.nbytes(end_ms - self.buffer_start_ms))
        audio = bytes(self.buffer[first:last])
        del self.buffer[:last]
        self.buffer_start_ms += fmt.ms(last)
        effects += self._commit_audio(audio, item_id)
        detection = self.turn_detection
        transcribing = isinstance(self.config, TranscriptionSessionConfig)
        if detection is not None and detection.create_response is not False and not transcribing:
            effects += self._response_create(None, None)
        return effects

    def _commit(self, event: c.InputAudioBufferCommit) -> list[Effect]:
        buffered = self.input_format.ms(len(self.buffer))
        if buffered < 100:
            return [self._error(messages.commit_empty(buffered, event.event_id))]
        audio = bytes(self.buffer)
        self.buffer.clear()
        self.buffer_start_ms += buffered
        if self.vad is not None:
            self.vad.reset()
        self.speech_item_id = None  # a manual commit uses a new item id
        return self._commit_audio(audio, self.ids.new("item"))

    def _clear(self) -> list[Effect]:
        self.buffer_start_ms += self.input_format.ms(len(self.buffer))
        self.buffer.clear()
        if self.vad is not None:
            self.vad.reset()
        self.speech_item_id = None
        return [Send(s.InputAudioBufferCleared(event_id=self._event_id()))]

    def _commit_audio(self, audio: bytes, item_id: str) -> list[Effect]:
        fmt = self.input_format
        known = self.responder.transcribe(fmt.ms(len(audio)))
        if known is None and self.recognizer is None:
            known = placeholder_transcript(fmt.ms(len(audio)))
        item = MessageItem.model_validate(
            {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            }
        )
        entry = Entry(item=item, audio=bytearray(audio), audio_format=fmt, heard=known)
        previous = self.conversation.insert(entry, item_id)
        effects: list[Effect] = [
            Send(
                s.InputAudioBufferCommitted(
                    event_id=self._event_id(), item_id=item_id, previous_item_id=previous
                )
            ),
            Send(
                s.ConversationItemAdded(
                    event_id=self._event_id(), previous_item_id=previous, item=item
                )
            ),
            Send(
                s.ConversationItemDone(
                    event_id=self._event_id(), previous_item_id=previous, item=item
                )
            ),
        ]
        if known is None:
            # Recognition runs in a thread; its events come when it ends, before or after
            # the response's (as the real server's transcription does).
            entry.recognizing = True
            effects.append(Recognize(item_id, audio, fmt, self._hints()))
        else:
            effects += self._transcribed(entry, known)
        return effects

    def recognized(self, item_id: str, text: str | None) -> list[Effect]:
        """The words recognized in a user turn (None: nothing could be recognized)."""
        entry = self.conversation.get(item_id)
        if entry is None or not entry.recognizing:
            return []  # deleted meanwhile
        entry.recognizing = False
        entry.heard = text or ""
        return self._transcribed(entry, text)

    def _hints(self) -> str:
        config = self.config
        audio_in = config.audio.input if config.audio else None
        prompt = audio_in.transcription.prompt if audio_in and audio_in.transcription else None
        if isinstance(config, TranscriptionSessionConfig):
            return session_hints(prompt)
        return session_hints(config.instructions, prompt, tools=config.tools or ())

    def _transcribed(self, entry: Entry, text: str | None) -> list[Effect]:
        """The input transcription events of a user turn, when the session asked for them."""
        audio_in = self.config.audio.input if self.config.audio else None
        if audio_in is None or audio_in.transcription is None:
            return []
        item_id = entry.item.id
        assert item_id is not None
        if text is None:
            return [
                Send(
                    s.InputAudioTranscriptionFailed.model_validate(
                        {
                            "event_id": self._event_id(),
                            "item_id": item_id,
                            "content_index": 0,
                            "error": messages.transcription_failed(),
                        }
                    )
                )
            ]
        entry.item = entry.item.model_copy(update={"content": [InputAudioPart(transcript=text)]})
        effects: list[Effect] = [
            Send(
                s.InputAudioTranscriptionDelta(
                    event_id=self._event_id(), item_id=item_id, content_index=0, delta=delta
                )
            )
            for delta in _deltas(text, audio_in.transcription.model)
        ]
        seconds = entry.audio_format.ms(len(entry.audio)) / 1000 if entry.audio_format else 0.0
        effects.append(
            Send(
                s.InputAudioTranscriptionCompleted.model_validate(
                    {
                        "event_id": self._event_id(),
                        "item_id": item_id,
                        "content_index": 0,
                        "transcript": text,
                        "usage": {"type": "duration", "seconds": round(seconds, 3)},
                    }
                )
            )
        )
        return effects

    # --- responses ---------------------------------------------------------------------------

    def _response_create(
        self, params: ResponseCreateParams | None, eid: str | None
    ) -> list[Effect]:
        config = self.config
        if not isinstance(config, SessionConfig):
            problem = "Responses are not available in a transcription session."
            return [self._error(messages.invalid_value("type", problem, eid))]
        writes = planning.in_conversation(params)
        if writes and self.active is not None:
            return [self._error(messages.active_response(self.active.id, eid))]
        if writes:
            self._idle(None)
        response_id = self.ids.new("resp")
        context, settings = planning.plan(
            config,
            params,
            conversation=self.conversation,
            response_id=response_id,
            delta_ms=self.delta_ms,
        )
        waiting = frozenset(
            entry.item.id for entry in self.conversation.entries() if entry.recognizing
        )
        outputs: Sequence[Output] | Callable[[], Sequence[Output]]
        if waiting:
            # The responder decides once the words are known: the run waits for them
            # after response.created (see ResponseRun.decide).
            def outputs() -> Sequence[Output]:
                context, _ = planning.plan(
                    config,
                    params,
                    conversation=self.conversation,
                    response_id=response_id,
                    delta_ms=self.delta_ms,
                )
                return self.responder.respond(context)
        else:
            try:
                outputs = self.responder.respond(context)
            except ResponseRefused as refused:  # e.g. a script whose expectation failed
                detail = ErrorDetail(
                    type="invalid_request_error",
                    code=refused.code,
                    message=refused.message,
                    param=None,
                    event_id=eid,
                )
                return [self._error(detail)]
        run = ResponseRun(
            response_id=response_id,
            outputs=outputs,
            waiting_for=frozenset(item_id for item_id in waiting if item_id is not None),
            settings=settings,
            conversation=self.conversation,
            ids=self.ids,
            synthesizer=self.synthesizer,
            owner=self,
        )
        if writes:
            self.active = run
        else:
            self.out_of_band[response_id] = run
        return [Send(run.start().event), Start(run)]

    def _response_cancel(self, event: c.ResponseCancel) -> list[Effect]:
        run: ResponseRun | None
        if event.response_id is not None:
            run = self.out_of_band.get(event.response_id)
            if run is None and self.active is not None and self.active.id == event.response_id:
                run = self.active
        else:
            run = self.active
        if run is None or run.finished:
            return [self._error(messages.cancel_not_active(event.event_id))]
        return [Send(step.event) for step in run.cancel("client_cancelled")]


def _deltas(text: str, model: str | None) -> list[str]:
    """A transcript as the deltas that stream it: a word each (with its space), as the
    gpt-4o transcribe models stream; whisper-1's one delta holds the whole transcript
    (OpenAI's realtime transcription guide)."""
    if model == "whisper-1":
        return [text]
    return re.findall(r"\S+\s*", text) or [text]
