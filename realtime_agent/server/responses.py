"""One response of the local server, as the event sequence the real server sends.

A :class:`ResponseRun` is a generator of :class:`Step` (an event, and the audio it
carries, for pacing). It updates the conversation as it goes, so the audio an
assistant item holds is exactly what has been sent of it. ``cancel()`` throws into the
generator, which closes what it had open (the item ends ``incomplete``, a function call
still gets its ``arguments.done``) and ends with ``response.done`` (``cancelled``).

GA order of a spoken answer (from captures of the real server)::

    response.created
    response.output_item.added, conversation.item.added, response.content_part.added
    (response.output_audio_transcript.delta, response.output_audio.delta) ...
    response.output_audio.done, response.output_audio_transcript.done,
    response.content_part.done, conversation.item.done, response.output_item.done
    response.done, rate_limits.updated
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import soxr

from realtime_agent.audio.format import AudioFormat
from realtime_agent.audio.g711 import pcm16_to_alaw, pcm16_to_ulaw
from realtime_agent.schema.common import RateLimit, Usage, encode_base64
from realtime_agent.schema.items import (
    AudioPart,
    FunctionCallItem,
    Item,
    MessageItem,
    OutputAudioPart,
    OutputTextPart,
    TextPart,
)
from realtime_agent.schema.response import Response, ResponseError, ResponseStatusDetails
from realtime_agent.schema.server import (
    ConversationItemAdded,
    ConversationItemDone,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerEvent,
)
from realtime_agent.server.conversation import Conversation, Entry, Ids
from realtime_agent.server.responder import CallTool, Output, ResponseRefused, Say
from realtime_agent.server.speech import Speech, SpeechSynthesizer

__all__ = ["ResponseRun", "RunSettings", "Step"]


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a response, and the ms of audio it carries (for pacing)."""

    event: ServerEvent
    audio_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What one response produces, after the response's overrides of the session."""

    output_audio: bool
    output_format: AudioFormat
    response: Response
    """The response object ``response.created`` reports (status, modalities, audio, ...)."""
    in_conversation: bool
    """False for an out-of-band response (``conversation: "none"``)."""
    max_output_tokens: int | None
    delta_ms: int = 40
    input_tokens: int = 0


class RunOwner(Protocol):
    """The session a run reports to."""

    def run_finished(self, run: ResponseRun) -> None:
        """The run ended (it is no longer active); called before ``response.done``."""

    def audio_produced(self) -> None:
        """The run produced assistant audio (the voice can no longer change)."""


