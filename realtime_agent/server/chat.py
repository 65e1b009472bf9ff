"""The local stack's Chat Completions twin: the request as OpenAI's API takes it, and the
answer of the same stand-in model and voices the local Realtime server uses.

This module decides; it does no I/O. :func:`realtime_agent.web.chat` and
:mod:`realtime_agent.web.agora` put its answers on the wire (streamed over Server-Sent
Events, or whole).

* :meth:`ChatStandIn.parse` reads a ``POST /v1/chat/completions`` body as OpenAI
  documents it (``model``, ``messages`` with the ``system``/``developer``/``user``/
  ``assistant``/``tool`` roles, ``modalities``, ``audio {voice, format}``, ``stream``,
  ``stream_options.include_usage``, function ``tools``, ``tool_choice``) into a
  :class:`ChatRequest`, or raises :class:`ChatRequestError` with the status, message,
  ``param`` and ``code`` OpenAI's error shape carries.
* :meth:`ChatStandIn.answer` gives the :class:`ChatAnswer`: what the responder
  (:class:`~realtime_agent.server.responder.RuleResponder` by default) says or which
  tools it calls, and the speech of what it says (espeak-ng with the ``voice`` extra,
  else the synthetic voice), pcm16 24 kHz with word offsets. It synthesizes: call it in
  a thread.

An assistant message that refers to an earlier spoken answer by its ``audio.id`` is read
as that answer's transcript, which the stand-in keeps for the last
:data:`REMEMBERED_AUDIO` answers (OpenAI keeps them an hour: ``expires_at``).
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from realtime_agent.schema.items import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
    OutputTextPart,
)
from realtime_agent.schema.session import FunctionTool
from realtime_agent.server.responder import (
    CallTool,
    Responder,
    ResponseContext,
    RuleResponder,
    Say,
    arguments_from_schema,
    placeholder_transcript,
)
from realtime_agent.server.speech import Speech, SpeechSynthesizer, default_synthesizer

__all__ = [
    "AUDIO_FORMATS",
    "REMEMBERED_AUDIO",
    "STREAM_FORMATS",
    "ChatAnswer",
    "ChatRequest",
    "ChatRequestError",
    "ChatStandIn",
    "ToolCall",
    "new_id",
]

AUDIO_FORMATS = ("wav", "aac", "mp3", "flac", "opus", "pcm16")
"""The output formats OpenAI's ``audio.format`` takes (the twin encodes all but aac)."""
STREAM_FORMATS = ("pcm16",)
"""The only format that streams (``stream: true``)."""
VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
    "verse", "marin", "cedar",
)  # fmt: skip
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
REMEMBERED_AUDIO = 256
"""How many spoken answers' transcripts the stand-in keeps, for ``audio.id`` references."""
AUDIO_LIFETIME_S = 3600
"""A spoken answer's ``expires_at``: an hour after it was made, as OpenAI's."""


def new_id(prefix: str, size: int = 24) -> str:
    """An identifier as OpenAI's look: ``chatcmpl-...``, ``audio_...``, ``call_...``."""
    return prefix + secrets.token_hex(size)[:size]


