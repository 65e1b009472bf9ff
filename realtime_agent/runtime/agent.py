"""Agent: who the assistant is, as ``session.update`` tells the server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.errors import LocalProtocolError
from realtime_agent.schema.common import PcmaFormat, PcmFormat, PcmuFormat
from realtime_agent.schema.session import (
    AudioInput,
    AudioOutput,
    InputTranscription,
    SemanticVad,
    ServerVad,
    SessionAudio,
    SessionConfig,
)
from realtime_agent.tools.tool import Tool, tool

__all__ = ["Agent", "TurnDetection"]

TurnDetection = Literal["server_vad", "semantic_vad"] | ServerVad | SemanticVad | None
"""Server VAD (the default), semantic VAD, their settings, or None for push-to-talk."""


def _wire(fmt: AudioFormat) -> PcmFormat | PcmuFormat | PcmaFormat:
    match fmt.encoding:
        case "pcm16":
            return PcmFormat(rate=fmt.rate)
        case "ulaw":
            return PcmuFormat()
        case "alaw":
            return PcmaFormat()


@dataclass
class Agent:
    """The assistant's instructions, voice and tools, and how it takes turns.

    Args:
        instructions: the system instructions.
        name: a name for events and handoffs.
        voice: e.g. ``"marin"``; None keeps the server's default.
        tools: ``@tool`` functions (plain typed functions are wrapped with ``tool()``).
        turn_detection: ``"server_vad"`` (default), ``"semantic_vad"``, a ``ServerVad`` /
            ``SemanticVad`` with settings, or None (push-to-talk: the application commits
            the input and asks for responses).
        input_transcription: a transcription model (e.g. ``"gpt-4o-transcribe"``) to get the
            user's words as text; None for none.
        output: ``"audio"`` (speech with its transcript) or ``"text"``.
        input_format, output_format: audio formats (pcm16 24 kHz, or G.711 for telephony).
        model: the model name, if the connection does not set it.
    """

    instructions: str = "You are a helpful voice assistant. Keep your answers short."
    name: str = "assistant"
    voice: str | None = None
    tools: Sequence[Tool | Callable[..., Any]] = field(default_factory=list)
    turn_detection: TurnDetection = "server_vad"
    input_transcription: str | None = None
    output: Literal["audio", "text"] = "audio"
    input_format: AudioFormat = PCM16_24K
    output_format: AudioFormat = PCM16_24K
    model: str | None = None

    def __post_init__(self) -> None:
        self.tools = [t if isinstance(t, Tool) else tool(t) for t in self.tools]
        names = [t.name for t in self.tool_list]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise LocalProtocolError(
                f"agent {self.name!r} has two tools named {sorted(duplicates)}"
            )

    @property
    def tool_list(self) -> list[Tool]:
        """The tools, as ``Tool`` objects."""
        return [t for t in self.tools if isinstance(t, Tool)]

    def tool_named(self, name: str) -> Tool | None:
        """The tool called ``name``, if the agent has it."""
        return next((t for t in self.tool_list if t.name == name), None)

    def session_config(
        self, *, include_voice: bool = True, previous: Agent | None = None
    ) -> SessionConfig:
        """The GA ``session.update`` payload for this agent.

        Only what is set is sent: no ``null`` but where it means something. Turn
        detection ``None`` is sent as ``null`` (push-to-talk); input transcription is
        sent as ``null`` only to turn off what ``previous`` (the agent the session had)
        turned on.
        """
        match self.turn_detection:
            case "server_vad":
                detection: ServerVad | SemanticVad | None = ServerVad()
            case "semantic_vad":
                detection = SemanticVad()
            case _:
                detection = self.turn_detection
        audio_in = AudioInput(format=_wire(self.input_format), turn_detection=detection)
        if self.input_transcription:
            audio_in.transcription = InputTranscription(model=self.input_transcription)
        elif previous is not None and previous.input_transcription:
            audio_in.transcription = None  # explicitly: "set to null to turn off"
        audio_out = AudioOutput(format=_wire(self.output_format))
        if include_voice and self.voice is not None:
            audio_out.voice = self.voice
        config = SessionConfig(
            instructions=self.instructions,
            output_modalities=[self.output],
            audio=SessionAudio(input=audio_in, output=audio_out),
            tools=[t.definition() for t in self.tool_list],
        )
        if self.model is not None:
            config.model = self.model
        return config