class _Cancel(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ResponseRun:
    """The events of one response, produced on demand (see the module docstring)."""

    def __init__(
        self,
        *,
        response_id: str,
        outputs: Sequence[Output] | Callable[[], Sequence[Output]],
        settings: RunSettings,
        waiting_for: frozenset[str] = frozenset(),
        conversation: Conversation,
        ids: Ids,
        synthesizer: SpeechSynthesizer,
        owner: RunOwner,
    ) -> None:
        self.id = response_id
        self._decide = outputs if callable(outputs) else None
        self.outputs: tuple[Output, ...] = () if callable(outputs) else tuple(outputs)
        self.waiting_for = waiting_for
        self._refused: ResponseRefused | None = None
        """User turns still being recognized: decide once their words are known."""
        self.settings = settings
        self.conversation = conversation
        self.ids = ids
        self.synthesizer = synthesizer
        self.owner = owner
        self.finished = False
        self.status = "in_progress"
        self._output: list[Item] = []
        self._output_tokens = 0
        self._audio_ms = 0.0
        self._speech: dict[str, Speech] = {}
        self._steps = self._run()

    @property
    def audio_ms(self) -> float:
        """The audio this response has produced so far, in ms."""
        return self._audio_ms

    @property
    def voice(self) -> str:
        """The name of the voice the response speaks in (``marin`` when none is set)."""
        audio = self.settings.response.audio
        voice = audio.output.voice if audio and audio.output else None
        if voice is None:
            return "marin"
        return voice if isinstance(voice, str) else str(voice.id)

    @property
    def in_conversation(self) -> bool:
        """True when the response writes to the default conversation."""
        return self.settings.in_conversation

    def start(self) -> Step:
        """The first step (``response.created``)."""
        return next(self._steps)

    @property
    def decided(self) -> bool:
        """True once the outputs are known (see :meth:`decide`)."""
        return self._decide is None

    def decide(self) -> None:
        """Ask the responder for the outputs now, if it was left for later (the words of a
        user turn were being recognized). A refusal (:class:`ResponseRefused`) makes the
        response fail, once it runs."""
        if self._decide is not None:
            decide, self._decide = self._decide, None
            try:
                self.outputs = tuple(decide())
            except ResponseRefused as refused:
                self._refused = refused

    @property
    def speaks(self) -> bool:
        """True when it has speech to render (see :meth:`prepare`)."""
        return self.settings.output_audio and any(isinstance(o, Say) for o in self.outputs)

    def prepare(self) -> None:
        """Render the speech of every reply now. It is slow (tens of ms per second of
        audio): the connection calls it in a worker thread, so that synthesis never holds
        up the event loop; what is not prepared is rendered when reached."""
        for output in self.outputs:
            if isinstance(output, Say) and output.text not in self._speech:
                self._speech[output.text] = self.synthesizer.synthesize(output.text, self.voice)

    def __iter__(self) -> ResponseRun:
        return self

    def __next__(self) -> Step:
        return next(self._steps)

    def cancel(self, reason: str) -> list[Step]:
        """End the run now; the closing steps, ``response.done`` (cancelled) among them."""
        if self.finished:
            return []
        steps: list[Step] = []
        try:
            if inspect.getgeneratorstate(self._steps) == inspect.GEN_CREATED:
                steps.append(next(self._steps))  # not begun: response.created comes first
            steps.append(self._steps.throw(_Cancel(reason)))
            steps.extend(self._steps)
        except StopIteration:
            pass
        return steps

    # --- the sequence ------------------------------------------------------------------------

    def _event_id(self) -> str:
        return self.ids.new("event")

    def _run(self) -> Generator[Step, None, None]:
        status, details = "completed", None
        try:
            # Inside the try: a cancel may come right after response.created, before any
            # output (while the connection prepares the speech).
            yield Step(ResponseCreated(event_id=self._event_id(), response=self.settings.response))
            self.decide()
            if self._refused is not None:
                # Refused once the words were known: the response fails, as a real one
                # does, with the reason in its status details.
                status = "failed"
                error = ResponseError(
                    type="invalid_request_error",
                    code=self._refused.code,
                    message=self._refused.message,
                )
                details = ResponseStatusDetails(type="failed", error=error)
            for index, output in enumerate(self.outputs if status != "failed" else ()):
                if isinstance(output, CallTool):
                    yield from self._call(index, output)
                elif self.settings.output_audio:
                    yield from self._speak(index, output)
                else:
                    yield from self._write(index, output)
                if self.status == "incomplete":
                    status = "incomplete"
                    details = ResponseStatusDetails(type="incomplete", reason="max_output_tokens")
                    break
        except _Cancel as cancel:
            status = "cancelled"
            details = ResponseStatusDetails(type="cancelled", reason=cancel.reason)
        self.status = status
        self.finished = True
        self.owner.run_finished(self)
        response = self.settings.response.model_copy(
            update={
                "status": status,
                "status_details": details,
                "output": self._output,
                "usage": self._usage(),
            }
        )
        yield Step(ResponseDone(event_id=self._event_id(), response=response))
        yield Step(
            RateLimitsUpdated(
                event_id=self._event_id(),
                rate_limits=[
                    RateLimit(name="requests", limit=5000, remaining=4999, reset_seconds=0.012),
                    RateLimit(name="tokens", limit=400000, remaining=399000, reset_seconds=0.15),
                ],
            )
        )

    def _usage(self) -> Usage:
        audio_tokens = int(self._audio_ms / 50)
        output = self._output_tokens + audio_tokens
        return Usage.model_validate(
            {
                "total_tokens": self.settings.input_tokens + output,
                "input_tokens": self.settings.input_tokens,
                "output_tokens": output,
                "input_token_details": {
                    "text_tokens": self.settings.input_tokens,
                    "audio_tokens": 0,
                    "image_tokens": 0,
                    "cached_tokens": 0,
                    "cached_tokens_details": {
                        "text_tokens": 0,
                        "audio_tokens": 0,
                        "image_tokens": 0,
                    },
                },
                "output_token_details": {
                    "text_tokens": self._output_tokens,
                    "audio_tokens": audio_tokens,
                },
            }
        )

    def _budget(self, text: str) -> str:
        """``text`` cut to what ``max_output_tokens`` still allows (marks the run incomplete)."""
        limit = self.settings.max_output_tokens
        if limit is None:
            return text
        left = limit - self._output_tokens
        if _tokens(text) <= left:
            return text
        self.status = "incomplete"
        return text[: max(0, left) * 4]

    def _open_item(self, index: int, item: Item) -> tuple[Entry, list[Step]]:
        """Add the item to the conversation now; the steps that announce it."""
        entry = Entry(item=item)
        steps = [
            Step(
                ResponseOutputItemAdded(
                    event_id=self._event_id(), response_id=self.id, output_index=index, item=item
                )
            )
        ]
        if self.in_conversation:
            assert item.id is not None
            previous = self.conversation.insert(entry, item.id)
            steps.append(
                Step(
                    ConversationItemAdded(
                        event_id=self._event_id(), previous_item_id=previous, item=item
                    )
                )
            )
        return entry, steps

    def _close_item(self, index: int, item: Item) -> Generator[Step, None, None]:
        self._output.append(item)
        if self.in_conversation and item.id is not None and item.id in self.conversation:
            entry = self.conversation.get(item.id)
            assert entry is not None
            entry.item = item
            yield Step(
                ConversationItemDone(
                    event_id=self._event_id(),
                    previous_item_id=self.conversation.previous_id(item.id),
                    item=item,
                )
            )
        yield Step(
            ResponseOutputItemDone(
                event_id=self._event_id(), response_id=self.id, output_index=index, item=item
            )
        )

    def _message(self, status: str, content: list[Any], item_id: str) -> MessageItem:
        return MessageItem.model_validate(
            {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": content,
            }
        )

    def _speak(self, index: int, say: Say) -> Generator[Step, None, None]:
        item_id = self.ids.new("item")
        text = self._budget(say.text)
        entry, opening = self._open_item(index, self._message("in_progress", [], item_id))
        entry.audio_format = fmt = self.settings.output_format
        where: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
        }
        audio, words = self._render(text)
        chunk = fmt.nbytes(self.settings.delta_ms)
        said: list[str] = []
        part_open = False
        try:
            yield from opening
            part_open = True
            yield Step(
                ResponseContentPartAdded(
                    event_id=self._event_id(), part=AudioPart(transcript=""), **where
                )
            )
            next_word = 0
            for start in range(0, len(audio), chunk):
                end = start + chunk
                while next_word < len(words) and words[next_word][0] < end:
                    said.append(words[next_word][1])
                    yield Step(
                        ResponseOutputAudioTranscriptDelta(
                            event_id=self._event_id(), delta=words[next_word][1], **where
                        )
                    )
                    next_word += 1
                piece = audio[start:end]
                entry.audio += piece
                self._audio_ms += fmt.ms(len(piece))
                self.owner.audio_produced()
                delta = encode_base64(piece)
                yield Step(
                    ResponseOutputAudioDelta(event_id=self._event_id(), delta=delta, **where),
                    audio_ms=fmt.ms(len(piece)),
                )
        except _Cancel:
            transcript = "".join(said)
            yield from self._finish_speech(
                index, item_id, where, "incomplete", transcript, part_open
            )
            raise
        self._output_tokens += _tokens(text)
        yield from self._finish_speech(index, item_id, where, "completed", text, True)

    def _finish_speech(
        self,
        index: int,
        item_id: str,
        where: dict[str, Any],
        status: str,
        transcript: str,
        part_open: bool,
    ) -> Generator[Step, None, None]:
        if not part_open:
            yield from self._close_item(index, self._message(status, [], item_id))
            return
        yield Step(ResponseOutputAudioDone(event_id=self._event_id(), **where))
        yield Step(
            ResponseOutputAudioTranscriptDone(
                event_id=self._event_id(), transcript=transcript, **where
            )
        )
        # Content-part events name parts "audio"/"text" (as the spec and the SDKs' types
        # require); the items themselves hold "output_audio"/"output_text".
        part = AudioPart(transcript=transcript)
        yield Step(ResponseContentPartDone(event_id=self._event_id(), part=part, **where))
        content = [OutputAudioPart(transcript=transcript)]
        yield from self._close_item(index, self._message(status, content, item_id))

    def _render(self, text: str) -> tuple[bytes, list[tuple[int, str]]]:
        """The reply's audio in the output format, and the byte offset of each word."""
        speech = self._speech.get(text) or self.synthesizer.synthesize(text, self.voice)
        fmt = self.settings.output_format
        if fmt.encoding == "pcm16":
            return speech.pcm, [(offset * 2, word) for offset, word in speech.words]
        pcm24 = np.frombuffer(speech.pcm, dtype="<i2")
        pcm8 = np.asarray(soxr.resample(pcm24, 24000, fmt.rate), dtype="<i2").tobytes()
        encode = pcm16_to_ulaw if fmt.encoding == "ulaw" else pcm16_to_alaw
        ratio = fmt.rate / 24000
        return encode(pcm8), [(int(offset * ratio), word) for offset, word in speech.words]

    def _write(self, index: int, say: Say) -> Generator[Step, None, None]:
        item_id = self.ids.new("item")
        text = self._budget(say.text)
        _, opening = self._open_item(index, self._message("in_progress", [], item_id))
        where: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
        }
        written: list[str] = []
        try:
            yield from opening
            yield Step(
                ResponseContentPartAdded(event_id=self._event_id(), part=TextPart(text=""), **where)
            )
            for piece in text.split(" "):
                written.append(piece if not written else " " + piece)
                yield Step(
                    ResponseOutputTextDelta(event_id=self._event_id(), delta=written[-1], **where)
                )
        except _Cancel:
            yield from self._finish_text(index, item_id, where, "incomplete", "".join(written))
            raise
        self._output_tokens += _tokens(text)
        yield from self._finish_text(index, item_id, where, "completed", text)

    def _finish_text(
        self, index: int, item_id: str, where: dict[str, Any], status: str, text: str
    ) -> Generator[Step, None, None]:
        yield Step(ResponseOutputTextDone(event_id=self._event_id(), text=text, **where))
        part = TextPart(text=text)
        yield Step(ResponseContentPartDone(event_id=self._event_id(), part=part, **where))
        content = [OutputTextPart(text=text)]
        yield from self._close_item(index, self._message(status, content, item_id))

    def _call(self, index: int, call: CallTool) -> Generator[Step, None, None]:
        item_id, call_id = self.ids.new("item"), self.ids.new("call")
        arguments = call.arguments_json
        opened = FunctionCallItem.model_validate(
            {
                "id": item_id,
                "object": "realtime.item",
                "type": "function_call",
                "status": "in_progress",
                "name": call.name,
                "call_id": call_id,
                "arguments": "",
            }
        )
        _, opening = self._open_item(index, opened)
        where: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": index,
            "call_id": call_id,
        }
        cancelled: _Cancel | None = None
        try:
            yield from opening
            for piece in _split(arguments, 3):
                yield Step(
                    ResponseFunctionCallArgumentsDelta(
                        event_id=self._event_id(), delta=piece, **where
                    )
                )
        except _Cancel as cancel:
            cancelled = cancel  # a call in progress still gets its arguments.done
        yield Step(
            ResponseFunctionCallArgumentsDone(
                event_id=self._event_id(), name=call.name, arguments=arguments, **where
            )
        )
        self._output_tokens += _tokens(arguments)
        done = opened.model_copy(update={"status": "completed", "arguments": arguments})
        yield from self._close_item(index, done)
        if cancelled is not None:
            raise cancelled