class ChatRequestError(Exception):
    """A request the API refuses, in OpenAI's error shape:
    ``{"error": {"message", "type", "param", "code"}}`` with HTTP ``status``."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.type = type

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI answers with."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _missing(param: str) -> ChatRequestError:
    return ChatRequestError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _invalid_type(param: str, expected: str, value: object) -> ChatRequestError:
    return ChatRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _invalid_value(param: str, value: object, supported: Sequence[str]) -> ChatRequestError:
    listed = ", ".join(f"'{s}'" for s in supported[:-1]) + f", and '{supported[-1]}'"
    return ChatRequestError(
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A Chat Completions request, read (see :meth:`ChatStandIn.parse`)."""

    model: str
    conversation: tuple[Item, ...]
    """The messages as Realtime items (what the stand-in model reads)."""
    instructions: str
    """The ``system`` and ``developer`` messages, joined."""
    tools: tuple[FunctionTool, ...]
    tool_choice: str | None = None
    """``"auto"`` (None), ``"none"``, ``"required"``, or the name of the one to call."""
    voice: str | None = None
    """The voice, when audio was asked for (``modalities`` has ``"audio"``)."""
    audio_format: str | None = None
    stream: bool = False
    include_usage: bool = False

    @property
    def audio(self) -> bool:
        """True when the answer is to be spoken."""
        return self.voice is not None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model calls: ``arguments`` is the JSON text it streams."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """What the stand-in model answers one request with."""

    text: str
    """Its words: the ``content``, or the spoken answer's transcript ("" when it only
    calls tools)."""
    tool_calls: tuple[ToolCall, ...]
    speech: Speech | None
    """The words spoken (pcm16 24 kHz mono), when audio was asked for and there are words."""
    audio_id: str | None
    """The spoken answer's id (``audio_...``), when there is speech."""
    created: int
    """When it was made (Unix seconds)."""
    prompt_tokens: int

    @property
    def finish_reason(self) -> Literal["stop", "tool_calls"]:
        """``"tool_calls"`` when it calls a tool, else ``"stop"``."""
        return "tool_calls" if self.tool_calls else "stop"

    @property
    def expires_at(self) -> int:
        """Until when its ``audio.id`` may be referred to."""
        return self.created + AUDIO_LIFETIME_S

    @property
    def completion_tokens(self) -> int:
        """A plausible count: a token a word, and for speech ~12 a second."""
        words = len(self.text.split()) + sum(len(c.arguments) // 4 + 1 for c in self.tool_calls)
        audio = round(self.speech.duration_ms / 1000 * 12) if self.speech else 0
        return words + audio

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object of the response (or of the stream's last chunk)."""
        audio = round(self.speech.duration_ms / 1000 * 12) if self.speech else 0
        completion = self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": audio,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


class ChatStandIn:
    """The stand-in model behind the HTTP shapes (see the module docstring).

    ``responder``: makes the responder for each request (default
    :class:`~realtime_agent.server.responder.RuleResponder`); ``synthesizer``: the voice
    (default :func:`~realtime_agent.server.speech.default_synthesizer`, made at the first
    spoken answer). Thread-safe: requests are answered in threads.
    """

    def __init__(
        self,
        responder: Callable[[], Responder] = RuleResponder,
        synthesizer: SpeechSynthesizer | None = None,
    ) -> None:
        self._responder = responder
        self._synthesizer = synthesizer
        self._lock = threading.Lock()
        self._transcripts: OrderedDict[str, str] = OrderedDict()

    @property
    def synthesizer(self) -> SpeechSynthesizer:
        """The voice (made once, at first use)."""
        with self._lock:
            if self._synthesizer is None:
                self._synthesizer = default_synthesizer()
            return self._synthesizer

    # -- the request ----------------------------------------------------------------

    def parse(self, body: object) -> ChatRequest:
        """Read a request body (parsed JSON); raises :class:`ChatRequestError`."""
        if not isinstance(body, dict):
            raise ChatRequestError(
                "We could not parse the JSON body of your request. The OpenAI API expects a "
                "JSON payload: send a JSON object."
            )
        model = body.get("model")
        if model is None:
            raise ChatRequestError("you must provide a model parameter")
        if not isinstance(model, str):
            raise _invalid_type("model", "a string", model)
        messages = body.get("messages")
        if messages is None:
            raise _missing("messages")
        if not isinstance(messages, list):
            raise _invalid_type("messages", "an array", messages)
        if not messages:
            raise ChatRequestError(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.",
                param="messages",
                code="empty_array",
            )
        stream = body.get("stream") or False
        if not isinstance(stream, bool):
            raise _invalid_type("stream", "a boolean", stream)
        voice, audio_format = self._audio(body, stream)
        n = body.get("n", 1)
        if n not in (1, None):
            raise ChatRequestError(
                f"Unsupported value: 'n' is {n!r}: the local stack gives one choice.",
                param="n",
                code="unsupported_value",
            )
        options = body.get("stream_options")
        if options is not None and not stream:
            raise ChatRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code=None,
            )
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        tools = _tools(body.get("tools"))
        tool_choice = _tool_choice(body.get("tool_choice"), tools)
        instructions, conversation = self._conversation(messages)
        return ChatRequest(
            model=model,
            conversation=tuple(conversation),
            instructions=instructions,
            tools=tools,
            tool_choice=tool_choice,
            voice=voice,
            audio_format=audio_format,
            stream=stream,
            include_usage=include_usage,
        )

    @staticmethod
    def _audio(body: Mapping[str, Any], stream: bool) -> tuple[str | None, str | None]:
        modalities = body.get("modalities")
        if modalities is None:
            modalities = ["text"]
        if not isinstance(modalities, list):
            raise _invalid_type("modalities", "an array", modalities)
        for index, modality in enumerate(modalities):
            if modality not in ("text", "audio"):
                raise _invalid_value(f"modalities[{index}]", modality, ("text", "audio"))
        if "audio" not in modalities:
            return None, None
        audio = body.get("audio")
        if audio is None:
            raise ChatRequestError(
                "Missing required parameter: 'audio'. It is required when 'modalities' "
                "includes 'audio'.",
                param="audio",
                code="missing_required_parameter",
            )
        if not isinstance(audio, dict):
            raise _invalid_type("audio", "an object", audio)
        voice, audio_format = audio.get("voice"), audio.get("format")
        if voice is None:
            raise _missing("audio.voice")
        if isinstance(voice, dict):  # a custom voice: {"id": "voice_..."}
            voice = voice.get("id")
        if not isinstance(voice, str):
            raise _invalid_type("audio.voice", "a string", voice)
        if audio_format is None:
            raise _missing("audio.format")
        if audio_format not in AUDIO_FORMATS:
            raise _invalid_value("audio.format", audio_format, AUDIO_FORMATS)
        if stream and audio_format not in STREAM_FORMATS:
            raise ChatRequestError(
                f"Unsupported value: 'audio.format' does not support '{audio_format}' with "
                "stream=true. Supported values are: 'pcm16'.",
                param="audio.format",
                code="unsupported_value",
            )
        if audio_format == "aac":
            raise ChatRequestError(
                "Unsupported value: the local stack cannot encode 'aac'. Use 'wav', 'mp3', "
                "'flac', 'opus' or 'pcm16'.",
                param="audio.format",
                code="unsupported_value",
            )
        return voice, audio_format

    def _conversation(self, messages: list[Any]) -> tuple[str, list[Item]]:
        instructions: list[str] = []
        items: list[Item] = []
        unanswered: dict[str, int] = {}  # call ids of tool_calls -> their message's index
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise _invalid_type(where, "an object", message)
            role = message.get("role")
            if role is None:
                raise _missing(f"{where}.role")
            if role not in ROLES:
                raise _invalid_value(f"{where}.role", role, ROLES)
            if role != "tool" and unanswered:
                raise _unanswered(unanswered)
            content = message.get("content")
            if role in ("system", "developer"):
                instructions.append(_text(content, f"{where}.content", required=True))
            elif role == "user":
                items.append(MessageItem(role="user", content=_user_parts(content, where)))
            elif role == "assistant":
                items += self._assistant(message, where, unanswered, index)
            elif role == "tool":
                call_id = message.get("tool_call_id")
                if not isinstance(call_id, str):
                    raise _missing(f"{where}.tool_call_id")
                if call_id not in unanswered:
                    raise ChatRequestError(
                        "Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceding message with 'tool_calls'.",
                        param=f"{where}.role",
                    )
                del unanswered[call_id]
                output = _text(content, f"{where}.content", required=True)
                items.append(FunctionCallOutputItem(call_id=call_id, output=output))
            else:  # "function": the deprecated role
                raise ChatRequestError(
                    "Unsupported value: the deprecated 'function' role: use 'tool' messages.",
                    param=f"{where}.role",
                    code="unsupported_value",
                )
        if unanswered:
            raise _unanswered(unanswered)
        return "\n".join(instructions), items

    def _assistant(
        self, message: Mapping[str, Any], where: str, unanswered: dict[str, int], index: int
    ) -> list[Item]:
        items: list[Item] = []
        text = _text(message.get("content"), f"{where}.content", required=False)
        audio = message.get("audio")
        if isinstance(audio, dict) and audio.get("id"):
            with self._lock:
                transcript = self._transcripts.get(str(audio["id"]))
            if transcript is None:
                raise ChatRequestError(
                    f"Audio with id '{audio['id']}' not found (the local stack keeps the last "
                    f"{REMEMBERED_AUDIO} spoken answers).",
                    param=f"{where}.audio.id",
                    code="invalid_value",
                )
            text = text or transcript
        if text:
            items.append(MessageItem(role="assistant", content=[OutputTextPart(text=text)]))
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise _invalid_type(f"{where}.tool_calls", "an array", calls)
        for number, call in enumerate(calls):
            at = f"{where}.tool_calls[{number}]"
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                raise _missing(f"{at}.id")
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise _missing(f"{at}.function.name")
            arguments = function.get("arguments", "")
            if not isinstance(arguments, str):
                raise _invalid_type(f"{at}.function.arguments", "a string", arguments)
            unanswered[call["id"]] = index
            items.append(
                FunctionCallItem(call_id=call["id"], name=function["name"], arguments=arguments)
            )
        return items

    # -- the answer -----------------------------------------------------------------

    def answer(self, request: ChatRequest) -> ChatAnswer:
        """The stand-in model's answer (it synthesizes speech: call it in a thread)."""
        tools = () if request.tool_choice == "none" else request.tools
        if request.tool_choice not in (None, "none", "required"):
            tools = tuple(t for t in tools if t.name == request.tool_choice)
        context = ResponseContext(
            conversation=request.conversation,
            instructions=request.instructions,
            tools=tools,
            output_audio=request.audio,
        )
        outputs = list(self._responder().respond(context))
        said = " ".join(o.text for o in outputs if isinstance(o, Say))
        calls = [o for o in outputs if isinstance(o, CallTool)]
        if not calls and tools and request.tool_choice is not None:  # "required", or a name
            tool = tools[0]
            calls = [CallTool(tool.name or "tool", arguments_from_schema(tool.parameters))]
            said = ""
        tool_calls = tuple(ToolCall(new_id("call_"), c.name, c.arguments_json) for c in calls)
        speech = audio_id = None
        if request.voice is not None and said:
            speech = self.synthesizer.synthesize(said, request.voice)
            audio_id = new_id("audio_", 32)
            with self._lock:
                self._transcripts[audio_id] = said
                while len(self._transcripts) > REMEMBERED_AUDIO:
                    self._transcripts.popitem(last=False)
        prompt = sum(len(_words(item)) for item in request.conversation)
        prompt += len(request.instructions.split())
        return ChatAnswer(
            text=said,
            tool_calls=tool_calls,
            speech=speech,
            audio_id=audio_id,
            created=int(time.time()),
            prompt_tokens=prompt,
        )


def _unanswered(unanswered: Mapping[str, int]) -> ChatRequestError:
    first = min(unanswered.values())
    return ChatRequestError(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(unanswered),
        param=f"messages[{first}].role",
    )


def _text(content: object, param: str, *, required: bool) -> str:
    """The text of a message's ``content``: a string, or text parts."""
    if content is None:
        if required:
            raise _missing(param)
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid_type(param, "a string or an array", content)
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            kind = part.get("type") if isinstance(part, dict) else part
            raise _invalid_value(f"{param}[{index}].type", kind, ("text",))
        texts.append(str(part.get("text") or part.get("refusal") or ""))
    return "".join(texts)


def _user_parts(content: object, where: str) -> list[ContentPart]:
    """A user message's content as Realtime parts; spoken input gets the placeholder
    transcript of its duration (the stand-in reads words, not sound)."""
    param = f"{where}.content"
    if content is None:
        raise _missing(param)
    if isinstance(content, str):
        return [InputTextPart(text=content)]
    if not isinstance(content, list):
        raise _invalid_type(param, "a string or an array", content)
    parts: list[ContentPart] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part, dict):
            parts.append(InputTextPart(text=str(part.get("text") or "")))
        elif kind == "input_audio" and isinstance(part, dict):
            parts.append(_input_audio(part.get("input_audio"), f"{param}[{index}].input_audio"))
        elif kind in ("image_url", "file"):
            continue  # the stand-in does not look at pictures or files
        else:
            supported = ("text", "image_url", "input_audio", "file")
            raise _invalid_value(f"{param}[{index}].type", kind, supported)
    return parts


