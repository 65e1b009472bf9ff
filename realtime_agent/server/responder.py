"""The responder: the local server's stand-in for the model.

A responder decides what a response says and which tools it calls; the server turns
that into the real event sequence (speech, transcripts, function-call arguments).
Two ship with the package:

* :class:`ScriptedResponder`, for tests (ours and yours): a list of turns, each a list
  of outputs (say this; call this tool with these arguments), used one per response.
* :class:`RuleResponder`, the default, for the demo: answers typed text by keyword
  rules, answers speech by voice, and calls the session's first tool on the first spoken
  turn of a session that has tools, so an offline demo shows a tool call.

There is no speech recognition: the user's audio is transcribed as a placeholder that
says so (``"(speech, 1.4 s)"``), unless a scripted responder supplies the text.
"""

from __future__ import annotations

import json
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

__all__ = [
    "CallTool",
    "Output",
    "Responder",
    "ResponseContext",
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

    def transcribe(self, duration_ms: float) -> str:
        """The transcript of a committed user audio turn of ``duration_ms``."""
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

    def transcribe(self, duration_ms: float) -> str:
        """The next scripted transcript, else the placeholder."""
        if self._transcripts:
            return self._transcripts.pop(0)
        return placeholder_transcript(duration_ms)


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


def _readable(output: str) -> str:
    """A tool's JSON output as words: ``{"sky": "clear"}`` -> ``sky clear``."""
    try:
        value = json.loads(output)
    except ValueError:
        return output.rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {item}" for key, item in value.items())
    return str(value)


class RuleResponder:
    """The default responder: keyword rules for text, a tool call on the first spoken turn.

    ``rules`` map lower-case keywords to replies; the first rule whose keyword occurs in
    the user's text wins. A function-call output is answered by reading it back.
    ``transcripts`` give the user's audio turns their words, in order, when they are
    known (the demo's bundled question); after them, the placeholder.
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
        last = context.last_item
        if isinstance(last, FunctionCallOutputItem):
            return (Say(f"Here is what I found: {_readable(last.output)}."),)
        if context.user_spoke and context.tools and not context.tool_already_called:
            tool = context.tools[0]
            return (CallTool(tool.name or "tool", arguments_from_schema(tool.parameters)),)
        text = (context.user_text or "").strip()
        lowered = text.lower()
        for keyword, reply in self.rules.items():
            if keyword in lowered.split() or (" " in keyword and keyword in lowered):
                return (Say(reply),)
        if context.user_spoke:
            return (Say(f"I heard you: {text or 'something'}. I am the local Realtime server."),)
        if text:
            return (Say(f"You said: {text}"),)
        return (Say(self.GREETING),)

    def transcribe(self, duration_ms: float) -> str:
        """The next given transcript (for audio whose words are known), else the placeholder."""
        if self._transcripts:
            return self._transcripts.pop(0)
        return placeholder_transcript(duration_ms)
