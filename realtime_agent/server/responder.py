"""The responder: the local server's stand-in for the model.

A responder decides what a response says and which tools it calls; the server turns
that into the real event sequence (speech, transcripts, function-call arguments).
Two ship with the package:

* :class:`ScriptedResponder`, for tests (ours and yours): a list of turns, each a list
  of outputs (say this; call this tool with these arguments), used one per response.
* :class:`RuleResponder`, the default, for the demo: it understands what the user typed
  or said (:mod:`realtime_agent.server.understanding`), calls the tool that fits with the
  arguments that were said, asks a short question when a required one was not, answers
  the tool's output in a sentence, and otherwise replies by keyword rules or small talk.

When the server cannot recognise speech (no ``voice`` extra), a spoken turn has a
placeholder transcript that says so (``"(speech, 1.4 s)"``); then the rule responder,
having no words to go by, calls the session's first tool with arguments made up from its
schema, once a session, so that an offline demo still shows a tool call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
)
from realtime_agent.schema.session import FunctionTool
from realtime_agent.server import understanding

__all__ = [
    "CallTool",
    "Output",
    "Responder",
    "ResponseContext",
    "ResponseRefused",
    "RuleResponder",
    "Say",
    "ScriptedResponder",
    "arguments_from_schema",
    "placeholder_transcript",
]


@dataclass(frozen=True, slots=True)
class Say:
    """Say ``text`` (as speech with a transcript, or as text when the response is text-only)."""

    text: str


@dataclass(frozen=True, slots=True)
class CallTool:
    """Call the function tool ``name``; ``arguments`` is a JSON object or its JSON text."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON text the model would stream."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


Output = Say | CallTool