def _input_audio(audio: object, param: str) -> InputAudioPart:
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
        raise _missing(f"{param}.data")
    audio_format = audio.get("format")
    if audio_format not in ("wav", "mp3"):
        raise _invalid_value(f"{param}.format", audio_format, ("wav", "mp3"))
    try:
        raw = base64.b64decode(audio["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ChatRequestError(
            "Invalid audio data: not base64.", param=f"{param}.data", code="invalid_value"
        ) from None
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(raw))
    except (RuntimeError, soundfile.LibsndfileError):
        raise ChatRequestError(
            f"The audio data is not a valid {audio_format} file.",
            param=f"{param}.data",
            code="invalid_value",
        ) from None
    return InputAudioPart(transcript=placeholder_transcript(info.duration * 1000))


def _words(item: Item) -> list[str]:
    if isinstance(item, MessageItem):
        text = " ".join(
            (getattr(part, "text", None) or getattr(part, "transcript", None) or "")
            for part in item.content
        )
        return text.split()
    if isinstance(item, FunctionCallOutputItem):
        return item.output.split()
    return []


def _tools(tools: object) -> tuple[FunctionTool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise _invalid_type("tools", "an array", tools)
    found = []
    for index, tool in enumerate(tools):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _invalid_type(at, "an object", tool)
        if tool.get("type") != "function":
            raise _invalid_value(f"{at}.type", tool.get("type"), ("function", "custom"))
        function = tool.get("function")
        if not isinstance(function, dict):
            raise _missing(f"{at}.function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise _missing(f"{at}.function.name")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _invalid_type(f"{at}.function.parameters", "an object", parameters)
        found.append(
            FunctionTool(name=name, description=function.get("description"), parameters=parameters)
        )
    return tuple(found)


def _tool_choice(choice: object, tools: Sequence[FunctionTool]) -> str | None:
    if choice is None or choice == "auto":
        return None
    if choice in ("none", "required"):
        if choice == "required" and not tools:
            raise ChatRequestError(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        return str(choice)
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if not any(tool.name == name for tool in tools):
            raise ChatRequestError(
                f"Invalid value for 'tool_choice': no function named '{name}' was specified in "
                "the 'tools' parameter.",
                param="tool_choice",
            )
        return str(name)
    raise _invalid_value("tool_choice", choice, ("none", "auto", "required"))