class ResponseRefused(Exception):
    """Raised by :meth:`Responder.respond` to refuse a response instead of giving it.

    The server then answers the request with an ``error`` event carrying ``message`` and
    ``code`` (type ``invalid_request_error``, the client's ``event_id``), as the real
    server answers a ``response.create`` it refuses; no response is created. A
    conversation script refuses a response whose expectation failed.
    """

    def __init__(self, message: str, code: str = "response_refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What a responder may look at to decide a response."""

    conversation: Sequence[Item]
    """The items of the default conversation, oldest first (or the response's ``input``)."""
    instructions: str
    tools: Sequence[FunctionTool]
    """The function tools in effect for this response."""
    output_audio: bool
    """True when the response speaks; False when it is text-only."""
    metadata: Mapping[str, Any] | None = None

    @property
    def last_item(self) -> Item | None:
        """The newest item of the conversation, if any."""
        return self.conversation[-1] if self.conversation else None

    @property
    def user_text(self) -> str | None:
        """The text (or transcript) of the newest user message, if any."""
        for item in reversed(self.conversation):
            if isinstance(item, MessageItem) and item.role == "user":
                for part in item.content:
                    if isinstance(part, InputTextPart) and part.text:
                        return part.text
                    if isinstance(part, InputAudioPart) and part.transcript:
                        return part.transcript
                return None
        return None

    @property
    def user_spoke(self) -> bool:
        """True when the newest user message is audio."""
        for item in reversed(self.conversation):
            if isinstance(item, MessageItem) and item.role == "user":
                return any(isinstance(part, InputAudioPart) for part in item.content)
        return False

    @property
    def tool_already_called(self) -> bool:
        """True when the conversation holds a function call."""
        return any(isinstance(item, FunctionCallItem) for item in self.conversation)


class Responder(Protocol):
    """The stand-in model: what to say and which tools to call, one response at a time."""

    def respond(self, context: ResponseContext) -> Sequence[Output]:
        """The outputs of one response, in order (empty: a response with no output)."""
        ...

    def transcribe(self, duration_ms: float) -> str | None:
        """The transcript of a committed user audio turn of ``duration_ms``, when the
        responder knows it (a script); None: the server recognizes the speech, or gives
        it a placeholder transcript when it cannot (no ``voice`` extra)."""
        ...


def placeholder_transcript(duration_ms: float) -> str:
    """The transcript the server gives speech it cannot recognise: ``"(speech, 1.4 s)"``."""
    return f"(speech, {duration_ms / 1000:.1f} s)"


class ScriptedResponder:
    """Responds with the next scripted turn at each response.

    Each turn is a sequence of outputs, or a single output, or a plain string (to say).
    After the last turn, every response says ``exhausted`` (or nothing, if it is None).
    ``transcripts`` give the user's audio turns their text, in order; after them, the
    placeholder.
    """

    def __init__(
        self,
        turns: Iterable[Sequence[Output] | Output | str],
        *,
        transcripts: Iterable[str] = (),
        exhausted: str | None = "That is all I was scripted to say.",
    ) -> None:
        self._turns = [self._normalise(turn) for turn in turns]
        self._transcripts = list(transcripts)
        self.exhausted = exhausted
        self.responses = 0
        """Responses given so far."""
        self.contexts: list[ResponseContext] = []
        """The context of every response given so far (for tests to inspect)."""

    @staticmethod
    def _normalise(turn: Sequence[Output] | Output | str) -> tuple[Output, ...]:
        if isinstance(turn, str):
            return (Say(turn),)
        if isinstance(turn, Say | CallTool):
            return (turn,)
        return tuple(turn)

    def respond(self, context: ResponseContext) -> Sequence[Output]:
        """The next scripted turn."""
        self.contexts.append(context)
        index = self.responses
        self.responses += 1
        if index < len(self._turns):
            return self._turns[index]
        return (Say(self.exhausted),) if self.exhausted is not None else ()

    def transcribe(self, duration_ms: float) -> str | None:
        """The next scripted transcript, else None (the server recognizes the speech)."""
        if self._transcripts:
            return self._transcripts.pop(0)
        return None


_EXAMPLE_STRINGS = {
    "city": "Paris",
    "location": "Paris",
    "place": "Paris",
    "country": "France",
    "name": "Ada",
    "query": "the weather",
    "q": "the weather",
    "topic": "the weather",
    "date": "2026-01-01",
    "time": "12:00",
    "unit": "celsius",
    "units": "celsius",
    "language": "en",
    "email": "ada@example.com",
}


def arguments_from_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Plausible arguments for a JSON Schema object: defaults, enums, examples, else made up."""
    if not schema:
        return {}
    properties: Mapping[str, Any] = schema.get("properties") or {}
    return {name: _value(name, spec) for name, spec in properties.items()}


def _value(name: str, spec: Mapping[str, Any]) -> Any:
    if "default" in spec:
        return spec["default"]
    if spec.get("enum"):
        return spec["enum"][0]
    if "const" in spec:
        return spec["const"]
    if spec.get("examples"):
        return spec["examples"][0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and spec.get("anyOf"):
        return _value(name, spec["anyOf"][0])
    match kind:
        case "integer":
            return max(1, int(spec.get("minimum", 1)))
        case "number":
            return float(spec.get("minimum", 1.0))
        case "boolean":
            return True
        case "array":
            return []
        case "object":
            return arguments_from_schema(spec)
        case _:
            return _EXAMPLE_STRINGS.get(name.lower(), name.replace("_", " "))


_PLACEHOLDER = re.compile(r"\(speech, \d+(?:\.\d+)? s\)")
"""A :func:`placeholder_transcript`: speech that was not recognised."""


def tool_outputs(conversation: Sequence[Item]) -> list[str]:
    """The function-call outputs that end the conversation (with their calls), oldest first."""
    outputs: list[str] = []
    for item in reversed(conversation):
        if isinstance(item, FunctionCallOutputItem):
            outputs.insert(0, item.output)
        elif not isinstance(item, FunctionCallItem):
            break
    return outputs


def _cut_short(item: Item) -> bool:
    """An assistant message that ends in "...": its answer was cut off before its end."""
    if not isinstance(item, MessageItem) or item.role != "assistant":
        return False
    return (_text(item) or "").rstrip().endswith("...")


def _called_since_user(conversation: Sequence[Item]) -> bool:
    """True when a tool was called after the newest user message: it is not called twice."""
    for item in reversed(conversation):
        if isinstance(item, FunctionCallItem):
            return True
        if isinstance(item, MessageItem) and item.role == "user":
            return False
    return False


def _text(item: MessageItem) -> str | None:
    """A message's text, or its audio's transcript."""
    for part in item.content:
        said = getattr(part, "text", None) or getattr(part, "transcript", None)
        if isinstance(said, str) and said:
            return said
    return None


_RECENT_TURNS = 8
"""How many user messages back a chain of questions and answers is read."""


def _intent(conversation: Sequence[Item], tools: Sequence[FunctionTool]) -> understanding.Intent:
    """What the newest user message asks, read with the questions asked before it.

    The recent user messages are read in order: one that follows our question for a
    missing argument answers it (and may be asked another); any other is read anew.
    """
    intent: understanding.Intent = understanding.NoTool()
    asked: str | None = None  # the assistant's words since the previous user message
    turns: list[tuple[str, str | None]] = []
    for item in conversation:
        if isinstance(item, MessageItem) and item.role == "user":
            turns.append((_text(item) or "", asked))
            asked = None
        elif isinstance(item, MessageItem) and item.role == "assistant":
            asked = _text(item)
        elif isinstance(item, FunctionCallItem | FunctionCallOutputItem):
            asked = None
    for said, question in turns[-_RECENT_TURNS:]:
        if isinstance(intent, understanding.Ask) and question == intent.question:
            intent = understanding.answer(intent, said, tools)
        else:
            intent = understanding.understand(said, tools)
    return intent


def _readable(output: str) -> str:
    """A tool's JSON output as words: ``{"sky": "clear"}`` -> ``sky clear``."""
    try:
        value = json.loads(output)
    except ValueError:
        return output.rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {item}" for key, item in value.items())
    return str(value)


_WHO = "I am the local Realtime server."


def _sentence(text: str) -> str:
    """``text`` ending as a sentence does: "who are you?" stays, "how are you" gets a period."""
    return text if text.endswith((".", "!", "?")) else text + "."


class RuleResponder:
    """The default responder: it understands the user's words, typed or spoken.

    For the newest user message (its text, or its audio's transcript), in this order:

    1. After a function-call output: answer it, "Here is what I found: sky clear." (the
       outputs at the end of the conversation, read back), and call nothing more. An
       answer cut short (an assistant message ending in "...", as a client replays one
       after a dropped connection) does not count: the answer is given again, whole.
    2. Speech with no words: "I heard you". But for the placeholder transcript of speech
       the server cannot recognise (no ``voice`` extra), on the session's first turn with
       tools: call the first tool with arguments made up from its schema
       (:func:`arguments_from_schema`), so that the offline demo still shows a tool call.
    3. When a tool fits the words and none was called for this message yet: call it with
       the arguments that were said (:func:`~realtime_agent.server.understanding.understand`),
       or ask for a required one that was not ("Which city?"). When the previous reply
       was such a question, this message is its answer ("Paris", "in Paris").
    4. Else the ``rules``: lower-case keywords to replies; the first rule whose keyword
       occurs in the user's words wins ("hello" and "hi" greet, by default).
    5. Else small talk: "You said: ..." to text, "I heard you: ..." to speech.

    ``transcripts`` give the user's audio turns their words, in order, when they are
    known (the demo's bundled question); after them, the server recognizes the speech.
    """

    GREETING = (
        "Hello! This is the local Realtime server, a stand-in for the model. "
        "Set OPENAI_API_KEY to talk to a real one."
    )

    def __init__(
        self, rules: Mapping[str, str] | None = None, *, transcripts: Iterable[str] = ()
    ) -> None:
        self.rules = dict(rules or {"hello": self.GREETING, "hi": self.GREETING})
        self._transcripts = list(transcripts)

    def respond(self, context: ResponseContext) -> Sequence[Output]:
        """Decide a response by the rules in the class docstring."""
        conversation = list(context.conversation)
        while conversation and _cut_short(conversation[-1]):
            conversation.pop()  # answers cut off ("..."): the answer is given again, whole
        outputs = tool_outputs(conversation)
        if outputs:
            return (Say(f"Here is what I found: {'; '.join(map(_readable, outputs))}."),)
        text = (context.user_text or "").strip()
        unheard = context.user_spoke and _PLACEHOLDER.fullmatch(text) is not None
        if unheard and context.tools and not context.tool_already_called:
            tool = context.tools[0]
            return (CallTool(tool.name or "tool", arguments_from_schema(tool.parameters)),)
        if unheard or (context.user_spoke and not text):
            return (Say(f"I heard you: {_sentence(text or 'something')} {_WHO}"),)
        if context.tools and not _called_since_user(context.conversation):
            intent = _intent(context.conversation, context.tools)
            if isinstance(intent, understanding.Call):
                return (CallTool(intent.tool, intent.arguments),)
            if isinstance(intent, understanding.Ask):
                return (Say(intent.question),)
        words = re.findall(r"[\w']+", text.lower())
        for keyword, reply in self.rules.items():
            if keyword in words or (" " in keyword and keyword in text.lower()):
                return (Say(reply),)
        if context.user_spoke:
            return (Say(f"I heard you: {_sentence(text)} {_WHO}"),)
        if text:
            return (Say(f"You said: {text}"),)
        return (Say(self.GREETING),)

    def transcribe(self, duration_ms: float) -> str | None:
        """The next given transcript (for audio whose words are known), else None (the
        server recognizes the speech)."""
        if self._transcripts:
            return self._transcripts.pop(0)
        return None
